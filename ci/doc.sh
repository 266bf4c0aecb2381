#!/usr/bin/env bash
# API docs, warnings (broken links, missing docs) denied.
set -euo pipefail
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps
