#!/usr/bin/env bash
# End-to-end: the real codex and claude CLIs run through Sidecar's runners (stdlib agent_run)
# against `sidecar model-server`: a text turn and a tool turn each with exact usage, the final
# message in output.md and model.json filled; an HTTP 500 and a server that is down fail with the
# reason within seconds; a model that stops talking is ended by the idle timeout, 0 orphans.
# The CLIs come from scripts/setup (.tools/npm) or PATH; SIDECAR_SKIP_REAL_CLIS=1 skips them.
set -u
S=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
scenarios=$root/tests/fixtures/scenarios
. "$here/lib.sh"
cd "$work"
export PATH="$root/.tools/npm/bin:$PATH"

# Ctrl-C during a run: the agent's group is stopped, the run is recorded as interrupted, and the
# CLI exits 130 saying what it stopped. (No real CLI needed: a command that sleeps.)
mkdir interrupt && (cd interrupt && git init -q)
(cd interrupt && exec "$S" -e "require('agent_run').execute({runner = 'command', repo = '.',
  command = {'sh', '-c', 'echo started; sleep 37.25'}, prompt = 'wait'})" >out 2>err) &
spid=$!
for _ in $(seq 100); do [ -s interrupt/.agent/runs/R-0001/stdout.log ] && break; sleep 0.05; done
kill -INT "$spid"
status=0
wait "$spid" || status=$?
# The group got SIGTERM; give the kernel a moment to end the sleep (a duration no other process
# uses, so nothing else matches).
gone=no
for _ in $(seq 40); do pgrep -f '[s]leep 37.25' >/dev/null || { gone=yes; break; }; sleep 0.05; done
if [ "$status" = 130 ] && grep -q "interrupted! stopped 1 child process" interrupt/err &&
  grep -q '"status": "interrupted"' interrupt/.agent/runs/R-0001/run.json && [ $gone = yes ]; then
  passed=$((passed + 1))
else
  failed=$((failed + 1))
  echo "FAIL interrupt: exit $status, the sleep gone: $gone"; cat interrupt/err
  grep '"status"' interrupt/.agent/runs/R-0001/run.json
  ps -eo pid,pgid,stat,args | grep '[s]leep 37'

fi

if [ "${SIDECAR_SKIP_REAL_CLIS:-}" = 1 ]; then
  echo "SKIP: the real codex and claude CLIs (SIDECAR_SKIP_REAL_CLIS=1)"
  finish
  exit $?
fi
if ! command -v codex >/dev/null || ! command -v claude >/dev/null; then
  echo "FAIL: codex or claude is not installed (scripts/setup installs them into .tools/npm)"
  exit 1
fi

stop_server() { kill -TERM "$pid"; wait "$pid" 2>/dev/null; }

# run NAME RUNNER PROMPT [IDLE_MS]: one run in a fresh git repository; the record in NAME.json.
run() {
  mkdir -p "$1/repo"
  (cd "$1/repo" && git init -q -b main && git -c user.email=t@e -c user.name=t commit -q --allow-empty -m init)
  local t0=$(date +%s%N)
  "$S" script "$here/agent_run.lua" "$2" "$work/$1/repo" "$port" "$3" "${4:-}" >"$1.json" 2>"$1.err" ||
    { echo "FAIL $1: the run script failed"; cat "$1.err"; failed=$((failed + 1)); }
  elapsed_ms=$((($(date +%s%N) - t0) / 1000000))
  rec=$(cat "$1.json")
  dir=$work/$1/repo/.agent/runs/$(jv .run_id <<<"$rec")
}
usage() { for k in input cached_input output reasoning_output total; do jv ".usage.$k" <<<"$rec"; done | xargs; }
model_usage() {
  for k in input_tokens cached_input_tokens output_tokens reasoning_output_tokens total_tokens; do
    jv ".usage.$k" <"$dir/model.json"; done | xargs
}

start_server text "$scenarios/text_turn.json" && {
  for runner in codex claude; do
    run "${runner}_text" $runner "Say hello to the sidecar e2e test"
    eq "$runner text: status" review "$(jv .status <<<"$rec")"
    eq "$runner text: final message in output.md" "Hello from the scripted model." "$(cat "$dir/output.md")"
    eq "$runner text: the prompt on stdin, recorded" "Say hello to the sidecar e2e test" "$(cat "$dir/prompt.md")"
  done
  # codex: input includes the cached tokens, total = input + output (the Responses API's own sums).
  rec=$(cat codex_text.json) dir=$work/codex_text/repo/.agent/runs/R-0001
  eq "codex text: usage exactly as scripted" "1234 200 56 7 1290" "$(usage)"
  eq "codex text: model.json usage" "1234 200 56 7 1290" "$(model_usage)"
  eq "codex text: model.json runner" "codex-cli gpt-5.5" "$(jv .runner <"$dir/model.json") $(jv .model <"$dir/model.json")"
  # claude: input_tokens + cache reads (the scenario's cached tokens) + cache writes; it reports
  # thinking tokens as 0.
  rec=$(cat claude_text.json) dir=$work/claude_text/repo/.agent/runs/R-0001
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

start_server e500 "$scenarios/http_500.json" && {
  for runner in codex claude; do
    run "${runner}_500" $runner "This request fails"
    eq "$runner 500: failed" failed "$(jv .status <<<"$rec")"
    eq "$runner 500: the reason names the server's error" yes \
      "$(jv .failure_reason <<<"$rec" | grep -qiE 'mock internal error|500|high demand' && echo yes)"
    eq "$runner 500: within 20 s" yes "$([ "$elapsed_ms" -le 20000 ] && echo yes)"
  done
  stop_server
}

# A port nobody listens on: the server is down.
port=1
for runner in codex claude; do
  run "${runner}_down" $runner "Nobody answers"
  eq "$runner down: failed" failed "$(jv .status <<<"$rec")"
  eq "$runner down: within 20 s" yes "$([ "$elapsed_ms" -le 20000 ] && echo yes)"
done

start_server hang "$scenarios/hang.json" && {
  for runner in codex claude; do
    run "${runner}_idle" $runner "Answer slowly" 3000
    eq "$runner idle: failed by the idle timeout" "failed idle" \
      "$(jv .status <<<"$rec") $(jv .failure_reason <<<"$rec" | grep -o '^idle')"
    eq "$runner idle: stopped within 15 s" yes "$([ "$elapsed_ms" -le 15000 ] && echo yes)"
  done
  stop_server
}
# sidecar doctor: the real CLIs, none, and an old codex that lacks a flag Sidecar relies on.
expect_run "doctor: both CLIs ready" 0 \
  'codex +ok +codex-cli 0\.169\.0 +ready\nclaude +ok +2\.1\.330 \(Claude Code\) +ready' '^$' -- "$S" doctor
expect_run "doctor: none installed" 1 \
  'codex +missing .*npm install -g @openai/codex.*\nclaude +missing .*npm install -g @anthropic-ai/claude-code.*No agent CLI is usable' \
  '^$' -- env PATH=/usr/bin:/bin "$S" doctor
mkdir -p old/bin
printf '#!/bin/sh\ncase "$1" in --version) echo "codex-cli 0.1.0";; *) echo "--json --sandbox --cd --model -o, --output-last-message --skip-git-repo-check";; esac\n' >old/bin/codex
chmod +x old/bin/codex
expect_run "doctor --json: a codex without --ephemeral is broken, and says what to do" 1 \
  '"missing_flags": \[\s*"--ephemeral"\s*\],\s*"name": "codex",\s*"ok": false,\s*"version": "codex-cli 0\.1\.0".*"ok": false' \
  '^$' -- env PATH="$work/old/bin:/usr/bin:/bin" "$S" doctor --json
eq "no CLI process left behind" "" "$(ps -e -o args= | grep -F -- "$work/" | grep -v grep)"
finish
