#!/usr/bin/env bash
# Smoke-runs the protocol fuzz targets (fuzz/) for FUZZ_SECONDS each (default
# 60; budget: 4 minutes in all, build included). Needs a nightly toolchain
# and cargo-fuzz; skips with one line if either is missing. The corpus is
# also replayed on stable by the pool's unit tests.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "ci/fuzz.sh: skipped (no nightly toolchain)"
  exit 0
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "ci/fuzz.sh: skipped (cargo-fuzz not installed: cargo install cargo-fuzz)"
  exit 0
fi
secs="${FUZZ_SECONDS:-60}"
cd fuzz
for target in to_worker from_worker; do
  # A scratch copy of the corpus: new inputs found here are not committed.
  work="target/corpus-$target"
  rm -rf "$work" && mkdir -p "$work" && cp "corpus/$target/"* "$work/"
  timeout $((secs + 120)) cargo +nightly fuzz run "$target" "$work" -- \
    -max_total_time="$secs" -max_len=4096 -rss_limit_mb=1024
done
