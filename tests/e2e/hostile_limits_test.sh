#!/usr/bin/env bash
# End-to-end: a hostile agent against the bounds of its OS sandbox (issue 45, item 8;
# stdlib/sidecar/run/sandbox_limits.lua, host/sandbox/sandbox_init.hpp), with small ones configured
# (isolation.limits = { pids = 256, memory = "256MiB", tmp = "64MiB" }):
#   fork bomb     a loop that forks sleepers (bounded: four times the limit at most): stopped by
#                 the pids limit, every process of it gone, the machine's next run works;
#   thread bomb   threads until none can start (1024 at most), holding them and trying again:
#                 threads count as tasks;
#   memory hog    python3 holding 640 MiB: killed, the run failed naming the memory limit;
#   tmp, shm, home  writing 128 MiB into the private /tmp, /dev/shm and the emptied home: ENOSPC
#                 at 64 MiB;
#   events        128 MiB appended to its hooks' events file, which bubblewrap's sandbox has in
#                 memory outside it: every process of it killed past 64 MiB, the run failed naming
#                 the tmp limit;
#   validation    a validation step that hogs memory is stopped the same way, and says so;
#   setup         so is a worktree setup (it may run what an earlier agent wrote).
# Each case is prevented (and named in the record and `run show`), or the test fails; `hostile
# limits: tried N, prevented P, detected D, silent S` sums them up.
set -u
. "$(dirname "$0")/lib.sh" # S (absolute), here, root, $work; the shared helpers
. "$here/hostile_lib.sh"
cd "$work"
hostile_need_sandbox
M=8$((RANDOM % 900 + 100))$$ # the bombs' marker: sleep ${M}.N
trap 'pkill -KILL -f "sleep ${M}\." 2>/dev/null; [ "$failed" -eq 0 ] && rm -rf "$work"' EXIT

export HOME=$work/home
mkdir -p "$HOME" && git config --global user.email t@example.com && git config --global user.name T
hostile_watch_home # the cases leave the user's home alone
git init -q -b main repo && cd repo
echo base >a.txt && printf '.agent/\n' >.gitignore && git add -A && git commit -qm init
"$S" init >/dev/null
sed -i 's|^      pids = 4096,|      pids = 256,|; s|^      memory = "8GiB",|      memory = "256MiB",|; s|^      tmp = "2GiB",|      tmp = "64MiB",|' \
  .agent/config.lua
grep -q 'memory = "256MiB"' .agent/config.lua || echo "  (the config has no isolation.limits to set)" >&2

cat >"$work/agent.sh" <<'SH'
#!/bin/bash
cat >/dev/null
case $EVIL in
  fork-bomb) # forks until fork fails (bash tries again a while), four times the limit at most
    i=0
    while [ $i -lt 1024 ]; do sleep "$MARK.1" & i=$((i + 1)); done
    echo "forked $i: survived" ;;
  thread-bomb)
    exec python3 -c '
import threading, time
n, end = 0, time.time() + 20
while time.time() < end:  # a runaway holds what it made, and tries again for more
    try:
        if n < 1024:
            threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
            n += 1
        else:
            time.sleep(0.05)
    except RuntimeError:
        time.sleep(0.01)
print("threads", n, "survived")' ;;
  memory-hog) exec python3 -c '
import time
held = [b"x" * (16 << 20) for _ in range(40)]
time.sleep(30)
print("held", len(held) * 16, "MiB: survived")' ;;
  tmp | shm | home)
    d=/tmp && [ "$EVIL" = shm ] && d=/dev/shm
    [ "$EVIL" = home ] && d=$HOME
    head -c $((128 << 20)) /dev/zero >"$d/fill"
    echo "write exit $?, $(stat -c %s "$d/fill") bytes in $d" ;;
  events)
    head -c $((128 << 20)) /dev/zero >>"$SIDECAR_HOOK_EVENTS"
    sleep 20
    echo "slept: survived" ;;
  *) echo "nothing hostile" ;;
esac
SH
chmod +x "$work/agent.sh"
add_runners "    evil = { command = $(lua_list "$work/agent.sh") },"
sandbox_allow env EVIL MARK # the agent's orders, given by name
"$S" task create --title "hostile" --status ready >/dev/null
export MARK=$M

# run_case EVIL: runs the agent, sets $id and $rec (its run.json).
run_case() {
  EVIL=$1 "$S" run T-0001 --runner evil --sandbox read-only >"$work/$1.out" 2>&1
  id=$(run_ids "$work/$1.out" | head -n 1)
  rec=.agent/runs/$id/run.json
}

# --- fork bomb, thread bomb: stopped by the pids limit ------------------------------------------
for evil in fork-bomb thread-bomb; do
  run_case "$evil"
  why=""
  [ "$(field "$rec" .os_sandbox.limits.hit)" = pids ] || why="the record names no pids limit: $(head -3 "$work/$evil.out")"
  field "$rec" .failure_reason | grep -q "stopped by the pids limit (256 processes and threads)" ||
    why="${why:-failure_reason: $(field "$rec" .failure_reason)}"
  "$S" run show "$id" | grep -q "^Limits: .*stopped by the pids limit" || why="${why:-run show does not say so}"
  grep -q survived ".agent/runs/$id/stdout.log" && why="${why:-the agent went on: $(cat ".agent/runs/$id/stdout.log")}"
  poll 10 eval '[ -z "$(left 1)" ]'
  [ -z "$(left 1)" ] || why="${why:-sleepers left: $(left 1 | wc -w)}"
  peak=$(field "$rec" .os_sandbox.limits.peak_tasks)
  if [ -z "$why" ]; then hostile_case "$evil" prevented; else hostile_case "$evil" silent "$why"; fi
  echo "  $evil: stopped at $peak tasks ($(field "$rec" .os_sandbox.limits.by.pids))"
done
# The machine goes on: a process starts, and so does the next run.
run_case none
eq "the next run after the bombs" "review" "$(field "$rec" .status)"
eq "its agent ran" "nothing hostile" "$(cat ".agent/runs/$id/stdout.log")"
expect_run "the machine still forks" 0 "^ok\n$" "" -- sh -c 'sleep 0 & wait; echo ok'

# --- memory hog: killed, the run names the memory limit -----------------------------------------
run_case memory-hog
why=""
[ "$(field "$rec" .os_sandbox.limits.hit)" = memory ] || why="the record names no memory limit: $(head -3 "$work/memory-hog.out")"
field "$rec" .failure_reason | grep -q "stopped by the memory limit (256 MiB): killed [0-9]* [^ ]*python3 -c import time" ||
  why="${why:-failure_reason: $(field "$rec" .failure_reason)}"
"$S" run show "$id" | grep -q "^Limits: .*memory 256 MiB.*stopped by the memory limit" || why="${why:-run show does not say so}"
grep -q survived ".agent/runs/$id/stdout.log" && why="${why:-the hog held its memory: $(cat ".agent/runs/$id/stdout.log")}"
if [ -z "$why" ]; then hostile_case "memory hog" prevented; else hostile_case "memory hog" silent "$why"; fi

# --- tmp, shm: a full private tmpfs -------------------------------------------------------------
for evil in tmp shm home; do
  run_case "$evil"
  why=""
  said=$(cat ".agent/runs/$id/stdout.log" ".agent/runs/$id/stderr.log" 2>/dev/null)
  grep -q "No space left on device" <<<"$said" || why="no ENOSPC: $said"
  bytes=$(grep -oP 'write exit \d+, \K\d+' <<<"$said")
  [ -n "$bytes" ] && [ "$bytes" -le $((64 << 20)) ] || why="${why:-$bytes bytes written}"
  # The Landlock sandbox has no /tmp or /dev/shm of its own: the host's are not writable at all.
  [ "$HOSTILE_KIND" = landlock ] && [ "$evil" != home ] && grep -q "Permission denied" <<<"$said" &&
    [ ! -e "$([ "$evil" = shm ] && echo /dev/shm || echo /tmp)/fill" ] && why=""
  if [ -z "$why" ]; then hostile_case "$evil full" prevented; else hostile_case "$evil full" silent "$why"; fi
done
# --- events: its hooks' events file, in memory outside the sandbox (bubblewrap's), flooded ------
if [ "$HOSTILE_KIND" != landlock ]; then # Landlock's is in the run's folder, on the store's disk
  run_case events
  if [ "$(field "$rec" .os_sandbox.limits.by.shared)" != watch ]; then
    echo "  events flood: not tried, the sandbox's folder is not in memory here"
  else
    why=""
    [ "$(field "$rec" .os_sandbox.limits.hit)" = tmp ] || why="the record names no tmp limit: $(head -3 "$work/events.out")"
    field "$rec" .failure_reason | grep -q "stopped by the tmp limit (64 MiB): the files Sidecar made for it in memory" ||
      why="${why:-failure_reason: $(field "$rec" .failure_reason)}"
    "$S" run show "$id" | grep -q "^Limits: .*stopped by the tmp limit" || why="${why:-run show does not say so}"
    grep -q survived ".agent/runs/$id/stdout.log" && why="${why:-the agent went on: $(cat ".agent/runs/$id/stdout.log")}"
    if [ -z "$why" ]; then hostile_case "events flood" prevented; else hostile_case "events flood" silent "$why"; fi
  fi
fi
expect_run "run show names the bounds" 0 "Limits: +pids 256 \([a-z]+\), memory 256 MiB \([a-z]+\), /tmp 64 MiB" "" \
  -- "$S" run show "$id"

# --- validation: a step gets the same bounds ----------------------------------------------------
hog="python3 -c \"import time; held = [b'x' * (16 << 20) for _ in range(40)]; time.sleep(30); print('survived')\""
"$S" task create --title "checked" --status ready --validate-cmds "custom:$hog" >/dev/null # T-0002
EVIL=none "$S" run T-0002 --runner evil --sandbox read-only >"$work/validation.out" 2>&1
id=$(run_ids "$work/validation.out" | head -n 1)
rec=.agent/runs/$id/run.json
why=""
field "$rec" .validation.1.output_snippet | grep -q "stopped by the memory limit (256 MiB)" ||
  why="the step's output does not say so: $(field "$rec" .validation.1.output_snippet | tail -3)"
[ "$(field "$rec" .validation.1.ok)" = false ] || why="${why:-the step passed}"
field "$rec" .validation.1.output_snippet | grep -q survived && why="${why:-the step held its memory}"
if [ -z "$why" ]; then hostile_case "memory hog in validation" prevented; else hostile_case "memory hog in validation" silent "$why"; fi

# --- setup: the worktree's setup (it runs on code an earlier agent may have written) likewise -----
cp .agent/config.lua "$work/config.lua"
sed -i "s#^  worktree = {#  worktree = {\n    setup = [[python3 -c \"held = [b'x' * (16 << 20) for _ in range(40)]; import time; time.sleep(30); print('survived')\"]],#" \
  .agent/config.lua
grep -q "setup = \[\[python3" .agent/config.lua || echo "  (the config has no worktree table to set)" >&2
EVIL=none "$S" run T-0001 --runner evil --sandbox workspace-write >"$work/setup.out" 2>&1
id=$(run_ids "$work/setup.out" | head -n 1)
rec=.agent/runs/$id/run.json
why=""
[ "$(field "$rec" .worktree.setup.sandbox.limits.hit)" = memory ] ||
  why="the setup's record names no memory limit: $(head -3 "$work/setup.out")"
field "$rec" .failure_reason | grep -q "worktree setup .* stopped by the memory limit (256 MiB)" ||
  why="${why:-failure_reason: $(field "$rec" .failure_reason)}"
grep -q survived ".agent/runs/$id/setup.log" 2>/dev/null && why="${why:-the setup held its memory}"
if [ -z "$why" ]; then hostile_case "memory hog in the worktree setup" prevented
else hostile_case "memory hog in the worktree setup" silent "$why"; fi
cp "$work/config.lua" .agent/config.lua

hostile_summary limits
finish
