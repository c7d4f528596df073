#!/usr/bin/env bash
# End-to-end: runs on a pseudo-terminal (run --pty) with a fake interactive agent that asks
# "Continue? [y/n]" (tests/fixtures/interactive_agent.sh): the run is marked waiting_input with the
# prompt's text, `run send` (a line, or one --key) lets it finish, each prompt is told once, `run
# tail` shows the terminal's text without escape sequences; hostile agents (a flood, escape
# sequences and invalid UTF-8), `run send` to ended, unknown and terminal-less runs, and kill -9 of
# the worker; run attach under a terminal (pty_driver): detached, typed to, stopped by SIGTERM;
# answers and on_stuck = poke; codex and claude on a terminal against the scripted model server, and
# codex's full-screen dialogs (its folder trust) marked waiting_input and answered.
set -u
. "$(dirname "$0")/lib.sh" # S (absolute), here, root, $work; the shared helpers
F=$root/tests/fixtures
D=$(cd "$(dirname "$2")" && pwd)/$(basename "$2") # tests/e2e/pty_driver.cpp: a person at a terminal
cd "$work"

# attention RUN: the run's attention state and evidence, as `run show --json` gives them.
attention() {
  local show
  show=$("$S" run show "$1" --json)
  echo "$(jv .data.attention.state <<<"$show")|$(jv .data.attention.evidence <<<"$show")"
}
waiting() { [ "$(attention "$1")" = "waiting_input|Continue? [y/n]" ]; }
told() { cat "$work/told-$1" 2>/dev/null; }

token=ghp_$(head -c 64 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 36)
git_repo pty
add_runners "    ask = { command = { \"$F/interactive_agent.sh\", \"line\" } },
    ask_key = { command = { \"$F/interactive_agent.sh\", \"key\" } },
    noisy = { command = { \"$F/interactive_agent.sh\", \"noisy\" } },
    flood = { command = { \"$F/interactive_agent.sh\", \"flood\", \"3000000\" } },
    noline = { command = { \"$F/interactive_agent.sh\", \"noline\", \"3000000\" } },
    secret = { command = { \"$F/interactive_agent.sh\", \"secret\", \"-\", \"$token\" } },
    plain = { command = { \"sh\", \"-c\", \"cat >/dev/null; echo plain; sleep 30\" } },"
"$S" task create --title "Ask me" --status ready >/dev/null

# --- a prompt marks the run waiting_input; run send answers it -------------------------------
expect_run "start on a terminal" 0 "^R-\d+\n$" "" -- "$S" run T-0001 --runner ask --background --pty \
  --notify "echo \"\$SIDECAR_EVENT: \$SIDECAR_MESSAGE\" >>'$work/told-line'"
line=$(run_id)
wait_until "the prompt marks $line waiting_input" 60 waiting "$line"
eq "launch records pty" "true true" \
  "$(field .agent/runs/$line/run.json .launch.pty) $("$S" run show "$line" --json | jv .data.pty)"
expect_run "run list: waiting_input" 0 "$line .*running \(waiting_input\)" "" -- "$S" run list
expect_run "run show: the evidence" 0 "Attention: +waiting_input: Continue\? \[y/n\]" "" -- "$S" run show "$line"
wait_until "the waiting_input notice" 60 grep -qs '^waiting_input: Continue? \[y/n\]' "$work/told-line"
# A main agent sees it too: the MCP tool run_show carries the attention.
printf '%s\n' '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}' \
  '{"jsonrpc":"2.0","method":"notifications/initialized"}' \
  '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"run_show","arguments":{"run_id":"'"$line"'"}}}' |
  "$S" mcp 2>/dev/null | grep '"id":2' >mcp.json
eq "MCP run_show: the attention" "waiting_input Continue? [y/n]" \
  "$(field mcp.json .result.structuredContent.attention.state) $(field mcp.json .result.structuredContent.attention.evidence)"
"$S" run send "$line" y --json >send.json
eq "run send --json" "true run send y true" \
  "$(field send.json .ok) $(field send.json .command) $(field send.json .data.text) $(field send.json .data.enter)"
"$S" run wait "$line" >/dev/null
eq "answered: the agent finished" "0 finished the task" \
  "$(field .agent/runs/$line/run.json .exit_code) $(tail -n 1 .agent/runs/$line/stdout.log)"
eq "the mark is gone once it ended" "nil" "$("$S" run show "$line" --json | jv .data.attention.state)"
wait_until "the end notice" 60 grep -qs '^ended: ' "$work/told-line"
eq "each notice once" "1 1" "$(grep -c '^waiting_input:' "$work/told-line") $(grep -c '^ended:' "$work/told-line")"
"$S" run tail "$line" >tail.out
expect_run "run tail: the terminal's text and what was typed" 0 \
  "\| Working on the task\n.*typed \"y\" \+ enter \(run send\).*\| answer: y\n.*\| finished the task" "" -- cat tail.out
eq "run tail: no escape sequence" "0" "$(grep -c $'\e' tail.out)"
eq "terminal.log keeps the raw bytes" "1" "$(grep -c $'\e\\[1;32mWorking' .agent/runs/$line/terminal.log)"
eq "events: the input recorded" "y run send" \
  "$(grep '"terminal.input"' .agent/runs/$line/events.jsonl | jv .fields.text) $(grep '"terminal.input"' .agent/runs/$line/events.jsonl | jv .fields.by)"

# --- one key, no Enter ---------------------------------------------------------------------
expect_run "a one-key agent" 0 "^R-\d+\n$" "" -- "$S" run T-0001 --runner ask_key --background --pty
key=$(run_id)
wait_until "$key waits" 60 waiting "$key"
expect_run "run send --key y" 0 "^$" "^$" -- "$S" run send "$key" --key y
"$S" run wait "$key" >/dev/null
eq "--key y: finished" "0 answer: y" \
  "$(field .agent/runs/$key/run.json .exit_code) $(grep -a '^answer' .agent/runs/$key/stdout.log)"

# --- a foreground run on a terminal: the same, typed to from elsewhere ------------------------
"$S" run T-0001 --runner ask --pty >"$work/fg.out" 2>"$work/fg.err" &
fg=$!
wait_until "the foreground run waits" 60 sh -c "'$S' run list | grep -q 'running (waiting_input)'"
fgrun=$(runs_where status running | head -n 1)
"$S" run send "$fgrun" y >/dev/null
status=0; wait "$fg" || status=$? # (its output outside the repository: a read-only run changes nothing there)
eq "foreground --pty: answered, finished" "0 $fgrun true finished the task" \
  "$status $(run_ids "$work/fg.out") $(field .agent/runs/$fgrun/run.json .pty) $(tail -n 1 .agent/runs/$fgrun/stdout.log)"

# --- clear errors --------------------------------------------------------------------------
expect_run "send to an ended run" 1 "^$" "run $key is not running \(it ended " -- "$S" run send "$key" y
expect_run "send to an unknown run" 1 "^$" "no run R-0999" -- "$S" run send R-0999 y
expect_run "an unknown key" 2 "^$" "unknown key 'f1' \(keys: backspace, ctrl-c, .*y\)" -- "$S" run send "$key" --key f1
expect_run "text and --key" 2 "^$" "not both" -- "$S" run send "$key" y --key y
expect_run "nothing to send" 2 "^$" "what to type\?" -- "$S" run send "$key"
expect_run "send --json error" 1 '"message": "run R-\d+ is not running.*"ok": false' "" -- "$S" run send "$key" y --json
plain=$(BG=1 "$S" run T-0001 --runner plain --background 2>/dev/null)
expect_run "send to a run without --pty" 1 "^$" "was not started with --pty" -- "$S" run send "$plain" y
"$S" run kill "$plain" >/dev/null
expect_run "--on-stuck without --pty" 2 "" "give --pty too" -- "$S" run T-0001 --runner ask --on-stuck poke
expect_run "--on-stuck unknown" 2 "" "expected \"poke\"" -- "$S" run T-0001 --runner ask --pty --on-stuck kick

# --- hostile output: escape sequences, invalid UTF-8, a flood --------------------------------
noisy=$("$S" run T-0001 --runner noisy --background --pty 2>/dev/null)
wait_until "$noisy waits" 60 waiting "$noisy"
"$S" run send "$noisy" y >/dev/null && "$S" run wait "$noisy" >/dev/null
"$S" run tail "$noisy" >noisy.out
eq "noisy: tail has no ESC, BEL or CR" "0" "$(grep -c $'[\e\a\r]' noisy.out)"
eq "noisy: the redrawn line as shown" "1" "$(grep -c '| progress 100%$' noisy.out)"
eq "noisy: invalid UTF-8 repaired" "1" "$(grep -c 'bad bytes: �� end' noisy.out)"
eq "noisy: events.jsonl is valid UTF-8" "true" \
  "$("$S" -e 'local f = io.open(".agent/runs/'"$noisy"'/events.jsonl", "rb"); print(require("sidecar.core.text").valid_utf8(f:read("a")))')"
sed -i 's/^  max_log_bytes = "64MiB"/  max_log_bytes = "64KiB"/' .agent/config.lua
flood=$("$S" run T-0001 --runner flood --background --pty 2>/dev/null)
wait_until "$flood waits after its flood" 120 waiting "$flood"
"$S" run send "$flood" y >/dev/null && "$S" run wait "$flood" >/dev/null
size=$(stat -c %s .agent/runs/$flood/terminal.log)
eq "flood: terminal.log capped" "yes" "$([ "$size" -lt 70000 ] && echo yes || echo "no ($size bytes)")"
eq "flood: recorded as cut" "terminal.log" "$(field .agent/runs/$flood/run.json .log_truncated.2.file)"
eq "flood: the marker of the raw logs (host/process/log_cap)" "1" \
  "$(grep -c 'bytes dropped here: the log passed max_log_bytes = 64 KiB]$' .agent/runs/$flood/terminal.log)"
eq "flood: the end still read" "0 finished the task" \
  "$(field .agent/runs/$flood/run.json .exit_code) $(tail -n 1 .agent/runs/$flood/stdout.log)"

# --- run attach: the screen so far and what follows, keys typed, Ctrl-] detaches -------------
# The attaching shell compares its terminal's settings before and after: raw mode is undone.
attach_in_shell() {
  timeout 120 "$D" sh -c "before=\$(stty -g); '$S' run attach $1; s=\$?; [ \"\$(stty -g)\" = \"\$before\" ] && echo RESTORED-\$s"
}
att=$("$S" run T-0001 --runner ask --background --pty 2>/dev/null)
wait_until "$att waits" 60 waiting "$att"
printf 'expect attached to %s\nexpect Continue? [y/n]\nkey \035\nexpect detached; the run goes on\nexpect RESTORED-0\nexit 0\n' \
  "$att" | attach_in_shell "$att" >attach1.out 2>&1
expect_run "attach shows the screen, Ctrl-] detaches, the terminal restored" 0 \
  "Working.*Continue\? \[y/n\].*detached; the run goes on\r?\nRESTORED-0" "" -- cat attach1.out
eq "detached: the run goes on" "waiting_input" "$("$S" run show "$att" --json | jv .data.attention.state)"
printf 'expect Continue? [y/n]\ntype y\nexpect finished the task\nexpect the run ended\nexpect RESTORED-0\nexit 0\n' |
  attach_in_shell "$att" >attach2.out 2>&1
expect_run "attach: typed y, the run ended, the terminal restored" 0 "finished the task.*the run ended.*RESTORED-0" "" \
  -- cat attach2.out
eq "attach: the keys recorded" "run attach" "$(grep '"terminal.input"' .agent/runs/$att/events.jsonl | jv .fields.by)"
# SIGTERM while attached (the driver waits for the restored terminal meanwhile).
att=$("$S" run T-0001 --runner ask --background --pty 2>/dev/null)
wait_until "$att waits" 60 waiting "$att"
printf 'expect Continue? [y/n]\nexpect RESTORED-143\nexit 0\n' | attach_in_shell "$att" >attach3.out 2>&1 &
driver=$!
attach_pid() { pgrep -f "^$S run attach $att\$"; }
# Ready once it has put its terminal in raw mode (not after a delay).
raw() { local p; p=$(attach_pid) && stty -F "$(readlink /proc/$p/fd/0)" -a | grep -q -- '-icanon'; }
wait_until "attach has its terminal in raw mode" 60 raw
kill -TERM "$(attach_pid)"
status=0; wait "$driver" || status=$?
eq "SIGTERM while attached: the terminal restored (exit 143)" "0" "$status"
expect_run "attach needs a terminal" 2 "^$" "run attach needs a terminal" -- "$S" run attach "$att"
"$S" run kill "$att" >/dev/null

noline=$("$S" run T-0001 --runner noline --background --pty 2>/dev/null)
wait_until "$noline waits after a flood without a line end" 120 sh -c \
  "'$S' run show $noline --json | grep -q '\"evidence\": \"x*Continue? \[y/n\]\"'"
"$S" run send "$noline" y >/dev/null && "$S" run wait "$noline" >/dev/null
eq "noline: finished, terminal.log capped" "0 yes" "$(field .agent/runs/$noline/run.json .exit_code) \
$([ "$(stat -c %s .agent/runs/$noline/terminal.log)" -lt 70000 ] && echo yes)"
# A secret on the screen, in the prompt and in what is typed: redacted everywhere it is written.
secret=$("$S" run T-0001 --runner secret --background --pty 2>/dev/null)
wait_until "$secret waits" 60 sh -c "'$S' run show $secret --json | grep -q '\"state\": \"waiting_input\"'"
"$S" run send "$secret" "$token" >/dev/null
"$S" run wait "$secret" >/dev/null
"$S" run tail "$secret" >secret.out
"$S" run show "$secret" --json >>secret.out
eq "secret: nowhere in the run's files or what is shown" "0" \
  "$(grep -rl "$token" .agent/runs/$secret secret.out | wc -l)"
eq "secret: the screen and the input still recorded" "2" "$(grep -c 'REDACTED' secret.out | tr -d ' ' | \
  awk '{print ($1 >= 2) ? 2 : $1}')"
# A secret typed in pieces, the screen quiet between them (as a person types in `run attach`):
# each piece is echoed alone, and none is written before the whole word can be redacted.
typed=$("$S" run T-0001 --runner ask --background --pty 2>/dev/null)
wait_until "$typed waits" 60 waiting "$typed"
for piece in "${token:0:10}" "${token:10:10}" "${token:20:10}" "${token:30}"; do
  "$S" run send "$typed" --no-enter "$piece" >/dev/null
  sleep 0.4 # longer than the terminal's FLUSH_MS: the piece's echo alone is let through
done
"$S" run send "$typed" --key enter >/dev/null
"$S" run wait "$typed" >/dev/null
eq "secret typed in pieces: in no run file" "0" "$(grep -rl "${token:0:10}" .agent/runs/$typed | wc -l)"
eq "secret typed in pieces: the answer still shown" "1" "$(grep -c 'answer: \[REDACTED' .agent/runs/$typed/stdout.log)"

# --- kill -9 of the worker -----------------------------------------------------------------
dead=$("$S" run T-0001 --runner ask --background --pty 2>/dev/null)
wait_until "$dead waits" 60 waiting "$dead"
agent=$(field .agent/runs/$dead/agent_process.json .pid)
kill -9 "$(field .agent/runs/$dead/run.json .worker_pid)"
"$S" run wait "$dead" >/dev/null
wait_until "the agent of the killed worker is gone" 30 sh -c "! kill -0 $agent 2>/dev/null"
expect_run "kill -9: the run ended, saying why" 0 "Status: +outcome_unknown.*died without recording an end" "" -- \
  "$S" run show "$dead"
expect_run "send to the dead worker's run" 1 "^$" "is not running" -- "$S" run send "$dead" y

# --- policies: known prompts answered, on_stuck = poke -------------------------------------
git_repo policies
add_runners "    ask = { command = { \"$F/interactive_agent.sh\", \"line\" } },
    enter = { command = { \"sh\", \"-c\", \"cat >/dev/null; printf 'Press Enter to go on '; read x; echo went on\" } },
    silent = { command = { \"sh\", \"-c\", \"cat >/dev/null; echo started; read x; echo poked\" } },
    again = { command = { \"sh\", \"-c\", \"cat >/dev/null; while :; do printf 'Continue? [y/n] '; read x; echo; done\" } },"
sed -i 's/^  stuck_after = "5m",.*$/  stuck_after = "1s",\n  answers = { { pattern = "Continue%? %[y\/n%]", send = "y" } },/' \
  .agent/config.lua
"$S" task create --title "Policies" --status ready >/dev/null
answered=$("$S" run T-0001 --runner ask --background --pty 2>/dev/null)
"$S" run wait "$answered" >/dev/null
eq "a known prompt answered by itself" "0 answers y 1" "$(field .agent/runs/$answered/run.json .exit_code) \
$(grep '"terminal.input"' .agent/runs/$answered/events.jsonl | jv .fields.by) \
$(grep '"terminal.input"' .agent/runs/$answered/events.jsonl | jv .fields.text) \
$(grep -c '"terminal.input"' .agent/runs/$answered/events.jsonl)"
poked=$("$S" run T-0001 --runner enter --background --pty --on-stuck poke 2>/dev/null)
"$S" run wait "$poked" >/dev/null
eq "on_stuck poke: Enter once to a waiting run" "0 Press Enter to go on went on on_stuck enter 1" "$(field .agent/runs/$poked/run.json .exit_code) \
$(tail -n 1 .agent/runs/$poked/stdout.log) $(grep '"terminal.input"' .agent/runs/$poked/events.jsonl | jv .fields.by) \
$(grep '"terminal.input"' .agent/runs/$poked/events.jsonl | jv .fields.key) $(grep -c '"terminal.input"' .agent/runs/$poked/events.jsonl)"
stuck=$("$S" run T-0001 --runner silent --background --pty --on-stuck poke 2>/dev/null)
"$S" run wait "$stuck" >/dev/null
eq "on_stuck poke: Enter once to a stuck run" "0 poked stuck" "$(field .agent/runs/$stuck/run.json .exit_code) \
$(tail -n 1 .agent/runs/$stuck/stdout.log) $(grep '"terminal.input"' .agent/runs/$stuck/events.jsonl | jv .fields.reason)"
# A prompt that comes back forever is answered a bounded number of times, then left waiting.
# (The terminal does not echo: "went on" follows the prompt on its line, as the screen shows it.)
loop=$("$S" run T-0001 --runner again --background --pty 2>/dev/null)
answers() { grep -cs '"terminal.input"' ".agent/runs/$loop/events.jsonl"; }
wait_until "the answers stop" 120 sh -c "[ \"\$(grep -cs '\"terminal.input\"' .agent/runs/$loop/events.jsonl)\" = 20 ]"
wait_until "then it waits" 60 sh -c "'$S' run show $loop --json | grep -q '\"state\": \"waiting_input\"'"
"$S" run kill "$loop" >/dev/null
eq "answers are bounded" "20" "$(answers)"

# --- the real CLIs on a terminal, against the scripted model server --------------------------
# codex exec --json and claude -p stream-json print their JSON lines on the terminal: the record
# is as complete as without --pty (status, final message, usage as scripted, claude's cost).
export PATH="$root/.tools/npm/bin:$PATH"
if [ "${SIDECAR_SKIP_REAL_CLIS:-}" != 1 ] && command -v codex >/dev/null && command -v claude >/dev/null; then
  mkdir -p "$work/clis/repo" && (cd "$work/clis/repo" && git init -q -b main &&
    git -c user.email=t@e -c user.name=t commit -q --allow-empty -m init)
  start_server clis "$root/tests/fixtures/scenarios/text_turn.json" && {
    for runner in codex claude; do
      AGENT_RUN_PTY=1 "$S" script "$here/agent_run.lua" $runner "$work/clis/repo" "$port" "Say hello" >$runner.json \
        2>$runner.err || { echo "FAIL $runner on a terminal: the run script failed"; cat $runner.err; failed=$((failed + 1)); }
      dir=$work/clis/repo/.agent/runs/$(field $runner.json .run_id)
      eq "$runner on a terminal: the record" "review Hello from the scripted model. true" \
        "$(field $runner.json .status) $(cat "$dir/output.md") $(field $runner.json .pty)"
      eq "$runner on a terminal: its JSON lines parsed" "yes" \
        "$([ -s "$dir/terminal.log" ] && grep -q '^{' "$dir/agent.jsonl" && echo yes)"
    done
    eq "codex on a terminal: usage as scripted" "1234 56 1290" \
      "$(field codex.json .usage.input) $(field codex.json .usage.output) $(field codex.json .usage.total)"
    eq "claude on a terminal: usage as scripted, a cost" "1490 number" \
      "$(field claude.json .usage.total) $(field claude.json .cost_usd | grep -qP '^[0-9.e-]+$' && echo number)"
    stop_server
  }
  # codex's full-screen screen (no exec, no --json): it asks its terminal where the cursor is and
  # its colours before it draws (answered), then shows its folder-trust dialog: the run is marked
  # waiting_input with the dialog's key line, `run send --key enter` answers it, the next one shows.
  start_server tui "$root/tests/fixtures/scenarios/text_turn.json" && (
    git_repo tui
    b=http://127.0.0.1:$port
    printf '%s\n' '#!/bin/sh' "export CODEX_HOME='$work/tui-home' MOCK_API_KEY=sk-mock" \
      "exec codex -m gpt-5.5 -c model_provider=mock -c model_providers.mock.name=mock -c model_providers.mock.base_url=$b/v1 \\" \
      "  -c model_providers.mock.wire_api=responses -c model_providers.mock.env_key=MOCK_API_KEY -c analytics.enabled=false \\" \
      '  --disable plugins "$(cat "$1")"' >"$work/codex-tui.sh"
    chmod +x "$work/codex-tui.sh"
    mkdir -p "$work/tui-home"
    add_runners "    codex_tui = { command = { \"$work/codex-tui.sh\", \"{prompt_file}\" }, prompt_patterns = { \"enter continue\", \"enter/esc confirm\" } },"
    sandbox_allow write "$work/tui-home" # the wrapper's CODEX_HOME, which the sandbox cannot know of
    "$S" task create --title "Say hello" --status ready >/dev/null
    tui=$("$S" run T-0001 --runner codex_tui --background --pty --idle-timeout 2m 2>/dev/null)
    wait_until "codex's trust dialog marks $tui waiting_input" 90 sh -c "'$S' run show $tui --json | grep -q 'enter continue'"
    expect_run "codex's screen read as lines" 0 "Trust this folder\?" "" -- "$S" run tail "$tui"
    "$S" run send "$tui" --key enter >/dev/null
    wait_until "the next dialog of $tui" 90 sh -c "'$S' run show $tui --json | grep -q 'enter/esc confirm'"
    "$S" run kill "$tui" >/dev/null
    eq "codex's screen: killed, nothing left" "interrupted none" \
      "$(field .agent/runs/$tui/run.json .status) $(pgrep -f "$work/codex-tui.sh" >/dev/null && echo some || echo none)"
    finish >/dev/null
  ) || failed=$((failed + 1))
  stop_server
fi

finish
