#!/usr/bin/env bash
# End-to-end: the Slurm executor on a throwaway one-node cluster (tests/e2e/slurm_cluster.sh).
# A task run with --executor slurm and the fake agent gives the same record, artifacts and
# validation as the same task run locally; a job killed by its time limit, one cancelled with
# `run kill`, one by Ctrl-C, and one whose worker is kill -9'd on the node are each recorded with
# the right state, and nothing is left in squeue; start-ready -j 8 on 20 tasks with dependencies;
# doctor's probe job. Says SKIP with the reason when the cluster cannot start.
set -u
. "$(dirname "$0")/lib.sh" # S (absolute), here, root, $work; the shared helpers
. "$here/slurm_cluster.sh"
F=$root/tests/fixtures
slurm_test_start "$work/cluster"
cd "$work"
# The repositories' first commits are the same commit (their records name it).
export GIT_AUTHOR_DATE=2026-01-01T00:00:00Z GIT_COMMITTER_DATE=2026-01-01T00:00:00Z

# new_repo NAME [CONFIG_LINES]: a repository with the fake agent as codex, a runner `slow` that
# sleeps, CONFIG_LINES in place of the config's `executor = "local",`, and task T-0001 with two
# validation steps.
new_repo() {
  git_repo "$1"
  add_runners "    codex = { program = $(fake_agent "$F/captures/codex_exec_json_text_turn.jsonl") },
    slow = { command = { \"sleep\", \"300\" } },"
  [ -n "${2:-}" ] && sed -i "s/^  executor = \"local\",/$2/" .agent/config.lua
  "$S" task create --title "Fix the parser" --goal "CRLF accepted" --status ready \
    --validate-cmds "typecheck:true,test@30s:echo tests pass" >/dev/null
}

# wait_status RUN STATUS: until `run show` says the run is STATUS (600 looks); a failure otherwise.
wait_status() {
  local now=""
  for _ in $(seq 600); do
    now=$("$S" run show "$1" --json | jv .data.status)
    [ "$now" = "$2" ] && return 0
    sleep 0.1
  done
  echo "FAIL $1 never became $2: it is $now"
  failed=$((failed + 1))
  return 1
}

# --- a job killed by its time limit (started first: Slurm's limits are whole minutes) ----------
(new_repo limit '  executor = "slurm", slurm = { time = "1" },')
(cd limit && "$S" run T-0001 --runner slow --background >"$work/limit.out" 2>&1)
limit_run=$(run_ids "$work/limit.out" | head -1)

# --- the same task, locally and on Slurm: the same record, artifacts and validation ------------
(new_repo here)
(new_repo there)
(cd here && "$S" run T-0001 >/dev/null 2>&1)
cd there
# In the foreground the agent's progress shows, from the events the worker writes on the node.
expect_run "run --executor slurm: ends like the local run, the agent's progress shown" 0 \
  "^R-0001 review: Hello from the mock model\.\n" \
  "submitted as Slurm job \d+\n.*run\.started.*agent: Hello from the mock model\..*run\.finished" \
  -- "$S" run T-0001 --executor slurm
cd "$work"
A=here/.agent B=there/.agent
# Times, ids, processes, paths and where it ran aside, every field of the records is the same.
ignored=completed_at,started_at,created_at,updated_at,duration_ms,owner_pid,owner_start,starter_pid,starter_start
ignored+=,worker_pid,worker_start,process_mark,revision,background,executor,launch,slurm,repo,command
ignored+=,peak_rss,peak_tasks # sampled while the agent runs: measurements, not outcomes
ignored+=,withheld_env # the names of what the machine hands in: a Slurm job's environment differs
ignored+=,agent_slot # which of the machine's agent slots it took, and how long it waited: where it ran
cp "$here/compare_records.lua" compare.lua # the differences between two records, FIELDs aside
eq "run record: same fields" "" "$("$S" script compare.lua $A/runs/R-0001/run.json $B/runs/R-0001/run.json "$ignored")"
eq "model.json: same fields" "" "$("$S" script compare.lua $A/runs/R-0001/model.json $B/runs/R-0001/model.json "$ignored")"
eq "task record: same fields" "" "$("$S" script compare.lua $A/tasks/T-0001.json $B/tasks/T-0001.json "$ignored")"
eq "run: slurm state" "completed COMPLETED" "$(field $B/runs/R-0001/run.json .slurm.state) \
$(field $B/runs/R-0001/run.json .slurm.slurm_state)"
eq "run: executor recorded" "slurm" "$(field $B/runs/R-0001/run.json .executor)"
# The worker on the node is given the store's absolute path: the launch command says so.
for f in output.md model.md last-message.txt agent.jsonl; do
  eq "artifact $f: same bytes (paths aside)" "$(cat $A/runs/R-0001/$f)" "$(sed "s#$work/there#.#g" $B/runs/R-0001/$f)"
done
printf '%s' 'local s = assert(require("sidecar.core.store").open(arg[1]))
  for _, v in ipairs(s:validation("R-0001")) do print(v.seq, v.kind, v.name, v.command, v.ok, v.exit_code) end' \
  >validation.lua
eq "validation rows: the same in both stores" "$("$S" script validation.lua $A)" "$("$S" script validation.lua $B)"
eq "validation rows: two" "2" "$("$S" script validation.lua $B | wc -l)"
expect_run "store check: the store and the copies agree" 0 "agree" "" -- "$S" store check --root $B
eq "the worker's scratch database is gone" "" "$(ls "${TMPDIR:-/tmp}" | grep "^sidecar-R-0001-$(field $B/runs/R-0001/run.json .slurm.job_id)\." || true)"
eq "the worker never opened the submitting side's store on the node (its log)" "" \
  "$(grep -i 'sidecar.db' $B/runs/R-0001/worker.log || true)"

# --- settings and their errors ---------------------------------------------------------------
cd there
expect_run "--executor: an unknown name" 2 "" "--executor 'slrum': not an executor \(one of: local, slurm\)" \
  -- "$S" run T-0001 --executor slrum
sed -i 's/^  queue = {/  slurm = { mem = "lots" },\n  queue = {/' .agent/config.lua
expect_run "slurm.mem: a bad value names the key" 2 "" 'slurm.mem = "lots" in \.agent/config\.lua: expected a Slurm memory' \
  -- "$S" run T-0001 --executor slurm
sed -i 's/^  slurm = { mem = "lots" },$/  slurm = { sbatch_args = { "--bogus-flag" } },/' .agent/config.lua
expect_run "sbatch refuses: the run fails saying why" 1 "" "could not be submitted: sbatch failed" \
  -- "$S" run T-0001 --executor slurm --background
sed -i '/^  slurm = {/d' .agent/config.lua

# --- run kill: scancel ---------------------------------------------------------------------------
"$S" task create --title "Slow" --goal "waits" --status ready >/dev/null
expect_run "a slow run submitted in the background" 0 "^R-\d+\n$" "runs as Slurm job \d+" \
  -- "$S" run T-0002 --runner slow --executor slurm --background
kill_run=$(run_id)
wait_status "$kill_run" running
job=$(field .agent/runs/$kill_run/run.json .slurm.job_id)
expect_run "run kill: scancel" 0 "" "" -- "$S" run kill "$kill_run"
eq "run kill: interrupted" "interrupted" "$(field .agent/runs/$kill_run/run.json .status)"
eq "run kill: Slurm says cancelled" "cancelled" "$(field .agent/runs/$kill_run/run.json .slurm.state)"
eq "run kill: the job is gone from squeue" "" "$(squeue -h -j "$job" 2>/dev/null)"
eq "run kill: the task is ready again" "ready" "$(field .agent/tasks/T-0002.json .status)"

# --- Ctrl-C on a foreground Slurm run cancels its job ---------------------------------------------
"$S" run T-0002 --runner slow --executor slurm >"$work/fg.out" 2>"$work/fg.err" &
fg=$!
for _ in $(seq 600); do run_ids "$work/fg.err" | grep -q . && break; sleep 0.1; done
fg_run=$(run_ids "$work/fg.err" | head -1)
wait_status "$fg_run" running
kill -INT "$fg"
status=0
wait "$fg" || status=$?
eq "Ctrl-C: the foreground run stops as interrupted (130)" "130" "$status"
eq "Ctrl-C: interrupted, Slurm says cancelled" "interrupted cancelled" \
  "$(field .agent/runs/$fg_run/run.json .status) $(field .agent/runs/$fg_run/run.json .slurm.state)"
eq "Ctrl-C: the job is gone from squeue" "" "$(squeue -h -j "$(field .agent/runs/$fg_run/run.json .slurm.job_id)")"

# --- the worker kill -9'd on the node ----------------------------------------------------------
expect_run "another slow run" 0 "^R-\d+\n$" "" -- "$S" run T-0002 --runner slow --executor slurm --background
dead_run=$(run_id)
wait_status "$dead_run" running
worker=$(field .agent/runs/$dead_run/run.json .worker_pid)
job=$(field .agent/runs/$dead_run/run.json .slurm.job_id)
kill -9 "$worker"
expect_run "run wait: the dead worker's run ends" 1 "" "" -- "$S" run wait "$dead_run"
eq "kill -9: outcome_unknown" "outcome_unknown" "$(field .agent/runs/$dead_run/run.json .status)"
expect_run "kill -9: the reason is Slurm's" 0 "Slurm job $job ended \w+.*the worker recorded no end" "" \
  -- "$S" run show "$dead_run"
eq "kill -9: nothing left in squeue" "" "$(squeue -h -j "$job" 2>/dev/null)"
eq "kill -9: the job's script removed the scratch database" "" \
  "$(ls "${TMPDIR:-/tmp}" | grep "^sidecar-$dead_run-$job\." || true)"
cd "$work"

# --- start-ready -j 8 --executor slurm on 20 tasks with dependencies -----------------------------
# The agent logs when it starts and ends (the task id is on the prompt's first line).
(new_repo queue)
cd queue
sed -i "s/auto_approve_on_all_green = false/auto_approve_on_all_green = true/" .agent/config.lua
add_runners "    logger = { command = { \"sh\", \"-c\", \"p=\$(cat); t=\$(printf '%s' \\\"\$p\\\" | head -n 1 | cut -d' ' -f3 | tr -d :); echo start \$t \$(date +%s%N) >>$work/queue.log; sleep 0.5; echo end \$t \$(date +%s%N) >>$work/queue.log; echo done \$t\" } },"
: >"$work/queue.log" && sandbox_allow write "$work/queue.log" # the agents' OS sandbox lets them log there
deps=("" "" "" "" "1" "1 2" "3" "4" "5 6" "7" "9 10" "8" "" "13" "14" "11 15" "" "17" "16 18" "19")
for i in $(seq 1 20); do
  args=()
  for d in ${deps[$((i - 1))]}; do args+=(--depends-on "$(printf 'T-%04d' $((d + 1)))"); done
  "$S" task create --title "Task $i" --status ready --validate-cmds "test:true" "${args[@]}" >/dev/null
done
expect_run "start-ready -j 8 --executor slurm" 0 "T-0002 +R-\\d+ +completed.*21 runs in" "" -- \
  "$S" run start-ready -j 8 --runner logger --executor slurm
printf '%s' 'local deps = {}
  for i, d in ipairs({ "", "", "", "", "1", "1 2", "3", "4", "5 6", "7", "9 10", "8", "", "13", "14", "11 15", "",
    "17", "16 18", "19" }) do
    local t = ("T-%04d"):format(i + 1)
    deps[t] = {}
    for n in d:gmatch("%d+") do deps[t][#deps[t] + 1] = ("T-%04d"):format(tonumber(n) + 1) end
  end
  local ev = {}
  for line in io.lines(arg[1]) do
    local what, t, ns = line:match("^(%a+) (T%-%d+) (%d+)$")
    if what and deps[t] then ev[#ev + 1] = { what = what, t = t, ns = tonumber(ns) } end
  end
  table.sort(ev, function(a, b) return a.ns < b.ns end)
  local ended, running, max, ok, done = {}, 0, 0, true, 0
  for _, e in ipairs(ev) do
    if e.what == "start" then
      for _, d in ipairs(deps[e.t]) do ok = ok and ended[d] == true end
      running = running + 1
      max = math.max(max, running)
    else
      ended[e.t], running, done = true, running - 1, done + 1
    end
  end
  print(("%d done, order %s, at most 8: %s"):format(done, ok and "ok" or "WRONG", tostring(max <= 8)))' >order.lua
eq "start-ready: all done, dependencies first, at most 8 at a time" "20 done, order ok, at most 8: true" \
  "$("$S" script order.lua "$work/queue.log")"
eq "start-ready: every run was a Slurm job" "21" "$(for r in .agent/runs/R-*/run.json; do field $r .slurm.state; done |
  grep -c '^completed$')"
eq "start-ready: each run an array's task" "21" "$(for r in .agent/runs/R-*/run.json; do field $r .slurm.job_id; done |
  grep -cE '^[0-9]+_[0-9]+$')"
arrays=$(for r in .agent/runs/R-*/run.json; do field $r .slurm.array_job_id; done | sort -u | wc -l)
eq "start-ready: waves of arrays (more than one, fewer than the runs)" "true" \
  "$([ "$arrays" -gt 1 ] && [ "$arrays" -lt 21 ] && echo true)"
eq "start-ready: each worker's log in its run's folder" "21" "$(ls .agent/runs/R-*/worker.log | wc -l)"
cd "$work"

# --- doctor --executor slurm: the client commands, and from the node a probe job's answer -------
cd there
"$S" doctor --executor slurm --json >"$work/doctor.json" 2>"$work/doctor.err"
for i in 1 2 3 4 5; do
  name=$(jv ".data.checks.$i.name" <"$work/doctor.json")
  [ "$name" = "agent CLIs on the node" ] && continue # the fake agent is no installed CLI
  eq "doctor: $name" "true" "$(jv ".data.checks.$i.ok" <"$work/doctor.json")"
done
eq "doctor: the folder check names the node" "true" \
  "$(jv .data.checks.4.detail <"$work/doctor.json" | grep -q "^node $(hostname -s) reads and writes" && echo true)"
eq "doctor: the probe's files are gone" "" "$(ls .agent | grep slurm-probe || true)"
expect_run "doctor --executor: an unknown name" 2 "" "--executor 'nomad': not an executor" \
  -- "$S" doctor --executor nomad
cd "$work"

# --- the time limit ------------------------------------------------------------------------------
cd limit
expect_run "time limit: run wait" 1 "" "" -- "$S" run wait "$limit_run" --timeout 5m
eq "time limit: Slurm says timeout" "timeout TIMEOUT" "$(field .agent/runs/$limit_run/run.json .slurm.state) \
$(field .agent/runs/$limit_run/run.json .slurm.slurm_state)"
eq "time limit: the run ended (not active)" "ended" "$(case $(field .agent/runs/$limit_run/run.json .status) in
  interrupted | outcome_unknown) echo ended ;; *) echo active ;; esac)"
expect_run "time limit: the reason says so" 0 "Slurm job \d+ ended TIMEOUT" "" -- "$S" run show "$limit_run"
cd "$work"
eq "nothing left in squeue" "" "$(squeue -h 2>/dev/null)"
finish
