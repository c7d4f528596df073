#!/usr/bin/env bash
# End-to-end: reactions (`reactions = {...}` in .agent/config.lua, stdlib/sidecar/task/reactions.lua)
# with command runners as fake agents in writing runs (each in its worktree). A validation that fails
# twice the same way (its timing differs) gets exactly one fix run, then stops "same failure
# repeated"; a task fixed on the second attempt ends in review, both attempts linked; an attempt
# that changes nothing trips the circuit breaker; a failure that keeps changing stops at the
# retries; a gate-blocked run is escalated, not retried; bad reaction settings are clear errors.
set -u
. "$(dirname "$0")/lib.sh" # S (absolute), here, root, $work; the shared helpers
export OUTDIR=$work/seen
mkdir -p "$OUTDIR" "$work/agents"

# agent NAME BODY: a fake agent script (the prompt arrives on stdin; its cwd is its worktree).
agent() { printf '#!/bin/sh\n%s\n' "$2" >"$work/agents/$1.sh"; }
# (each agent runs in an OS sandbox with a pid namespace of its own: $$ is the same in every run,
# so a run's own mark is the clock's)
agent same 'cat > "$OUTDIR/same.$(date +%s%N)"; echo "try $(date +%s%N)" > work.txt; echo done'
agent fixer2 'if grep -q "Validation failed"; then echo ok > fixed.txt; else echo "first try" > work.txt; fi; echo done'
agent noop 'if grep -q "Validation failed"; then :; else echo "first" > work.txt; fi; echo nothing'
agent varies 'cat >/dev/null; echo "try $(date +%s%N)" >> work.txt; echo done'
agent committer 'cat >/dev/null; echo c > c.txt; git add c.txt; git -c user.email=a@b -c user.name=a commit -qm c; echo done'

# repo NAME REACTIONS: a repository whose config has the fake agents and REACTIONS.
repo() {
  git_repo "$1"
  local entries="" a
  for a in same fixer2 noop varies committer; do
    entries+="    $a = { command = { \"sh\", \"$work/agents/$a.sh\" } },"$'\n'
  done
  add_runners "$entries"
  sandbox_allow write "$OUTDIR" # what the agents saw, kept for the test
  sandbox_allow env OUTDIR FIX # the agents' orders, given by name
  REACT=$2 "$S" -e '
    local f = assert(io.open(".agent/config.lua")); local text = f:read("a"); f:close()
    text = text:gsub("^(.-)return {\n", function(head) return head .. "return {\n  reactions = " .. os.getenv("REACT") .. ",\n" end, 1)
    f = assert(io.open(".agent/config.lua", "w")); f:write(text); f:close()'
}
run_json() { echo ".agent/runs/$1/run.json"; }
FIX='{ validation_failed = { action = "fix", retries = 2 }, blocked = { action = "escalate" } }'

# --- the same failure twice: exactly one fix run -------------------------------------------------
repo same "$FIX"
"$S" task create --title "Same" --validate-cmds 'test:echo "FAIL parser_test in $(date +%N)ms at 0x$(date +%N)"; exit 1' >/dev/null
expect_run "same failure: exit 1, stopped" 1 "^R-\d+ blocked" \
  "validation failed; fix run 1 of 2.*reaction stopped: same failure repeated" -- \
  "$S" run T-0001 --runner same --sandbox workspace-write
eq "same failure: two runs, one fix" "2" "$(runs_where task_id T-0001 | wc -l)"
first=$(runs_where task_id T-0001 | tail -n 1)
fix=$(runs_where task_id T-0001 | head -n 1)
eq "same failure: the fix is a replay of the first" "$first" "$(field "$(run_json "$fix")" .parent_run_id)"
eq "same failure: reason recorded" "same failure repeated" "$(field "$(run_json "$fix")" .reaction.stopped)"
eq "same failure: the loop gave up, so the run is escalated" "true escalate" \
  "$(field "$(run_json "$fix")" .reaction.needs_person) $(field "$(run_json "$fix")" .reaction.blocked)"
eq "same failure: the first run names both attempts" "$first $fix" \
  "$(field "$(run_json "$first")" .reaction.attempts.1) $(field "$(run_json "$first")" .reaction.attempts.2)"
expect_run "same failure: run show" 0 "Replay of: +$first \(reason: reaction: validation failed.*Reaction: +validation_failed -> fix; stopped: same failure repeated; needs a person" "" -- \
  "$S" run show "$fix"
"$S" run show "$fix" --json >"$work/show.json"
eq "same failure: --json reaction" "same failure repeated" "$(field "$work/show.json" .data.reaction.stopped)"
eq "same failure: the fix prompt carries the failing output" "1" \
  "$(grep -lP 'FAIL parser_test in \d+ms' "$OUTDIR"/same.* | wc -l)"

# --- fixed on the second attempt -----------------------------------------------------------------
repo fixed "$FIX"
"$S" task create --title "Fixable" --validate-cmds 'test:test -f fixed.txt || { echo "missing fixed.txt"; exit 1; }' >/dev/null
before=$(git status --porcelain; ls)
expect_run "fixed: ends in review" 0 "^R-\d+ review" "reaction stopped: fixed" -- \
  "$S" run T-0001 --runner fixer2 --sandbox workspace-write
fix=$(run_id)
first=$(runs_where task_id T-0001 | tail -n 1)
eq "fixed: two attempts" "2" "$(runs_where task_id T-0001 | wc -l)"
eq "fixed: linked as a replay" "$first" "$(field "$(run_json "$fix")" .parent_run_id)"
eq "fixed: reason" "fixed" "$(field "$(run_json "$fix")" .reaction.stopped)"
eq "fixed: the user's tree untouched until apply" "$before" "$(git status --porcelain; ls)"
expect_run "fixed: approvable" 0 "$fix approved" "" -- "$S" run approve "$fix"
expect_run "fixed: apply" 0 "" "" -- "$S" run apply "$fix"
eq "fixed: both attempts' change applied" "first try ok" "$(cat work.txt fixed.txt | tr '\n' ' ' | sed 's/ $//')"

# --- hostile validation output: escapes, invalid UTF-8, a secret; in the background ------------------
repo hostile "$FIX"
token="ghp_$(printf 'a1B2c3D4e5%.0s' 1 2 3 4 | cut -c1-36)"
"$S" task create --title "Hostile" --validate-cmds "test:printf 'FAIL \\033[31mred\\033]0;title\\007 \\377\\376 $token\\n'; exit 1" >/dev/null
expect_run "hostile: background run" 0 "R-\d+" "" -- "$S" run T-0001 --runner same --sandbox workspace-write --background
bg=$(run_id)
"$S" run wait "$bg" >/dev/null 2>&1
# The worker goes on with the fix run after the first run's end: ready once the last run says why it stopped.
# A new run is in the store before its copy (written once its agent starts): no copy yet is not ready.
fix_recorded() {
  local last
  last=$(runs_where task_id T-0001 | head -n 1)
  [ "$last" != "$bg" ] && [ -f "$(run_json "$last")" ] && [ "$(field "$(run_json "$last")" .reaction.stopped)" != nil ]
}
wait_until "hostile: the fix run's reaction recorded" 60 fix_recorded
fix=$(runs_where task_id T-0001 | head -n 1)
eq "hostile: the worker made one fix run, same failure" "same failure repeated" "$(field "$(run_json "$fix")" .reaction.stopped)"
eq "hostile: the secret is not in the fix prompt" "0" "$(grep -c "$token" .agent/runs/$fix/prompt.md)"
eq "hostile: no raw escape in the fix prompt" "0" "$(grep -c $'\033' .agent/runs/$fix/prompt.md)"
eq "hostile: the failure is in the fix prompt" "1" "$(grep -c '^FAIL .*red' .agent/runs/$fix/prompt.md)"

# --- the circuit breaker: an attempt that changes nothing ---------------------------------------
repo noop "$FIX"
"$S" task create --title "Noop" --validate-cmds 'test:echo "attempt $(date +%N)"; exit 1' >/dev/null
expect_run "no change: stopped by the breaker" 1 "" "reaction stopped: no change" -- \
  "$S" run T-0001 --runner noop --sandbox workspace-write
eq "no change: one fix run" "2" "$(runs_where task_id T-0001 | wc -l)"

# --- a failure that keeps changing stops at the retries ------------------------------------------
repo varies "$FIX"
"$S" task create --title "Varies" --validate-cmds 'test:cat work.txt; exit 1' >/dev/null
expect_run "retries: exhausted" 1 "" "fix run 2 of 2.*reaction stopped: retries exhausted" -- \
  "$S" run T-0001 --runner varies --sandbox workspace-write
eq "retries: the first and two fixes" "3" "$(runs_where task_id T-0001 | wc -l)"

# --- blocked by a gate: escalated, not retried --------------------------------------------------
repo gated "$FIX"
"$S" task create --title "Commits" --validate-cmds 'test:true' >/dev/null
expect_run "blocked: escalated" 1 "^R-\d+ blocked" "blocked; escalated to a person" -- \
  "$S" run T-0001 --runner committer --sandbox workspace-write
eq "blocked: no replay" "1" "$(runs_where task_id T-0001 | wc -l)"
eq "blocked: needs a person" "true" "$(field "$(run_json "$(run_id)")" .reaction.needs_person)"

# --- no reactions configured: nothing happens ---------------------------------------------------
repo none '{}'
"$S" task create --title "Plain" --validate-cmds 'test:exit 1' >/dev/null
expect_run "no reactions: one run" 1 "^R-\d+ blocked" "" -- "$S" run T-0001 --runner same --sandbox workspace-write
eq "no reactions: no fix run" "1" "$(runs_where task_id T-0001 | wc -l)"

# --- bad settings: clear errors, naming the file -----------------------------------------------------------------
repo bad1 '{ validation_failed = { action = "retry" } }'
expect_run "bad action" 1 "" 'config\.lua: reactions\.validation_failed\.action: expected one of fix, none, got "retry"' -- "$S" run list
repo bad2 '{ on_fire = { action = "notify" } }'
expect_run "unknown event" 1 "" 'reactions\.on_fire: unknown event \(known: blocked, stuck, validation_failed\)' -- "$S" run list
repo bad3 '{ validation_failed = { action = "fix", retries = -1 } }'
expect_run "bad retries" 1 "" 'reactions\.validation_failed\.retries: expected a whole number 0 or more' -- "$S" run list
repo bad4 '{ stuck = { action = "notify", retries = 1 } }'
expect_run "retries only for validation_failed" 1 "" 'reactions\.stuck\.retries: unknown setting \(known: action\)' -- "$S" run list

# --- the real codex, through the model server: fixed on the second attempt -------------------------
export PATH="$root/.tools/npm/bin:$PATH"
if [ "${SIDECAR_SKIP_REAL_CLIS:-}" = 1 ] || ! command -v codex >/dev/null; then
  echo "SKIP: the real codex CLI (not installed: scripts/setup puts it in .tools/npm; or SIDECAR_SKIP_REAL_CLIS=1)"
  finish
  exit $?
fi
start_server codex_fix "$root/tests/fixtures/scenarios/fix_turns.json" && {
  repo codex "$FIX"
  mkdir -p "$work/codex/home" "$work/codex/tmp"
  add_runners "    codex = { env = { CODEX_HOME = \"$work/codex/home\", TMPDIR = \"$work/codex/tmp\", MOCK_API_KEY = \"sk-mock\" },
      args = $(lua_list -c model_provider=mock -c model_providers.mock.name=mock \
        -c "model_providers.mock.base_url=http://127.0.0.1:$port/v1" -c model_providers.mock.wire_api=responses \
        -c model_providers.mock.env_key=MOCK_API_KEY -c model_providers.mock.request_max_retries=0 \
        -c model_providers.mock.stream_max_retries=0 --disable plugins -c analytics.enabled=false) },"
  "$S" task create --title "The value" --validate-cmds 'test:v=$(cat value.txt); [ "$v" = 42 ] || { echo "FAIL value: expected 42, got $v"; exit 1; }' >/dev/null
  expect_run "codex: fixed on the second attempt" 0 "^R-\d+ review" "validation failed; fix run 1 of 2.*reaction stopped: fixed" -- \
    "$S" run T-0001 --runner codex --model gpt-5.5 --sandbox workspace-write
  fix=$(run_id)
  first=$(runs_where task_id T-0001 | tail -n 1)
  eq "codex: the fix is a replay of the first" "$first" "$(field "$(run_json "$fix")" .parent_run_id)"
  eq "codex: the model was sent the failing output" "1" "$(grep -c 'FAIL value: expected 42, got 7' .agent/runs/$fix/prompt.md)"
  expect_run "codex: approvable" 0 "$fix approved" "" -- "$S" run approve "$fix" --apply
  eq "codex: the fixed value applied" "42" "$(cat value.txt)"
  stop_server
}
finish
