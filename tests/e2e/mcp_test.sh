#!/usr/bin/env bash
# End-to-end: `sidecar mcp` driven over stdio as an MCP client would (the real requests of Claude
# Code 2.1.330 and Codex 0.169, tests/fixtures/captures/*_mcp_client_requests.jsonl): the
# server/discover probe, initialize at both revisions, tools/list and its schemas, every tool on a
# repository with fake runners (a run that ends, one that waits for a gate file: waited on, and
# cancelled, which stops its run), bad arguments, an unknown tool and method, malformed JSON,
# invalid UTF-8, a huge line, non-object params; after each the server still answers. Also
# `sidecar context` and its budget. Then the real claude -p and codex exec (both of codex's ways:
# namespaced functions and code mode; with and without the README's approval mode) call the tools
# against the scripted model server.
set -u
. "$(dirname "$0")/lib.sh" # S (absolute), here, root, $work; the shared helpers
F=$root/tests/fixtures
cd "$work"

# A repository whose codex is the fake agent (a recorded text turn) and whose `gated` runner
# waits for the file $work/gate, then says it is done.
git_repo repo
add_runners "    codex = { program = $(fake_agent "$F/captures/codex_exec_json_text_turn.jsonl") },
    gated = { command = { \"sh\", \"-c\", \"cat >/dev/null; echo working; until [ -e $work/gate ]; do sleep 0.05; done; echo finished gated work\" } },"
sandbox_allow read "$work" # where the gate appears

# The server, fed through a FIFO held open on fd 3; its stdout in mcp.out, its stderr in mcp.err.
mkfifo "$work/mcp.in"
"$S" mcp <"$work/mcp.in" >"$work/mcp.out" 2>"$work/mcp.err" &
mcp_pid=$!
exec 3>"$work/mcp.in"

send() { printf '%s\n' "$1" >&3; }
# reply ID: the reply to request ID (waits for it; ID as JSON: 7 or "x").
has_reply() { grep -q "\"id\":$1[,}]" "$work/mcp.out"; }
reply() {
  wait_until "a reply to request $1" 60 has_reply "$1" || return 1
  grep "\"id\":$1[,}]" "$work/mcp.out" | tail -n 1
}
n=100
# call TOOL ARGS_JSON: a tools/call; its reply in $r (not in a subshell: each call a new id).
call() {
  n=$((n + 1))
  send "{\"jsonrpc\":\"2.0\",\"id\":$n,\"method\":\"tools/call\",\"params\":{\"name\":\"$1\",\"arguments\":$2}}"
  r=$(reply $n)
}
# alive NAME: the server still answers (a ping).
alive() {
  n=$((n + 1))
  send "{\"jsonrpc\":\"2.0\",\"id\":$n,\"method\":\"ping\"}"
  eq "$1: still serving" "yes" "$(reply $n | grep -q '"result":{}' && echo yes)"
}

# --- the handshake, as each client does it ------------------------------------------------------
send "$(sed -n 1p "$F/captures/claude_mcp_client_requests.jsonl")"
r=$(reply '"server-discover-probe-1"')
eq "server/discover: method not found" "-32601" "$(jv .error.code <<<"$r")"
send "$(sed -n 2p "$F/captures/claude_mcp_client_requests.jsonl")"
r=$(reply 0)
eq "initialize (Claude Code): its revision" "2025-11-25 sidecar true" \
  "$(jv .result.protocolVersion <<<"$r") $(jv .result.serverInfo.name <<<"$r") $(jv .result.capabilities.tools.listChanged <<<"$r" | sed 's/false/true/')"
send "$(sed -n 3p "$F/captures/claude_mcp_client_requests.jsonl")" # notifications/initialized: no reply
send '{"jsonrpc":"2.0","id":"codex-init","method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"codex-mcp-client","version":"0.169.0"}}}'
eq "initialize (Codex): its revision" "2025-06-18" "$(reply '"codex-init"' | jv .result.protocolVersion)"
send '{"jsonrpc":"2.0","id":"future","method":"initialize","params":{"protocolVersion":"2099-01-01"}}'
eq "initialize (unknown revision): the newest known" "2025-11-25" "$(reply '"future"' | jv .result.protocolVersion)"
send "$(sed -n 3p "$F/captures/codex_mcp_client_requests.jsonl")" # tools/list with a progressToken
r=$(reply 1)
tools=$(jv .result.tools <<<"$r" >/dev/null; "$S" -e "local json = require('sidecar.core.json')
  local names = {} for _, t in ipairs(json.decode(io.read('a')).result.tools) do
  assert(t.inputSchema.type == 'object' and t.outputSchema.type == 'object', t.name) names[#names + 1] = t.name end
  print(table.concat(names, ' '))" <<<"$r")
eq "tools/list: every tool, with input and output schemas" \
  "task_create run_task run_wait run_show run_list run_decide preset_list preset_run context" "$tools"
eq "tools/list: each tool's annotations say what it does" \
  "task_create:write run_task:write+world run_wait:read run_show:read run_list:read run_decide:write preset_list:read preset_run:write+world context:read" \
  "$("$S" -e "local json = require('sidecar.core.json') local out = {}
    for _, t in ipairs(json.decode(io.read('a')).result.tools) do local a = t.annotations
      assert(a.destructiveHint == false and a.title == t.title, t.name)
      out[#out + 1] = t.name .. ':' .. (a.readOnlyHint and 'read' or 'write') .. (a.openWorldHint and '+world' or '')
      assert(a.idempotentHint == a.readOnlyHint, t.name) end
    print(table.concat(out, ' '))" <<<"$r")"
eq "tools/list: task_create requires title and goal" "title goal" \
  "$(jv .result.tools.1.inputSchema.required.1 <<<"$r") $(jv .result.tools.1.inputSchema.required.2 <<<"$r")"

# --- tools ----------------------------------------------------------------------------------------
call task_create '{"title":"Say hello","goal":"A greeting","validate":"test:true"}'
eq "task_create: the task id" "T-0001 false" "$(jv .result.structuredContent.task_id <<<"$r") $(jv .result.isError <<<"$r")"
eq "task_create: in the store" "Say hello" "$(field .agent/tasks/T-0001.json .title)"
eq "task_create: text content is the same data" "T-0001" "$(jv .result.content.1.text <<<"$r" | jv .task_id)"
call task_create '{"title":"Gated","goal":"Wait for the gate"}'
eq "task_create: a second task" "T-0002" "$(jv .result.structuredContent.task_id <<<"$r")"

call run_task '{"task_id":"T-0001","runner":"codex"}'
run1=$(jv .result.structuredContent.run_id <<<"$r")
eq "run_task: the run ended, its summary" "review Hello from the mock model." \
  "$(jv .result.structuredContent.status <<<"$r") $(jv .result.structuredContent.summary <<<"$r")"
eq "run_task: usage and validation" "100 20 true" "$(jv .result.structuredContent.usage.input <<<"$r") $(jv .result.structuredContent.usage.output <<<"$r") $(jv .result.structuredContent.validation.1.ok <<<"$r")"
eq "run_task: recorded in the store" "review codex" "$(field .agent/runs/$run1/run.json .status) $(field .agent/runs/$run1/run.json .runner_type)"

call run_task '{"task_id":"T-0002","runner":"gated","wait_s":0}'
run2=$(jv .result.structuredContent.run_id <<<"$r")
eq "run_task wait_s 0: still running" "running" "$(jv .result.structuredContent.status <<<"$r")"
touch "$work/gate"
call run_wait "{\"run_id\":\"$run2\",\"wait_s\":120}"
eq "run_wait: the run ended" "$run2 review" "$(jv .result.structuredContent.run_id <<<"$r") $(jv .result.structuredContent.status <<<"$r")"
rm -f "$work/gate"

call run_show "{\"run_id\":\"$run1\"}"
eq "run_show" "$run1 T-0001 review codex" "$(jv .result.structuredContent.run_id <<<"$r") $(jv .result.structuredContent.task_id <<<"$r") $(jv .result.structuredContent.status <<<"$r") $(jv .result.structuredContent.runner <<<"$r")"
call run_list '{"task_id":"T-0002"}'
eq "run_list: the task's runs" "$run2 nil" "$(jv .result.structuredContent.runs.1.run_id <<<"$r") $(jv .result.structuredContent.runs.2.run_id <<<"$r")"

call run_decide "{\"run_id\":\"$run1\",\"decision\":\"approve\",\"note\":\"fine\"}"
eq "run_decide: refused by default" "true" "$(jv .result.isError <<<"$r")"
eq "run_decide: says how to allow it" "yes" "$(jv .result.content.1.text <<<"$r" | grep -q 'allow_decide = true' && echo yes)"
eq "run_decide refused: the run still waits" "pending" "$(field .agent/runs/$run1/run.json .review_state)"
sed -i 's/allow_decide = false/allow_decide = true/' .agent/config.lua
call run_decide "{\"run_id\":\"$run1\",\"decision\":\"approve\",\"note\":\"fine\"}"
eq "run_decide: approved" "approved completed" "$(jv .result.structuredContent.review_state <<<"$r") $(jv .result.structuredContent.status <<<"$r")"
eq "run_decide: the task is done" "done" "$(field .agent/tasks/T-0001.json .status)"
call run_decide "{\"run_id\":\"$run2\",\"decision\":\"block\",\"note\":\"needs tests\"}"
eq "run_decide: blocked with the note" "blocked needs tests" "$(field .agent/runs/$run2/run.json .review_state) $(field .agent/runs/$run2/run.json .blockers.1)"

call preset_list '{}'
eq "preset_list: precommit-classifier is there" "yes" "$(grep -q '"name":"precommit-classifier"' <<<"$r" && echo yes)"
printf 'more\n' >>README.md 2>/dev/null; echo "x" >notes.txt
call preset_run '{"preset":"precommit-classifier","params":{"agent":false}}'
eq "preset_run: ok, the path, the text" "true fast yes" "$(jv .result.structuredContent.ok <<<"$r") $(jv .result.structuredContent.data.path <<<"$r") $(jv .result.structuredContent.text <<<"$r" | grep -q '\*\*Path:\*\*' && echo yes)"
call preset_run '{"preset":"no-such-preset"}'
eq "preset_run: an unknown preset is a tool error" "true" "$(jv .result.isError <<<"$r")"

call context '{}'
eq "context: the open task and the decisions" "T-0002 $run2 blocked agent:mcp" "$(jv .result.structuredContent.tasks.1.task_id <<<"$r") $(jv .result.structuredContent.decisions.1.run_id <<<"$r") $(jv .result.structuredContent.decisions.1.review_state <<<"$r") $(jv .result.structuredContent.decisions.1.reviewed_by <<<"$r")"
eq "context: its text" "yes" "$(jv .result.content.1.text <<<"$r" | grep -q "$run2 blocked by agent:mcp: needs tests" && echo yes)"

# --- cancellation: the run stops, recorded interrupted; the server goes on -----------------------
n=$((n + 1))
cancel_id=$n
send "{\"jsonrpc\":\"2.0\",\"id\":$n,\"method\":\"tools/call\",\"params\":{\"_meta\":{\"progressToken\":\"tok-$n\"},\"name\":\"run_task\",\"arguments\":{\"task_id\":\"T-0002\",\"runner\":\"gated\"}}}"
progressed() { grep -q "\"method\":\"notifications/progress\".*\"progressToken\":\"tok-$cancel_id\"" "$work/mcp.out"; }
wait_until "run_task sends progress" 60 progressed
run3=$(grep -o "\"progressToken\":\"tok-$cancel_id\"" -m1 "$work/mcp.out" >/dev/null; grep "tok-$cancel_id" "$work/mcp.out" | tail -n 1 | jv .params.message | grep -oP 'R-\d+')
alive "while a run_task waits"
# The progress says what the run is doing: the latest of its events (its events.jsonl, written by
# the worker, another process).
doing() { grep "tok-$cancel_id" "$work/mcp.out" | jv .params.message | grep -qE "^$run3 running, [0-9]+ s: .+"; }
wait_until "run_task's progress names the run's latest event" 60 doing
send "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":$cancel_id,\"reason\":\"the user pressed Esc\"}}"
interrupted() { [ "$(field .agent/runs/$run3/run.json .status)" = interrupted ]; }
wait_until "the cancelled run is recorded interrupted" 60 interrupted
eq "cancelled run: interrupted" "interrupted" "$(field .agent/runs/$run3/run.json .status)"
alive "after a cancellation"
eq "a cancelled request gets no reply" "no" "$(has_reply $cancel_id && echo yes || echo no)"

# --- bad input: errors, and the server goes on ----------------------------------------------------
call run_task '{"task_id":"T-0002","wait_s":"soon"}'
eq "bad argument: a tool error naming the field" "true yes" "$(jv .result.isError <<<"$r") $(jv .result.content.1.text <<<"$r" | grep -q '^run_task: wait_s: expected an integer from 0 to 3600' && echo yes)"
call task_create '{"title":"x","goal":"y","colour":"red"}'
eq "unknown argument: names it" "yes" "$(jv .result.content.1.text <<<"$r" | grep -q 'colour: unknown field' && echo yes)"
call run_show '{"run_id":"R-9999"}'
eq "an unknown run: a tool error" "true yes" "$(jv .result.isError <<<"$r") $(jv .result.content.1.text <<<"$r" | grep -q 'R-9999' && echo yes)"
call run_task '{"task_id":"T-0002","runner":"gpt"}'
eq "an unknown runner: a tool error naming it" "yes" "$(jv .result.content.1.text <<<"$r" | grep -q "unknown runner 'gpt'" && echo yes)"
call task_create '"just a string"'
eq "arguments not an object" "true" "$(jv .result.isError <<<"$r")"
alive "after bad arguments"
call no_such_tool '{}'
eq "unknown tool: JSON-RPC invalid params" "-32602" "$(jv .error.code <<<"$r")"
send '{"jsonrpc":"2.0","id":"m","method":"resources/list"}'
eq "unknown method" "-32601" "$(reply '"m"' | jv .error.code)"
send '{"jsonrpc":"2.0","id":"p","method":"tools/call","params":[1,2]}'
eq "params not an object" "-32602" "$(reply '"p"' | jv .error.code)"
before=$(grep -c '"code":-32700' "$work/mcp.out")
send '{"jsonrpc":"2.0","id":7,"method":'
send "$(printf '{"jsonrpc":"2.0","id":"u","method":"ping","params":{"x":"\xff\xfe"}}')"
head -c 6000000 /dev/zero | tr '\0' 'a' >&3; printf '\n' >&3
send "$(printf '\033[31m not json')"
alive "after malformed JSON, invalid UTF-8, a 6 MB line and escape bytes"
eq "each of them a parse error" "4" "$(($(grep -c '"code":-32700' "$work/mcp.out") - before))"
send '[{"jsonrpc":"2.0","id":"b","method":"ping"}]'
send '"a string"'
send '{"jsonrpc":"1.0","id":"v","method":"ping"}'
eq "wrong jsonrpc version" "-32600" "$(reply '"v"' | jv .error.code)"
alive "after a batch, a bare string and a wrong version"

# --- stdout holds the protocol alone; the end of input ends the server ---------------------------
exec 3>&-
wait "$mcp_pid"
eq "the end of input: exit 0" "0" "$?"
bad_lines=$("$S" -e "local json = require('sidecar.core.json') local bad = 0
  for line in io.lines('$work/mcp.out') do local ok, m = pcall(json.decode, line)
  if not ok or type(m) ~= 'table' or m.jsonrpc ~= '2.0' then bad = bad + 1 end end print(bad)")
eq "stdout: every line a JSON-RPC message" "0" "$bad_lines"
eq "stderr: the diagnostics" "yes" "$(grep -q 'cancelled: the user pressed Esc' "$work/mcp.err" && echo yes)"

# --- sidecar context ----------------------------------------------------------------------------
expect_run "context: text" 0 "^Runs waiting for a decision .*: none\n\nSpend so far: 3 runs, 120 tokens .*, no cost reported\n.*Open tasks:\n- T-0002 .*Recent decisions:\n- $run2 blocked by agent:mcp: needs tests\n- $run1 approved by agent:mcp: fine\n.*Files edited in recent sessions: none" "" -- "$S" context
"$S" context --json >ctx.json
eq "context --json: the envelope" "true context T-0002" "$(field ctx.json .ok) $(field ctx.json .command) $(field ctx.json .data.tasks.1.task_id)"
for i in $(seq 1 30); do "$S" task create --title "Filler task number $i with a long enough title" >/dev/null; done
"$S" context --json --budget 100 >small.json
eq "context --budget 100: within it, the rest counted" "yes" \
  "$([ "$(field small.json .data.estimated_tokens)" -le 100 ] && [ "$(field small.json .data.omitted.tasks)" -gt 0 ] && echo yes)"
expect_run "context --budget 0" 2 "^$" "--budget 0: expected a whole number of tokens" -- "$S" context --budget 0
(cd "$work" && mkdir -p nostore && cd nostore && expect_run "context without a store" 1 "^$" "sidecar init" -- "$S" context)


# --- the real claude -p calling these tools against the scripted model server -------------------
if [ "${SIDECAR_SKIP_REAL_CLIS:-}" = 1 ]; then
  echo "SKIP: the real claude and codex CLIs (SIDECAR_SKIP_REAL_CLIS=1)"
  finish
  exit $?
fi
export PATH="$root/.tools/npm/bin:$PATH"
command -v claude >/dev/null || { echo "FAIL: claude is not installed (scripts/setup installs it into .tools/npm)"; exit 1; }
cd "$work"
start_server claude "$F/scenarios/mcp_claude.json" || { finish; exit 1; }
# A fresh store, so the scenario's ids are T-0001 and R-0001; a change for the classifier.
git_repo claude-repo
add_runners "    codex = { program = $(fake_agent "$F/captures/codex_exec_json_text_turn.jsonl") },"
printf '# Notes\n' >NOTES.md
cat >"$work/mcp.json" <<JSON
{"mcpServers": {"sidecar": {"command": "$S", "args": ["mcp"],
  "env": {"SIDECAR_TRUST": "all", "XDG_STATE_HOME": "$work/state"}}}}
JSON
mkdir -p "$work/claude-config" "$work/claude-tmp"
tools=mcp__sidecar__task_create,mcp__sidecar__run_task,mcp__sidecar__run_show,mcp__sidecar__preset_run,mcp__sidecar__run_wait
claude_status=0
ANTHROPIC_BASE_URL=http://127.0.0.1:$port ANTHROPIC_API_KEY=sk-ant-mock CLAUDE_CONFIG_DIR=$work/claude-config \
  TMPDIR=$work/claude-tmp CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 DISABLE_TELEMETRY=1 DISABLE_AUTOUPDATER=1 \
  DISABLE_ERROR_REPORTING=1 CLAUDE_CODE_MAX_RETRIES=0 \
  timeout 180 claude -p "Hand the hello task to a sidecar" --output-format stream-json --verbose \
  --mcp-config "$work/mcp.json" --allowedTools "$tools" </dev/null >"$work/claude.jsonl" 2>"$work/claude.err" ||
  claude_status=$?
stop_server
eq "claude: exit status" 0 "$claude_status"
result=$(grep '"type":"result"' "$work/claude.jsonl" | tail -n 1)
eq "claude: the final message" "The sidecar ran the task and the classifier answered. false" \
  "$(jv .result <<<"$result") $(jv .is_error <<<"$result")"
# tool_result N PATTERN: the model's request N (1-based, as logged) carries a tool_result matching PATTERN.
tool_result() { sed -n "$1p" "$work/claude.log" | grep -q "\"type\":\"tool_result\".*$2"; }
eq "claude: task_create's result reached the model" "yes" "$(tool_result 2 'T-0001' && echo yes)"
eq "claude: run_task's result reached the model" "yes" "$(tool_result 3 'R-0001.*review.*Hello from the mock model' && echo yes)"
eq "claude: run_show's result reached the model" "yes" "$(tool_result 4 'R-0001.*T-0001' && echo yes)"
eq "claude: preset_run's result reached the model" "yes" "$(tool_result 5 'Path:' && echo yes)"
eq "claude: a bad argument: the server's tool error reached the model" "yes" \
  "$(tool_result 6 'run_wait: wait_s: expected an integer from 0 to 3600, got 99999.*"is_error":true' && echo yes)"
eq "claude: the task and run are in the store" "Hello task review codex" \
  "$(field .agent/tasks/T-0001.json .title) $(field .agent/runs/R-0001/run.json .status) $(field .agent/runs/R-0001/run.json .runner_type)"
[ "$failed" -gt 0 ] && { tail -n 5 "$work/claude.jsonl" | cut -c1-300; tail -n 20 "$work/claude.err"; }

# --- the real codex exec calling these tools, configured as the README says ------------------------
# Codex 0.169 offers MCP tools two ways, by model: as functions in the `mcp__sidecar` namespace, or
# (its default model, "code mode") on the `tools` object of its JavaScript `exec` tool. Both here.
command -v codex >/dev/null || { echo "FAIL: codex is not installed (scripts/setup installs it into .tools/npm)"; exit 1; }
git_repo codex-repo # (cds into it); run_task's agent is the fake codex
add_runners "    codex = { program = $(fake_agent "$F/captures/codex_exec_json_text_turn.jsonl") },"
mkdir -p "$work/codex-home" "$work/codex-tmp"
cat >"$work/codex-home/config.toml" <<TOML
[mcp_servers.sidecar]
command = "$S"
args = ["mcp"]
cwd = "$work/codex-repo"
env = { SIDECAR_TRUST = "all", XDG_STATE_HOME = "$work/state" }
default_tools_approval_mode = "approve"
TOML
# codex_exec NAME [ARGS...]: codex exec against the model server, its JSON in $work/NAME.jsonl.
codex_exec() {
  local name=$1
  shift
  codex_status=0
  CODEX_HOME=${CODEX_HOME_DIR:-$work/codex-home} TMPDIR=$work/codex-tmp MOCK_API_KEY=sk-mock timeout 180 codex exec --json \
    --skip-git-repo-check -c model_provider=mock -c model_providers.mock.name=mock \
    -c "model_providers.mock.base_url=http://127.0.0.1:$port/v1" -c model_providers.mock.wire_api=responses \
    -c model_providers.mock.env_key=MOCK_API_KEY -c model_providers.mock.request_max_retries=0 \
    -c model_providers.mock.stream_max_retries=0 --disable plugins -c analytics.enabled=false "$@" \
    "Hand the hello task to a sidecar" </dev/null >"$work/$name.jsonl" 2>"$work/$name.err" || codex_status=$?
}
# mcp_item NAME TOOL: the status of codex's mcp_tool_call item for TOOL.
mcp_item() {
  grep '"type":"item.completed"' "$work/$1.jsonl" | grep "\"type\":\"mcp_tool_call\",\"server\":\"sidecar\",\"tool\":\"$2\"" |
    head -n 1 | jv .item.status
}
# tool_output NAME N PATTERN: the model's request N (1-based, as logged) carries a tool output matching PATTERN.
tool_output() { sed -n "$2p" "$work/$1.log" | grep -q "\"type\":\"[a-z_]*call_output\".*$3"; }

start_server codex "$F/scenarios/mcp_codex.json" || { finish; exit 1; }
codex_exec codex -m mock-model
stop_server
eq "codex: exit status" 0 "$codex_status"
eq "codex: the tools it called, and how they ended" "completed completed completed" \
  "$(mcp_item codex task_create) $(mcp_item codex run_task) $(mcp_item codex context)"
eq "codex: task_create's result reached the model" "yes" "$(tool_output codex 2 'T-0001' && echo yes)"
eq "codex: run_task's result reached the model" "yes" "$(tool_output codex 3 'R-0001.*review' && echo yes)"
eq "codex: context's result reached the model (the run to review)" "yes" "$(tool_output codex 4 'review.*R-0001' && echo yes)"
eq "codex: the final message" "The sidecar has the task." \
  "$(grep '"type":"agent_message"' "$work/codex.jsonl" | tail -n 1 | jv .item.text)"
eq "codex: the task and run are in the store" "Hello task review codex" \
  "$(field .agent/tasks/T-0001.json .title) $(field .agent/runs/R-0001/run.json .status) $(field .agent/runs/R-0001/run.json .runner_type)"
[ "$failed" -gt 0 ] && { tail -n 5 "$work/codex.jsonl" | cut -c1-300; tail -n 20 "$work/codex.err"; }

start_server codex-code "$F/scenarios/mcp_codex_code_mode.json" || { finish; exit 1; }
codex_exec codex-code
stop_server
eq "codex, code mode: exit status" 0 "$codex_status"
eq "codex, code mode: the script's output reached the model" "yes" \
  "$(tool_output codex-code 2 'created T-0002.*open T-0002' && echo yes)"
eq "codex, code mode: the task is in the store" "Code mode task" "$(field .agent/tasks/T-0002.json .title)"
[ "$failed" -gt 0 ] && { tail -n 5 "$work/codex-code.jsonl" | cut -c1-300; tail -n 20 "$work/codex-code.err"; }

# Without the README's approval mode, codex refuses the open-world tools (nobody can approve) and
# calls the others.
mkdir -p "$work/codex-home-asking"
grep -v default_tools_approval_mode "$work/codex-home/config.toml" >"$work/codex-home-asking/config.toml"
start_server codex-asking "$F/scenarios/mcp_codex.json" || { finish; exit 1; }
CODEX_HOME_DIR=$work/codex-home-asking codex_exec codex-asking -m mock-model
stop_server
eq "codex, no approval mode: task_create runs, run_task is refused" "completed failed" \
  "$(mcp_item codex-asking task_create) $(mcp_item codex-asking run_task)"
eq "codex, no approval mode: why" "yes" \
  "$(grep -q 'MCP tool call requires approval, but approval policy is never' "$work/codex-asking.jsonl" && echo yes)"
eq "codex, no approval mode: no run started" "R-0001" "$(ls .agent/runs | tr '\n' ' ' | sed 's/ $//')"

finish
