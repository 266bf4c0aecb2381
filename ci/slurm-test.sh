#!/usr/bin/env bash
# The Slurm step: installs Debian's Slurm if missing, starts a one-node
# cluster on loopback (ci/slurm.sh), runs the cluster tests of both
# backends with CF_SLURM_REQUIRED=1 (so a skip is a failure here), runs the
# example, and stops the daemons it started. Budget: 6 minutes, install
# included.
#
# Skips with one line when Slurm cannot be had (no apt-get and no Slurm, or
# not root).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null || ! command -v sbatch >/dev/null; then
    if ! command -v apt-get >/dev/null || [ "$(id -u)" != 0 ]; then
        echo "ci/slurm-test.sh: skipped: Slurm is not installed and cannot be (needs root and apt-get)"
        exit 0
    fi
fi
timeout 180 bash ci/slurm.sh install

# Build first, while no daemon runs (the build is most of the time). The
# example in the test profile: ci/test.sh built it already (a release build
# of the root package's dev-dependencies would take minutes).
timeout 240 cargo test -p concurrent-futures-slurm --test cluster --no-run
timeout 240 cargo build --example slurm

dir=$(mktemp -d /tmp/cf-slurm-ci.XXXXXX)
trap 'bash ci/slurm.sh stop "$dir" || true; rm -rf "$dir"' EXIT
bash ci/slurm.sh start "$dir"
eval "$(bash ci/slurm.sh env "$dir")"
export CF_SLURM_TEST_DIR="$dir/shared"

CF_SLURM_REQUIRED=1 timeout 180 cargo test -p concurrent-futures-slurm --test cluster
timeout 120 ./target/debug/examples/slurm

echo "ci/slurm-test.sh: done in $((SECONDS - start)) s"
