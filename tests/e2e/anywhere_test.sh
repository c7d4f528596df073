#!/usr/bin/env bash
# End-to-end: Sidecar and its tests work wherever the checkout is. A copy of the checkout's
# binary, tests and agent CLIs (.tools/npm, as scripts/setup installs them) is made under /tmp,
# which every OS sandbox makes private, and a representative subset of the suite runs from there:
# the real codex and claude CLIs (agent_run: their launcher links into node_modules, codex's binary
# in a sibling platform package), fake agents that read the fixtures (task_run), and budgets
# (budget). Each must pass as it does from the checkout.
set -u
. "$(dirname "$0")/lib.sh" # S (absolute), here, root, $work; the shared helpers

copy=$(mktemp -d /tmp/sidecar-anywhere-XXXXXX)
trap 'rm -rf "$copy"; if [ "$failed" -eq 0 ]; then rm -rf "$work"; else echo "kept for a look: $work" >&2; fi' EXIT
mkdir -p "$copy/build" "$copy/.tools"
cp -a "$root/tests" "$copy/tests"
cp "$S" "$copy/build/sidecar"
# The CLIs: hard links where /tmp is the checkout's file system (no 800 MB copy), else a copy.
if [ -d "$root/.tools/npm" ]; then
  cp -al "$root/.tools/npm" "$copy/.tools/npm" 2>/dev/null || cp -a "$root/.tools/npm" "$copy/.tools/npm"
fi
eq "the copy is under /tmp" "/tmp/" "${copy:0:5}"
for t in agent_run task_run budget; do
  status=0
  (cd "$copy" && PATH="$copy/.tools/npm/bin:$PATH" bash "tests/e2e/${t}_test.sh" "$copy/build/sidecar") \
    >"$work/$t.out" 2>&1 || status=$?
  eq "$t from a checkout under /tmp: $(tail -n 1 "$work/$t.out")" 0 "$status"
  [ "$status" = 0 ] || grep -A6 '^FAIL' "$work/$t.out" | head -n 40
done
finish
