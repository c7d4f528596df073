#!/usr/bin/env bash
# End-to-end: nothing of a run outlives it, and every run reaches a terminal state.
# (a) the setsid grandchild: an agent whose grandchild calls setsid() and sleeps on; after the run
#     no such process is alive, the record lists it as an escapee, and the run is not a clean
#     review (blocked, with a blocker naming it); its child left in its group is ended too (by the
#     watchdog, which ends the agent's group); an agent that leaves nothing behind is a review;
# (b) a foreground `sidecar run` killed with SIGKILL mid-run: its agent dies with it (the
#     parent-death signal), the next `run list` ends the run outcome_unknown with the reason, no
#     process of the run is left (its group and its setsid grandchild), the task is not running;
#     `run wait` returns; and a run whose owner died during validation is ended saying so, its
#     validation step killed, its task ready;
# (c) `run kill` of a foreground run: the run is interrupted, its `sidecar` and agent are gone;
# (d) `run kill` and `run list` with a stale owner (a live pid with another start time): the
#     stranger is never signalled, the run is ended all the same;
# (e) validation is part of the run: while it runs the run is `running` (phase finishing), so
#     approve is refused, `run wait` waits for the end and `run kill` stops it; a step's setsid()
#     escapee is killed and blocks the run.
# Every agent process carries a marker unique to this test invocation (`sleep 5NNN.x`), which is
# how `pgrep` finds what a run left behind. Timing is only ever polled, with generous deadlines.
set -u
. "$(dirname "$0")/lib.sh" # S (absolute), here, root, $work; the shared helpers
cd "$work"
M=5$((RANDOM % 900 + 100))$$ # sleep seconds no other test uses: sleep ${M}.1 ...
trap 'pkill -KILL -f "sleep ${M}\." 2>/dev/null; pkill -KILL -f "stranger_${M}" 2>/dev/null; rm -rf "$work"' EXIT

none_left() { [ -z "$(left "$1")" ]; }
some_left() { [ -n "$(left "$1")" ]; }

if ! command -v setsid >/dev/null; then
  echo "SKIP: no setsid on this machine"
  exit 0
fi
git_repo repo
# The agent: reads its prompt, starts a child in its group and a grandchild that leaves the group
# and the session with setsid(), then (AGENT_HANG set) sleeps, or answers and exits.
cat >"$work/agent.sh" <<EOF
#!/bin/sh
cat >/dev/null
sleep ${M}.1 &
gc=\${TMPDIR:-/tmp}/grandchild.\$\$
sh -c 'setsid sleep ${M}.2 & echo \$! >"\$1"; exit 0' sh "\$gc"
# (on until the grandchild has left: its session is its own pid, so it escaped before the agent ends)
until [ -s "\$gc" ] && [ "\$(ps -o sid= -p "\$(cat "\$gc")" | tr -d ' ')" = "\$(cat "\$gc")" ]; do sleep 0.01; done
rm -f "\$gc"
# Hanging, it ignores SIGTERM: only SIGKILL (an agent's parent-death signal) ends it at once.
if [ -f "$work/hang" ]; then echo sleeping; trap '' TERM; exec sleep ${M}.3; fi
echo "done"
EOF
cat >"$work/clean.sh" <<'EOF'
#!/bin/sh
cat >/dev/null
echo "all done"
EOF
chmod +x "$work/agent.sh" "$work/clean.sh"
add_runners "    command = { command = $(lua_list "$work/agent.sh") },
    clean = { command = $(lua_list "$work/clean.sh") },"
for i in 1 2 3 4 5 6; do "$S" task create --title "escapee $i" --status ready >/dev/null; done
# run_json RUN: the run's record (.agent/runs/RUN/run.json)
run_json() { cat ".agent/runs/$1/run.json"; }
# latest_run TASK: the newest run of TASK
latest_run() { "$S" run list --task "$1" --limit 1 | awk 'NR == 2 { print $1 }'; }

# --- (a) the setsid grandchild ------------------------------------------------------------------
rm -f "$work/hang"
expect_run "(a) a run whose grandchild escaped is blocked" 1 \
  "^R-0001 blocked: .*\n  blocker: 1 process of the agent outlived it and was killed \(1 had left the agent's session with setsid\): [0-9]+ sleep ${M}\.2 \(left its session\)" \
  "" -- "$S" run T-0001 --runner command
eq "(a) no process of the run is alive" "" "$(left '[0-9]')"
eq "(a) the record lists the escapee: command, how it was found, that it left the session" \
  "1 sleep ${M}.2 true" "$(run_json R-0001 | "$S" -e 'local r = require("sidecar.core.json").decode(io.read("a"))
    local e = r.escapees[1]; print(#r.escapees .. " " .. e.command .. " " .. tostring(e.left_session))')"
expect_run "(a) run show prints the blocker" 0 "Status: +blocked.*Blockers:\n  - 1 process of the agent outlived it" "" \
  -- "$S" run show R-0001
eq "(a) the task is blocked, not running" "blocked" "$("$S" task list | awk '$1 == "T-0001" { print $2 }')"
expect_run "(a) a run that leaves nothing behind is a clean review" 0 "^R-\d+ review" "" \
  -- "$S" run T-0002 --runner clean
eq "(a) ... and records no escapees" "" "$(run_json "$(run_id)" | grep -o '"escapees"')"

# --- (b) kill -9 of a foreground `sidecar run` ---------------------------------------------------
touch "$work/hang"
"$S" run T-0003 --runner command >"$work/b.out" 2>&1 &
fg=$!
poll 30 some_left 3
eq "(b) the agent is sleeping" "yes" "$(some_left 3 && echo yes)"
id=$(latest_run T-0003)
eq "(b) the task is running" "running" "$("$S" task list | awk '$1 == "T-0003" { print $2 }')"
kill -9 "$fg"
wait "$fg" 2>/dev/null
poll 10 none_left 3
eq "(b) the agent died with its sidecar (parent-death signal)" "" "$(left 3)"
if [ "${SIDECAR_OS_SANDBOX:-bwrap}" = off ]; then
  eq "(b) its group child and setsid grandchild are still there before a read" "yes" \
    "$(some_left 1 && some_left 2 && echo yes)"
else # the OS sandbox dies with its sidecar, and takes every process in it along
  poll 10 none_left '[12]'
  eq "(b) its group child and setsid grandchild died with the sandbox" "" "$(left '[12]')"
fi
"$S" run list >/dev/null
expect_run "(b) run list ended it outcome_unknown with the reason" 0 \
  "$id +.*outcome_unknown" "" -- "$S" run list --task T-0003
expect_run "(b) run show says why" 0 \
  "Status: +outcome_unknown.*the sidecar process that ran it \(pid $fg\) died without recording an end" "" \
  -- "$S" run show "$id"
poll 10 none_left '[0-9]'
eq "(b) no process of the run is left" "" "$(left '[0-9]')"
eq "(b) the task is ready again" "ready" "$("$S" task list | awk '$1 == "T-0003" { print $2 }')"
expect_run "(b) run wait returns at once" 1 "^$id outcome_unknown: " "" -- timeout 20 "$S" run wait "$id"
# An owner killed after its agent ended, during validation: the run was still running (finishing),
# so the next read ends it saying validation did not complete, and kills the step (its mark).
"$S" task create --title "validated" --status ready \
  --validate-cmds "custom:sleep ${M}.9" >/dev/null # T-0007
rm -f "$work/hang"
"$S" run T-0007 --runner clean >"$work/b2.out" 2>&1 &
fg=$!
poll 30 some_left 9
id=$(latest_run T-0007)
kill -9 "$fg"
wait "$fg" 2>/dev/null
"$S" run list >/dev/null
expect_run "(b) killed during validation: outcome_unknown, validation did not complete" 0 \
  "Status: +outcome_unknown.*died after its agent ended review, while the run was being finished.*validation did not complete" \
  "" -- "$S" run show "$id"
poll 10 none_left 9
eq "(b) ... the validation step is killed (the run's mark)" "" "$(left 9)"
eq "(b) ... and its task is ready again" "ready" "$("$S" task list | awk '$1 == "T-0007" { print $2 }')"

# --- (c) run kill of a foreground run ------------------------------------------------------------
touch "$work/hang"
"$S" run T-0004 --runner command >"$work/c.out" 2>&1 &
fg=$!
poll 30 some_left 3
id=$(latest_run T-0004)
expect_run "(c) run kill of a foreground run" 0 "^$id interrupted\n$" "" -- timeout 60 "$S" run kill "$id"
poll 20 eval '! running "$fg"'
eq "(c) its sidecar has ended" "no" "$(running "$fg" && echo yes || echo no)"
wait "$fg" 2>/dev/null
eq "(c) no process of the run is left (agent, group child, setsid grandchild)" "" "$(left '[0-9]')"
eq "(c) the task can run again" "ready" "$("$S" task list | awk '$1 == "T-0004" { print $2 }')"
expect_run "(c) run kill of an ended run says so" 1 "" "already ended: interrupted" -- "$S" run kill "$id"

# --- (e) validation is part of the run ------------------------------------------------------------
# A step that says when it has started, then takes two seconds.
mkdir -p "$work/flags"
printf '#!/bin/sh\ntouch "%s/flags/validating"\nsleep 2\n' "$work" >"$work/slow_check.sh"
chmod +x "$work/slow_check.sh"
sandbox_allow write "$work/flags" # the step's OS sandbox lets it say so there
"$S" task create --title "slow check" --status ready --validate-cmds "custom:$work/slow_check.sh" >/dev/null # T-0008
rm -f "$work/flags/validating"
"$S" run T-0008 --runner clean >"$work/e.out" 2>&1 &
fg=$!
poll 30 test -e "$work/flags/validating"
id=$(latest_run T-0008)
eq "(e) while validating the run is still running, finishing, its agent's outcome held" "running finishing review" \
  "$("$S" run show "$id" --json | "$S" -e 'local d = require("sidecar.core.json").decode(io.read("a")).data
    print(d.status .. " " .. tostring(d.phase) .. " " .. tostring(d.outcome))')"
expect_run "(e) approve is refused until it is finished" 1 "" "still running" -- "$S" run approve "$id"
expect_run "(e) run wait waits for the end" 0 "^$id review" "" -- timeout 60 "$S" run wait "$id"
wait "$fg" 2>/dev/null
eq "(e) the step had ended when wait returned" "review" "$(run_json "$id" | "$S" -e 'print(require("sidecar.core.json").decode(io.read("a")).status)')"
expect_run "(e) then approve is taken" 0 "" "" -- "$S" run approve "$id"
"$S" task create --title "stuck check" --status ready --validate-cmds "custom:sleep ${M}.5" >/dev/null # T-0009
"$S" run T-0009 --runner clean >"$work/e2.out" 2>&1 &
fg=$!
poll 30 some_left 5
id=$(latest_run T-0009)
expect_run "(e) run kill stops a run in validation" 0 "^$id interrupted\n$" "" -- timeout 60 "$S" run kill "$id"
wait "$fg" 2>/dev/null
poll 10 none_left 5
eq "(e) ... and its step" "" "$(left 5)"
eq "(e) ... recorded interrupted, finishing no more, saying where it was" "interrupted nil validation did not complete" \
  "$("$S" run show "$id" --json | "$S" -e 'local d = require("sidecar.core.json").decode(io.read("a")).data
    print(d.status .. " " .. tostring(d.phase) .. " " .. (d.failure_reason:match("validation did not complete") or "?"))')"
eq "(e) the progress line names the agent's own outcome" "1" "$(grep -c "run $id: agent ended review" "$work/e2.out")"
eq "(e) its task can run again" "ready" "$("$S" task list | awk '$1 == "T-0009" { print $2 }')"
"$S" task create --title "stuck writer" --status ready --validate-cmds "custom:sleep ${M}.7" >/dev/null # T-0010
"$S" run T-0010 --runner clean --sandbox workspace-write >"$work/e3.out" 2>&1 &
fg=$!
poll 30 some_left 7
id=$(latest_run T-0010)
expect_run "(e) run kill of a writing run in validation" 0 "^$id interrupted\n$" "" -- timeout 60 "$S" run kill "$id"
wait "$fg" 2>/dev/null
eq "(e) ... its worktree's folder is gone" "0" "$(git worktree list | grep -c "worktrees/$id")"
"$S" task create --title "leaky check" --status ready \
  --validate-cmds "custom:setsid sleep ${M}.6 >/dev/null 2>&1 & p=\$!; until [ \"\$(ps -o sid= -p \$p | tr -d ' ')\" = \$p ]; do sleep 0.01; done; echo checked" >/dev/null # T-0011 (it ends once the escapee has left)
expect_run "(e) a step that leaves a setsid() escapee: blocked" 1 \
  "^R-[0-9]+ blocked: .*\n  blocker: 1 process of validation outlived it and was killed \(1 had left" "" \
  -- "$S" run T-0011 --runner clean
eq "(e) ... and the escapee is gone" "" "$(left 6)"

# --- (d) a stale owner: the recorded pid now belongs to a stranger -------------------------------
bash -c "exec -a stranger_${M} sleep 300" &
stranger=$!
poll 10 eval 'pgrep -f "stranger_${M}" >/dev/null'
# stale KIND TASK: a run of TASK recorded as running, its owner the stranger's pid with a start
# time one tick off (a background worker's fields for KIND background); prints its id.
stale() {
  "$S" -e "
    local s = assert(require('sidecar.core.store').open('.agent'))
    local me = require('sidecar.host.procinfo').get($stranger)
    local r = { task_id = '$2', runner_type = 'command', status = 'running', process_mark = 'R-stale.$M' }
    if '$1' == 'background' then
      r.background, r.worker_pid, r.worker_start = true, $stranger, me.start + 1
    else
      r.owner_pid, r.owner_start = $stranger, me.start + 1
    end
    print(assert(s:create_run(r)).run_id)"
}
"$S" task update T-0005 --status running >/dev/null 2>&1 || true
id=$(stale foreground T-0005)
expect_run "(d) run kill with a stale foreground owner" 0 "^$id interrupted\n$" "" -- timeout 60 "$S" run kill "$id"
eq "(d) the stranger was not signalled" "yes" "$(running "$stranger" && echo yes)"
expect_run "(d) ... and the reason says the owner is gone" 0 "Failure: +the sidecar process running it \(pid $stranger\) is gone" "" \
  -- "$S" run show "$id"
id=$(stale background T-0006)
expect_run "(d) run kill with a stale background worker" 0 "^$id interrupted\n$" "" -- timeout 60 "$S" run kill "$id"
eq "(d) the stranger was not signalled (worker)" "yes" "$(running "$stranger" && echo yes)"
id=$(stale foreground T-0006)
"$S" run list >/dev/null
eq "(d) run list ends a run whose owner's pid was reused" "outcome_unknown" \
  "$("$S" run list --limit 0 | awk -v id="$id" '$1 == id { print $5 }')"
eq "(d) the stranger is still alive" "yes" "$(running "$stranger" && echo yes)"
kill "$stranger"

finish
