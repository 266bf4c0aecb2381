#!/usr/bin/env bash
# Smoke-runs the protocol fuzz targets (fuzz/): one build, then each target
# for FUZZ_SECONDS (default 20) from the committed corpus. Budget: 4 minutes
# in all (the build is bounded to 180 s; past that the step skips). Needs a nightly toolchain and
# cargo-fuzz; skips with one line if either is missing. The corpus is also
# replayed on stable by the pool's unit tests
# (`process::protocol::tests::fuzz_corpus_replays_clean`).
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
secs="${FUZZ_SECONDS:-20}"
cd fuzz
status=0
timeout 180 cargo +nightly fuzz build || status=$?
if [ "$status" = 124 ]; then
  echo "ci/fuzz.sh: skipped (the fuzz build exceeded its 180 s budget)"
  exit 0
elif [ "$status" != 0 ]; then
  exit "$status"
fi
for target in to_worker from_worker; do
  # A scratch copy of the corpus: inputs found here are not committed.
  work="target/corpus-$target"
  rm -rf "$work" && mkdir -p "$work" && cp "corpus/$target/"* "$work/"
  timeout $((secs + 30)) cargo +nightly fuzz run "$target" "$work" -- \
    -max_total_time="$secs" -max_len=4096 -rss_limit_mb=1024
done
