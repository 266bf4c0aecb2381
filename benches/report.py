#!/usr/bin/env python3
"""Writes docs/benchmarks.md and its plots from a benchmark run.

Reads criterion's results (target/criterion/**/new/{benchmark,estimates,sample}.json)
and the Python peers' results (target/bench-python/*.json, written by
benches/python/*.py), saves them as docs/benchmarks/results.json, and writes
one table and one SVG plot per group. `--replot` redraws the page and the
plots from docs/benchmarks/results.json alone, without running anything.
Standard library only: the plots are SVG drawn by hand.

Run through benches/run.sh, which runs the benchmarks first.
"""

import datetime
import html
import json
import math
import os
import platform
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CRITERION = os.path.join(ROOT, "target", "criterion")
PYTHON = os.path.join(ROOT, "target", "bench-python")
DOCS = os.path.join(ROOT, "docs")
PLOTS = os.path.join(DOCS, "benchmarks")
RESULTS = os.path.join(PLOTS, "results.json")

# Words that mark a group's reference row, and peers' rows. A row named
# "floor" is the same hand-offs through a plain channel or socket: a
# reference, not a proven bound, so one of ours beating it is flagged for a
# second look (noise, or a floor that waits or moves cache lines differently).
REFERENCE_WORDS = ("floor", "channel", "pipe")
PEER_WORDS = REFERENCE_WORDS + (
    "rayon", "threadpool", "tokio", "python", "crossbeam", "mpsc", "sequential", "std",
)
SCALING = re.compile(r"^(?P<impl>.+)/(?P<n>\d+)_workers$")

OURS, PEER, FLOOR = "#2b6cb0", "#a0aec0", "#4a5568"
CHAR_WIDTH = 7.4  # px per character of 13 px sans-serif, rounded up


# ---------------------------------------------------------------- reading


def is_peer(label):
    return any(w in label.lower() for w in PEER_WORDS)


def is_floor(label):
    return "floor" in label.lower()


def is_python(label):
    return "python" in label.lower()


def machine():
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def load_json(path):
    with open(path) as f:
        return json.load(f)


def row(name, median, lo, hi, elements, samples):
    return {"name": name, "median": median, "min": lo, "max": hi,
            "elements": elements, "samples": samples}


def criterion_results():
    """{group: [row]}, per iteration; min and max over criterion's samples."""
    groups = {}
    for dirpath, _dirs, files in os.walk(CRITERION):
        if os.path.basename(dirpath) != "new" or "benchmark.json" not in files:
            continue
        bench = load_json(os.path.join(dirpath, "benchmark.json"))
        est = load_json(os.path.join(dirpath, "estimates.json"))
        sample = load_json(os.path.join(dirpath, "sample.json"))
        per_iter = [t / n for t, n in zip(sample.get("times", []), sample.get("iters", [])) if n]
        name = bench["function_id"] or bench["group_id"]
        if bench.get("value_str"):
            name = f"{name}/{bench['value_str']}"
        elements = (bench.get("throughput") or {}).get("Elements")
        groups.setdefault(bench["group_id"], []).append(row(
            name, est["median"]["point_estimate"],
            min(per_iter) if per_iter else None, max(per_iter) if per_iter else None,
            elements, len(per_iter),
        ))
    return groups


def python_results():
    """{group: [row]} from the Python peers (medians only)."""
    groups = {}
    if not os.path.isdir(PYTHON):
        return groups
    for fname in sorted(os.listdir(PYTHON)):
        if not fname.endswith(".json"):
            continue
        for r in load_json(os.path.join(PYTHON, fname)):
            groups.setdefault(r["group"], []).append(row(
                r["name"], r["ns_per_iter"], r.get("min_ns"), r.get("max_ns"),
                r.get("elements"), r.get("runs", 1),
            ))
    return groups


def displayed(rows):
    """The group as shown: values per item when every row knows its items."""
    per_item = all(r["elements"] for r in rows)

    def scale(v, r):
        return None if v is None else (v / r["elements"] if per_item else v)

    shown = [{"name": r["name"], "median": scale(r["median"], r), "min": scale(r["min"], r),
              "max": scale(r["max"], r), "samples": r["samples"]} for r in rows]
    shown.sort(key=lambda r: r["median"])
    return {"unit": "per item" if per_item else "per iteration", "rows": shown}


def measure():
    crit = criterion_results()
    if not crit:
        sys.exit("no criterion results under target/criterion: run benches/run.sh")
    for g, rows in python_results().items():
        crit.setdefault(g, []).extend(rows)
    return {
        "machine": machine(),
        "date": datetime.date.today().isoformat(),
        "groups": {g: displayed(rows) for g, rows in sorted(crit.items())},
    }


# ---------------------------------------------------------------- numbers


def fmt_ns(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def reference(rows):
    """The floor if the group has one, else its first reference word, else
    the fastest peer (or row)."""
    for pick in (is_floor, lambda n: any(w in n.lower() for w in REFERENCE_WORDS)):
        for r in rows:
            if pick(r["name"]):
                return r
    return min([r for r in rows if is_peer(r["name"])] or rows, key=lambda r: r["median"])


def below_floor(rows):
    """(ours, floor) pairs where a case of ours measured faster than a
    floor: worth a second look before the group is read."""
    floors = [r for r in rows if is_floor(r["name"])]
    return [(o, f) for f in floors for o in rows
            if not is_peer(o["name"]) and o["median"] < f["median"]]


def python_pairs(rows):
    """(python row, our row, paired by name?) for the Python ÷ ours column:
    `python_X` beside our `X` where the names match, else the fastest of
    each, said so."""
    ours = [r for r in rows if not is_peer(r["name"])]
    py = [r for r in rows if is_python(r["name"])]
    if not ours or not py:
        return []

    def key(name):
        return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")

    by_key = {key(o["name"]): o for o in ours}
    pairs = [(p, by_key[key(p["name"][len("python_"):])], True)
             for p in py if key(p["name"][len("python_"):]) in by_key]
    if pairs:
        return pairs
    return [(min(py, key=lambda r: r["median"]), min(ours, key=lambda r: r["median"]), False)]


def nice_step(span, ticks=5):
    raw = span / ticks
    mag = 10 ** math.floor(math.log10(raw))
    return next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)


class Axis:
    """A value axis from `lo` to `hi` onto pixels [p0, p1]; log when the
    values span more than 50x, with a tick at every decade."""

    def __init__(self, values, p0, p1, force_linear=False):
        lo, hi = min(values), max(values)
        self.log = not force_linear and lo > 0 and hi / lo > 50
        if self.log:
            self.lo = 10 ** math.floor(math.log10(lo))
            self.hi = 10 ** math.ceil(math.log10(hi))
            self.ticks = [10 ** e for e in range(round(math.log10(self.lo)),
                                                 round(math.log10(self.hi)) + 1)]
        else:
            step = nice_step(hi)
            self.lo, self.hi = 0.0, step * math.ceil(hi / step)
            self.ticks = [i * step for i in range(round(self.hi / step) + 1)]
        self.p0, self.p1 = p0, p1

    def __call__(self, v):
        if self.log:
            f = math.log(v / self.lo) / math.log(self.hi / self.lo)
        else:
            f = v / self.hi
        return self.p0 + (self.p1 - self.p0) * f


# ---------------------------------------------------------------- drawing


def svg_open(width, height, title, subtitle):
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="13">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="10" y="22" font-size="16" font-weight="bold">{html.escape(title)}</text>',
        f'<text x="10" y="44" fill="#555">{html.escape(subtitle)}</text>',
    ]


def text(x, y, s, anchor="start", extra=""):
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{extra}>{html.escape(s)}</text>'


def line(x1, y1, x2, y2, color="#000", extra=""):
    return (f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
            f'stroke="{color}"{extra}/>')


def x_axis(axis, y_top, y_axis, label):
    """Gridlines from y_top down to the axis line at y_axis, tick labels under it."""
    out = [line(axis.p0, y_axis, axis.p1, y_axis)]
    for t in axis.ticks:
        x = axis(t)
        out.append(line(x, y_top, x, y_axis, "#e2e8f0"))
        out.append(line(x, y_axis, x, y_axis + 5))
        out.append(text(x, y_axis + 18, fmt_ns(t) if t else "0", "middle"))
    out.append(text((axis.p0 + axis.p1) / 2, y_axis + 36, label, "middle", ' fill="#555"'))
    return out


def whisker(axis, r, mid, horizontal=True, c="#000"):
    """The min-max span of a row's samples across the value axis, capped."""
    if r["min"] is None or r["max"] is None:
        return []
    a, b = axis(r["min"]), axis(r["max"])
    if horizontal:
        return [line(a, mid, b, mid, c), line(a, mid - 5, a, mid + 5, c),
                line(b, mid - 5, b, mid + 5, c)]
    return [line(mid, a, mid, b, c), line(mid - 4, a, mid + 4, a, c),
            line(mid - 4, b, mid + 4, b, c)]


def fmt_ratio(x):
    return f"{x:.2f}" if x >= 0.01 else f"{x:.2g}"


def color(name):
    return FLOOR if is_floor(name) else PEER if is_peer(name) else OURS


def svg_bars(title, subtitle, unit, rows, flagged):
    """Horizontal bars of the medians with min-max whiskers, on a labelled
    axis (log scale when the values span more than 50x)."""
    bar, gap, top = 22, 8, 62
    left = 16 + CHAR_WIDTH * max(len(r["name"]) for r in rows)
    width = int(left + 560 + 220)
    values = [v for r in rows for v in (r["median"], r["min"], r["max"]) if v]
    axis = Axis(values, left, left + 560)
    y_axis = top + len(rows) * (bar + gap)
    out = svg_open(width, y_axis + 62, title, subtitle)
    out += x_axis(axis, top - 4, y_axis, f"time {unit}" + (" (log scale)" if axis.log else ""))
    for i, r in enumerate(rows):
        y = top + i * (bar + gap)
        end = axis(r["median"])
        out.append(text(left - 8, y + 16, r["name"], "end"))
        out.append(f'<rect x="{left:.1f}" y="{y}" width="{max(1.0, end - left):.1f}" '
                   f'height="{bar}" fill="{color(r["name"])}"/>')
        out += whisker(axis, r, y + bar / 2)
        label = fmt_ns(r["median"]) + ("  ⚠ below its floor" if r["name"] in flagged else "")
        right = max(end, axis(r["max"]) if r["max"] else end)
        out.append(text(right + 6, y + 16, label))
    out.append("</svg>")
    return out


def svg_scaling(title, subtitle, unit, rows):
    """One line per implementation: time per item against the worker count,
    medians with min-max whiskers."""
    series = {}
    for r in rows:
        m = SCALING.match(r["name"])
        series.setdefault(m["impl"], []).append((int(m["n"]), r))
    counts = sorted({n for pts in series.values() for n, _ in pts})
    left, top, plot_w, plot_h = 80, 62, 520, 300
    width = left + plot_w + 40 + int(CHAR_WIDTH * max(len(k) for k in series)) + 40
    values = [v for r in rows for v in (r["median"], r["min"], r["max"]) if v]
    y_axis = Axis(values, top + plot_h, top, force_linear=True)

    def x(n):  # worker counts on a log2 axis, evenly spaced doublings
        span = math.log2(counts[-1] / counts[0]) or 1
        return left + 20 + (plot_w - 40) * math.log2(n / counts[0]) / span

    out = svg_open(width, top + plot_h + 60, title, subtitle)
    out.append(line(left, top, left, top + plot_h))
    out.append(line(left, top + plot_h, left + plot_w, top + plot_h))
    for t in y_axis.ticks:
        yy = y_axis(t)
        out.append(line(left, yy, left + plot_w, yy, "#e2e8f0"))
        out.append(text(left - 8, yy + 4, fmt_ns(t) if t else "0", "end"))
    for n in counts:
        out.append(line(x(n), top + plot_h, x(n), top + plot_h + 5))
        out.append(text(x(n), top + plot_h + 18, str(n), "middle"))
    out.append(text(left + plot_w / 2, top + plot_h + 40, "workers", "middle", ' fill="#555"'))
    out.append(text(14, top + plot_h / 2, f"time {unit}", "middle",
                    f' fill="#555" transform="rotate(-90 14 {top + plot_h / 2})"'))
    dashes = ["", ' stroke-dasharray="6 4"', ' stroke-dasharray="2 3"']
    for i, (impl, pts) in enumerate(sorted(series.items(), key=lambda s: is_peer(s[0]))):
        pts.sort(key=lambda p: p[0])
        c, dash = color(impl), dashes[i % len(dashes)]
        path = " ".join(f"{x(n):.1f},{y_axis(r['median']):.1f}" for n, r in pts)
        out.append(f'<polyline points="{path}" fill="none" stroke="{c}" stroke-width="2"{dash}/>')
        shift = 8 * (i - (len(series) - 1) / 2)  # whiskers side by side
        for n, r in pts:
            out.append(f'<circle cx="{x(n):.1f}" cy="{y_axis(r["median"]):.1f}" r="4" fill="{c}"/>')
            out += whisker(y_axis, r, x(n) + shift, horizontal=False, c=c)
        ly = top + 10 + 20 * i
        out.append(line(left + plot_w + 20, ly, left + plot_w + 44, ly, c,
                        f' stroke-width="2"{dash}'))
        out.append(text(left + plot_w + 50, ly + 4, impl))
    out.append("</svg>")
    return out


# ---------------------------------------------------------------- the page


INTRO = """# Benchmarks

Measured with criterion (medians) beside peers run in the same process and
the same minutes, because this machine is shared and noisy: read the
**ratios**, not the absolute times. Python's peers run the same workloads with
`concurrent.futures` (scripts in `benches/python/`).

Reproduce everything on this page, tables and plots, with one command:

```sh
bash benches/run.sh
```

(`MEASURE=10 bash benches/run.sh` measures longer; `python3 benches/report.py
--replot` redraws this page and its plots from `docs/benchmarks/results.json`,
the numbers of the last run, without measuring.)

Reading the plots: blue is this project, light grey a peer, dark grey a
floor (the same hand-offs through a plain channel or socket, without this
library: a reference, not a rival, and not a proven bound). Bars
are medians; the whiskers span the fastest to the slowest sample (none where
the run kept only a median). The axis says its unit and switches to a log
scale, with a tick at every decade, when a group spans more than 50x, so
read the axis before comparing bar lengths. "per item" divides a batch's time
by the number of tasks or items in it. `scaling_workers` is drawn as lines
over the worker count: the same 10 µs tasks on 1, 2 and 4 workers, where on
2 cores 1 → 2 should halve the time per task and 4 cannot do better than 2.

The machine matters most for the floors. The thread-pool floor moves integers
through crossbeam channels, many to a cache line; a task of ours moves its own
cell's line to a worker and back. So where lines cross between cores cheaply
the floor is fast and ours sits above it, and where they cross slowly ours can
sit below it. Interleaved `submit` + `result()` (`into_result`), as a ratio
to the floor in one run: 2.24 (1.92) on a 2-core AMD EPYC VM on 2026-12-04,
floor 25.6 ns; 0.65 (0.61) on a 2-core Intel Xeon VM on 2026-12-05, floor
106 ns, after a change worth about 10 ns per task (63b7cba). Against
`threadpool` + oneshot the same runs give 0.30 (0.26) and 0.17 (0.16).
"""

PYTHON_CAVEAT = """Python ÷ ours divides like-named cases (`python_X` by `X`), or, marked
"fastest", the fastest of each where no names pair. Those ratios measure
CPython as much as either library: the interpreter's cost per task, the GIL,
pickling. They say what a Python user gains by moving such a workload, not
that one design is that many times better than the other.
"""


def summary(groups):
    """Every group: its reference, the fastest and the slowest of our cases
    against it (every case is in the group's own table), Python's ratio, and
    any case of ours below a floor."""
    out = [
        "## Summary\n",
        "Each group's fastest **and** slowest case of ours against the group's reference "
        "(its floor if it has one, else its first channel or pipe, else its fastest peer); "
        "ratios below 1 mean ours is faster. Every case is in the group's own table "
        "below.\n",
        "| group | reference | our cases | fastest of ours ÷ reference | "
        "slowest of ours ÷ reference | Python ÷ ours | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for group, g in groups.items():
        rows = g["rows"]
        ours = [r for r in rows if not is_peer(r["name"])]
        if not ours:
            continue
        ref = reference(rows)
        lo, hi = ours[0], ours[-1]
        py = "; ".join(
            f"{p['median'] / o['median']:.0f}× (`{o['name']}`{'' if named else ', fastest'})"
            for p, o, named in python_pairs(rows)) or "—"
        note = "; ".join(f"⚠ `{o['name']}` below `{f['name']}`"
                         for o, f in below_floor(rows))
        out.append(
            f"| {group} | `{ref['name']}` {fmt_ns(ref['median'])} | {len(ours)} | "
            f"`{lo['name']}` {fmt_ratio(lo['median'] / ref['median'])} | "
            f"`{hi['name']}` {fmt_ratio(hi['median'] / ref['median'])} | {py} | {note} |")
    out += ["", PYTHON_CAVEAT]
    return out


def group_section(group, g, where, when):
    rows, unit = g["rows"], g["unit"]
    ref = reference(rows)
    errors = below_floor(rows)
    flagged = {o["name"] for o, _ in errors}
    out = [f"## {group}\n", f"![{group}](benchmarks/{group}.svg)\n"]
    out.append(f"| case | median {unit} | min | max | ratio to `{ref['name']}` |")
    out.append("|---|---|---|---|---|")
    for r in rows:
        span = [fmt_ns(r[k]) if r[k] is not None else "—" for k in ("min", "max")]
        flag = " ⚠" if r["name"] in flagged else ""
        out.append(f"| `{r['name']}` | {fmt_ns(r['median'])} | {span[0]} | {span[1]} | "
                   f"{fmt_ratio(r['median'] / ref['median'])}{flag} |")
    out.append("")
    for f in {f["name"]: f for _, f in errors}.values():
        names = ", ".join(f"`{o['name']}`" for o, g in errors if g is f)
        out.append(f"⚠ {names} measured faster than `{f['name']}`. A floor is the same "
                   f"hand-offs through a plain channel or socket, a reference and not a "
                   f"proven bound: ours can beat it where the floor sleeps sooner or moves "
                   f"more cache lines per item between this machine's cores, and noise "
                   f"between runs of a shared machine can too. Re-measure (the interleaved "
                   f"groups rotate the cases within one run) before reading this group.\n")
    samples = max(r["samples"] for r in rows)
    spread = ("min-max whiskers" if any(r["max"] is not None for r in rows)
              else "medians only (this run kept no samples)")
    subtitle = f"median {unit}, {spread}, up to {samples} samples; {where}; {when}"
    if all(SCALING.match(r["name"]) for r in rows):
        svg = svg_scaling(group, subtitle, unit, rows)
    else:
        svg = svg_bars(group, subtitle, unit, rows, flagged)
    with open(os.path.join(PLOTS, f"{group}.svg"), "w") as f:
        f.write("\n".join(svg) + "\n")
    return out


PROCESS_DOC = os.path.join(DOCS, "process-pool.md")
PROCESS_BEGIN = "<!-- process-round-trip:begin (generated by benches/report.py) -->"
PROCESS_END = "<!-- process-round-trip:end -->"


def process_pool_block(groups, where, when):
    """The numbers of docs/process-pool.md, from the rows of benchmarks.md."""
    def medians(group):
        return {r["name"]: r["median"] for r in groups.get(group, {}).get("rows", [])}

    # A group re-measured alone carries its own date (else the run's).
    when = groups.get("process_round_trip", {}).get("date", when)
    rt = medians("process_round_trip")
    mp = medians("process_map_100k")  # already per item
    out = [PROCESS_BEGIN, "", f"Measured on {where}, {when}.", "",
           "| case | ours | floor | Python 3.11 | ours ÷ floor | Python ÷ ours |",
           "|---|---|---|---|---|---|"]
    pool, floor, py = (rt.get(k) for k in ("pool_submit_result", "raw_socket_floor", "python_processes"))
    if pool and floor:
        py_cells = f"{fmt_ns(py)} | {pool / floor:.2f} | {py / pool:.1f}×" if py \
            else f"— | {pool / floor:.2f} | —"
        out.append(f"| `submit` + `result()`, `fn(u64) -> u64`, 1 worker | {fmt_ns(pool)} | {fmt_ns(floor)} | {py_cells} |")
    ours, pym = mp.get("pool_map_chunksize_100"), mp.get("python_processes_chunksize_100")
    if ours and pym:
        out.append(f"| `map`, 100,000 items, `chunksize(100)`, per item | {fmt_ns(ours)} | — | {fmt_ns(pym)} | — | {pym / ours:.1f}× |")
    out += ["", PROCESS_END]
    return "\n".join(out)


def write_process_pool_doc(groups, where, when):
    with open(PROCESS_DOC) as f:
        text = f.read()
    if PROCESS_BEGIN not in text or PROCESS_END not in text:
        return
    head, rest = text.split(PROCESS_BEGIN, 1)
    _, tail = rest.split(PROCESS_END, 1)
    with open(PROCESS_DOC, "w") as f:
        f.write(head + process_pool_block(groups, where, when) + tail)


def main():
    os.makedirs(PLOTS, exist_ok=True)
    if "--replot" in sys.argv:
        results = load_json(RESULTS)
    else:
        results = measure()
        with open(RESULTS, "w") as f:
            json.dump(results, f, indent=1, ensure_ascii=False)
            f.write("\n")
    where, when = results["machine"], results["date"]
    lines = [INTRO, f"Machine: {where}. Date of the run: {when}.\n"]
    lines += summary(results["groups"])
    for group, g in results["groups"].items():
        lines += group_section(group, g, where, when)
    with open(os.path.join(DOCS, "benchmarks.md"), "w") as f:
        f.write("\n".join(lines).rstrip("\n") + "\n")
    write_process_pool_doc(results["groups"], where, when)
    print(f"wrote docs/benchmarks.md and {len(results['groups'])} plots in docs/benchmarks/")


if __name__ == "__main__":
    main()
