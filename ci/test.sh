#!/usr/bin/env bash
# The README's test command: unit, integration, process-pool and doc tests.
# Every test bounds its own waits; `timeout` is the last line of defence.
# Then what only the `tracing` feature builds: its tests and its example.
set -euo pipefail
timeout 2400 cargo test --workspace
timeout 600 cargo test -p concurrent-futures-core -p concurrent-futures-pool --features tracing \
  --test diagnostics --test tracing_events
CF_EXAMPLE_QUICK=1 timeout 300 cargo run --quiet --example tracing --features tracing
