#!/usr/bin/env bash
# End-to-end: the real codex and claude CLIs run through Sidecar's runners (stdlib agent_run)
# against `sidecar model-server`: a text turn and a tool turn each with exact usage, the final
# message in output.md and model.json filled; a session continued (codex exec resume, claude
# --resume) records each run's own usage and cost; an HTTP 500 and a server that is down fail with
# the reason within seconds; a model that stops talking is ended by the idle timeout, 0 orphans.
# Before them, without the real CLIs: Ctrl-C during a run, and 100 MB of output (kept whole on
# disk, sidecar's memory bounded).
# The CLIs come from scripts/setup (.tools/npm) or PATH; SIDECAR_SKIP_REAL_CLIS=1 skips them.
set -u
. "$(dirname "$0")/lib.sh" # S (absolute), here, root, $work; the shared helpers
scenarios=$root/tests/fixtures/scenarios
cd "$work"
export PATH="$root/.tools/npm/bin:$PATH"

# Ctrl-C during a run: the agent's group is stopped, the run is recorded as interrupted, and the
# CLI exits 130 saying what it stopped. (No real CLI needed: a command that sleeps.)
mkdir interrupt && (cd interrupt && git init -q)
(cd interrupt && exec "$S" -e "require('sidecar.agent.run').execute({runner = 'command', repo = '.',
  command = {'sh', '-c', 'echo started; sleep 37.25'}, prompt = 'wait'})" >out 2>err) &
spid=$!
# Once the agent runs its sleep (a duration no other process uses; the pattern is anchored, as
# sidecar's and sh's own command lines hold it too); its run is the only one in that repository.
wait_until "interrupt: the agent started" 60 eval "pgrep -f '^sleep 37\.25' >/dev/null"
irun=$(echo interrupt/.agent/runs/R-*)
kill -INT "$spid"
status=0
wait "$spid" || status=$?
# The group got SIGTERM; give the kernel a moment to end the sleep (a duration no other process
# uses, so nothing else matches).
gone=no
poll 30 eval "! pgrep -f '^sleep 37\.25' >/dev/null" && gone=yes
if [ "$status" = 130 ] && grep -q "interrupted! stopped 1 child process" interrupt/err &&
  grep -q '"status": "interrupted"' "$irun/run.json" && [ $gone = yes ]; then
  passed=$((passed + 1))
else
  failed=$((failed + 1))
  echo "FAIL interrupt: exit $status, the sleep gone: $gone"; cat interrupt/err
  grep '"status"' "$irun/run.json"
  ps -eo pid,pgid,stat,args | grep '[s]leep 37'

fi
# The run says who stopped it: this script's shell sent SIGINT (kill is its builtin).
eq "interrupt: the reason names the sender" "interrupted (SIGINT from pid $$ (bash))" "$(field "$irun/run.json" .failure_reason)"

# 100 MB of output, as plain stdout (command runner) and as 100 MB of codex JSON Lines (every
# line parsed): the run completes, the log on disk is its first and last 32 MiB (max_log_bytes'
# default, 64 MiB, tests/e2e/log_caps_test.sh), the record is whole, and sidecar's peak memory
# (VmHWM: it, not the generator) stays far below the output's size.
cat >flood.lua <<'LUA'
local agent_run = require("sidecar.agent.run")
local json = require("sidecar.core.json")
local kind, repo, lines = ...
local opts = { repo = repo, prompt = "flood", runner = kind }
if kind == "command" then
  opts.command = { "sh", "-c", "head -c 100000000 /dev/zero | tr '\\0' x" }
else
  -- codex events around LINES copies of one command item (1 KB of output each); `yes` repeats it
  -- without holding it all.
  local item = json.encode({ type = "item.completed", item = { id = "item_1", type = "command_execution",
    command = "cat big", aggregated_output = string.rep("x", 1000), exit_code = 0, status = "completed" } })
  opts.program = { "sh", "-c", ("echo '{\"type\":\"thread.started\",\"thread_id\":\"t-1\"}'; yes '%s' | head -n %s; " ..
    "echo '{\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":5,\"output_tokens\":6}}'"):format(item, lines) }
end
local record = assert(agent_run.execute(opts))
record.cpu_seconds = os.clock() -- sidecar's own CPU time: what the flood cost it, however busy the machine
for line in io.lines("/proc/self/status") do
  record.peak_rss_kb = record.peak_rss_kb or tonumber(line:match("^VmHWM:%s*(%d+)"))
end
print(json.encode(record))
LUA
item_bytes=$("$S" -e "local json = require('sidecar.core.json'); print(#json.encode({type = 'item.completed', item = {id = 'item_1',
  type = 'command_execution', command = 'cat big', aggregated_output = string.rep('x', 1000), exit_code = 0,
  status = 'completed'}}) + 1)")
flood_lines=$((100000000 / item_bytes))
# AddressSanitizer (scripts/test --sanitize sets ASAN_OPTIONS) keeps shadow memory and a
# quarantine of freed blocks and runs several times slower: the bounds widen, still far below
# what holding the output would take (the codex flood peaked at 660 MB before it was bounded,
# without a sanitizer).
max_rss_mb=200 max_ms=30000
if [ -n "${ASAN_OPTIONS:-}" ]; then max_rss_mb=1024 max_ms=120000; fi
for kind in command codex; do
  mkdir "flood_$kind" && (cd "flood_$kind" && git init -q)
  t0=$(date +%s%N)
  "$S" script flood.lua $kind "$work/flood_$kind" $flood_lines >"flood_$kind.json" 2>"flood_$kind.err" ||
    { echo "FAIL flood $kind: the run script failed"; cat "flood_$kind.err"; failed=$((failed + 1)); }
  elapsed_ms=$((($(date +%s%N) - t0) / 1000000))
  rec=$(cat "flood_$kind.json")
  dir=$work/flood_$kind/.agent/runs/$(jv .run_id <<<"$rec")
  peak_kb=$(jv .peak_rss_kb <<<"$rec")
  cpu_ms=$(jv .cpu_seconds <<<"$rec" | awk '{ printf "%d", ($1 ~ /^[0-9.e+-]+$/ ? $1 * 1000 : 1e9) }')
  echo "flood $kind: 100 MB in $elapsed_ms ms ($cpu_ms ms of sidecar's CPU), sidecar's peak RSS $((peak_kb / 1024)) MB"
  eq "flood $kind: status, a completed record" "review yes" \
    "$(jv .status <<<"$rec") $(grep -q '"completed_at"' "$dir/run.json" && echo yes)"
  eq "flood $kind: peak memory below $max_rss_mb MB" yes "$([ "${peak_kb:-9999999}" -lt $((max_rss_mb * 1024)) ] && echo yes)"
  eq "flood $kind: within $((max_ms / 1000)) s of sidecar's CPU" yes "$([ "$cpu_ms" -le $max_ms ] && echo yes)"
  [ $kind = command ] && flood_command=$dir
done
# The 64 MiB kept, and the marker line between head and tail.
capped() { local m="[sidecar: $(($1 - 67108864)) bytes dropped here: the log passed max_log_bytes = 64 MiB]"; echo $((67108864 + ${#m} + 2)); }
eq "flood command: stdout.log keeps 64 MiB and says what it dropped" "$(capped 100000000) 100000000" \
  "$(stat -c %s "$flood_command/stdout.log") $(jv .log_truncated.1.bytes_seen <flood_command.json)"
eq "flood command: output.md keeps the last 8 MiB, and says so" "8388609 100000000" \
  "$(stat -c %s "$flood_command/output.md") $(jv .final_message_bytes <flood_command.json)"
rec=$(cat flood_codex.json) # and $dir is its run's folder
# The items, then the thread.started and turn.completed lines (44 and 71 bytes with their newlines).
eq "flood codex: agent.jsonl keeps 64 MiB of its bytes" "$(capped $((item_bytes * flood_lines + 44 + 71)))" \
  "$(stat -c %s "$dir/agent.jsonl")"
eq "flood codex: every event parsed, 200 commands kept, the rest counted" "$((flood_lines + 2)) 200 $((flood_lines - 200))" \
  "$(jv .stream.events <<<"$rec") $("$S" -e "print(#require('sidecar.core.json').decode(io.read('a')).commands_run)" <<<"$rec") \
$(jv .stream.dropped.commands <<<"$rec")"
eq "flood codex: usage" "5 6 11" "$(jv .usage.input <<<"$rec") $(jv .usage.output <<<"$rec") $(jv .usage.total <<<"$rec")"
rm -rf flood_command flood_codex

# An npm-style install under /tmp (launcher -> package -> the sibling platform package holding the
# real binary), reached through PATH: the sandbox shows the whole package tree and the run
# succeeds; its record says what was shown for the program. A program in a folder the config
# hides fails before start with Sidecar's message, naming the path and the setting.
npm=$(mktemp -d /tmp/sidecar-npm-XXXXXX)
mkdir -p "$npm/lib/node_modules/agent/bin" "$npm/lib/node_modules/agent-linux-x64" "$npm/bin" "$npm/hid"
printf '#!/usr/bin/env sh\ncat >/dev/null\nexec "$(dirname "$(readlink -f "$0")")/../../agent-linux-x64/agent"\n' \
  >"$npm/lib/node_modules/agent/bin/agent.js"
printf '#!/bin/sh\necho "answer from the platform package"\n' >"$npm/lib/node_modules/agent-linux-x64/agent"
printf '#!/bin/sh\necho "never runs"\n' >"$npm/hid/agent"
chmod +x "$npm/lib/node_modules/agent/bin/agent.js" "$npm/lib/node_modules/agent-linux-x64/agent" "$npm/hid/agent"
ln -s ../lib/node_modules/agent/bin/agent.js "$npm/bin/npm-agent"
git_repo npm_tmp
add_runners "    npm = { command = { \"npm-agent\" } },
    wrapped = { command = { \"sh\", \"-c\", \"exec npm-agent\" } },
    lost = { command = { \"sh\", \"-c\", \"cat >/dev/null; exec $npm/gone/agent\" } },
    hidden = { command = { \"$npm/hid/agent\" } },"
"$S" task create --title "Npm" --goal "Answer" --status ready >/dev/null
expect_run "npm install under /tmp: the run finds its platform package" 0 "^R-\d+ review: answer from the platform package" \
  "" -- env PATH="$npm/bin:$PATH" "$S" run T-0001 --runner npm
eq "npm install under /tmp: the record says what was shown for the program" "$npm/bin/npm-agent $npm/lib/node_modules yes" \
  "$(field .agent/runs/$(run_id)/run.json .os_sandbox.program.path) $(field .agent/runs/$(run_id)/run.json .os_sandbox.program.shown.1) \
$([ "$(field .agent/runs/$(run_id)/run.json .os_sandbox.program.interpreter)" = "$(readlink -f "$(command -v sh)")" ] && echo yes)"
expect_run "npm install under /tmp, started by a wrapper from PATH: its link's package is shown too" 0 \
  "^R-\d+ review: answer from the platform package" "" -- env PATH="$npm/bin:$PATH" "$S" run T-0001 --runner wrapped
expect_run "an agent that cannot find a file: its reason says where to show one" 1 \
  "^R-\d+ failed: exited with code 127: [^\n]*$npm/gone/agent: not found; if it needs files the OS sandbox does not show, name their folder in isolation = \{ read = \{ \.\.\. \} \}" \
  "" -- "$S" run T-0001 --runner lost
# Where new user namespaces are refused (a container under Docker's default seccomp profile, which
# tests/e2e/no_userns.cpp imitates): "auto" runs the agent in the Landlock sandbox and says so; doctor
# says which sandbox runs get and checks each CLI inside it; bwrap asked by name fails before the
# agent, saying why and what to do.
if [ -n "${NO_USERNS:-}" ]; then
  expect_run "namespaces refused: doctor says runs get the Landlock sandbox, and why" 0 \
    'OS sandbox: landlock, network model: Landlock ABI \d+; bubblewrap cannot make a sandbox here \(bwrap: No permissions to create new namespace' \
    "" -- "$NO_USERNS" env PATH="$npm/bin:$PATH" "$S" doctor
  expect_run "namespaces refused: the npm install under /tmp runs in the Landlock sandbox, said on stderr" 0 \
    "^R-\d+ review: answer from the platform package" \
    "run R-\d+: OS sandbox landlock: bubblewrap cannot make a sandbox here \(bwrap: No permissions to create new namespace" \
    -- "$NO_USERNS" env PATH="$npm/bin:$PATH" "$S" run T-0001 --runner npm
  eq "namespaces refused: the record says which sandbox, and why" "landlock yes" \
    "$(field .agent/runs/$(run_id)/run.json .os_sandbox.kind) $(field .agent/runs/$(run_id)/run.json .os_sandbox.chosen | grep -q "No permissions" && echo yes)"
  expect_run "namespaces refused, bwrap asked by name: the run fails before its agent, saying why and what to do" 1 \
    "^R-\d+ failed: the OS sandbox could not start \(bwrap: No permissions to create new namespace[^\n]*\): new user namespaces are refused here[^\n]*isolation = \{ sandbox = \"landlock\" \}" \
    "" -- "$NO_USERNS" "$S" run T-0001 --runner lost --os-sandbox bwrap
else
  echo "SKIP: namespaces refused (NO_USERNS names no helper)"
fi
sed -i "s|^    hide = {},|    hide = { \"$npm/hid\" },|" .agent/config.lua
expect_run "a program the sandbox hides: Sidecar's error before start, the path and the setting named" 1 \
  "the agent's program $npm/hid/agent is at $npm/hid/agent, which the OS sandbox hides: show it with isolation = \{ read = \{ \"$npm/hid\" \} \}" \
  "" -- "$S" run T-0001 --runner hidden
rm -rf "$npm"
cd "$work" || exit 1

if [ "${SIDECAR_SKIP_REAL_CLIS:-}" = 1 ]; then
  echo "SKIP: the real codex and claude CLIs (SIDECAR_SKIP_REAL_CLIS=1)"
  finish
  exit $?
fi
if ! command -v codex >/dev/null || ! command -v claude >/dev/null; then
  echo "FAIL: codex or claude is not installed (scripts/setup installs them into .tools/npm)"
  exit 1
fi


# run NAME RUNNER PROMPT [IDLE_MS] [SESSION]: one run in NAME's git repository, made on first use
# (NAME.2 runs in NAME's); the record in NAME.json. SESSION: see agent_run.lua.
run() {
  local base=${1%.*}
  if [ ! -d "$base/repo" ]; then
    mkdir -p "$base/repo"
    (cd "$base/repo" && git init -q -b main && git -c user.email=t@e -c user.name=t commit -q --allow-empty -m init)
  fi
  local t0=$(date +%s%N)
  "$S" script "$here/agent_run.lua" "$2" "$work/$base/repo" "$port" "$3" "${4:-}" "${5:-}" >"$1.json" 2>"$1.err" ||
    { echo "FAIL $1: the run script failed"; cat "$1.err"; failed=$((failed + 1)); }
  elapsed_ms=$((($(date +%s%N) - t0) / 1000000))
  rec=$(cat "$1.json")
  dir=$work/$base/repo/.agent/runs/$(jv .run_id <<<"$rec")
}
usage_reported() { for k in input cached_input output reasoning_output total; do jv ".usage_reported.$k" <<<"$rec"; done | xargs; }
usage() { for k in input cached_input output reasoning_output total; do jv ".usage.$k" <<<"$rec"; done | xargs; }
model_usage() {
  for k in input_tokens cached_input_tokens output_tokens reasoning_output_tokens total_tokens; do
    jv ".usage.$k" <"$dir/model.json"; done | xargs
}

# A failure must come "within seconds": within BASE ms, or four text turns of that CLI when the
# machine is so busy that one takes longer than a quarter of BASE (a ratio, not a wall-clock bound).
declare -A text_ms
within() { local t=$((4 * ${text_ms[$1]:-0})); echo $(($2 > t ? $2 : t)); }

start_server text "$scenarios/text_turn.json" && {
  for runner in codex claude; do
    run "${runner}_text" $runner "Say hello to the sidecar e2e test"
    text_ms[$runner]=$elapsed_ms
    eq "$runner text: status" review "$(jv .status <<<"$rec")"
    eq "$runner text: final message in output.md" "Hello from the scripted model." "$(cat "$dir/output.md")"
    eq "$runner text: the prompt on stdin, recorded" "Say hello to the sidecar e2e test" "$(cat "$dir/prompt.md")"
  done
  # codex: input includes the cached tokens, total = input + output (the Responses API's own sums).
  rec=$(cat codex_text.json)
  dir=$work/codex_text/repo/.agent/runs/$(jv .run_id <<<"$rec")
  eq "codex text: usage exactly as scripted" "1234 200 56 7 1290" "$(usage)"
  eq "codex text: model.json usage" "1234 200 56 7 1290" "$(model_usage)"
  eq "codex text: model.json runner" "codex-cli gpt-5.5" "$(jv .runner <"$dir/model.json") $(jv .model <"$dir/model.json")"
  # claude: input_tokens + cache reads (the scenario's cached tokens) + cache writes; it reports
  # thinking tokens as 0.
  rec=$(cat claude_text.json)
  dir=$work/claude_text/repo/.agent/runs/$(jv .run_id <<<"$rec")
  eq "claude text: usage exactly as scripted" "1434 200 56 0 1490" "$(usage)"
  eq "claude text: model.json usage" "1434 200 56 0 1490" "$(model_usage)"
  eq "claude text: a cost is recorded" number "$(jv .cost_usd <<<"$rec" | grep -qP '^[0-9.e-]+$' && echo number)"
  stop_server
}

start_server tool "$scenarios/tool_turn.json" && {
  run codex_tool codex "Run the command the test scripted"
  eq "codex tool: status" review "$(jv .status <<<"$rec")"
  eq "codex tool: the command and its exit code" "0" "$(jv .commands_run.1.exit_code <<<"$rec")"
  eq "codex tool: final message" "The command printed sidecar-tool-ok." "$(cat "$dir/output.md")"
  eq "codex tool: usage summed over both steps" "800 300 100 0 900" "$(usage)"
  run claude_tool claude "Run the command the test scripted"
  eq "claude tool: status" review "$(jv .status <<<"$rec")"
  eq "claude tool: the Bash command" "echo sidecar-tool-ok" "$(jv .commands_run.1.command <<<"$rec")"
  eq "claude tool: final message" "The command printed sidecar-tool-ok." "$(cat "$dir/output.md")"
  stop_server
}

# A session continued: turn 1 is continuable (codex without --ephemeral, claude --session-id),
# turn 2 continues it (codex exec resume, claude --resume) and answers the scenario's second step.
# codex then reports the thread's totals and claude its session's cost: each run records its own
# share, which is exactly the step's usage.
start_server resume "$scenarios/resume_turns.json" && {
  for runner in codex claude; do
    run "${runner}_resume.1" $runner "Resume turn one" "" continuable
    eq "$runner resume: turn 1 status, not ephemeral" "review false" "$(jv .status <<<"$rec") $(jv .ephemeral <<<"$rec")"
    first=$(jv .session_id <<<"$rec") first_run=$(jv .run_id <<<"$rec")
    run "${runner}_resume.2" $runner "Resume turn two" "" "$work/${runner}_resume.1.json"
    eq "$runner resume: turn 2 status and answer" "review Resume turn two answer." \
      "$(jv .status <<<"$rec") $(cat "$dir/output.md")"
    eq "$runner resume: turn 2 continues turn 1's session" "$first $first $first_run" \
      "$(jv .resumed_session <<<"$rec") $(jv .session_id <<<"$rec") $(jv .resumed_run <<<"$rec")"
    api=$([ $runner = codex ] && echo responses || echo messages)
    eq "$runner resume: turn 2's request carries turn 1's answer" 1 \
      "$(grep '"step":1' "$work/resume.log" | grep "\"api\":\"$api\"" | grep -c 'Resume turn one answer')"
  done
  rec=$(cat codex_resume.1.json)
  eq "codex resume: turn 1 usage" "1000 200 50 5 1050" "$(usage)"
  rec=$(cat codex_resume.2.json)
  dir=$work/codex_resume/repo/.agent/runs/$(jv .run_id <<<"$rec")
  eq "codex resume: the thread's totals, as reported" "2500 1200 120 14 2620" "$(usage_reported)"
  eq "codex resume: turn 2's own usage" "1500 1000 70 9 1570" "$(usage)"
  eq "codex resume: model.json has turn 2's own usage" "1500 1000 70 9 1570" "$(model_usage)"
  # (-s danger-full-access: in Sidecar's OS sandbox, which keeps the run read-only, codex's own steps aside)
  eq "codex resume: exec resume, -C and -s before it" yes \
    "$(jv .command <<<"$rec" | grep -qE '^codex exec -C \S+ -s danger-full-access resume --json --skip-git-repo-check .* [0-9a-f-]{36} -$' && echo yes)"
  # claude: usage is per invocation (input + cache reads), total_cost_usd the session's.
  rec=$(cat claude_resume.1.json)
  eq "claude resume: turn 1 usage" "1200 200 50 0 1250" "$(usage)"
  cost1=$(jv .cost_usd <<<"$rec")
  rec=$(cat claude_resume.2.json)
  dir=$work/claude_resume/repo/.agent/runs/$(jv .run_id <<<"$rec")
  eq "claude resume: turn 2 usage" "2500 1000 70 0 2570" "$(usage)"
  eq "claude resume: turn 2 ran with --resume" yes "$(jv .command <<<"$rec" | grep -qE -- "--resume $first( |$)" && echo yes)"
  eq "claude resume: turn 2's cost is the session's total minus turn 1's" yes "$("$S" -e "
    local c1, c2, total = $cost1, $(jv .cost_usd <<<"$rec"), $(jv .cost_reported_usd <<<"$rec")
    print(c2 > 0 and math.abs(total - c1 - c2) < 1e-12 and 'yes' or ('no: ' .. c1 .. ' ' .. c2 .. ' ' .. total))")"
  # The step priced as Claude Code 2.1.330 prices its default model: 1500 x $4/M input + 1000 x
  # $0.2/M cache reads + 70 x $20/M output (turn 1 the same way: 0.00504).
  eq "claude resume: turn 1 and turn 2 costs, each its own" "0.00504 0.0076" "$cost1 $(jv .cost_usd <<<"$rec")"
  eq "claude resume: model.json has turn 2's own cost" "$(jv .cost_usd <<<"$rec")" "$(jv .cost_usd <"$dir/model.json")"
  stop_server
}

start_server e500 "$scenarios/http_500.json" && {
  for runner in codex claude; do
    run "${runner}_500" $runner "This request fails"
    eq "$runner 500: failed" failed "$(jv .status <<<"$rec")"
    eq "$runner 500: the reason names the server's error" yes \
      "$(jv .failure_reason <<<"$rec" | grep -qiE 'mock internal error|500|high demand' && echo yes)"
    eq "$runner 500: within $(within $runner 20000) ms" yes "$([ "$elapsed_ms" -le "$(within $runner 20000)" ] && echo yes)"
  done
  stop_server
}

# A port nobody listens on: the server is down.
port=1
for runner in codex claude; do
  run "${runner}_down" $runner "Nobody answers"
  eq "$runner down: failed" failed "$(jv .status <<<"$rec")"
  eq "$runner down: within $(within $runner 20000) ms" yes "$([ "$elapsed_ms" -le "$(within $runner 20000)" ] && echo yes)"
done

start_server hang "$scenarios/hang.json" && {
  for runner in codex claude; do
    run "${runner}_idle" $runner "Answer slowly" 3000
    eq "$runner idle: failed by the idle timeout" "failed idle" \
      "$(jv .status <<<"$rec") $(jv .failure_reason <<<"$rec" | grep -o '^idle')"
    eq "$runner idle: stopped within $((3000 + $(within $runner 12000))) ms" yes \
      "$([ "$elapsed_ms" -le $((3000 + $(within $runner 12000))) ] && echo yes)"
  done
  stop_server
}
# sidecar doctor: the real CLIs, none, and an old codex that lacks a flag Sidecar relies on.
expect_run "doctor: both CLIs ready" 0 \
  'codex +ok +codex-cli 0\.169\.0 +ready\nclaude +ok +2\.1\.330 \(Claude Code\) +ready' '^$' -- "$S" doctor
expect_run "doctor: names the OS sandbox, which starts" 0 'OS sandbox: bwrap, network model: ok\n' '^$' -- "$S" doctor
expect_run "doctor: a sandbox turned off, and by what" 0 \
  'OS sandbox: off: agents run without an OS sandbox \(SIDECAR_OS_SANDBOX\)' '^$' -- env SIDECAR_OS_SANDBOX=off "$S" doctor
mkdir -p "$work/no-bwrap" && ln -sf "$(command -v git)" "$work/no-bwrap/git"
expect_run "doctor: a sandbox that cannot start is an error, saying what to do" 1 'OS sandbox: auto, network model: CANNOT START' \
  'doctor: os sandbox: the OS sandbox needs bubblewrap \(bwrap\), which is not on PATH: install bubblewrap[^\n]*isolation = \{ sandbox = "landlock" \}' \
  -- env PATH="$work/no-bwrap" "$S" doctor
expect_run "doctor: none installed" 1 \
  'codex +missing .*npm install -g @openai/codex.*\nclaude +missing .*npm install -g @anthropic-ai/claude-code.*No agent CLI is usable' \
  '^$' -- env PATH=/usr/bin:/bin "$S" doctor
mkdir -p old/bin
printf '#!/bin/sh\ncase "$1" in --version) echo "codex-cli 0.1.0";; *) echo "--json --sandbox --cd --model -o, --output-last-message --skip-git-repo-check";; esac\n' >old/bin/codex
chmod +x old/bin/codex
expect_run "doctor --json: a codex without --ephemeral is broken, and says what to do" 1 \
  '"missing_flags": \[\s*"--ephemeral"\s*\],\s*"name": "codex",\s*"ok": false,\s*"origin": "built-in",\s*"version": "codex-cli 0\.1\.0".*"errors": \[\s*\{\s*"code": "failed",\s*"message": "codex: its help does not mention --ephemeral[^"]*"\s*\},\s*\{\s*"code": "failed",\s*"message": "no agent CLI is usable[^"]*"\s*\}\s*\],\s*"ok": false' \
  '^$' -- env PATH="$work/old/bin:/usr/bin:/bin" "$S" doctor --json
# doctor checks the runners as a project starts them: a program wrapper, args and env for the
# built-ins, and the runners config.lua defines.
mkdir -p doctored && (cd doctored && git init -q && "$S" init >/dev/null && cat >.agent/config.lua <<'CONFIG'
return {
  runners = {
    codex = { program = { "env", "DOCTOR_PROBE=1", "codex" }, args = { "-c", "model_reasoning_effort=low" } },
    claude = { program = { "/nonexistent/claude-wrapper" } },
    alice = { command = { "alice-review", "--quiet", "{prompt_file}" } },
    bob = { command = { "cat" } },
  },
}
CONFIG
)
expect_run "doctor: the wrapper, args and user runners as started, each problem said with its fix" 1 \
  'codex +ok +codex-cli 0\.169\.0 +ready\nclaude +missing .*runners\.claude\.program in \.agent/config\.lua\n(?:(?:gemini|opencode|qwen|goose|copilot|claude-acp|codex-acp) +[^\n]*\n)*alice +missing +- +`alice-review` is not found.*runners\.alice\.command.*\nbob +ok .*codex \(built-in, with config\.lua settings\): env DOCTOR_PROBE=1 codex exec .* -c model_reasoning_effort=low -\n.*alice \(config\.lua\): alice-review --quiet <run>/prompt\.md' \
  'doctor: claude: .*doctor: alice: ' -- "$S" doctor --root doctored/.agent
expect_run "doctor --json: ok false, every problem in errors" 1 \
  '"errors": \[\s*\{\s*"code": "failed",\s*"message": "claude: [^"]*runners\.claude\.program[^"]*"\s*\},\s*\{\s*"code": "failed",\s*"message": "alice: [^"]*runners\.alice\.command[^"]*"\s*\}\s*\],\s*"ok": false' \
  '^$' -- sh -c "cd doctored && '$S' doctor --json"
printf 'return {runners = {codex = {program = 42}}}\n' >doctored/.agent/config.lua
expect_run "doctor: a broken config.lua is an error of its own" 1 '' 'doctor: config: .*config\.lua' \
  -- "$S" doctor --root doctored/.agent
# doctor starts each CLI inside the OS sandbox a run gets: a launcher whose real program lies in a
# folder the sandbox does not show (/tmp, which it makes private) is broken, the folder to show
# named; isolation.read shows it, and it is ready.
hid=$(mktemp -d /tmp/sidecar-doctor-XXXXXX)
mkdir -p "$hid/bin" "$hid/lib" hidden-cli && (cd hidden-cli && git init -q && "$S" init >/dev/null)
printf '#!/bin/sh\nexec %s/lib/codex-real "$@"\n' "$hid" >"$hid/bin/codex"
printf '#!/bin/sh\ncase "$1" in --version) echo "codex-cli 0.169.0";; *) echo "--json --ephemeral --sandbox --cd --model -o, --output-last-message --skip-git-repo-check";; esac\n' >"$hid/lib/codex-real"
chmod +x "$hid/bin/codex" "$hid/lib/codex-real"
printf 'return { runners = { codex = { program = { "%s/bin/codex" } } } }\n' "$hid" >hidden-cli/.agent/config.lua
expect_run "doctor: a CLI that answers outside but not inside the sandbox is broken, the folder to show named" 1 \
  "codex +BROKEN +codex-cli 0\.169\.0 +it answers outside but does not start inside the OS sandbox runs get \([^\n]*not found\): $hid/lib/codex-real is where the sandbox does not show it; show its folder with isolation = \{ read = \{ \"$hid/lib\" \} \}" \
  "doctor: codex: it answers outside but does not start inside" -- "$S" doctor --root hidden-cli/.agent
printf 'return { runners = { codex = { program = { "%s/bin/codex" } } }, isolation = { read = { "%s/lib" } } }\n' "$hid" "$hid" \
  >hidden-cli/.agent/config.lua
expect_run "doctor: shown with isolation.read, it is ready" 0 "codex +ok +codex-cli 0\.169\.0 +ready" "" -- \
  "$S" doctor --root hidden-cli/.agent
expect_run "doctor: without an OS sandbox, nothing is checked inside" 0 "codex +ok +codex-cli 0\.169\.0 +ready" "" -- \
  env SIDECAR_OS_SANDBOX=off "$S" doctor --root hidden-cli/.agent
rm -rf "$hid"
eq "no CLI process left behind" "" "$(ps -e -o args= | grep -F -- "$work/" | grep -v grep)"
finish
