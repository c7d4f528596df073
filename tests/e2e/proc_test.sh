#!/usr/bin/env bash
# End-to-end: the children of a sidecar script never outlive it, however it ends (normally, on a
# Lua error, by os.exit, on Ctrl-C, on SIGTERM), and Ctrl-C says what it stopped.
set -u
. "$(dirname "$0")/lib.sh" # S (absolute), here, root, $work; the shared helpers
cd "$work"

# Starts two process groups (the second ignores SIGTERM), writes their ids to $1 once both shells
# have set their traps and started their sleeps, then ends as $2 says or waits.
cat >children.lua <<'LUA'
local proc = require("sidecar.core.proc")
local grace = tonumber(arg[3] or "300")
local ready = 0
local function options() return { kill_grace_ms = grace, stdout = { on_line = function() ready = ready + 1 end } } end
local a = proc.spawn(proc.shell("sleep 60 & echo ready; sleep 60"), options())
local b = proc.spawn(proc.shell("trap '' TERM; sleep 60 & echo ready; sleep 60"), options())
local deadline = os.time() + 60
while ready < 2 do
  assert(os.time() < deadline, "the children did not start within 60 s")
  proc.poll(20)
end
local f = assert(io.open(arg[1], "w"))
f:write(a:pid(), " ", b:pid(), "\n")
f:close()
local mode = arg[2]
if mode == "error" then error("boom") end
if mode == "exit" then os.exit(3) end
if mode == "return" then return end
a:wait()
LUA

# Running (non-zombie) processes in the groups listed in file $1.
live_in_groups() {
  local groups
  groups=$(cat "$1")
  ps -e -o pgid=,stat= | awk -v g=" $groups " '$2 !~ /^Z/ && index(g, " " $1 " ") { n++ } END { print n + 0 }'
}

# group_gone PGID: no running process is left in group PGID.
group_gone() { ! ps -e -o pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ { found = 1 } END { exit !found }'; }

# cpu_ticks PID: the CPU time PID has used so far, in clock ticks (user and system).
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }

# check_gone NAME PIDFILE: the groups exist no more.
check_gone() {
  local left
  left=$(live_in_groups "$2")
  if [ "$left" = 0 ]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL $1: $left processes of groups $(cat "$2") still running"
    ps -e -o pid,pgid,stat,cmd | awk -v g=" $(cat "$2") " 'index(g, " " $2 " ")'
  fi
}

for mode in return error exit; do
  status=0
  case $mode in return) status=0 ;; error) status=1 ;; exit) status=3 ;; esac
  expect_run "children stopped when the script ends ($mode)" $status '' '' -- "$S" script children.lua "pids_$mode" $mode
  check_gone "no process left after the script ends ($mode)" "pids_$mode"
done

# interrupt SIGNAL COUNT PIDFILE [GRACE]: runs children.lua in the background, sends SIGNAL once the
# children are up (COUNT 2: again once the first one is at work: the group that obeys SIGTERM is
# gone), and records exit status, stderr and the time it took.
interrupt() {
  local sig=$1 count=$2 pids=$3 grace=${4:-300}
  rm -f "$pids"
  "$S" script children.lua "$pids" wait "$grace" >"$work/out" 2>"$work/err" &
  local pid=$!
  wait_until "SIG$sig x$count: the children started" 60 test -s "$pids"
  local start=$(date +%s%N)
  kill -"$sig" $pid
  if [ "$count" = 2 ]; then
    wait_until "SIG$sig x2: the first one stopped a group" 60 group_gone "$(cut -d' ' -f1 "$pids")"
    kill -"$sig" $pid
  fi
  wait $pid
  int_status=$?
  int_ms=$((($(date +%s%N) - start) / 1000000))
}

expect_result() { # NAME CONDITION-DESCRIPTION TEST...
  local name=$1
  shift
  if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL $name"; sed 's/^/  stderr| /' "$work/err"; fi
}

interrupt INT 1 pids_int
expect_result "Ctrl-C exits 130 (got $int_status)" test "$int_status" = 130
expect_result "Ctrl-C says what it stopped" grep -q "interrupted! stopped 2 child processes" "$work/err"
expect_result "Ctrl-C prints no traceback" bash -c "! grep -q traceback '$work/err'"
# The children would sleep 60 s: half that tells the 0.3 s grace from waiting them out.
expect_result "Ctrl-C waits only the grace for a child ignoring SIGTERM (${int_ms} ms)" test "$int_ms" -lt 30000
check_gone "no process left after Ctrl-C" pids_int

interrupt TERM 1 pids_term
expect_result "SIGTERM exits 143 (got $int_status)" test "$int_status" = 143
check_gone "no process left after SIGTERM" pids_term

# A second Ctrl-C skips a long grace period: SIGKILL at once. (The grace is as long as the children's
# sleep: half of it tells the two apart however busy the machine is.)
interrupt INT 2 pids_twice 60000
expect_result "a second Ctrl-C exits 130 (got $int_status)" test "$int_status" = 130
expect_result "a second Ctrl-C does not wait out a 60 s grace (${int_ms} ms)" test "$int_ms" -lt 30000
check_gone "no process left after two Ctrl-C" pids_twice

# SIGTERM to a REPL waiting for a child: the child is stopped and the REPL reads nothing more.
mkfifo repl_in
"$S" repl <repl_in >"$work/out" 2>"$work/err" &
repl_pid=$!
exec 3>repl_in
printf 'h = require("sidecar.core.proc").spawn({"sleep", "60"}); f = io.open("pids_repl", "w"); f:write(h:pid(), "\\n"); f:close(); h:wait()\nprint("after")\n' >&3
for i in $(seq 100); do [ -s pids_repl ] && break; sleep 0.05; done
wait_until "the REPL's child started" 60 test -s pids_repl # (a busy machine may take longer)
kill -TERM $repl_pid
wait $repl_pid
repl_status=$?
exec 3>&-
expect_result "SIGTERM ends the REPL with 143 (got $repl_status)" test "$repl_status" = 143
expect_result "the REPL reads nothing after SIGTERM" bash -c "! grep -q after '$work/out'"
check_gone "no process left after SIGTERM to the REPL" pids_repl

# A SIGTERM ends the program even when a chunk caught its "interrupted!" (a pcall) and went on:
# the chunk's end exits 143, and no later chunk runs (each would start interrupted).
expect_run "SIGTERM caught by a pcall: the next chunk does not run, exit 143" 143 '^$' '^sidecar: interrupted!' \
  -- "$S" -e "pcall(function() os.execute('kill -TERM ' .. require('sidecar.host.procinfo').self().pid)
    while true do end end)" -e "print('the next chunk ran')"
expect_run "SIGTERM caught by the last chunk's pcall: exit 143 still" 143 '^$' '^sidecar: interrupted!' \
  -- "$S" -e "pcall(function() os.execute('kill -TERM ' .. require('sidecar.host.procinfo').self().pid)
    while true do end end)"

# Spawn failures are clear errors; a non-zero exit is data.
expect_run "a missing program names itself and the PATH" 1 '' \
  "cannot run 'no-such-program-x': not found in PATH \(/usr/bin:/bin\)" \
  -- env PATH=/usr/bin:/bin "$S" -e 'require("sidecar.core.proc").run({"no-such-program-x"})'
expect_run "a non-zero exit is data" 0 '^3\tfalse\n$' '' \
  -- "$S" -e 'local r = require("sidecar.core.proc").run({"sh", "-c", "exit 3"}); print(r.code, r.ok)'
expect_run "an unknown option is named" 1 '' "proc.run: unknown option 'timeout' \(options: .*timeout_ms" \
  -- "$S" -e 'require("sidecar.core.proc").run({"true"}, {timeout = 5})'

# Lua stuck inside one C call (a long gmatch) never sees the first SIGTERM; the second one ends it.
# The chunk writes a file and then only matches: CPU time spent after the file appeared is spent in
# gmatch. The second SIGTERM goes once the first has been taken (a pending one would merge).
READY=$work/stuck_ready "$S" -e 'io.open(os.getenv("READY"), "w"):close()
  local s = ("x"):rep(300000); for _ in s:gmatch("([^\n]*)\n") do end' &
stuck=$!
wait_until "the stuck chunk started" 60 test -e "$work/stuck_ready"
ticks=$(cpu_ticks "$stuck")
wait_until "the stuck chunk is inside gmatch" 60 eval '[ "$(cpu_ticks "$stuck")" -ge $((ticks + 20)) ]'
kill -TERM "$stuck"
wait_until "the first SIGTERM was taken" 60 signal_taken "$stuck" 15
sleep 0.3 # room for a wrong exit to show: what is checked next must not happen
kill -0 "$stuck" 2>/dev/null
expect_result "the first SIGTERM waits for Lua" test $? = 0
kill -TERM "$stuck"
stuck_status=0
wait "$stuck" || stuck_status=$?
expect_result "a second SIGTERM ends it at once (got $stuck_status)" test "$stuck_status" = 143

finish
