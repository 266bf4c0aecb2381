#!/usr/bin/env bash
# Runs every comparison benchmark (Rust peers in the same criterion groups,
# Python's concurrent.futures beside them) and writes docs/benchmarks.md with
# its tables and plots. MEASURE sets criterion's measurement time in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
measure="${MEASURE:-3}"
for bench in benches/*.rs; do
  name=$(basename "$bench" .rs)
  cargo bench --bench "$name" -- --warm-up-time 1 --measurement-time "$measure"
done
mkdir -p target/bench-python
for script in benches/python/[!_]*.py; do
  name=$(basename "$script" .py)
  python3 "$script" --json "target/bench-python/$name.json"
done
python3 benches/report.py
