#!/usr/bin/env bash
# The library crates build with the declared `rust-version` (the tests,
# examples and benches may use a newer compiler). Budget: 2 minutes.
# Skips with one line when that toolchain is not installed.
set -euo pipefail
cd "$(dirname "$0")/.."
msrv=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)
if ! rustup run "$msrv" rustc --version >/dev/null 2>&1; then
  echo "ci/msrv.sh: skipped: Rust $msrv is not installed (rustup toolchain install $msrv)"
  exit 0
fi
echo "--- the library crates with Rust $msrv"
for krate in concurrent-futures-core concurrent-futures-wait concurrent-futures-pool concurrent-futures-slurm concurrent-futures; do
  timeout 300 cargo "+$msrv" check --locked --target-dir target/msrv -p "$krate" --lib
done
for features in --no-default-features --all-features; do
  timeout 300 cargo "+$msrv" check --locked --target-dir target/msrv -p concurrent-futures --lib "$features"
done
