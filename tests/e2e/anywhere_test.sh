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
# The binary and the agent's program right in /tmp (a private folder itself, never shown whole):
# each is shown as a file, the run completes, and a file beside them stays unseen.
if [ "${SIDECAR_OS_SANDBOX:-}" != off ] && command -v bwrap >/dev/null && bwrap --unshare-all --ro-bind / / true 2>/dev/null; then
  bin=$(mktemp /tmp/sidecar-bin-XXXXXX) agent=$(mktemp /tmp/sidecar-agent-XXXXXX) beside=$(mktemp /tmp/sidecar-beside-XXXXXX)
  cp "$S" "$bin" && chmod +x "$bin"
  printf '#!/bin/sh\ncat >/dev/null\ncat %s 2>/dev/null || echo "beside: unseen"\n' "$beside" >"$agent" && chmod +x "$agent"
  echo "a file of the user's" >"$beside"
  mkdir "$work/in-tmp" && (cd "$work/in-tmp" && git init -q)
  out=$(cd "$work/in-tmp" && AGENT=$agent "$bin" -e "local r = require('sidecar.agent.run').execute({ runner = 'command',
    repo = '.', command = { os.getenv('AGENT') }, prompt = 'p', os_sandbox = 'bwrap' })
    print(r.status, r.output, r.failure_reason)")
  eq "sidecar and the agent's program right in /tmp: the run completes, the file beside them unseen" \
    "$(printf 'review\tbeside: unseen\n\tnil')" "$out"
  rm -f "$bin" "$agent" "$beside"
fi
for t in agent_run task_run budget; do
  status=0
  (cd "$copy" && PATH="$copy/.tools/npm/bin:$PATH" bash "tests/e2e/${t}_test.sh" "$copy/build/sidecar") \
    >"$work/$t.out" 2>&1 || status=$?
  eq "$t from a checkout under /tmp: $(tail -n 1 "$work/$t.out")" 0 "$status"
  [ "$status" = 0 ] || grep -A6 '^FAIL' "$work/$t.out" | head -n 40
done
finish
