#!/usr/bin/env bash
# Formatting, exactly as CI checks it.
set -euo pipefail
cargo fmt --all -- --check
