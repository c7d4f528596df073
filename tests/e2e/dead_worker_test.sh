#!/usr/bin/env bash
# End-to-end: no dead background worker goes unseen, and `run kill` leaves nothing of a run.
# (a) 50 background runs whose workers get kill -9 at a random moment (0-600 ms after the start; one
#     in five as soon as the start returns):
#     each is terminal within 5 s of the next `run list`, `run wait` returns, no process is left;
# (b) `run kill` of a run whose agent has a child in its group and a grandchild that left it with
#     setsid(): none survives; `run list` never ends a healthy run;
# (c) `run wait` and `run tail -f` on a run whose worker died return, non-zero, with the reason.
# Every agent process carries a marker unique to this test invocation (`sleep 4NNN.x`), which is
# how `ps` finds what a run left behind.
set -u
. "$(dirname "$0")/lib.sh" # S (absolute), here, root, $work; the shared helpers
cd "$work"
M=4$((RANDOM % 900 + 100))$$ # sleep seconds no other test uses: sleep ${M}.1 ...
trap 'pkill -KILL -f "sleep ${M}\." 2>/dev/null; rm -rf "$work"' EXIT


git_repo repo
# The agent: reads its prompt, talks for a while, then sleeps with children (one in its group,
# one that left the group and the session when AGENT_SETSID is set), marked for `ps`.
cat >"$work/agent.sh" <<EOF
#!/bin/sh
cat >/dev/null
i=0
while [ \$i -lt 6 ]; do echo "step \$i"; i=\$((i + 1)); sleep 0.05; done
sleep ${M}.1 &
if [ -n "\${AGENT_SETSID:-}" ]; then setsid sleep ${M}.2 & fi
echo sleeping
sleep ${M}.3
echo done
EOF
chmod +x "$work/agent.sh"
add_runners "    command = { command = $(lua_list "$work/agent.sh") },"
sandbox_allow env AGENT_SETSID # the agent's orders, given by name
for i in 1 2 3 4 5; do "$S" task create --title "dead worker $i" --status ready >/dev/null; done

# start TASK: a background run of TASK; prints "RUN_ID WORKER_PID".
start() {
  local json
  json=$("$S" run "$1" --runner command --background --json 2>/dev/null)
  echo "$(grep -oP '"run_id":\s*"\KR-\d+' <<<"$json") $(grep -oP '"worker_pid":\s*\K\d+' <<<"$json")"
}
# active_of RUN...: those of RUN... that `run list` still shows queued, preparing or running.
active_of() {
  "$S" run list --limit 0 | awk -v want=" $* " 'NR > 1 && index(want, " " $1 " ") &&
    ($5 == "queued" || $5 == "preparing" || $5 == "running") { print $1 }'
}

# --- (a) kill -9 at random moments, 50 times, five runs at a time --------------------------------
t0=$(date +%s)
workers=()
runs_total=0 late=0 wait_bad=0 reason_bad=0 queued_ends=0 running_ends=0
for batch in $(seq 10); do
  ids=()
  for i in 1 2 3 4 5; do
    read -r id wpid < <(start "T-000$i")
    if [ -z "$id" ] || [ -z "$wpid" ]; then
      echo "FAIL (a) batch $batch: run T-000$i --background did not start"
      failed=$((failed + 1))
      continue
    fi
    ids+=("$id")
    workers+=("$wpid")
    # The first of each batch as soon as its start returns, the others at random.
    delay=$([ "$i" = 1 ] && echo 0 || echo "0.$(printf '%03d' $((RANDOM % 601)))")
    (sleep "$delay"; kill -9 "$wpid" 2>/dev/null) &
  done
  wait # every worker has had its kill -9
  deadline=$(($(date +%s%N) / 1000000 + 5000))
  while [ -n "$(active_of "${ids[@]}")" ] && [ $(($(date +%s%N) / 1000000)) -lt "$deadline" ]; do sleep 0.1; done
  still=$(active_of "${ids[@]}")
  [ -n "$still" ] && { late=$((late + 1)); echo "FAIL (a) batch $batch: still active 5 s after run list: $still"; }
  for id in "${ids[@]}"; do
    runs_total=$((runs_total + 1))
    out=$(timeout 20 "$S" run wait "$id" 2>&1)
    status=$?
    if [ "$status" != 1 ]; then
      wait_bad=$((wait_bad + 1))
      echo "FAIL (a) run wait $id: exit status $status: $out"
    fi
    case "$out" in
      "$id outcome_unknown: the background worker (pid "*") died without recording an end"*)
        running_ends=$((running_ends + 1)) ;;
      "$id failed: the background worker (pid "*") ended before it started the run"*)
        queued_ends=$((queued_ends + 1)) ;;
      *) reason_bad=$((reason_bad + 1)); echo "FAIL (a) $id: unexpected end: $out" ;;
    esac
  done
done
eq "(a) 50 runs started and killed" 50 "$runs_total"
eq "(a) every run terminal within 5 s of run list" 0 "$late"
eq "(a) run wait returned 1 for each" 0 "$wait_bad"
eq "(a) each end says why" 0 "$reason_bad"
eq "(a) no process of any run is left" "" "$(left '[0-9]')"
eq "(a) no worker of any run is left" "" "$(for p in "${workers[@]}"; do running "$p" && echo "$p"; done)"
eq "(a) the tasks can run again" "5" "$("$S" task list | grep -c ' ready ')"
echo "(a) 50 kill -9: $running_ends ended while running, $queued_ends before the run started," \
  "in $(($(date +%s) - t0)) s"

# --- (b) run kill: a child in the agent's group and a grandchild that called setsid() -----------
if command -v setsid >/dev/null; then export AGENT_SETSID=1; fi
read -r id wpid < <(start T-0001)
wait_until "(b) the agent is sleeping" 60 eval '[ -n "$(left 3)" ]'
[ -n "${AGENT_SETSID:-}" ] && eq "(b) its grandchild left the agent's session" "yes" \
  "$(for p in $(left 2); do [ "$(ps -o sid= -p "$p" | tr -d ' ')" = "$p" ] && echo yes; done)"
for _ in 1 2 3; do "$S" run list >/dev/null; done
eq "(b) run list leaves a healthy run running" "$id" "$(active_of "$id")"
expect_run "(b) run kill" 0 "^$id interrupted\n$" "" -- "$S" run kill "$id"
eq "(b) no process of the run is left (child, setsid grandchild, agent)" "" "$(left '[123]')"
eq "(b) the worker is gone" "no" "$(running "$wpid" && echo yes || echo no)"
unset AGENT_SETSID

# --- (c) run wait and run tail -f on a dead worker ----------------------------------------------
read -r id wpid < <(start T-0002)
wait_until "(c) the agent of $id is sleeping" 60 eval '[ -n "$(left 3)" ]'
kill -9 "$wpid"
why="the background worker \(pid $wpid\) died without recording an end \(runs/$id/worker\.lock was free while"
# (in an OS sandbox nothing of the run outlives its worker: the sandbox dies with it)
why="$why the run was running(; [0-9]+ process(es)? of the run left behind, killed)?\)"
expect_run "(c) run wait on a dead worker" 1 "^$id outcome_unknown: $why" "" -- timeout 20 "$S" run wait "$id"
eq "(c) its agent is gone" "" "$(left '[0-9]')"
expect_run "(c) run show says why" 0 "Status: +outcome_unknown.*died without recording an end" "" -- "$S" run show "$id"
read -r id wpid < <(start T-0003)
wait_until "(c) the agent of $id is sleeping" 60 eval '[ -n "$(left 3)" ]'
# The worker dies while `run tail -f` follows the run (it has shown the start).
timeout 60 "$S" run tail -f "$id" >"$work/tail.out" 2>&1 &
tail_pid=$!
wait_until "(c) run tail -f follows $id" 60 grep -qs 'run\.started' "$work/tail.out"
kill -9 "$wpid"
tail_status=0
wait "$tail_pid" || tail_status=$?
expect_run "(c) run tail -f stops at the reconciled end" 0 "run\.started.*run\.finished +.*died without recording" "" \
  -- sh -c 'cat "$1"; exit "$2"' sh "$work/tail.out" "$tail_status"
eq "(c) nothing is left" "" "$(left '[0-9]')"

finish
