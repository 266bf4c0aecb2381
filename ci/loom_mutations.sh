#!/usr/bin/env bash
# Checks that the thread pool's loom models catch the loss of each step of
# the admission protocol (crates/pool/src/lifecycle/gate.rs): removes one
# step at a time, runs the `loom_real_` models, prints which fail, and puts
# the source back. Every removal must fail at least one model; the table in
# crates/pool/src/thread/loom_models.rs's module docs is this script's
# output. Not part of `.ci/run` (about 3 minutes); run it after changing
# the protocol. Refuses to run on a tree with uncommitted changes in the
# files it edits.
set -euo pipefail
cd "$(dirname "$0")/.."
files=(crates/pool/src/thread/mod.rs crates/pool/src/lifecycle/mod.rs)
if ! git diff --quiet -- "${files[@]}"; then
  echo "uncommitted changes in ${files[*]}: commit or stash them first" >&2
  exit 2
fi
trap 'git checkout -q -- "${files[@]}"' EXIT

# name | file | text removed | what replaces it. A name starting with
# "optional:" is a step no model is expected to need (see the table).
mutations=(
  "the confirm after the push|crates/pool/src/thread/mod.rs|        match self.lc.confirm() {|        match Ok::<(), SubmitError>(()) {"
  "the push's fence|crates/pool/src/thread/mod.rs|        fence(Ordering::SeqCst);
        self.sleep.wake_one_fenced();|        self.sleep.wake_one_fenced();"
  "the fence in Lifecycle::drained|crates/pool/src/lifecycle/mod.rs|        if closed {
            fence(Ordering::SeqCst);
        }|"
  "shutdown's fence|crates/pool/src/lifecycle/mod.rs|        self.gate.close(false);
        // Pairs with the fence between a submitter's push and its confirm.
        fence(Ordering::SeqCst);|        self.gate.close(false);"
  "optional: the break's fence|crates/pool/src/lifecycle/mod.rs|        self.gate.close(true);
        fence(Ordering::SeqCst);|        self.gate.close(true);"
  "the refused submitter's sweep|crates/pool/src/thread/mod.rs|        if none_left {
            self.sweep_closed();
        }|        let _ = none_left;"
  "the last worker's sweep|crates/pool/src/thread/mod.rs|        if left == 0 && self.lc.drained() {
            self.sweep_closed();
        }|        let _ = left;"
)

status=0
for m in "${mutations[@]}"; do
  IFS='|' read -r -d '' name file old new <<<"$m" || true
  new=${new%$'\n'}
  python3 - "$file" "$old" "$new" <<'PY'
import sys
path, old, new = sys.argv[1:4]
text = open(path).read()
if old not in text:
    sys.exit(f"{path}: the text to remove is not there any more; update ci/loom_mutations.sh")
open(path, "w").write(text.replace(old, new, 1))
PY
  failed=$({ RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-2}" \
    timeout 900 cargo test -q --release --target-dir target/loom -p concurrent-futures-pool \
    --lib -- loom_real_ 2>&1 || true; } | sed -n 's/^test thread::loom_models::\(loom_real_[a-z_]*\) \.\.\. FAILED$/\1/p; s/^    thread::loom_models::\(loom_real_[a-z_]*\)$/\1/p' | sort -u | tr '\n' ' ')
  git checkout -q -- "$file"
  if [ -z "$failed" ]; then
    echo "NOT CAUGHT: removing $name fails no model"
    case $name in optional:*) ;; *) status=1 ;; esac
  else
    echo "removing $name fails: $failed"
  fi
done
exit $status
