#!/usr/bin/env bash
# The README's test command: unit, integration, process-pool and doc tests.
# Every test bounds its own waits; `timeout` is the last line of defence.
set -euo pipefail
timeout 2400 cargo test --workspace
