#!/usr/bin/env bash
# ThreadSanitizer over the workspace's library and integration tests, and
# Miri over the code that erases types by hand (the pool's `Job` vtable in
# crates/pool/src/work_item.rs and the scoped jobs built on it).
#
# TSan needs nightly and rust-src: std is rebuilt with -Zbuild-std so its
# locks and atomics are instrumented too (without that, every std lock looks
# like a race, so a run without -Zbuild-std proves nothing). Not run under
# TSan: the process-pool tests (their workers are this binary re-executed,
# and their fault cases — rlimit'd allocation failure, SIGKILL, abort, OOM —
# fight TSan's shadow memory), and the loom models (cfg(loom) only).
# The stress tests run at 10,000 tasks here (CF_STRESS_TASKS).
#
# Budget: 10 minutes on 2 cores (std + deps instrumented build about 4,
# tests about 3, Miri about 2). Each part skips with one line when its
# component is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "sanitizers: skipped: no nightly toolchain (rustup toolchain install nightly)"
  exit 0
fi
sysroot=$(rustup run nightly rustc --print sysroot)
host=$(rustup run nightly rustc -vV | sed -n 's/^host: //p')

if [ -d "$sysroot/lib/rustlib/src/rust/library" ]; then
  echo "--- ThreadSanitizer (-Zbuild-std, $host)"
  pool_tests=()
  for t in crates/pool/tests/*.rs; do
    name=$(basename "$t" .rs)
    case "$name" in process_pool*) continue ;; esac
    pool_tests+=(--test "$name")
  done
  RUSTFLAGS="-Zsanitizer=thread" \
  TSAN_OPTIONS="halt_on_error=1 abort_on_error=1 report_signal_unsafe=0" \
  CF_STRESS_TASKS=10000 RUST_BACKTRACE=0 \
    timeout 900 cargo +nightly test -Zbuild-std --target "$host" --target-dir target/tsan \
      -p concurrent-futures-core -p concurrent-futures-wait --lib --tests
  RUSTFLAGS="-Zsanitizer=thread" \
  TSAN_OPTIONS="halt_on_error=1 abort_on_error=1 report_signal_unsafe=0" \
  CF_STRESS_TASKS=10000 RUST_BACKTRACE=0 \
    timeout 900 cargo +nightly test -Zbuild-std --target "$host" --target-dir target/tsan \
      -p concurrent-futures-pool --lib "${pool_tests[@]}" -- --skip process::
else
  echo "sanitizers: ThreadSanitizer skipped: nightly has no rust-src (rustup component add rust-src --toolchain nightly)"
fi

if rustup run nightly cargo miri --version >/dev/null 2>&1; then
  echo "--- Miri (the Job vtable: work_item.rs)"
  MIRIFLAGS="-Zmiri-disable-isolation" \
    timeout 600 cargo +nightly miri test --target-dir target/miri \
      -p concurrent-futures-pool --lib -- work_item::
else
  echo "sanitizers: Miri skipped: nightly has no miri (rustup component add miri --toolchain nightly)"
fi
