#!/usr/bin/env bash
# Lints on every target (lib, tests, examples, benches), warnings denied.
set -euo pipefail
cargo clippy --workspace --all-targets -- -D warnings
