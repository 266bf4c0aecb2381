#!/usr/bin/env bash
# The published crates build from their tarballs alone. Budget: 6 minutes.
#
# 1. `cargo package --list`: every package ships README.md, LICENSE-MIT and
#    LICENSE-APACHE; without default features the facade's tree has no
#    serde, codec or proc-macro.
# 2. `cargo publish --dry-run --workspace`: packages every publishable crate
#    in dependency order and builds each tarball against its siblings'
#    tarballs (cargo's verify step), without uploading.
# 3. The facade's tarball, unpacked outside the workspace with its siblings
#    patched to their unpacked tarballs: `cargo test --doc` (its README and
#    crate docs) and a build without default features.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
crates=(concurrent-futures-core concurrent-futures-pool concurrent-futures-wait concurrent-futures-slurm concurrent-futures)
# The tarballs hold the committed tree; CI runs on a clean checkout, and a
# local run with edits in progress packages them as they are.
dirty=()
if [ -n "$(git status --porcelain 2>/dev/null)" ]; then
  dirty=(--allow-dirty)
fi

echo "--- every package ships its README and both licenses"
for krate in "${crates[@]}"; do
  list=$(cargo package --list --quiet "${dirty[@]}" -p "$krate")
  for file in README.md LICENSE-MIT LICENSE-APACHE; do
    if ! grep -qx "$file" <<<"$list"; then
      echo "error: the $krate package does not contain $file" >&2
      exit 1
    fi
  done
done

echo "--- a thread-pool-only build has no serde, codec or proc-macro"
light=$(cargo tree --quiet -e normal --no-default-features -p concurrent-futures --prefix none)
if grep -E "^(serde|rmp|syn|proc-macro2|quote|thiserror)" <<<"$light"; then
  echo "error: the lines above are in the tree of concurrent-futures without default features" >&2
  exit 1
fi

echo "--- cargo publish --dry-run --workspace (packages and builds every tarball)"
# Cargo verifies each tarball against its siblings served from a local
# registry overlay. Registry crates count as immutable: it unpacks them once
# per version under registry/src/-<hash>/ and reuses what it compiled from
# them, so a re-run at the same version would build the old sources. Drop
# our crates' unpacked copies and their artifacts (in a target dir of this
# step's own, so the ordinary build is untouched).
rm -rf "${CARGO_HOME:-$HOME/.cargo}"/registry/src/-*/concurrent-futures*
verify_dir="$root/target/package-verify"
own=()
for krate in "${crates[@]}"; do own+=(-p "$krate"); done
cargo clean --quiet --target-dir "$verify_dir" "${own[@]}" 2>/dev/null || true
timeout 300 cargo publish --dry-run --workspace "${dirty[@]}" --target-dir "$verify_dir"

echo "--- the facade from its unpacked tarball, siblings patched to theirs"
# The tarballs themselves, fresh (the dry run keeps its own copies inside
# cargo's scratch registry).
rm -f "$verify_dir"/package/*.crate
cargo package --quiet --no-verify "${dirty[@]}" "${own[@]}" --target-dir "$verify_dir"
unpacked=$(mktemp -d)
trap 'rm -rf "$unpacked"' EXIT
patches=()
for krate in "${crates[@]}"; do
  tar -xzf "$verify_dir/package/$krate-0.1.0.crate" -C "$unpacked"
  patches+=(--config "patch.crates-io.$krate.path='$unpacked/$krate-0.1.0'")
done
facade=(--manifest-path "$unpacked/concurrent-futures-0.1.0/Cargo.toml" "${patches[@]}")
export CARGO_TARGET_DIR="$root/target/package-check"
timeout 300 cargo test --doc "${facade[@]}"
timeout 300 cargo build --lib --no-default-features "${facade[@]}"
