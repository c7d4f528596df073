#!/usr/bin/env bash
# End-to-end: the machine-wide cap on running agents (issue 51, item 3; stdlib/sidecar/run/agent_slots.lua).
# Three `sidecar preset run` processes, each fanning out 10 fake agents side by side, under
# max_agents = 8: never more than 8 agents alive at once (from each agent's own start and end
# times), all 30 done, and the runs that waited say so. Then, under a cap of 2: a `kill -9` of a
# process holding a slot frees it for the run waiting; and under a cap of 1, Ctrl-C of a waiting
# run leaves it interrupted and nothing of its place in line behind. A runner capped on its own
# (max_agents_per_runner) keeps to its cap under a wider machine cap.
set -u
. "$(dirname "$0")/lib.sh" # S (absolute), here, root, $work; the shared helpers
cd "$work" || exit 1
git_repo slots
# The fake agent: its start and end times (ns) in a file of its own, AGENT_SLEEP seconds between.
cat >"$work/agent.sh" <<'SH'
#!/bin/sh
cat >/dev/null
f=$(mktemp "$AGENT_LOG/a.XXXXXX")
echo "$(date +%s%N)" >"$f"
sleep "${AGENT_SLEEP:-1}"
echo "$(date +%s%N)" >>"$f"
echo "done"
SH
fan_of_agents "$work/agent.sh"
slots=$work/runtime/sidecar/agent-slots
# runs_where_slot CONDITION: how many runs' records hold an agent_slot `a` for which the Lua CONDITION holds.
runs_where_slot() {
  COND=$1 "$S" -e "
    local n, cond = 0, assert(load('local a = ...; return ' .. os.getenv('COND')))
    for _, d in ipairs(require('sidecar.host.paths').entries('.agent/runs')) do
      local f = io.open('.agent/runs/' .. d .. '/run.json'); local r = require('sidecar.core.json').decode(f:read('a')); f:close()
      if type(r.agent_slot) == 'table' and cond(r.agent_slot) then n = n + 1 end
    end
    print(n)"
}
# most_at_once: the largest number of agents alive together, from their start and end times.
most_at_once() {
  cat "$work"/agents/a.* | awk 'NR % 2 == 1 { print $1, 1 } NR % 2 == 0 { print $1, -1 }' | sort -n -k1,1 -k2,2 |
    awk '{ n += $2; if (n > m) m = n } END { print m + 0 }'
}

sed -i 's|^  runner = "command",|  runner = "command",\n  max_agents = 8,|' .agent/config.lua
pids=()
for i in 1 2 3; do
  AGENT_SLEEP=2 "$S" preset run fan --runner command -j 10 >"$work/fan$i.out" 2>"$work/fan$i.err" &
  pids+=($!)
done
status=0
for p in "${pids[@]}"; do wait "$p" || status=1; done
eq "three presets of 10 agents each under max_agents = 8: all three done" "0 3" \
  "$status $(grep -l '^10 of 10 agents done' "$work"/fan?.out | wc -l)"
eq "30 agents ran" 30 "$(ls "$work"/agents/a.* | wc -l)"
most=$(most_at_once)
eq "never more than 8 agents alive at once" yes "$([ "$most" -le 8 ] && echo yes || echo "no: $most")"
echo "  at most $most agents alive at once"
waited=$(grep -l '"kind":"agent_slot.waiting"' .agent/runs/R-*/events.jsonl | wc -l)
eq "the runs that waited said so, and recorded how long" yes \
  "$([ "$waited" -ge 2 ] && [ "$(runs_where_slot 'a.cap == 8 and a.waited_ms > 0')" -ge 2 ] && echo yes ||
    echo "no: $waited waited")"
eq "the presets said which of their runs waited (their workers' events, shown by each preset)" yes \
  "$([ "$(grep -h "waiting for an agent slot: 8 of 8 running (max_agents)" "$work"/fan?.err | wc -l)" -ge 1 ] && echo yes)"
grep -h "waiting for an agent slot" "$work"/fan?.err | head -1 | sed 's/^/  /'
# held_slots DIR: how many of the slot files in DIR are locked now (each tried without waiting)
held_slots() {
  local f n=0
  for f in "$1"/slot-*.lock; do
    [ -e "$f" ] && ! flock -n "$f" true && n=$((n + 1))
  done
  echo "$n"
}
eq "no slot is held once all have ended" "0 yes" \
  "$(held_slots "$slots") $([ "$(ls "$slots"/slot-*.lock | wc -l)" -ge 8 ] && echo yes)"

# A runner capped on its own: two presets of 4 agents each, under max_agents_per_runner = { command = 2 }
# (the machine's cap, 8, would let all eight run): never more than 2 alive, and the runs that
# waited say for which cap.
rm -f "$work"/agents/a.*
sed -i 's|^  max_agents = 8,|  max_agents = 8,\n  max_agents_per_runner = { command = 2 },|' .agent/config.lua
pids=()
for i in 1 2; do
  AGENT_SLEEP=1 "$S" preset run fan -p n=4 --runner command -j 4 >"$work/capped$i.out" 2>"$work/capped$i.err" &
  pids+=($!)
done
status=0
for p in "${pids[@]}"; do wait "$p" || status=1; done
eq "max_agents_per_runner: both presets done, 8 agents ran" "0 8" "$status $(ls "$work"/agents/a.* | wc -l)"
most=$(most_at_once)
eq "max_agents_per_runner: never more than 2 of the runner's agents alive at once" yes \
  "$([ "$most" -le 2 ] && echo yes || echo "no: $most")"
eq "the runs that waited said for which cap" yes \
  "$(grep -qh '"cap":2,"runner":"command","running":2},"kind":"agent_slot.waiting"' .agent/runs/R-*/events.jsonl && echo yes)"
eq "the runner's slot is recorded with the run" yes "$([ "$(runs_where_slot \
  "type(a.runner) == 'table' and a.runner.cap == 2 and a.runner.name == 'command' and a.runner.waited_ms > 0")" -ge 1 ] &&
  echo yes)"
eq "no runner slot is held once all have ended" "0 yes" \
  "$(held_slots "$slots/runner-command") $([ "$(ls "$slots"/runner-command/slot-*.lock | wc -l)" -ge 2 ] && echo yes)"
sed -i '/^  max_agents_per_runner = /d' .agent/config.lua

# A kill -9 of a process holding a slot frees it for the run waiting.
sed -i 's|^  max_agents = 8,|  max_agents = 2,|' .agent/config.lua
for t in 1 2 3 4; do "$S" task create --title "Slot $t" --goal "Say done" --status ready >/dev/null; done
rm -f "$work"/agents/a.*
AGENT_SLEEP=120 "$S" run T-0001 >/dev/null 2>&1 &
holder=$!
AGENT_SLEEP=120 "$S" run T-0002 >/dev/null 2>&1 &
other=$!
wait_until "kill -9: two agents hold both slots" 60 sh -c "[ \$(ls '$work'/agents/a.* 2>/dev/null | wc -l) -ge 2 ]"
AGENT_SLEEP=0 "$S" run T-0003 >"$work/third.out" 2>"$work/third.err" &
third=$!
wait_until "kill -9: the third run waits for a slot" 30 grep -q "waiting for an agent slot: 2 of 2 running" "$work/third.err"
kill -9 "$holder"
wait "$holder" 2>/dev/null # (its status: killed, as meant)
wait_until "kill -9: the waiting run gets the freed slot and ends" 60 sh -c "! kill -0 $third 2>/dev/null"
wait "$third"
eq "kill -9: the waiting run is done" 0 $?
third_run=$(grep -o 'R-[0-9]*' "$work/third.out" | head -1)
eq "kill -9: its agent ran in a slot of 2, after waiting" "2 yes" \
  "$(field ".agent/runs/$third_run/run.json" .agent_slot.cap) \
$([ "$(field ".agent/runs/$third_run/run.json" .agent_slot.waited_ms)" -gt 0 ] && echo yes)"
kill -TERM "$other" 2>/dev/null
wait "$other" 2>/dev/null

# Ctrl-C of a run waiting for a slot (cap 1): interrupted, no ticket left in line.
sed -i 's|^  max_agents = 2,|  max_agents = 1,|' .agent/config.lua
"$S" task create --title "Slot 5" --goal "Say done" --status ready >/dev/null
rm -f "$work"/agents/a.*
AGENT_SLEEP=120 "$S" run T-0005 >/dev/null 2>&1 &
other=$!
wait_until "Ctrl-C: an agent holds the one slot" 60 sh -c "ls '$work'/agents/a.* >/dev/null 2>&1"
AGENT_SLEEP=0 "$S" run T-0004 >"$work/fourth.out" 2>"$work/fourth.err" &
fourth=$!
wait_until "Ctrl-C: the run waits for a slot" 30 grep -q "waiting for an agent slot: 1 of 1 running" "$work/fourth.err"
eq "doctor: who waits, by pid" "$fourth" "$("$S" doctor --json | jv .data.agent_slots.waiting.1.pid)"
kill -INT "$fourth"
wait "$fourth"
fourth_run=$(grep -o 'R-[0-9]*' "$work/fourth.err" | head -1)
eq "Ctrl-C: the waiting run ends, interrupted" "interrupted" "$(field ".agent/runs/$fourth_run/run.json" .status)"
eq "Ctrl-C: and its events end with run.finished, as every run's (run tail -f, on_event)" "interrupted" \
  "$(grep '"kind":"run.finished"' ".agent/runs/$fourth_run/events.jsonl" | jv .fields.status)"
eq "Ctrl-C: nothing of its place in line is left" 0 "$(ls "$slots"/wait-*.lock 2>/dev/null | wc -l)"
kill -TERM "$other" 2>/dev/null
wait "$other" 2>/dev/null

# A SIDECAR_MAX_AGENTS that is no number: refused before any run is recorded.
before=$(ls .agent/runs | wc -l)
SIDECAR_MAX_AGENTS=0x10 expect_run "SIDECAR_MAX_AGENTS=0x10: refused, saying what it takes" 2 "^$" \
  "SIDECAR_MAX_AGENTS is '0x10': give a whole number from 1 to 1024" -- "$S" run T-0001
eq "and no run recorded for it" "$before" "$(ls .agent/runs | wc -l)"
SIDECAR_MAX_AGENTS=0x10 expect_run "SIDECAR_MAX_AGENTS=0x10: a preset is refused before its first step" 1 "^$" \
  "preset run: SIDECAR_MAX_AGENTS is '0x10'" -- "$S" preset run fan --runner command -j 2

# A cap for a runner there is not (a typo): refused, not a cap that bounds nothing.
cp .agent/config.lua "$work/config.lua.good"
sed -i 's|^  runner = "command",|  runner = "command",\n  max_agents_per_runner = { comand = 2 },|' .agent/config.lua
expect_run "a cap for no runner: the run is refused, naming the one meant" 2 "^$" \
  "config.lua: max_agents_per_runner.comand: no runner is named comand, so it would cap nothing \(did you mean command\?\)" \
  -- "$S" run T-0001
expect_run "a cap for no runner: so is a preset, before its first step" 1 "^$" \
  "preset run: .*max_agents_per_runner.comand: no runner is named comand" -- "$S" preset run fan --runner command -j 2
eq "and no run recorded for either" "$before" "$(ls .agent/runs | wc -l)"
expect_run "a cap for no runner: doctor says so" 1 "" "agents at once: .*max_agents_per_runner.comand: no runner is named" \
  -- "$S" doctor
cp "$work/config.lua.good" .agent/config.lua

# A slots' folder that cannot be used: the run goes on without the cap, saying so; doctor says so.
mv "$slots" "$slots.aside" && echo x >"$slots"
"$S" task create --title "Slot 6" --goal "Say done" --status ready >/dev/null
AGENT_SLEEP=0 expect_run "no slots' folder: the run goes on, saying it runs without the cap" 0 "" \
  "no agent slot to take, so it runs without the machine's cap on agents: cannot open the agent slots' folder" -- \
  "$S" run T-0006
eq "and its record says why" yes \
  "$(field ".agent/runs/$(ls -t .agent/runs | head -1)/run.json" .agent_slot.none | grep -q "agent slots' folder" && echo yes)"
expect_run "doctor: the slots cannot be used, an error" 1 "Agents at once: 0 running of 1 \(max_agents\) \(a problem below\)" \
  "agents at once: cannot open the agent slots' folder [^ ]*agent-slots: not a folder \\(remove what is there: Sidecar makes the folder\\): runs go on without this cap" -- "$S" doctor
rm -f "$slots" && mv "$slots.aside" "$slots"
# The default cap counts what this process may use of the machine, not what /proc/cpuinfo lists:
# under taskset, one core (four agents at most, fewer when memory allows fewer; two at least).
if command -v taskset >/dev/null; then
  cp .agent/config.lua "$work/config.lua.good"
  sed -i '/^  max_agents = /d' .agent/config.lua
  one=$(taskset -c 0 "$S" -e 'print(require("sidecar.core.machine").cores())')
  gib=$("$S" -e 'print(require("sidecar.core.machine").memory_bytes() // (2 * 1024 * 1024 * 1024))')
  want=$(((gib < 4 ? gib : 4) < 2 ? 2 : (gib < 4 ? gib : 4)))
  eq "taskset -c 0: one core this process may use" 1 "$one"
  report=$(env -u SIDECAR_MAX_AGENTS taskset -c 0 "$S" doctor --json)
  eq "taskset -c 0: doctor's default cap is one core's (min(4, memory / 2 GiB), 2 at least)" "$want default 1" \
    "$(jv data.agent_slots.cap <<<"$report") $(jv data.agent_slots.source <<<"$report") $(jv data.agent_slots.machine.cores <<<"$report")"
  expect_run "taskset -c 0: doctor says what the default was read from" 0 \
    "Agents at once: 0 running of $want \(default: 1 core and [0-9.]+ GiB this process may use\)" "" \
    -- env -u SIDECAR_MAX_AGENTS taskset -c 0 "$S" doctor
  cp "$work/config.lua.good" .agent/config.lua
fi
finish
