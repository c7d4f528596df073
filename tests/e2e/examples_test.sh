#!/usr/bin/env bash
# End-to-end: examples/fix_until_green.lua as a user runs it, with fake implementers of the codex
# dialect that report their token usage. Under --budget-tokens, a fixer that fixes makes the tests
# green; fixers that do not fix are stopped by the budget: once it is spent no fix starts, and the
# script says why and exits 1.
#   bash examples_test.sh path/to/sidecar
set -u
. "$(dirname "$0")/lib.sh" # S (absolute), here, root, $work; the shared helpers
FIX=$root/examples/fix_until_green.lua

# fixer NAME ACTION: a fake implementer that runs ACTION in its work tree, says it is done, and
# reports 1 000 tokens.
fixer() {
  cat >"$work/$1.sh" <<EOF
#!/bin/sh
cat >/dev/null
$2
echo '{"type":"thread.started","thread_id":"t-1"}'
echo '{"type":"item.completed","item":{"id":"i","type":"agent_message","text":"[CODEX_COMPLETE] tried"}}'
echo '{"type":"turn.completed","usage":{"input_tokens":900,"output_tokens":100}}'
EOF
  chmod +x "$work/$1.sh"
}
fixer good 'echo ok >fixed'
fixer futile 'echo another try >>state.txt'

git_repo fixes
add_runners "    good = { command = { \"$work/good.sh\" }, dialect = \"codex\" },
    futile = { command = { \"$work/futile.sh\" }, dialect = \"codex\" },"
echo start >state.txt
git add state.txt && git -c user.email=t@e -c user.name=t commit -qm state

expect_run "fix until green: one fix under the budget, green" 0 \
  "^test 1: FAIL \(exit 1\): [^\n]*\nfix 1: R-\d+ review: tried \(files: none\)\ntest 2: pass\nGreen after 1 fix\.\n$" "" -- \
  "$S" script "$FIX" --runner good --budget-tokens 5000 -- 'test -f fixed'
eq "... the fix recorded its tokens" "1000" "$(field .agent/runs/R-0001/run.json .usage.total)"

rm -f fixed
expect_run "fix until green: the budget stops futile fixes, exit 1" 1 \
  "fix 1: R-\d+ review.*fix 2: R-\d+ review.*\nNo more fixes: preset fix-until-green: a step on futile not started: budget exceeded: 2000 tokens spent, over the limit of 2000 tokens \(--budget-tokens\)" \
  "" -- "$S" script "$FIX" --runner futile --max 5 --budget-tokens 2000 -- 'cat state.txt; test -f fixed'
eq "... two fixes ran, none after the budget" "3" "$("$S" run list --limit 0 | grep -c '^R-')"
expect_run "fix until green: a budget that is not a number is a usage error" 2 "" "usage: sidecar script" -- \
  "$S" script "$FIX" --budget-tokens lots -- true
finish
