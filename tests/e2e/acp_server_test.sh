#!/usr/bin/env bash
# End-to-end: `sidecar acp`, Sidecar as an Agent Client Protocol agent (issue 50, item 2), driven by
# the real `acpx` (npm) as an editor would, and by a raw peer for what acpx never sends. The runs'
# agent is the fake ACP agent (tests/fixtures/fake_acp_agent.lua) as the configured runner, in the
# OS sandbox: a prompt becomes a task's run (a tool call with its run id, usage and cost, the
# answer); `/preset precommit-classifier` on a change (a plan of its runs, tool calls, the report);
# a cancel mid-run (the run interrupted, nothing left running); permissions asked before approving
# and before a writing run (refused: not done; allowed: done); sessions listed and loaded; and
# hostile peers (malformed lines, unknown methods, wrong versions, a client that never answers).
set -u
. "$(dirname "$0")/lib.sh" # S (absolute), here, root, $work; the shared helpers
cd "$work" || exit 1
git_repo acps
repo=$work/acps
add_runners "    mine = { acp = $(lua_list "$S" script "$root/tests/fixtures/fake_acp_agent.lua") },"
sed -i 's|^  runner = "codex",|  runner = "mine",|' .agent/config.lua
sandbox_allow env FAKE_ACP # the fake agent's orders, given by name
printf 'test:\n\ttrue\n' >Makefile && git add Makefile && git -c user.email=t@e -c user.name=t commit -qm make

# --- A raw peer: lines in, lines out ---------------------------------------------------------------
# acp_raw FILE: `sidecar acp` in $repo with FILE's lines as its input (then its end); its stdout.
acp_raw() { (cd "$repo" && timeout 60 "$S" acp <"$1" 2>"$work/raw.err"); }
# reply ID FILE: the line of FILE answering request ID.
reply() { grep -E "^\{\"(error|id)\".*\"id\":$1[,}]|^\{\"id\":$1," "$2" | head -1; }
init='{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":1,"clientInfo":{"name":"t","version":"1"}}}'

{
  echo 'this is not JSON'
  printf '{"jsonrpc":"2.0","id":90,"method":"initialize","params":{"protocolVersion":1,"x":"\xff\xfe"}}\n'
  echo '[1,2]'
  echo '{"jsonrpc":"2.0","id":91,"method":"session/new","params":{"cwd":"/"}}'
  echo "$init"
  echo '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"1"}}'
  echo '{"jsonrpc":"2.0","id":2,"method":"initialize","params":{"protocolVersion":2}}'
  echo '{"jsonrpc":"2.0","id":3,"method":"session/fly","params":{}}'
  echo '{"jsonrpc":"2.0","method":"session/whatever","params":{}}'
  echo '{"jsonrpc":"2.0","id":4,"result":{}}'
  echo '{"jsonrpc":"2.0","id":5,"method":"session/new","params":{"cwd":"relative/path"}}'
  echo '{"jsonrpc":"2.0","id":6,"method":"session/new","params":{"cwd":"/"}}'
  echo '{"jsonrpc":"2.0","id":7,"method":"session/prompt","params":{"sessionId":"S-nope","prompt":[]}}'
  echo '{"jsonrpc":"2.0","id":8,"method":"session/load","params":{"sessionId":"../../etc/passwd","cwd":"'"$repo"'"}}'
  echo '{"jsonrpc":"2.0","id":9,"method":"session/new","params":"no"}'
  for i in $(seq 1 2000); do echo '{"jsonrpc":"2.0","method":"session/update","params":{"flood":'"$i"'}}'; echo '}{'; done
  echo '{"jsonrpc":"2.0","id":10,"method":"session/new","params":{"cwd":"'"$repo"'","mcpServers":[]}}'
} >"$work/hostile.in"
acp_raw "$work/hostile.in" >"$work/hostile.out"
eq "hostile: the server ended when its input did, status 0" 0 $?
eq "hostile: a line that is not JSON: a parse error, id null" 1 \
  "$(grep -c '^{"error":{"code":-32700,"message":"parse error[^"]*"},"id":null' <(head -1 "$work/hostile.out"))"
eq "hostile: bytes that are not UTF-8: a parse error" -32700 "$(sed -n 2p "$work/hostile.out" | jv .error.code)"
eq "hostile: a batch: invalid request" -32600 "$(sed -n 3p "$work/hostile.out" | jv .error.code)"
eq "hostile: a session before initialize: refused" "initialize first" "$(reply 91 "$work/hostile.out" | jv .error.message)"
eq "hostile: initialize: protocol version 1, sessions loaded and listed" "1 true" \
  "$(reply 0 "$work/hostile.out" | jv .result.protocolVersion) $(reply 0 "$work/hostile.out" | jv .result.agentCapabilities.loadSession)"
eq "hostile: a version that is not a number: invalid params" -32602 "$(reply 1 "$work/hostile.out" | jv .error.code)"
eq "hostile: version 2 asked: version 1 answered (the client decides)" 1 "$(reply 2 "$work/hostile.out" | jv .result.protocolVersion)"
eq "hostile: an unknown method: method not found" "-32601 method not found: session/fly" \
  "$(reply 3 "$work/hostile.out" | jv .error.code) $(reply 3 "$work/hostile.out" | jv .error.message)"
eq "hostile: a relative cwd: refused" "cwd: expected an absolute path" "$(reply 5 "$work/hostile.out" | jv .error.message)"
eq "hostile: a folder without .agent: refused, saying what to do" \
  "no .agent folder in or above /: run \`sidecar init\` there first" "$(reply 6 "$work/hostile.out" | jv .error.message)"
eq "hostile: a prompt to no session: refused" -32602 "$(reply 7 "$work/hostile.out" | jv .error.code)"
eq "hostile: a session id that is a path: refused, never read" \
  "\"../../etc/passwd\" is not a session id (Sidecar's look like S-0a1b2c3d4e5f6a7b)" \
  "$(reply 8 "$work/hostile.out" | jv .error.message)"
eq "hostile: params that are not an object: invalid params" -32602 "$(reply 9 "$work/hostile.out" | jv .error.code)"
eq "hostile: 2000 malformed lines among 2000 notifications: each a parse error, and the server still answers" \
  "2000 S-" "$(grep -c '"code":-32700' <(tail -n +4 "$work/hostile.out")) $(reply 10 "$work/hostile.out" | jv .result.sessionId | cut -c1-2)"
eq "hostile: nothing but JSON-RPC on stdout" 0 "$(grep -vc '"jsonrpc":"2.0"' "$work/hostile.out")"

# --- acpx, as an editor drives it -----------------------------------------------------------------
export PATH="$root/.tools/npm/bin:$PATH"
if [ "${SIDECAR_SKIP_REAL_CLIS:-}" = 1 ] || ! command -v acpx >/dev/null; then
  echo "SKIP: acpx (scripts/setup puts it in .tools/npm; or SIDECAR_SKIP_REAL_CLIS=1)"
  finish
  exit
fi
# acpx_exec OUT POLICY PROMPT: one prompt through acpx, its JSON lines in OUT; acpx's status.
acpx_exec() { timeout 120 acpx --agent "$S acp" --cwd "$repo" "$2" --format json exec "$3" >"$1" 2>"$1.err"; }
# updates KIND FILE: how many session/update of KIND FILE holds.
updates() { grep -c "\"sessionUpdate\":\"$1\"" "$2"; }

FAKE_ACP=ok acpx_exec "$work/task.out" --approve-all "Say hello"
eq "a prompt: acpx ends well" 0 $?
rid=$(grep -o '"toolCallId":"R-[0-9]*"' "$work/task.out" | head -1 | grep -o 'R-[0-9]*')
eq "a prompt: a tool call for its run, in progress, then completed" "1 1" \
  "$(grep -c "\"sessionUpdate\":\"tool_call\".*\"status\":\"in_progress\"" "$work/task.out") $(grep -c "\"status\":\"completed\".*\"toolCallId\":\"$rid\"" "$work/task.out")"
eq "a prompt: the run's usage and cost as the agent reported them" "150 0.0125" \
  "$(grep '"usage_update"' "$work/task.out" | tail -1 | jv .params.update.used) $(grep '"usage_update"' "$work/task.out" | tail -1 | jv .params.update.cost.amount)"
eq "a prompt: the answer, as a message" "Hello world." \
  "$(grep '"agent_message_chunk"' "$work/task.out" | jv .params.update.content.text)"
eq "a prompt: the turn ends end_turn" end_turn "$(grep '"stopReason"' "$work/task.out" | jv .result.stopReason)"
eq "a prompt: a task and a run in review" "review Say hello" \
  "$(field ".agent/runs/$rid/run.json" .status) $("$S" task show "$(field ".agent/runs/$rid/run.json" .task_id)" --json | jv .data.title)"

printf 'int main(void) { return 0; }\n' >main.c && git add main.c
FAKE_ACP=ok acpx_exec "$work/preset.out" --approve-all "/preset precommit-classifier"
eq "/preset precommit-classifier: acpx ends well" 0 $?
eq "/preset: the commands offered: the built-in ones and one per preset" "yes yes" \
  "$(grep -q '"name":"precommit-classifier"' "$work/preset.out" && echo yes) $(grep -q '"name":"approve"' "$work/preset.out" && echo yes)"
eq "/preset: a plan of its runs, completed at the end" completed \
  "$(grep '"sessionUpdate":"plan"' "$work/preset.out" | tail -1 | jv .params.update.entries.1.status)"
eq "/preset: a tool call per agent run, and usage" "yes yes" \
  "$([ "$(updates tool_call "$work/preset.out")" -ge 1 ] && echo yes) $([ "$(updates usage_update "$work/preset.out")" -ge 1 ] && echo yes)"
expect_run "/preset: the classification is the answer" 0 "^# Precommit Classification\n- \*\*Path:\*\* Code" "" -- \
  sh -c "grep '\"agent_message_chunk\"' '$work/preset.out' | '$S' -e 'print(require(\"sidecar.core.json\").decode(io.read(\"l\")).params.update.content.text)'"
eq "/preset: the turn ends end_turn" end_turn "$(grep '"stopReason"' "$work/preset.out" | jv .result.stopReason)"

# Permissions: Sidecar asks before approving a run; refused, nothing is done.
FAKE_ACP=ok acpx_exec "$work/deny.out" --deny-all "/approve $rid looks right"
eq "/approve refused: asked first, then not done" "1 Not done: permission to approve run $rid was refused." \
  "$(grep -c '"method":"session/request_permission"' "$work/deny.out") $(grep '"agent_message_chunk"' "$work/deny.out" | jv .params.update.content.text)"
eq "/approve refused: the run still waits for review" review "$(field ".agent/runs/$rid/run.json" .status)"
FAKE_ACP=ok acpx_exec "$work/allow.out" --approve-all "/approve $rid looks right"
eq "/approve allowed: approved, by agent:acp" "$rid approved. completed agent:acp" \
  "$(grep '"agent_message_chunk"' "$work/allow.out" | jv .params.update.content.text) $(field ".agent/runs/$rid/run.json" .status) $(field ".agent/runs/$rid/run.json" .reviewed_by)"
before=$(ls .agent/runs | wc -l)
FAKE_ACP=ok acpx_exec "$work/write.out" --deny-all "/write Add a file"
eq "/write refused: no run started" "$before Not done" \
  "$(ls .agent/runs | wc -l) $(grep '"agent_message_chunk"' "$work/write.out" | jv .params.update.content.text | cut -c1-8)"
FAKE_ACP=permission acpx_exec "$work/write.out" --approve-all "/write Add a file"
wrid=$(grep -o '"toolCallId":"R-[0-9]*"' "$work/write.out" | head -1 | grep -o 'R-[0-9]*')
eq "/write allowed: a writing run in a worktree of its own, its edit there, the user's tree untouched" \
  "workspace-write review yes no" \
  "$(field ".agent/runs/$wrid/run.json" .sandbox) $(field ".agent/runs/$wrid/run.json" .status) \
$(grep -q 'Edited .*/worktrees/R-[0-9]*/a\.txt' "$work/write.out" && echo yes) $([ -e a.txt ] && echo yes || echo no)"

# Trust, as for `sidecar mcp`: a project's preset is offered and run only once trusted; an untrusted
# one is neither offered nor run (its code never loads).
mkdir -p .agent/presets
printf 'error("this preset ran")\n' >.agent/presets/local-one.lua
SIDECAR_TRUST= acpx_exec "$work/untrusted.out" --approve-all "/local-one"
eq "untrusted: the project's preset is not offered" 0 "$(grep -c '"name":"local-one"' "$work/untrusted.out")"
eq "untrusted: nor run, saying why" \
  "the preset local-one of this repository is not trusted, so it does not run: review it, then \`sidecar trust\` the repository" \
  "$(grep '"agent_message_chunk"' "$work/untrusted.out" | jv .params.update.content.text)"
acpx_exec "$work/trusted.out" --approve-all "/local-one"
eq "trusted (SIDECAR_TRUST=all): offered, and run" "1 yes" \
  "$(grep -c '"name":"local-one"' "$work/trusted.out") $(grep -q 'this preset ran' "$work/trusted.out" && echo yes)"
rm -r .agent/presets

# A cancel mid-run (acpx's Ctrl-C sends session/cancel): the run is interrupted, nothing is left.
(FAKE_ACP=cancel acpx_exec "$work/cancel.out" --approve-all "Wait for me") &
client=$!
wait_until "cancel: the run started" 60 grep -q '"sessionUpdate":"tool_call"' "$work/cancel.out"
crid=$(grep -o '"toolCallId":"R-[0-9]*"' "$work/cancel.out" | head -1 | grep -o 'R-[0-9]*')
start=$(date +%s%N)
pkill -INT -f "node .*acpx --agent $S acp" # acpx itself, not the `timeout` above it
# status_is RUN STATUS: the run's record says so.
status_is() { [ "$(field ".agent/runs/$1/run.json" .status 2>/dev/null)" = "$2" ]; }
wait_until "cancel: the run is interrupted" 30 status_is "$crid" interrupted
echo "  the cancel ended the run in $((($(date +%s%N) - start) / 1000000)) ms"
wait "$client"
# none_left: no process of a turn, nor an agent, works in this test's repository.
none_left() {
  local p
  for p in $(pgrep -f 'acp --turn|fake_acp_agent'); do
    [ "$(readlink "/proc/$p/cwd" 2>/dev/null)" = "$repo" ] && return 1
  done
  return 0
}
wait_until "cancel: no process of the turn is left" 30 none_left

# A cancel in the middle of a preset: its agent's run is interrupted too.
(FAKE_ACP=cancel acpx_exec "$work/pcancel.out" --approve-all "/preset precommit-classifier") &
client=$!
wait_until "preset cancel: its agent's run started" 60 grep -q '"sessionUpdate":"tool_call"' "$work/pcancel.out"
prid=$(grep -o '"toolCallId":"R-[0-9]*"' "$work/pcancel.out" | head -1 | grep -o 'R-[0-9]*')
pkill -INT -f "node .*acpx --agent $S acp"
wait_until "preset cancel: the run is interrupted" 30 status_is "$prid" interrupted
wait "$client"
wait_until "preset cancel: no process of the turn is left" 30 none_left

# --- A raw peer: a session's turn cancelled, sessions listed and loaded, a peer that never answers --
sid=$(grep -o '"sessionId":"S-[0-9a-f]*"' "$work/task.out" | head -1 | grep -o 'S-[0-9a-f]*')
coproc ACP { cd "$repo" && FAKE_ACP=cancel exec "$S" acp 2>"$work/coproc.err"; }
send() { echo "$1" >&"${ACP[1]}"; }
# read_until PATTERN: reads the server's lines (each appended to $work/coproc.out) until one
# matches PATTERN (grep -E), which is then in $got; 1 when none came in 60 s. (Never in a
# subshell: the coprocess's descriptors are not there.)
read_until() {
  local l
  got=
  while IFS= read -r -t 60 l <&"${ACP[0]}"; do
    echo "$l" >>"$work/coproc.out"
    if grep -qE "$1" <<<"$l"; then
      got=$l
      return 0
    fi
  done
  return 1
}
# answer ID: reads until the answer to request ID (a result, or an error: never a request of the server's).
answer() { read_until "\"id\":$1,\"jsonrpc\":\"2.0\",\"result\"|\"id\":$1,\"jsonrpc\":\"2.0\"}\$"; }
send "$init"; answer 0
send '{"jsonrpc":"2.0","id":1,"method":"session/list","params":{"cwd":"'"$repo"'"}}'
answer 1
eq "session/list: Sidecar's sessions in this folder, titled by their first prompt" yes \
  "$(grep -q "\"sessionId\":\"$sid\",\"title\":\"Say hello\"" <<<"$got" && echo yes)"
send '{"jsonrpc":"2.0","id":2,"method":"session/load","params":{"sessionId":"'"$sid"'","cwd":"'"$repo"'","mcpServers":[]}}'
answer 2
eq "session/load: the prompt, the run and the answer replayed" "1 1 1" \
  "$(grep -c '"text":"Say hello".*"user_message_chunk"' "$work/coproc.out") $(grep -c "\"tool_call\".*\"toolCallId\":\"$rid\"" "$work/coproc.out") $(grep -c '"Hello world.' "$work/coproc.out")"
send '{"jsonrpc":"2.0","id":3,"method":"session/prompt","params":{"sessionId":"'"$sid"'","prompt":[{"type":"text","text":"Wait"}]}}'
read_until '"sessionUpdate":"tool_call","status":"in_progress"'
crid=$(grep -o '"toolCallId":"R-[0-9]*"' <<<"$got" | grep -o 'R-[0-9]*')
send '{"jsonrpc":"2.0","id":4,"method":"session/prompt","params":{"sessionId":"'"$sid"'","prompt":[{"type":"text","text":"again"}]}}'
answer 4
eq "a second prompt while one runs: refused" "this session's prompt is still running: cancel it or wait" "$(jv .error.message <<<"$got")"
send '{"jsonrpc":"2.0","method":"session/cancel","params":{"sessionId":"'"$sid"'"}}'
answer 3
eq "session/cancel: the prompt is answered cancelled" cancelled "$(jv .result.stopReason <<<"$got")"
eq "session/cancel: its run is interrupted" interrupted "$(field ".agent/runs/$crid/run.json" .status)"
# A client that never answers the permission asked, then goes away: the server ends, the turn
# recorded cancelled.
send '{"jsonrpc":"2.0","id":5,"method":"session/prompt","params":{"sessionId":"'"$sid"'","prompt":[{"type":"text","text":"/approve R-0001"}]}}'
read_until '"method":"session/request_permission"'
eq "never answered: the permission asked" yes "$([ -n "$got" ] && echo yes)"
server_pid=$ACP_PID
exec {ACP[1]}>&-
wait_until "never answered: the server ends when its client goes" 30 sh -c "! kill -0 $server_pid 2>/dev/null"
eq "never answered: the turn recorded cancelled" cancelled \
  "$("$S" -e "local j = require('sidecar.core.json'); local f = io.open('.agent/acp/sessions/$sid.json'); local s = j.decode(f:read('a'))
    print(s.turns[#s.turns].stop_reason)")"
finish
