#!/usr/bin/env bash
# Installs what the later steps need and a fresh machine lacks: the declared
# `rust-version` toolchain (ci/msrv.sh) and nightly's miri and rust-src
# (ci/miri.sh, ci/sanitizers.sh: Miri and ThreadSanitizer's -Zbuild-std).
# Each install is tried once, bounded; if the dist server cannot be reached
# the step says so and the steps that need it skip with their own line.
# Budget: 3 minutes (about 20 s when rustup's dist server answers).
set -uo pipefail
cd "$(dirname "$0")/.."
msrv=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)
if ! rustup run "$msrv" rustc --version >/dev/null 2>&1; then
  timeout 120 rustup toolchain install "$msrv" --profile minimal ||
    echo "ci/toolchains.sh: could not install Rust $msrv (ci/msrv.sh will skip)"
fi
if rustup run nightly rustc --version >/dev/null 2>&1; then
  if ! cargo +nightly miri --version >/dev/null 2>&1 ||
    [ ! -d "$(rustup run nightly rustc --print sysroot)/lib/rustlib/src/rust/library" ]; then
    timeout 120 rustup component add miri rust-src --toolchain nightly ||
      echo "ci/toolchains.sh: could not add miri and rust-src to nightly (Miri and TSan will skip)"
  fi
else
  echo "ci/toolchains.sh: no nightly toolchain (Miri and TSan will skip)"
fi
exit 0
