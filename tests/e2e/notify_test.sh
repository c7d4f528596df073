#!/usr/bin/env bash
# End-to-end: notification channels (issue 51, item 1; stdlib/sidecar/run/notify.lua). A local HTTP
# receiver (tests/e2e/http_receiver.py) takes webhooks (Sidecar's JSON, Slack's) and ntfy posts:
# - background runs that end for review, need input (stuck) and are stopped by a budget, each told
#   to the channels that want the event, with the documented body, and recorded in the run's events;
# - a preset of four steps and a pipeline of two: one notification each for the whole;
# - a dead endpoint and a slow one cost the run nothing; a 503 is tried three times, a 404 once;
# - the same event of the same run is sent once; a channel's rate leaves out the rest, recorded;
# - a secret in a run's summary never reaches an endpoint;
# - `sidecar notify --test`, and config errors that name the setting;
# - the desktop channel on a real session bus (dbus-daemon with a notification service), and
#   recorded as skipped where there is none.
set -u
. "$(dirname "$0")/lib.sh" # S (absolute), here, root, $work; the shared helpers
cd "$work" || exit 1
M=57 # this test's processes sleep $M.N seconds (see `left` in lib.sh)

recv_log=$work/received.jsonl
: >"$recv_log"
python3 "$here/http_receiver.py" "$recv_log" >"$work/port" 2>"$work/receiver.err" &
receiver=$!
wait_until "the receiver listens" 30 test -s "$work/port"
port=$(cat "$work/port")
# A port nobody listens on: a receiver started and stopped.
python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' >"$work/dead"
dead=$(cat "$work/dead")
trap 'kill $receiver 2>/dev/null; if [ "$failed" -eq 0 ]; then rm -rf "$work"; else echo "kept for a look: $work" >&2; fi' EXIT

# received PATH [EVENT]: the bodies posted to PATH (one per line), optionally of one event.
received() {
  RECV_LOG=$recv_log RECV_PATH=$1 RECV_EVENT=${2:-} "$S" -e '
    local json = require("sidecar.core.json")
    local want_path, want_event = os.getenv("RECV_PATH"), os.getenv("RECV_EVENT")
    for line in io.lines(os.getenv("RECV_LOG")) do
      local r = json.decode(line)
      if r.path == want_path then
        local ok, b = json.try_decode(r.body)
        if not ok or want_event == "" or (type(b) == "table" and b.event == want_event) then
          print((r.body:gsub("\n", " ")))
        end
      end
    end'
}
# got PATH EVENT PATTERN [N]: at least N (default 1) bodies of EVENT ("" for any) posted to PATH match PATTERN.
got() { [ "$(received "$1" "$2" | grep -c -- "$3")" -ge "${4:-1}" ]; }
# sent PATTERN: how many notifications matching PATTERN were handed to a channel (notify/sent.jsonl,
# written before the command that ended the run returns: no waiting needed to count them).
sent() { grep -c -- "$1" .agent/notify/sent.jsonl 2>/dev/null; }
# recorded RUN PATTERN [N]: at least N (default 1) of RUN's events match PATTERN.
recorded() { [ "$(grep -c -- "$2" ".agent/runs/$1/events.jsonl" 2>/dev/null)" -ge "${3:-1}" ]; }

git_repo notify
add_runners "    plain = { command = { \"sh\", \"-c\", \"cat >/dev/null; echo 'all done here'\" } },
    leaky = { command = { \"sh\", \"-c\", \"cat >/dev/null; echo 'token ghp_0123456789abcdefghijklmnopqrstuvwxyzAB'\" } },
    quiet = { command = { \"sh\", \"-c\", \"cat >/dev/null; echo started; sleep $M.1; echo resumed\" } },
    slow = { command = { \"sh\", \"-c\", \"cat >/dev/null; sleep 41.5\" } },
    spender = { command = { \"$work/spender.sh\" }, dialect = \"codex\" },"
cat >"$work/spender.sh" <<EOF
#!/bin/sh
cat >/dev/null
echo '{"type":"thread.started","thread_id":"t-1"}'
echo '{"type":"turn.completed","usage":{"input_tokens":2900,"output_tokens":100}}'
sleep $M.2
EOF
chmod +x "$work/spender.sh"
sed -i 's/^  stuck_after = "5m"/  stuck_after = "1s"/' .agent/config.lua
# set_notify TEXT: the config's notify setting.
set_notify() {
  NOTIFY=$(echo "$1" | tr '\n' ' ') "$S" -e '
    local f = assert(io.open(".agent/config.lua")); local text = f:read("a"); f:close()
    text = text:gsub("\n  notify = [^\n]*\n", "\n", 1):gsub("\nreturn {\n", function() return "\nreturn {\n  notify = " .. os.getenv("NOTIFY") .. ",\n" end, 1)
    f = assert(io.open(".agent/config.lua", "w")); f:write(text); f:close()'
}
set_notify "{ { kind = \"webhook\", url = \"http://127.0.0.1:$port/hook\", rate = 100 },
  { kind = \"webhook\", url = \"http://127.0.0.1:$port/slack\", format = \"slack\", events = { \"review\" }, rate = 100 },
  { kind = \"ntfy\", url = \"http://127.0.0.1:$port/topic\", events = { \"needs_input\", \"budget\" } } }"
grep -q 'kind = "ntfy"' .agent/config.lua || echo "FAIL: the notify setting was not written" >&2

# --- a run ready for review, in the background ---------------------------------------------------
"$S" task create --title "Plain" --goal "Say done" --status ready >/dev/null
expect_run "a background run" 0 "^R-\d+\n$" "" -- "$S" run T-0001 --runner plain --background
plain=$(run_id)
wait_until "the review webhook" 60 got /hook review "$plain"
wait_until "Slack's too" 30 got /slack "" "$plain"
body=$(received /hook review)
eq "the webhook's body: source, version, event, run, task, status, runner" \
  "sidecar 1 review $plain T-0001 review plain" \
  "$(echo "$body" | jv .source) $(echo "$body" | jv .version) $(echo "$body" | jv .event) $(echo "$body" | jv .run_id) \
$(echo "$body" | jv .task_id) $(echo "$body" | jv .status) $(echo "$body" | jv .runner)"
eq "the webhook's message and title" "$plain ended review: all done here|Sidecar: $plain review" \
  "$(echo "$body" | jv .message)|$(echo "$body" | jv .title)"
eq "the webhook names the repository" "$work/notify" "$(echo "$body" | jv .repo)"
eq "Slack's body: text only" "Sidecar: $plain review
$plain ended review: all done here" "$(received /slack | jv .text)"
eq "ntfy does not want review" 0 "$(sent "3:ntfy.*$plain")"
eq "the two that want it" 2 "$(sent "$plain:review")"
wait_until "both attempts recorded in the run's events" 30 recorded "$plain" '"kind":"notify.sent"' 2
first=$(grep '"kind":"notify.sent"' .agent/runs/$plain/events.jsonl | grep '"channel":"1:' | head -1)
eq "each attempt: channel, event, HTTP status" "1:webhook:127.0.0.1:$port review 200 1" \
  "$(echo "$first" | jv .fields.channel | sed 's/#.*//') $(echo "$first" | jv .fields.event) \
$(echo "$first" | jv .fields.http_status) $(echo "$first" | jv .fields.attempt)"

# --- runs whose validation decides: told after it, as it ended -----------------------------------
"$S" task create --title "Checked" --goal "Say done" --status ready --validate-cmds "test:true" >/dev/null
"$S" task create --title "Failing" --goal "Say done" --status ready --validate-cmds "test:false" >/dev/null
"$S" run T-0002 --runner plain >/dev/null 2>&1
checked=$(runs_where task_id T-0002 | head -1)
"$S" run T-0003 --runner plain >/dev/null 2>&1
failing=$(runs_where task_id T-0003 | head -1)
eq "validation passed: review told once; failed: blocked told once" "2 1" \
  "$(sent "$checked:review") $(sent "$failing:blocked")"
wait_until "the blocked run's webhook" 30 got /hook blocked "$failing"
eq "its reason names the failing step" yes \
  "$(received /hook blocked | grep "$failing" | jv .reason | grep -qi 'test' && echo yes)"

# --- a stuck run: needs input, told once ---------------------------------------------------------
expect_run "a quiet agent in the background" 0 "^R-\d+\n$" "" -- "$S" run T-0001 --runner quiet --background
quiet=$(run_id)
wait_until "the needs-input notification (ntfy)" 60 got /topic "" "$quiet"
line=$(grep "/topic" "$recv_log" | grep "$quiet" | head -1)
eq "ntfy: title, tags and priority headers; the message as the body" \
  "Sidecar: $quiet needs you (stuck)|sidecar,needs_input|high|yes" \
  "$(echo "$line" | jv .headers.Title)|$(echo "$line" | jv .headers.Tags)|$(echo "$line" | jv .headers.Priority)|\
$(echo "$line" | jv .body | grep -q "^$quiet is stuck: no output for" && echo yes)"
eq "the webhook had it too, with the attention" "stuck" "$(received /hook needs_input | jv .attention)"
"$S" run kill "$quiet" >/dev/null 2>&1
ended() { [ "$("$S" run show "$1" --json | jv .data.status)" = "$2" ]; }
wait_until "$quiet ended" 60 ended "$quiet" interrupted
eq "stuck was told once to each channel that wants it" 2 "$(sent "$quiet:stuck")"
eq "a stopped run: no channel wants 'stopped'" 0 "$(sent "$quiet:stopped")"

# --- a budget stop --------------------------------------------------------------------------------
expect_run "a run over its budget" 0 "^R-\d+\n$" "" -- "$S" run T-0001 --runner spender --budget-tokens 2000 --background
spent=$(run_id)
wait_until "the budget notification" 60 got /hook budget "$spent"
eq "the budget event, with the reason" "budget budget_exceeded yes" \
  "$(received /hook budget | jv .event) $(received /hook budget | jv .status) \
$(received /hook budget | jv .reason | grep -q 'over the limit of 2000 tokens' && echo yes)"

# --- a secret in what is told ---------------------------------------------------------------------
"$S" run T-0001 --runner leaky >/dev/null 2>&1
leaky=$(runs_where runner_type leaky | head -1)
wait_until "the leaky run told" 30 got /hook "" "$leaky"
eq "a secret in the summary never reaches an endpoint" "0 yes" \
  "$(grep -c 'ghp_0123456789' "$recv_log") $(grep "$leaky" "$recv_log" | grep -q 'REDACTED' && echo yes)"

# --- an agent's words cannot ping a Slack channel ----------------------------------------------------
add_runners "    pinger = { command = { \"sh\", \"-c\", \"cat >/dev/null; echo '<!channel> look <http://x|here> & more'\" } },"
"$S" run T-0001 --runner pinger >/dev/null 2>&1
pinger=$(runs_where runner_type pinger | head -1)
wait_until "the pinger's review on Slack" 30 got /slack "" "$pinger"
eq "Slack's text: <, > and & escaped" yes \
  "$(received /slack | grep "$pinger" | jv .text | grep -qF '&lt;!channel&gt; look &lt;http://x|here&gt; &amp; more' && echo yes)"

# --- an agent's escapes reach no endpoint, in any field -------------------------------------------
add_runners "    escaper = { command = { \"sh\", \"-c\", \"cat >/dev/null; printf 'esc \\\\033]0;pwn\\\\007 \\\\033[31mred\\\\n'\" } },"
"$S" run T-0001 --runner escaper >/dev/null 2>&1
escaper=$(runs_where runner_type escaper | head -1)
wait_until "the escaper's review told" 30 got /hook "" "$escaper"
eq "no escape in the body, the summary shown as a terminal would harmlessly" "0 yes" \
  "$(received /hook | grep "$escaper" | grep -c 'u001b\|u0007') \
$(received /hook | grep "$escaper" | jv .summary | grep -qF 'esc ^[]0;pwn^G ^[[31mred' && echo yes)"

# --- a preset of four steps: one notification -----------------------------------------------------
mkdir -p .agent/presets
cat >.agent/presets/four.lua <<'LUA'
local preset = require("sidecar.preset.define")
return preset.define({
  name = "four",
  summary = "four agents",
  run = function(ctx)
    local jobs = {}
    for i = 1, 4 do
      jobs[i] = { kind = "scan", prompt = "Step " .. i }
    end
    ctx:agents(jobs)
    return { ok = true, text = "four done\n" }
  end,
})
LUA
before=$(wc -l <.agent/notify/sent.jsonl)
expect_run "a preset of four steps" 0 "four done" "" -- "$S" preset run four --runner plain
eq "one notification per channel for the whole preset, none per step" "2 2" \
  "$(tail -n +$((before + 1)) .agent/notify/sent.jsonl | wc -l) $(tail -n +$((before + 1)) .agent/notify/sent.jsonl | grep -c '|preset:')"
wait_until "the preset's notification" 30 got /hook review "preset four ended review"
pbody=$(received /hook review | grep "preset four")
eq "the preset's body: kind, name, status, its four runs" "preset four review 4" \
  "$(echo "$pbody" | jv .kind) $(echo "$pbody" | jv .name) $(echo "$pbody" | jv .status) \
$(echo "$pbody" | "$S" -e 'print(#require("sidecar.core.json").decode(io.read("a")).runs)')"

# --- a pipeline of two: one notification ----------------------------------------------------------
before=$(wc -l <.agent/notify/sent.jsonl)
"$S" run T-0001 --runner plain,plain >/dev/null 2>&1
eq "one notification per channel for the pipeline, none per step" "2 2" \
  "$(tail -n +$((before + 1)) .agent/notify/sent.jsonl | wc -l) $(tail -n +$((before + 1)) .agent/notify/sent.jsonl | grep -c '|pipeline:')"
wait_until "the pipeline's notification" 30 got /hook review "pipeline .* ended review (2 runs"

# --- a preset that does not end well: interrupted (SIGTERM, its terminal closed) or raising -------
set_notify "{ { kind = \"webhook\", url = \"http://127.0.0.1:$port/ends\", events = { \"stopped\", \"failed\", \"budget\", \"unknown\" },
  rate = 100 } }" # more than the default 6 a minute
cat >.agent/presets/stopper.lua <<'LUA'
local preset = require("sidecar.preset.define")
return preset.define({
  name = "stopper",
  summary = "one agent, then a wait that is stopped",
  params = { raise = { type = "boolean", default = false, doc = "raise instead of waiting" },
    budget = { type = "boolean", default = false, doc = "stop as a batch the budget cannot cover does" },
    batch = { type = "boolean", default = false, doc = "its step as a batch's, in a worker" },
    early = { type = "boolean", default = false, doc = "wait before its first step, its task made" } },
  run = function(ctx, p)
    if p.early then
      ctx:store()
    elseif p.batch then
      ctx:agents({ { kind = "scan", prompt = "Step one" } })
    else
      ctx:agent({ kind = "scan", prompt = "Step one" })
    end
    if p.raise then
      error("the preset broke after its first step")
    elseif p.budget then -- as the Slurm executor stops a batch (stdlib/sidecar/executor/slurm_preset.lua)
      require("sidecar.core.errors").raise("budget_exceeded", "the budget cannot cover the next step")
    end
    print("waiting")
    io.stdout:flush()
    for _ = 1, 120 do
      require("sidecar.host.time").sleep_ms(1000)
    end
  end,
})
LUA
"$S" preset run stopper --runner plain >"$work/stopper.out" 2>&1 &
stopper=$!
wait_until "the preset ran its step and waits" 60 grep -q waiting "$work/stopper.out"
kill -TERM "$stopper"
wait "$stopper"
eq "SIGTERM: the preset ends as an interrupted command does" 143 $?
wait_until "a preset stopped (SIGTERM) is told, once for the whole" 30 got /ends stopped \
  "preset stopper ended interrupted (1 run: R-[0-9]*): interrupted!"
expect_run "a preset that raises: where, with its frames, for its author" 1 "" \
  "\nsidecar: preset run: preset stopper raised an error: [^\n]*stopper\.lua:[0-9]+: the preset broke after its first step\nstack traceback:\n\t.*stopper\.lua:[0-9]+: in function" -- \
  "$S" preset run stopper --runner plain -p raise=true
eq "a preset that raises: none of Sidecar's frames" 0 "$(grep -c 'sidecar/\|in ?' "$work/err")"
expect_run "a preset that raises, --json: its error, its frames and its run" 1 \
  '"runs": \[\n\s*"R-[0-9]+"\n\s*\],\n\s*"traceback": "[^"]*stopper\.lua.*"code": "preset_error"' "" -- \
  "$S" preset run stopper --runner plain -p raise=true --json
wait_until "a preset that raised is told, failed" 30 got /ends failed \
  "preset stopper ended failed (1 run: R-[0-9]*): .*the preset broke after its first step"
expect_run "a preset stopped by a step the budget cannot cover" 1 "" \
  "sidecar: preset run: the budget cannot cover the next step\n" -- "$S" preset run stopper --runner plain -p budget=true
wait_until "and is told, budget" 30 got /ends budget \
  "preset stopper ended budget_exceeded (1 run: R-[0-9]*): the budget cannot cover the next step"
# stop_running PRESET N SIGNAL: runs PRESET on the slow runner and sends SIGNAL to its process once
# N agents run; its exit status in $stopped (called in this shell, so that its checks are counted).
stop_running() {
  "$S" preset run "$1" --runner slow >/dev/null 2>&1 &
  local pid=$!
  wait_until "$1: $2 agents run" 60 sh -c "[ \$(pgrep -fc '^sleep 41\\.5\$') -ge $2 ]"
  kill "-$3" "$pid"
  stopped=0
  wait "$pid" 2>/dev/null || stopped=$?
}
# stopped while its steps run: side by side (ctx:agents), or one (ctx:agent, in the preset's process)
stop_running four 4 TERM
eq "SIGTERM while its four steps run: the preset ends interrupted" 143 "$stopped"
wait_until "and is told, with the four runs it was running" 30 got /ends stopped \
  "preset four ended interrupted (4 runs: R-[0-9]*, R-[0-9]*, R-[0-9]*, R-[0-9]*): interrupted!"
stop_running stopper 1 TERM
eq "SIGTERM while its one step runs: the preset ends interrupted" 143 "$stopped"
wait_until "and is told, with the run it was running" 30 got /ends stopped \
  "preset stopper ended interrupted (1 run: R-[0-9]*): interrupted!" 2
# killed: its workers' pool tells it
stop_running four 4 KILL # (its status: killed, as meant)
wait_until "a preset killed with SIGKILL is told by its workers' pool, stopped" 60 got /ends stopped \
  "preset four ended interrupted (4 runs: R-[0-9]*, R-[0-9]*, R-[0-9]*, R-[0-9]*): its process ended before its runs did"
eq "and its runs are recorded interrupted, not left running" "interrupted interrupted interrupted interrupted" \
  "$(for r in $(received /ends stopped | grep "preset four.*its process ended" | run_ids -); do
       field .agent/runs/$r/run.json .status; done | tr '\n' ' ' | sed 's/ $//')"
# killed while it runs its one step in its own process: told once a later command finds that run dead
stop_running stopper 1 KILL
rid=$(ls .agent/runs | grep '^R-' | sort | tail -1)
"$S" run show "$rid" >/dev/null 2>&1 # finds the run's owner gone: one run read on its own
wait_until "a preset killed with SIGKILL while it ran a step itself is told when its run is found dead" 30 \
  got /ends unknown "preset stopper ended outcome_unknown (1 run: $rid): the sidecar process that ran it .* died"
ptask=$(field ".agent/runs/$rid/run.json" .task_id)
eq "and its task is blocked by that read, saying why" "blocked preset stopper: its process ended before the preset did" \
  "$(field ".agent/tasks/$ptask.json" .status) $(field ".agent/tasks/$ptask.json" .blockers.1)"
# killed between two steps (its step, run by a worker that has ended, is over; the preset waits):
# its task, left running, is its own while it lives; once it is gone, a later command blocks the
# task, saying why (never ready: `run queue` would run it), and tells the preset's end, once
"$S" preset run stopper --runner plain -p batch=true >"$work/stopper.out" 2>&1 &
stopper=$!
wait_until "the preset ran its step and waits" 60 grep -q waiting "$work/stopper.out"
ptask=$("$S" task list --json | jv .data.1.task_id)
before=$(wc -l <.agent/notify/sent.jsonl)
"$S" task list >/dev/null 2>&1
eq "a preset alive between two steps: its task left running by later commands, nothing told" \
  "preset stopper running $before" \
  "$("$S" task show "$ptask" --json | jv .data.title) $("$S" task show "$ptask" --json | jv .data.status) $(wc -l <.agent/notify/sent.jsonl)"
kill -KILL "$stopper"
wait "$stopper" 2>/dev/null
"$S" task list >/dev/null 2>&1 # finds its task left running, its preset gone
wait_until "a preset killed between two steps is told, unknown, once a later command finds it gone" 30 \
  got /ends unknown "preset stopper ended outcome_unknown (1 run: R-[0-9]*): its process ended before the preset did"
"$S" run list >/dev/null 2>&1
eq "once, its task blocked, saying why" "$((before + 1)) blocked preset stopper: its process ended before the preset did" \
  "$(wc -l <.agent/notify/sent.jsonl) $("$S" task show "$ptask" --json | jv .data.status) $("$S" task show "$ptask" --json | jv .data.blockers.1)"
# killed before its first step (its task made): blocked too, once a later command finds it gone;
# nothing is told, as it ran nothing
"$S" preset run stopper --runner plain -p early=true >"$work/stopper.out" 2>&1 &
stopper=$!
wait_until "the preset made its task and waits" 60 grep -q waiting "$work/stopper.out"
ptask=$("$S" task list --json | jv .data.1.task_id)
before=$(wc -l <.agent/notify/sent.jsonl)
eq "a preset alive before its first step: its task left running" "preset stopper running" \
  "$("$S" task show "$ptask" --json | jv .data.title) $("$S" task show "$ptask" --json | jv .data.status)"
kill -KILL "$stopper"
wait "$stopper" 2>/dev/null
"$S" task list >/dev/null 2>&1
eq "killed before its first step: its task blocked, saying why; nothing told" \
  "blocked preset stopper: its process ended before the preset did $before" \
  "$("$S" task show "$ptask" --json | jv .data.status) $("$S" task show "$ptask" --json | jv .data.blockers.1) $(wc -l <.agent/notify/sent.jsonl)"
# its steps' owner killed while the preset goes on (the preset stopped meanwhile, so that it cannot
# notice first): those steps, found dead by a later command, are the preset's to tell at its end, once
"$S" preset run four --runner slow >/dev/null 2>&1 &
four=$!
wait_until "four: 4 agents run" 60 sh -c "[ \$(pgrep -fc '^sleep 41\\.5\$') -ge 4 ]"
pool=$(pgrep -f '^sleep 41\.5$' | head -1)
while [ -n "$pool" ] && ! tr '\0' ' ' <"/proc/$pool/cmdline" | grep -q 'preset\.worker'; do
  pool=$(ps -o ppid= -p "$pool" | tr -d ' ')
done
before=$(wc -l <.agent/notify/sent.jsonl) unknown=$(runs_where status outcome_unknown | wc -l)
kill -STOP "$four"
kill -KILL "$pool"
wait_until "its pool is gone" 30 sh -c "[ ! -e /proc/$pool ] || grep -q '^State:.*Z' /proc/$pool/status"
"$S" run list >/dev/null 2>&1 # finds the steps' owner gone
eq "those steps are found dead" $((unknown + 4)) "$(runs_where status outcome_unknown | wc -l)"
eq "its task stays the preset's, running (never ready: \`run queue\` would run it)" "preset four running" \
  "$("$S" task list --json | jv .data.1.title) $("$S" task list --json | jv .data.1.status)"
eq "steps found dead while their preset lives tell nothing yet" "$before" "$(wc -l <.agent/notify/sent.jsonl)"
kill -TERM "$four"
kill -CONT "$four"
wait "$four" 2>/dev/null
wait_until "and the preset's end is told, once, with its four runs" 30 got /ends stopped \
  "preset four ended interrupted (4 runs: R-[0-9]*, R-[0-9]*, R-[0-9]*, R-[0-9]*): interrupted!" 2
eq "once" 1 "$(($(wc -l <.agent/notify/sent.jsonl) - before))"

# --- dead and slow endpoints cost the run nothing; what is retried ----------------------------------
set_notify "{ { kind = \"webhook\", url = \"http://127.0.0.1:$dead/gone\" },
  { kind = \"webhook\", url = \"http://127.0.0.1:$port/slow/20\", timeout = \"2s\" },
  { kind = \"webhook\", url = \"http://127.0.0.1:$port/status/503\" },
  { kind = \"webhook\", url = \"http://127.0.0.1:$port/status/404\" } }"
start=$(date +%s%N)
"$S" run T-0001 --runner plain >/dev/null 2>&1
took=$((($(date +%s%N) - start) / 1000000))
slowrun=$(runs_where runner_type plain | head -1)
eq "a run told to dead and slow endpoints ends without waiting for them (under 8 s)" yes \
  "$([ "$took" -lt 8000 ] && echo yes || echo "no: $took ms")"
echo "  the run took $took ms; the slow endpoint answers after 20 s"
eq "its senders, still at work, are not taken for the run's leftovers: it ended review" review \
  "$(field .agent/runs/$slowrun/run.json .status)"
wait_until "the 503 tried three times" 60 got /status/503 "" "$slowrun" 3
# failures_of PATTERN: the notify.failed events of the run whose channel matches PATTERN.
failures_of() { grep '"kind":"notify.failed"' .agent/runs/$slowrun/events.jsonl | grep -- "$1"; }
wait_until "the dead endpoint's three attempts recorded" 60 recorded "$slowrun" "\"attempt\":3.*:$dead#"
wait_until "the 404's one attempt recorded" 30 grep -q '"http_status":404' .agent/runs/$slowrun/events.jsonl
eq "a 404 is not tried again" 1 "$(grep -c '/status/404' "$recv_log")"
eq "the dead endpoint's failure says why" yes \
  "$(failures_of ":$dead#" | head -1 | jv .fields.why | grep -qi 'connect' && echo yes)"
eq "the dead endpoint: three attempts, each recorded" 3 "$(failures_of ":$dead#" | wc -l)"

# A needs-input notification sent while the agent still runs, to an endpoint slower than the run's
# end: the sender (an orphan this process adopts while its agent runs) is neither killed nor
# recorded as the agent's, and the run ends review.
add_runners "    pause = { command = { \"sh\", \"-c\", \"cat >/dev/null; echo started; sleep 2.5; echo resumed\" } },"
set_notify "{ { kind = \"webhook\", url = \"http://127.0.0.1:$port/slow/7\", events = { \"needs_input\" }, timeout = \"10s\" } }"
"$S" run T-0001 --runner pause >/dev/null 2>&1
paused=$(runs_where runner_type pause | head -1)
eq "a run whose needs-input sender outlives it ends review, nothing of it swept" "review 0" \
  "$(field .agent/runs/$paused/run.json .status) $(grep -c 'sidecar-notify\|notify --deliver' .agent/runs/$paused/run.json)"
wait_until "the slow needs-input notification arrived" 30 got /slow/7 needs_input "$paused"
wait_until "and was recorded sent" 30 recorded "$paused" '"kind":"notify.sent"'

# --- rate and dedupe ------------------------------------------------------------------------------
set_notify "{ { kind = \"webhook\", url = \"http://127.0.0.1:$port/rated\", name = \"rated\", rate = 1, events = { \"review\", \"blocked\", \"failed\" } } }"
"$S" run T-0001 --runner plain >/dev/null 2>&1
"$S" run T-0001 --runner plain >/dev/null 2>&1
second=$(runs_where runner_type plain | head -1)
eq "rate = 1: one sent in the minute, the other left out" 1 "$(sent '"channel":"rated"')"
eq "what was left out is recorded, saying why" "over its rate (1 a minute)" \
  "$(grep '"kind":"notify.skipped"' .agent/runs/$second/events.jsonl | head -1 | jv .fields.why)"

# --- sidecar notify --test, and config errors ---------------------------------------------------
set_notify "{ { kind = \"webhook\", url = \"http://127.0.0.1:$port/test\", name = \"team\" },
  { kind = \"webhook\", url = \"http://127.0.0.1:$dead/x\", events = { \"failed\" } } }"
expect_run "notify --test: each channel and what it answered" 0 "team +webhook +sent.*\n2:webhook:127.0.0.1:$dead#[0-9a-f]{8} +webhook +not wanted" "" \
  -- "$S" notify --test
expect_run "notify --test --event failed: the dead one fails, exit 1" 1 "2:webhook:127.0.0.1:$dead#[0-9a-f]{8} +webhook +failed +.*onnect" "" \
  -- "$S" notify --test --event failed
set_notify "{ { kind = \"command\", command = { \"no-such-notifier-$M\" }, name = \"missing\" },
  { kind = \"webhook\", url = \"http://127.0.0.1:$port/test\", name = \"team\" } }"
expect_run "notify --test: a command that is not installed fails its channel, the next is still sent" 1 \
  "missing +command +failed +.*no-such-notifier.*\n.*team +webhook +sent" "" -- "$S" notify --test
set_notify "{ { kind = \"webhook\", url = \"http://127.0.0.1:$port/test\", name = \"team\" },
  { kind = \"webhook\", url = \"http://127.0.0.1:$dead/x\", events = { \"failed\" } } }"
expect_run "notify --test --json" 0 '"channel": "team"' "" -- "$S" notify --test --json
expect_run "notify --event nonsense" 2 "" "unknown event" -- "$S" notify --test --event nonsense
expect_run "notify --event \"\": refused, not taken as review" 2 "" \
  "event: an empty value; give EVENT, or leave the flag out" -- "$S" notify --test --event ""
set_notify '{ { kind = "webhook", url = "ftp://x" } }'
expect_run "a bad URL names the setting" 1 "" "notify\[1\]\.url: expected an http:// or https:// URL" -- "$S" notify --test
set_notify '{ { kind = "pager" } }'
expect_run "a bad kind names the setting" 1 "" "notify\[1\]\.kind: expected one of command, desktop, ntfy, webhook" -- "$S" notify --test
set_notify '{ { kind = "webhook", url = "http://x", events = { "reveiw" } } }'
expect_run "a misspelt event names it, and what was meant" 1 "" \
  'notify\[1\]\.events\[1\]: unknown event "reveiw" \(did you mean review\?\)' -- "$S" notify --test
set_notify '"echo legacy"'
expect_run "today's single command is not a list of channels" 1 "" "not a list of channels" -- "$S" notify --test
set_notify '{ { kind = "webhook", url = "https://discord.com/api/webhooks/1234567/SeCrEtToKeN-abc\n" } }'
expect_run "a URL with a line break: said, without its path (a token may be there)" 1 "" \
  "notify\[1\]\.url: expected an http:// or https:// URL, got one holding a space or a line break" -- "$S" notify --test
eq "the URL's token is not printed" "0" "$(grep -c SeCrEtToKeN "$work/err")"
set_notify '{ { kind = "webhok", url = "http://x" } }'
expect_run "a misspelt kind: the one meant" 1 "" 'notify\[1\]\.kind: .*got "webhok" \(did you mean webhook\?\)' -- \
  "$S" notify --test
set_notify '{ { kind = "desktop", url = "http://x" } }'
expect_run "a setting the kind has not" 1 "" "notify\[1\]\.url: a desktop channel has none" -- "$S" notify --test
set_notify '{ { kind = "webhook", url = "http://127.0.0.1:99999/x" } }'
expect_run "a port out of range" 1 "" "notify\[1\]\.url: .*port is not 1 to 65535" -- "$S" notify --test
set_notify "{ { kind = \"command\", command = \"sleep 30\", timeout = \"1s\", name = \"slow\" },
  { kind = \"desktop\", name = \"desk\" } }"
before=$failed
(
  unset DBUS_SESSION_BUS_ADDRESS
  export XDG_RUNTIME_DIR=$work/runtime-nobus
  mkdir -p "$XDG_RUNTIME_DIR"
  expect_run "notify --test: a command past its timeout says so; no session bus is skipped, not failed" 1 \
    "slow +command +failed +timed out after 1\.0s.*\n.*desk +desktop +skipped +no session bus" \
    "notify: trying channel slow \(command; its answer awaited up to 1\.0s\)" -- "$S" notify --test
  expect_run "notify --test --json: what failed, in its errors" 1 '"message": "slow: timed out after 1\.0s' "" -- \
    "$S" notify --test --json
  set_notify '{ { kind = "desktop", name = "desk" } }'
  expect_run "notify --test: a desktop with no session bus alone passes" 0 "desk +desktop +skipped" "" -- "$S" notify --test
  set_notify '{ { kind = "desktop", name = "desk", events = { "failed" } } }'
  expect_run "notify --test: no channel wants the event, said (exit 1)" 1 "not wanted" \
    "no channel wants the review event: nothing was sent" -- "$S" notify --test
  [ "$failed" -eq "$before" ]
) || failed=$((failed + 1))
# A repository whose folder's name is not UTF-8 and holds an escape: told all the same, harmlessly.
odd=$(printf 'odd-\033[31m-\377')
here_repo=$PWD
mkdir -p "$work/$odd" && cd "$work/$odd" && git init -q && "$S" init >/dev/null
set_notify "{ { kind = \"webhook\", url = \"http://127.0.0.1:$port/odd\", name = \"odd\" } }"
expect_run "notify --test from a folder whose name is not UTF-8" 0 "odd +webhook +sent" "" -- "$S" notify --test
eq "its body names the folder harmlessly" yes \
  "$(received /odd | jv .repo | grep -qF 'odd-^[[31m-\xFF' && echo yes)"
cd "$here_repo" || exit 1

mkdir -p "$work/elsewhere"
before=$failed
(
  cd "$work/elsewhere" || exit 1
  expect_run "notify --test with no store: said, nothing made" 1 "^$" "no Sidecar store at .*sidecar init" -- \
    "$S" notify --test
  eq "no .agent made" "no" "$(test -e .agent && echo yes || echo no)"
  [ "$failed" -eq "$before" ]
) || failed=$((failed + 1))

# --- a sender killed while its command runs ---------------------------------------------------------
# What the command left running (a background process, which no parent-death signal reaches) is
# ended by the next sender's recovery, before the notification is sent again.
set_notify "{ { kind = \"command\", name = \"hang\", events = { \"review\" }, command =
  \"if [ -e '$work/hung' ]; then echo again >>'$work/again'; exit 0; fi; : >'$work/hung'; sleep 300 & echo \$! >'$work/grandchild'; wait\" } }"
"$S" run T-0001 --runner plain >/dev/null 2>&1
wait_until "the command started its background process" 30 test -s "$work/grandchild"
gc=$(cat "$work/grandchild")
sender=$(ps -o ppid= -p "$(ps -o ppid= -p "$gc" | tr -d ' ')" | tr -d ' ')
eq "its sender is a detached notify sender" yes \
  "$(tr '\0' ' ' <"/proc/$sender/cmdline" | grep -q 'notify --deliver' && echo yes)"
kill -KILL "$sender"
wait_until "the sender is gone" 30 sh -c "[ ! -e /proc/$sender ] || grep -q '^State:.*Z' /proc/$sender/status"
eq "what its command started outlives it" yes "$(kill -0 "$gc" 2>/dev/null && echo yes)"
"$S" run T-0001 --runner plain >/dev/null 2>&1 # the next notification: its sender recovers the first
wait_until "what the killed sender's command left running is ended" 30 \
  sh -c "[ ! -e /proc/$gc ] || grep -q '^State:.*Z' /proc/$gc/status"
wait_until "the notification is sent again, and the next" 30 sh -c "[ \$(wc -l <'$work/again') -ge 2 ]"
eq "the log says so" yes "$(grep -q 'its sender ended before it was done (killed, or the machine stopped); [0-9]* process[es]* it had started, left running, ended: sent again' .agent/notify/log.jsonl && echo yes)"

# --- the desktop channel ----------------------------------------------------------------------------
set_notify '{ { kind = "desktop" } }'
(
  unset DBUS_SESSION_BUS_ADDRESS
  export XDG_RUNTIME_DIR=$work/runtime-nobus
  mkdir -p "$XDG_RUNTIME_DIR"
  "$S" run T-0001 --runner plain >/dev/null 2>&1
)
nobus=$(runs_where runner_type plain | head -1)
wait_until "no session bus: recorded as skipped" 30 grep -q '"kind":"notify.skipped"' .agent/runs/$nobus/events.jsonl
eq "it says why" yes "$(grep '"kind":"notify.skipped"' .agent/runs/$nobus/events.jsonl | jv .fields.why | grep -q 'no session bus' && echo yes)"
# The listener needs the python3-dbus and python3-gi of the system's Python (a pyenv one has neither).
py=
for p in python3 /usr/bin/python3; do "$p" -c 'import dbus, gi' 2>/dev/null && py=$p && break; done
if command -v dbus-daemon >/dev/null && [ -n "$py" ] && command -v notify-send >/dev/null; then
  dbus-daemon --session --fork --print-address=1 --print-pid=1 >"$work/bus" 2>/dev/null
  bus_addr=$(sed -n 1p "$work/bus") bus_pid=$(sed -n 2p "$work/bus")
  DBUS_SESSION_BUS_ADDRESS=$bus_addr "$py" "$here/notification_listener.py" "$work/desktop.jsonl" &
  listener=$!
  wait_until "the notification service is on the bus" 30 test -e "$work/desktop.jsonl"
  DBUS_SESSION_BUS_ADDRESS=$bus_addr "$S" run T-0001 --runner plain >/dev/null 2>&1
  desk=$(runs_where runner_type plain | head -1)
  wait_until "the desktop notification shown" 30 grep -q "$desk" "$work/desktop.jsonl"
  eq "its app, summary and body" "sidecar|Sidecar: $desk review|$desk ended review: all done here" \
    "$(grep "$desk" "$work/desktop.jsonl" | jv .app)|$(grep "$desk" "$work/desktop.jsonl" | jv .summary)|\
$(grep "$desk" "$work/desktop.jsonl" | jv .body)"
  wait_until "recorded as sent" 30 grep -q '"kind":"notify.sent"' .agent/runs/$desk/events.jsonl
  DBUS_SESSION_BUS_ADDRESS=$bus_addr "$S" run T-0001 --runner pinger >/dev/null 2>&1
  marked=$(runs_where runner_type pinger | head -1)
  wait_until "an agent's markup: shown" 30 grep -q "$marked" "$work/desktop.jsonl"
  eq "an agent's markup reaches the notification server as text, escaped (no link, no image it could make)" \
    "$marked ended review: &lt;!channel&gt; look &lt;http://x|here&gt; &amp; more" \
    "$(grep "$marked" "$work/desktop.jsonl" | jv .body)"
  kill "$listener" "$bus_pid" 2>/dev/null
else
  echo "FAIL: the desktop test needs dbus-daemon, python3-dbus, python3-gi and notify-send (scripts/setup installs them)" >&2
  failed=$((failed + 1))
fi

wait_until "the slow endpoint's three attempts timed out, each after 2 s" 60 recorded "$slowrun" '"attempt":3.*Timeout'
# No sender outlives the test (they write into its folder).
wait_until "every sender has ended" 60 sh -c "! pgrep -f '[n]otify --deliver .* --root $work' >/dev/null"
kill $(left '[0-9]') 2>/dev/null
finish
