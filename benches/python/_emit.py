"""Shared by the Python peers: print the medians, and with `--json PATH` also
write them where benches/report.py reads them (target/bench-python/)."""

import json
import sys


def emit(rows):
    """rows: (criterion "group/function" id, median seconds, items per run, runs)."""
    for name, seconds, items, runs in rows:
        per = f", {seconds / items * 1e6:.3f} µs per item" if items else ""
        print(f"{name:46} median {seconds * 1e3:10.2f} ms ({runs} runs{per})")
    if "--json" in sys.argv:
        path = sys.argv[sys.argv.index("--json") + 1]
        out = []
        for name, seconds, items, runs in rows:
            group, _, function = name.partition("/")
            out.append({
                "group": group,
                "name": f"python_{function or group}",
                "ns_per_iter": seconds * 1e9,
                "elements": items,
                "runs": runs,
            })
        with open(path, "w") as f:
            json.dump(out, f, indent=1)
