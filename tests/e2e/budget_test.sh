#!/usr/bin/env bash
# End-to-end: budgets (stdlib/sidecar/agent/budget.lua). A fake codex-dialect agent that reports
# 3 000 tokens, then sleeps: under --budget-tokens 2000 it is stopped mid-turn, every process of
# it gone, the run recorded budget_exceeded with the figures, and `usage --budgets` shows it;
# config budgets (per_task) refuse the next run with the figures; a runner reporting no usage is
# refused unless allowed. Then the REAL codex and claude CLIs on the scripted model server: a
# pipeline `--runner codex,claude --budget-tokens 2000` where codex reports 3 333 tokens does not
# start claude (the server never hears from it), says why with the figures, and exits 1. With fake
# agents too: a preset (ctx:agent, then ctx:agents in a worker), a pipeline's --json, a fan-out
# (start-ready) sharing its budget, and MCP's run_task with budget_tokens.
set -u
. "$(dirname "$0")/lib.sh" # S (absolute), here, root, $work; the shared helpers
scenarios=$root/tests/fixtures/scenarios
M=53 # this test's processes sleep $M.N seconds (see `left` in lib.sh)

# --- a fake agent, stopped mid-turn ------------------------------------------------------------
git_repo fake
cat >"$work/spender.sh" <<EOF
#!/bin/sh
cat >/dev/null
echo '{"type":"thread.started","thread_id":"t-1"}'
echo '{"type":"turn.started"}'
echo '{"type":"turn.completed","usage":{"input_tokens":900,"output_tokens":100}}'
echo '{"type":"turn.completed","usage":{"input_tokens":2900,"output_tokens":100}}'
sleep $M.1 &
sleep $M.2
echo '{"type":"item.completed","item":{"id":"i","type":"agent_message","text":"never said"}}'
EOF
# quick: reports 3 000 tokens, answers and exits.
cat >"$work/quick.sh" <<'EOF'
#!/bin/sh
cat >/dev/null
echo '{"type":"thread.started","thread_id":"t-2"}'
echo '{"type":"item.completed","item":{"id":"i","type":"agent_message","text":"spent"}}'
echo '{"type":"turn.completed","usage":{"input_tokens":2900,"output_tokens":100}}'
EOF
chmod +x "$work/spender.sh" "$work/quick.sh"
add_runners "    spender = { command = { \"$work/spender.sh\" }, dialect = \"codex\" },
    plain = { command = { \"sh\", \"-c\", \"cat >/dev/null; echo done\" } },"
"$S" task create --title "Spend" --goal "Spend tokens" --status ready >/dev/null

expect_run "mid-turn: stopped, exit 1" 1 \
  "^R-\d+ budget_exceeded: budget exceeded: 3000 tokens spent, over the limit of 2000 tokens \(--budget-tokens\); the agent was stopped\n$" \
  "" -- "$S" run T-0001 --runner spender --budget-tokens 2000
id=$(run_id) R=.agent/runs/$(run_id)/run.json
# stopped: by the budget as the report came, not later by the exit deadline after a final result.
eq "mid-turn: the figures recorded" "budget_exceeded command tokens 2000 3000 3000 true" \
  "$(field $R .status) $(field $R .budget_exceeded.scope) $(field $R .budget_exceeded.kind) \
$(field $R .budget_exceeded.limit) $(field $R .budget_exceeded.spent) $(field $R .usage.total) $(field $R .budget_exceeded.stopped)"
eq "mid-turn: the final message never came" "nil" "$(field $R .summary)"
eq "mid-turn: no process of the agent is left" "" "$(left '[12]')"
expect_run "mid-turn: run list shows the status" 0 "$id +T-0001 +spender +- +budget_exceeded" "" -- "$S" run list
expect_run "mid-turn: run list --status budget_exceeded" 0 "$id" "" -- "$S" run list --status budget_exceeded
expect_run "mid-turn: run show says why" 0 "Status: +budget_exceeded.*Failure: +budget exceeded: 3000 tokens" "" -- \
  "$S" run show "$id"
expect_run "usage --budgets: today and the task, and the stopped run" 0 \
  "per_day +today \(UTC\) +3000 tokens \(no limit\).*per_task +T-0001 +3000 tokens \(no limit\).*Runs stopped by a budget:\n  $id T-0001: budget exceeded: 3000 tokens spent, over the limit of 2000 tokens" \
  "" -- "$S" usage --budgets
for other in --csv --jsonl "--by model" "--since 1d"; do
  # shellcheck disable=SC2086
  expect_run "usage --budgets $other: a usage error, not a silent table" 2 "" "--budgets .* takes --json, not --csv" \
    -- "$S" usage --budgets $other
done
"$S" usage --budgets --json >"$work/b.json"
eq "usage --budgets --json: the stopped run's figures" "$id 3000 2000 3000" \
  "$(field "$work/b.json" .data.budgets.stopped.1.run_id) $(field "$work/b.json" .data.budgets.stopped.1.budget_exceeded.spent) \
$(field "$work/b.json" .data.budgets.stopped.1.budget_exceeded.limit) $(field "$work/b.json" .data.budgets.per_day.tokens)"

# Config budgets: per_task 4000 (3000 spent): the next run may start with 1000 left, crosses it
# and is stopped; then nothing is left and the third is refused before anything starts.
sed -i 's|^    -- per_task = .*|    per_task = { tokens = 4000 },|' .agent/config.lua
expect_run "per_task: the second run stopped at what was left" 1 \
  "budget_exceeded: budget exceeded: 6000 tokens spent, over the limit of 4000 tokens \(config budgets.per_task\)" "" -- \
  "$S" run T-0001 --runner spender
runs_before=$("$S" run list --limit 0 | grep -c '^R-')
expect_run "per_task: the third refused with the figures, exit 1" 1 "^$" \
  "spender not started: budget exceeded: 6000 tokens spent, over the limit of 4000 tokens \(config budgets.per_task\): nothing is left" \
  -- "$S" run T-0001 --runner spender
eq "per_task: the refused run was not recorded" "$runs_before" "$("$S" run list --limit 0 | grep -c '^R-')"
expect_run "usage --budgets: the task over its limit" 0 "per_task +T-0001 +6000 tokens of 4000 \(150%\) EXCEEDED" "" -- \
  "$S" usage --budgets
eq "mid-turn: still no process left" "" "$(left '[12]')"

# Unknown usage: a runner that reports none is refused under a budget, unless allowed.
"$S" task create --title "Plain" --goal "No usage" --status ready >/dev/null
expect_run "unknown: refused under a budget" 1 "^$" "reports no token usage.*--budget-allow-unknown" -- \
  "$S" run T-0002 --runner plain --budget-tokens 5000
expect_run "unknown: allowed explicitly" 0 "^R-\d+ review" "" -- \
  "$S" run T-0002 --runner plain --budget-tokens 5000 --budget-allow-unknown
expect_run "bad limits: a usage error" 2 "^$" "--budget-usd: expected a number of US dollars > 0" -- \
  "$S" run T-0002 --runner plain --budget-usd nothing
sed -i 's|^    per_task = .*|    per_task = { tokens = "lots" },|' .agent/config.lua
expect_run "bad config: named" 1 "^$" "budgets.per_task.tokens: expected a whole number > 0" -- \
  "$S" run T-0002 --runner plain

# A preset: its first step (in process) crosses the budget and is stopped; the second (ctx:agents,
# in a worker) is not started (status not_started), the preset still reports, the budget stop is
# said with the figures, exit 1.
git_repo preset
add_runners "    spender = { command = { \"$work/spender.sh\" }, dialect = \"codex\" },
    quick = { command = { \"$work/quick.sh\" }, dialect = \"codex\" },"
mkdir -p .agent/presets
cat >.agent/presets/spend-twice.lua <<'LUA'
local preset = require("sidecar.preset.define")
return preset.define({
  name = "spend-twice",
  summary = "Two scans, one after the other",
  run = function(ctx)
    local first = ctx:agent({ kind = "scan", prompt = "Spend once" })
    ctx:progress("first: %s", first.status)
    local rest = ctx:agents({ { kind = "scan", prompt = "Spend again" } })
    return { text = "second: " .. rest[1].status .. "\n" }
  end,
})
LUA
expect_run "preset: the second step not started, what ran reported, exit 1" 1 "^second: not_started\n$" \
  "first: budget_exceeded.*preset spend-twice: a step on spender not started: budget exceeded: 3000 tokens spent, over the limit of 2500 tokens \(--budget-tokens\)" \
  -- "$S" preset run spend-twice --runner spender --budget-tokens 2500
eq "preset: one run, stopped" "1 1" \
  "$("$S" run list --limit 0 | grep -c '^R-') $(runs_where status budget_exceeded | wc -l)"
expect_run "preset: room for the first, the worker's step stopped at what was left, a budget stop (exit 1)" 1 \
  "^second: budget_exceeded\n$" "first: review.*the step on quick \(R-\d+\) was stopped: budget exceeded: 6000 tokens spent, over the limit of 4000 tokens" \
  -- "$S" preset run spend-twice --runner quick --budget-tokens 4000
worker_run=$(runs_where status budget_exceeded | head -1)
eq "preset: the worker's step over the preset's budget, with the preset's figures" "quick 4000 6000" \
  "$(field .agent/runs/$worker_run/run.json .runner_type) \
$(field .agent/runs/$worker_run/run.json .budget_exceeded.limit) $(field .agent/runs/$worker_run/run.json .budget_exceeded.spent)"
eq "preset: no process left" "" "$(left '[12]')"

# A pipeline of fake agents, --json: the step not started is said in data.budget and errors[].
pipe_task=$("$S" task create --title "Pipe" --goal "Spend" --status ready | grep -oP '\bT-\d+')
"$S" run "$pipe_task" --runner quick,quick --budget-tokens 2500 --json >"$work/pipe.json" 2>/dev/null
eq "pipeline --json: not ok, one step, the reason in data.budget and errors" \
  "false budget_exceeded nil yes yes" \
  "$(field "$work/pipe.json" .ok) $(field "$work/pipe.json" .data.steps.1.status) $(field "$work/pipe.json" .data.steps.2.run_id) \
$(field "$work/pipe.json" .data.budget | grep -q 'quick not started: budget exceeded: 3000 tokens spent, over the limit of 2500 tokens' && echo yes) \
$(field "$work/pipe.json" .errors.1.message | grep -q 'quick not started: budget exceeded' && echo yes)"

# A fan-out: start-ready shares its budget; the first run crosses it, the next task is not started.
git_repo fanout
add_runners "    spender = { command = { \"$work/spender.sh\" }, dialect = \"codex\" },"
"$S" task create --title "One" --goal "Spend" --status ready >/dev/null
"$S" task create --title "Two" --goal "Spend" --status ready >/dev/null
expect_run "start-ready: the second task not started, with the figures, exit 1" 1 \
  "T-0001 +R-\d+ +budget_exceeded .*budget exceeded: 3000 tokens.*\nT-0002 +- +not_started .*budget exceeded: 3000 tokens spent, over the limit of 2500 tokens \(--budget-tokens\): nothing is left" \
  "" -- "$S" run start-ready -j 1 --runner spender --budget-tokens 2500
eq "start-ready: one run only" "1" "$("$S" run list --limit 0 | grep -c '^R-')"
eq "start-ready: no process left" "" "$(left '[12]')"
# Under 5000 tokens the first run spends 3000; the second starts with 2000 left and crosses: its
# record says the limit the user set and what the command spent in all (as a pipeline's does),
# and what was left for it and its own spend; the third never starts, and is no run.
git_repo fanout3
add_runners "    spender = { command = { \"$work/spender.sh\" }, dialect = \"codex\" },"
for t in One Two Three; do "$S" task create --title "$t" --goal "Spend" --status ready >/dev/null; done
expect_run "start-ready: the second crosses the command's budget" 1 \
  "T-0002 +R-\d+ +budget_exceeded .*budget exceeded: 6000 tokens spent, over the limit of 5000 tokens \(--budget-tokens\).*\nT-0003 +- +not_started .*\n2 runs in [^\n]*; 1 task not started\n" \
  "" -- "$S" run start-ready -j 1 --runner spender --budget-tokens 5000
second=$(runs_where status budget_exceeded | head -n 1)
eq "start-ready: limit, spent in all, left at its start, its own spend" "command 5000 6000 2000 3000" \
  "$(field .agent/runs/$second/run.json .budget_exceeded.scope) $(field .agent/runs/$second/run.json .budget_exceeded.limit) \
$(field .agent/runs/$second/run.json .budget_exceeded.spent) $(field .agent/runs/$second/run.json .budget_exceeded.left_at_start) \
$(field .agent/runs/$second/run.json .budget_exceeded.run_spent)"

# MCP: run_task takes a budget, and its answer (and run_list's) shows the status and the figures.
git_repo mcp
add_runners "    spender = { command = { \"$work/spender.sh\" }, dialect = \"codex\" },"
"$S" task create --title "Over MCP" --goal "Spend" --status ready >/dev/null
mkfifo "$work/mcp.in"
"$S" mcp <"$work/mcp.in" >"$work/mcp.out" 2>"$work/mcp.err" &
mcp_pid=$!
exec 3>"$work/mcp.in"
printf '%s\n' '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}' \
  '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"run_task","arguments":{"task_id":"T-0001","runner":"spender","budget_tokens":2000,"wait_s":60}}}' >&3
has_reply() { grep -q "\"id\":$1[,}]" "$work/mcp.out"; }
wait_until "mcp: run_task answered" 90 has_reply 2
r=$(grep '"id":2[,}]' "$work/mcp.out")
eq "mcp: run_task's answer: budget_exceeded, the figures" "budget_exceeded command 2000 3000" \
  "$(jv .result.structuredContent.status <<<"$r") $(jv .result.structuredContent.budget_exceeded.scope <<<"$r") \
$(jv .result.structuredContent.budget_exceeded.limit <<<"$r") $(jv .result.structuredContent.budget_exceeded.spent <<<"$r")"
printf '%s\n' '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"run_list","arguments":{"status":"budget_exceeded"}}}' >&3
wait_until "mcp: run_list answered" 60 has_reply 3
eq "mcp: run_list --status budget_exceeded" "budget_exceeded" \
  "$(grep '"id":3[,}]' "$work/mcp.out" | jv .result.structuredContent.runs.1.status)"
exec 3>&-
wait "$mcp_pid"
eq "mcp: no process left" "" "$(left '[12]')"

# Parallel steps under a per_task budget: a step's sibling still running is in flight, not a run
# whose usage is unknown; both run and report (-j 2). Then a per_day budget: a finished run of a
# runner that reports no usage (the command runner) is unmetered, never held against later runs.
git_repo parallel
cat >"$work/slowquick.sh" <<'EOF'
#!/bin/sh
cat >/dev/null
echo '{"type":"thread.started","thread_id":"t-3"}'
echo '{"type":"turn.completed","usage":{"input_tokens":900,"output_tokens":100}}'
sleep 2
echo '{"type":"item.completed","item":{"id":"i","type":"agent_message","text":"done"}}'
EOF
chmod +x "$work/slowquick.sh"
add_runners "    a = { command = { \"$work/slowquick.sh\" }, dialect = \"codex\" },
    b = { command = { \"$work/slowquick.sh\" }, dialect = \"codex\" },
    plain = { command = { \"sh\", \"-c\", \"cat >/dev/null; echo done\" } },"
sed -i 's|^    -- per_task = .*|    per_task = { tokens = 100000 },|' .agent/config.lua
mkdir -p .agent/presets
cat >.agent/presets/side-by-side.lua <<'LUA'
local preset = require("sidecar.preset.define")
return preset.define({
  name = "side-by-side",
  summary = "Two scans at once",
  run = function(ctx)
    local both = ctx:agents({ { kind = "scan", runner = "a", prompt = "One" }, { kind = "scan", runner = "b", prompt = "Two" } })
    return { text = both[1].status .. " " .. both[2].status .. "\n" }
  end,
})
LUA
expect_run "parallel under per_task: both steps run, exit 0" 0 "^review review\n$" "" -- \
  "$S" preset run side-by-side -j 2
eq "parallel under per_task: two runs, both reported" "2 1000 1000" \
  "$("$S" run list --limit 0 | grep -c '^R-') $(field .agent/runs/R-0001/run.json .usage.total) $(field .agent/runs/R-0002/run.json .usage.total)"
# Runs going at once share their budget as they go: each reports 600 tokens, then works on (alone
# it would end at 900, under 1000); together they cross 1000, so both are stopped, each recorded
# budget_exceeded with what the command spent in all, and the preset run says so (exit 1). Before,
# neither was stopped until it had spent the whole budget's worth on its own.
cat >"$work/turns.sh" <<EOF
#!/bin/sh
cat >/dev/null
echo '{"type":"thread.started","thread_id":"t-5"}'
echo '{"type":"turn.completed","usage":{"input_tokens":250,"output_tokens":50}}'
echo '{"type":"turn.completed","usage":{"input_tokens":550,"output_tokens":50}}'
sleep $M.4
echo '{"type":"item.completed","item":{"id":"i","type":"agent_message","text":"done"}}'
echo '{"type":"turn.completed","usage":{"input_tokens":850,"output_tokens":50}}'
EOF
chmod +x "$work/turns.sh"
add_runners "    la = { command = { \"$work/turns.sh\" }, dialect = \"codex\" },
    lb = { command = { \"$work/turns.sh\" }, dialect = \"codex\" },"
sed 's/runner = "a"/runner = "la"/; s/runner = "b"/runner = "lb"/; s/"side-by-side"/"live-pair"/' \
  .agent/presets/side-by-side.lua >.agent/presets/live-pair.lua
before=$("$S" run list --limit 0 | grep -c '^R-')
expect_run "shared as they go: both steps stopped together, exit 1" 1 "^budget_exceeded budget_exceeded\n$" \
  "the step on l[ab] \(R-\d+\) was stopped: budget exceeded: 1200 tokens spent, over the limit of 1000 tokens \(--budget-tokens\), with the runs going beside it; the agent was stopped" \
  -- "$S" preset run live-pair -j 2 --budget-tokens 1000
for id in $("$S" run list --limit 2 | grep -oP '^R-\d+'); do
  eq "shared as they go: $id stopped, its own 600 of the 1200 spent in all" "budget_exceeded command 1000 1200 600 600 true" \
    "$(field .agent/runs/$id/run.json .status) $(field .agent/runs/$id/run.json .budget_exceeded.scope) \
$(field .agent/runs/$id/run.json .budget_exceeded.limit) $(field .agent/runs/$id/run.json .budget_exceeded.spent) \
$(field .agent/runs/$id/run.json .budget_exceeded.run_spent) $(field .agent/runs/$id/run.json .usage.total) \
$(field .agent/runs/$id/run.json .budget_exceeded.stopped)"
done
eq "shared as they go: two runs, no process left" "$((before + 2)) " \
  "$("$S" run list --limit 0 | grep -c '^R-') $(left '[4]')"
# A budget of one ctx:agents call, shared by its agents as they go, with no budget on the command.
sed 's/"live-pair"/"live-batch"/; s/prompt = "Two" } })/prompt = "Two" } }, { budget_tokens = 1000 })/' \
  .agent/presets/live-pair.lua >.agent/presets/live-batch.lua
expect_run "a ctx:agents call's own budget, shared as they go: both stopped, exit 1" 1 "^budget_exceeded budget_exceeded\n$" \
  "over the limit of 1000 tokens \(ctx:agents' budget_tokens\), with the runs going beside it" -- \
  "$S" preset run live-batch -j 2
# The same two under the config's per_task budget, and a fan-out (start-ready -j 2) under its own.
sed -i 's|^    per_task = { tokens = 100000 },|    per_task = { tokens = 1000 },|' .agent/config.lua
expect_run "shared as they go, per_task: both stopped, exit 1" 1 "^budget_exceeded budget_exceeded\n$" \
  "over the limit of 1000 tokens \(config budgets.per_task\), with the runs going beside it" -- \
  "$S" preset run live-pair -j 2
sed -i 's|^    per_task = { tokens = 1000 },|    per_task = { tokens = 100000 },|' .agent/config.lua
git_repo fanout_live
add_runners "    la = { command = { \"$work/turns.sh\" }, dialect = \"codex\" },"
"$S" task create --title "One" --goal "Spend" --status ready >/dev/null
"$S" task create --title "Two" --goal "Spend" --status ready >/dev/null
expect_run "start-ready -j 2: both runs stopped together" 1 \
  "T-000[12] +R-\d+ +budget_exceeded .*with the runs going beside it.*\nT-000[12] +R-\d+ +budget_exceeded .*with the runs going beside it" \
  "" -- "$S" run start-ready -j 2 --runner la --budget-tokens 1000
eq "start-ready -j 2: no process left" "" "$(left '[4]')"
cd "$work/parallel" || exit 1
plain_task=$("$S" task create --title "Plain" --goal "No usage" --status ready | grep -oP '\bT-\d+')
expect_run "per_day: an unmetered run, allowed explicitly" 0 "^R-\d+ review" "" -- \
  "$S" run "$plain_task" --runner plain --budget-allow-unknown
sed -i 's|^    -- per_day = .*|    per_day = { tokens = 100000 },|' .agent/config.lua
eq "per_day: the config says so" "1" "$(grep -c '^    per_day = { tokens = 100000 },' .agent/config.lua)"
expect_run "per_day: the unmetered run is not held against the next one" 0 "^R-\d+ review" "" -- \
  "$S" run "$plain_task" --runner a
# A preset stopped by its budget returns what it has: two reviewers run, the third is not started;
# the merged report of the two is printed and given in --json's data, the stop is the error, exit 1.
echo "hello" >a.txt && git add a.txt && git -c user.email=t@e -c user.name=t commit -qm a && echo "hello world" >a.txt
cat >"$work/reviewer.sh" <<'EOF'
#!/bin/sh
cat >/dev/null
echo '{"type":"thread.started","thread_id":"t-4"}'
echo '{"type":"item.completed","item":{"id":"i","type":"agent_message","text":"{\"findings\": [{\"file\": \"a.txt\", \"line\": 1, \"severity\": \"high\", \"claim\": \"the greeting changed without a test\"}]}"}}'
echo '{"type":"turn.completed","usage":{"input_tokens":900,"output_tokens":100}}'
EOF
chmod +x "$work/reviewer.sh"
add_runners "    rev = { command = { \"$work/reviewer.sh\" }, dialect = \"codex\" },"
expect_run "a preset stopped by its budget: the report of what ran, exit 1" 1 \
  "^# Triangulated review\n.*from 2 workers.*the greeting changed without a test.*W3 security/rev: not run, preset triangulated-review: a step on rev not started: budget exceeded: 2000 tokens spent, over the limit of 2000 tokens \(--budget-tokens\)" \
  "budget exceeded: 2000 tokens spent, over the limit of 2000 tokens" -- \
  "$S" preset run triangulated-review --runner rev --param lenses=correctness,risks,security -j 1 --budget-tokens 2000
"$S" preset run triangulated-review --runner rev --param lenses=correctness,risks,security -j 1 --budget-tokens 2000 \
  --json >"$work/stopped.json" 2>/dev/null
eq "... --json: not ok, the findings and the workers of what ran, the stop in errors" \
  "false 1 ok ok not_started yes" \
  "$(field "$work/stopped.json" .ok) $("$S" -e "print(#require('sidecar.core.json').decode(io.read('a')).data.result.findings)" <"$work/stopped.json") \
$(field "$work/stopped.json" .data.result.workers.1.status) $(field "$work/stopped.json" .data.result.workers.2.status) \
$(field "$work/stopped.json" .data.result.workers.3.status) \
$(field "$work/stopped.json" .errors.1.message | grep -q 'a step on rev not started: budget exceeded' && echo yes)"

eq "parallel: no process left" "" "$(left '[12]')"

# --- the real codex and claude CLIs, a pipeline over budget ------------------------------------
need_codex_and_claude
start_server pipeline "$scenarios/budget_turn.json" || { finish; exit 1; }
git_repo pipeline
mkdir -p "$work/codex-home" "$work/claude-home" "$work/tmp"
add_runners "    codex = { env = { CODEX_HOME = \"$work/codex-home\", TMPDIR = \"$work/tmp\", MOCK_API_KEY = \"sk-mock\" },
      args = $(lua_list -c model_provider=mock -c model_providers.mock.name=mock \
  -c "model_providers.mock.base_url=http://127.0.0.1:$port/v1" -c model_providers.mock.wire_api=responses \
  -c model_providers.mock.env_key=MOCK_API_KEY -c model_providers.mock.request_max_retries=0 \
  -c model_providers.mock.stream_max_retries=0 --disable plugins -c analytics.enabled=false) },
    claude = { env = { ANTHROPIC_BASE_URL = \"http://127.0.0.1:$port\", ANTHROPIC_API_KEY = \"sk-ant-mock\",
      CLAUDE_CONFIG_DIR = \"$work/claude-home\", TMPDIR = \"$work/tmp\", CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC = \"1\",
      DISABLE_TELEMETRY = \"1\", DISABLE_AUTOUPDATER = \"1\", DISABLE_ERROR_REPORTING = \"1\", CLAUDE_CODE_MAX_RETRIES = \"0\" } },"
"$S" task create --title "Pipeline" --goal "Say something" --status ready >/dev/null
expect_run "pipeline: claude not started, the figures said, exit 1" 1 \
  "pipeline stopped after step 1: task T-0001: claude not started: budget exceeded: 3333 tokens spent, over the limit of 2000 tokens \(--budget-tokens\): nothing is left for another run" \
  "" -- "$S" run T-0001 --runner codex,claude --model gpt-5.5 --budget-tokens 2000
id=$(run_id) R=.agent/runs/$(run_id)/run.json
eq "pipeline: one run only, codex's" "1 codex" "$(run_ids "$work/out" | wc -l) $(field $R .runner_type)"
eq "pipeline: codex's run over its budget, the usage it reported" "budget_exceeded 3333 2000" \
  "$(field $R .status) $(field $R .usage.total) $(field $R .budget_exceeded.limit)"
eq "pipeline: no run of claude in the store" "" "$(runs_where runner_type claude)"
eq "pipeline: the server answered codex, never claude" "yes no" \
  "$(grep -q '"path":"/v1/responses"' "$work/pipeline.log" && echo yes || echo no) \
$(grep -q '"path":"/v1/messages"' "$work/pipeline.log" && echo yes || echo no)"
stop_server
finish
