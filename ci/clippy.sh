#!/usr/bin/env bash
# Lints on every target (lib, tests, examples, benches), warnings denied:
# with the default features, with every feature (`tracing`), and the
# libraries without default features (no process pool).
set -euo pipefail
cargo clippy --workspace --all-targets -- -D warnings
cargo clippy --workspace --all-targets --all-features -- -D warnings
cargo clippy -p concurrent-futures -p concurrent-futures-pool --no-default-features --lib -- -D warnings
