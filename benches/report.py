#!/usr/bin/env python3
"""Writes docs/benchmarks.md and its plots from a benchmark run.

Reads criterion's results (target/criterion/**/new/{benchmark,estimates,sample}.json)
and the Python peers' results (target/bench-python/*.json, written by
benches/python/*.py), and writes one table and one SVG bar chart per group.
Standard library only: the plots are SVG drawn by hand.

Run through benches/run.sh, which runs the benchmarks first.
"""

import datetime
import html
import json
import math
import os
import platform
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CRITERION = os.path.join(ROOT, "target", "criterion")
PYTHON = os.path.join(ROOT, "target", "bench-python")
DOCS = os.path.join(ROOT, "docs")
PLOTS = os.path.join(DOCS, "benchmarks")

# Words that mark a group's reference row (the floor), and peers' rows.
REFERENCE_WORDS = ("floor", "channel", "pipe")
PEER_WORDS = REFERENCE_WORDS + (
    "rayon", "threadpool", "tokio", "python", "crossbeam", "mpsc", "sequential", "std",
)


def is_peer(label):
    return any(w in label.lower() for w in PEER_WORDS)


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


def criterion_results():
    """{group: [(name, ns_per_iter, elements, samples)]}"""
    groups = {}
    for dirpath, _dirs, files in os.walk(CRITERION):
        if os.path.basename(dirpath) != "new" or "benchmark.json" not in files:
            continue
        bench = load_json(os.path.join(dirpath, "benchmark.json"))
        est = load_json(os.path.join(dirpath, "estimates.json"))
        samples = len(load_json(os.path.join(dirpath, "sample.json")).get("iters", []))
        name = bench["function_id"] or bench["group_id"]
        if bench.get("value_str"):
            name = f"{name}/{bench['value_str']}"
        elements = None
        tp = bench.get("throughput") or {}
        if "Elements" in tp:
            elements = tp["Elements"]
        groups.setdefault(bench["group_id"], []).append(
            (name, est["median"]["point_estimate"], elements, samples)
        )
    return groups


def python_results():
    """{group: [(name, ns_per_iter, elements, samples)]} from the Python peers."""
    groups = {}
    if not os.path.isdir(PYTHON):
        return groups
    for fname in sorted(os.listdir(PYTHON)):
        if not fname.endswith(".json"):
            continue
        for row in load_json(os.path.join(PYTHON, fname)):
            groups.setdefault(row["group"], []).append(
                (row["name"], row["ns_per_iter"], row.get("elements"), row.get("runs", 1))
            )
    return groups


def fmt_ns(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def reference(rows):
    for name, ns, *_ in rows:
        if any(w in name.lower() for w in REFERENCE_WORDS):
            return name, ns
    peers = [r for r in rows if is_peer(r[0])] or rows
    name, ns, *_ = min(peers, key=lambda r: r[1])
    return name, ns


def svg_bars(title, subtitle, rows, path):
    """A horizontal bar chart of (label, value_ns) rows, log-free, labelled."""
    width, left, right, bar, gap, top = 860, 300, 120, 22, 8, 62
    height = top + len(rows) * (bar + gap) + 20
    vmax = max(v for _, v in rows) or 1.0
    vmin = min(v for _, v in rows) or 1.0
    log = vmax / vmin > 50
    if log:
        subtitle += "; log scale"

    def length(v):
        span = width - left - right
        if not log:
            return span * v / vmax
        # The smallest bar keeps a tenth of the span, so it stays visible.
        return span * (0.1 + 0.9 * math.log(v / vmin) / math.log(vmax / vmin))

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="13">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="10" y="22" font-size="16" font-weight="bold">{html.escape(title)}</text>',
        f'<text x="10" y="44" fill="#555">{html.escape(subtitle)}</text>',
    ]
    for i, (label, v) in enumerate(rows):
        y = top + i * (bar + gap)
        w = max(1.0, length(v))
        color = "#a0aec0" if is_peer(label) else "#2b6cb0"
        out.append(f'<text x="{left - 8}" y="{y + 16}" text-anchor="end">{html.escape(label)}</text>')
        out.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar}" fill="{color}"/>')
        out.append(f'<text x="{left + w + 6:.1f}" y="{y + 16}">{html.escape(fmt_ns(v))}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


INTRO = """# Benchmarks

Measured with criterion (medians) beside peers run in the same process and
the same minutes, because this machine is shared and noisy: read the
**ratios**, not the absolute times. Python's peers run the same workloads with
`concurrent.futures` (scripts in `benches/python/`).

Reproduce everything on this page, tables and plots, with one command:

```sh
bash benches/run.sh
```

(`MEASURE=10 bash benches/run.sh` measures longer.) Bars in blue are this
project; grey bars are peers and floors. "per item" divides a batch's median
by the number of tasks or items in it. `scaling_workers` runs the same
10 µs tasks on 1, 2 and 4 workers: with 2 cores, 1 → 2 should halve the
time per task and 4 cannot do better than 2.
"""


def per_item_values(rows):
    """(name, median) rows, divided per item when every row knows its items;
    and whether they were."""
    per_item = all(r[2] for r in rows)
    return [(n, ns / e if per_item else ns) for n, ns, e, _ in rows], per_item


def summary(groups):
    """One line per group: our best case against the best Rust peer and Python's."""
    out = [
        "## Summary\n",
        "Our fastest case in each group beside the fastest Rust peer or floor and Python "
        "(ratios below 1 mean we are faster).\n",
        "| group | ours | best Rust peer or floor | ours ÷ peer | Python | Python ÷ ours |",
        "|---|---|---|---|---|---|",
    ]
    for group in sorted(groups):
        rows = groups[group]
        vals, _ = per_item_values(rows)
        ours = [v for v in vals if not is_peer(v[0])]
        peers = [v for v in vals if is_peer(v[0]) and "python" not in v[0].lower()]
        python = [v for v in vals if "python" in v[0].lower()]
        if not ours or not peers:
            continue
        o = min(ours, key=lambda v: v[1])
        p = min(peers, key=lambda v: v[1])
        py = min(python, key=lambda v: v[1]) if python else None
        py_cells = f"{fmt_ns(py[1])} | {py[1] / o[1]:.0f}×" if py else "— | —"
        out.append(
            f"| {group} | `{o[0]}` {fmt_ns(o[1])} | `{p[0]}` {fmt_ns(p[1])} | "
            f"{o[1] / p[1]:.2f} | {py_cells} |"
        )
    out.append("")
    return out


PROCESS_DOC = os.path.join(DOCS, "process-pool.md")
PROCESS_BEGIN = "<!-- process-round-trip:begin (generated by benches/report.py) -->"
PROCESS_END = "<!-- process-round-trip:end -->"


def process_pool_block(groups, where, when):
    """The numbers of docs/process-pool.md, from the rows of benchmarks.md."""
    rt = {n: ns for n, ns, *_ in groups.get("process_round_trip", [])}
    mp = {n: (ns / e if e else ns) for n, ns, e, _ in groups.get("process_map_100k", [])}
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
    crit = criterion_results()
    py = python_results()
    if not crit:
        sys.exit("no criterion results under target/criterion: run benches/run.sh")
    for g, rows in py.items():
        crit.setdefault(g, []).extend(rows)
    when = datetime.date.today().isoformat()
    where = machine()
    lines = [INTRO, f"Machine: {where}. Date of the run: {when}.\n"]
    lines += summary(crit)
    for group in sorted(crit):
        rows = sorted(crit[group], key=lambda r: r[1])
        values, per_item = per_item_values(rows)
        ref_name, ref_ns = reference([(n, v) for n, v in values])
        samples = max(r[3] for r in rows)
        unit = "per item" if per_item else "per iteration"
        lines.append(f"## {group}\n")
        lines.append(f"![{group}](benchmarks/{group}.svg)\n")
        lines.append(f"| case | median {unit} | ratio to `{ref_name}` |")
        lines.append("|---|---|---|")
        for name, v in values:
            lines.append(f"| `{name}` | {fmt_ns(v)} | {v / ref_ns:.2f} |")
        lines.append("")
        subtitle = f"median {unit} of up to {samples} samples; {where}; {when}"
        svg_bars(group, subtitle, values, os.path.join(PLOTS, f"{group}.svg"))
    with open(os.path.join(DOCS, "benchmarks.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    write_process_pool_doc(crit, where, when)
    print(f"wrote docs/benchmarks.md and {len(crit)} plots in docs/benchmarks/")


if __name__ == "__main__":
    main()
