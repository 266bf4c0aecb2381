#!/usr/bin/env bash
# Miri over futures-core's unit tests: the task cell's raw pointers, the
# outcome slot's UnsafeCell and the handle count's frees, checked for
# undefined behaviour (Tree Borrows off: Stacked Borrows, Miri's default).
# Budget: 5 minutes. Skips with one line when nightly Miri is missing.
set -euo pipefail
if ! cargo +nightly miri --version >/dev/null 2>&1; then
  echo "ci/miri.sh: skipped: cargo +nightly miri is not installed (rustup component add miri rust-src --toolchain nightly)"
  exit 0
fi
# Isolation off: the tests read the clock (timeouts) and spawn threads.
export MIRIFLAGS="${MIRIFLAGS:--Zmiri-disable-isolation}"
timeout 300 cargo +nightly miri test --target-dir target/miri -p concurrent-futures-core --lib
