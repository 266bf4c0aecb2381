#!/usr/bin/env bash
# Model checks of the state machines under loom. The preemption bound keeps
# the run to minutes; raise LOOM_MAX_PREEMPTIONS locally for a deeper search.
set -euo pipefail
export RUSTFLAGS="--cfg loom"
export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-2}"
for crate in concurrent-futures-core concurrent-futures-wait concurrent-futures-pool; do
  timeout 1200 cargo test --release --target-dir target/loom -p "$crate" --lib -- loom_
done
