#!/usr/bin/env bash
# End-to-end: the config's reactions for runs that ran on Slurm (stdlib/sidecar/executor/
# slurm_react.lua), on a throwaway one-node cluster (tests/e2e/slurm_cluster.sh). A task whose
# validation fails until a fix run writes fixed.txt gives, with --executor slurm, the same chain
# of runs as locally (the first run, a fix run that is a replay of it and continues from its
# worktree, the same `reaction` on each: compared field by field, times and ids aside): in the
# foreground, through `run start-ready`, and in the background, where three `run list` and a
# `run show` that reconcile its end at once make one fix run between them. Nothing is left in
# squeue. Says SKIP with the reason when the cluster cannot start.
set -u
. "$(dirname "$0")/lib.sh" # S (absolute), here, root, $work; the shared helpers
. "$here/slurm_cluster.sh"
slurm_test_start "$work/cluster"
cd "$work"
# The repositories' first commits are the same commit (their records name it).
export GIT_AUTHOR_DATE=2026-01-01T00:00:00Z GIT_COMMITTER_DATE=2026-01-01T00:00:00Z
# The fake agent: a first attempt writes work.txt; a fix run (its prompt says the validation
# failed) writes fixed.txt, which the validation wants. Its worktree is its cwd.
printf '#!/bin/sh\nif grep -q "Validation failed"; then echo ok > fixed.txt; else echo "first try" > work.txt; fi\necho done\n' \
  >"$work/fixer.sh"

# new_repo NAME: a repository whose runs write (in worktrees), with the fake agent as runner
# `fixer`, the reactions, and task T-0001 whose validation wants fixed.txt.
new_repo() {
  git_repo "$1"
  add_runners "    fixer = { command = { \"sh\", \"$work/fixer.sh\" } },"
  sed -i 's/^  sandbox = "read-only",/  sandbox = "workspace-write",/; s/^  executor = "local",/  executor = "local",\n  reactions = { validation_failed = { action = "fix", retries = 2 }, blocked = { action = "escalate" } },/' \
    .agent/config.lua
  "$S" task create --title "Fixable" --status ready \
    --validate-cmds 'test:test -f fixed.txt || { echo "missing fixed.txt"; exit 1; }' >/dev/null
}
# Times, ids, processes, paths and where it ran aside, every field of the records is the same.
ignored=completed_at,started_at,created_at,updated_at,duration_ms,owner_pid,owner_start,starter_pid,starter_start
ignored+=,worker_pid,worker_start,process_mark,revision,background,executor,launch,slurm,repo,command,path,ms
# Commit ids name the time of the commit (the runs' results are committed as they end): the trees
# are compared instead, and each chain's fix run is checked to start from its parent's result.
ignored+=,made_ms,result_commit,start_commit,head_before,head_after,agent_head
ignored+=,withheld_env # the names of what the machine hands in: a Slurm job's environment differs
ignored+=,agent_slot # which of the machine's agent slots it took, and how long it waited: where it ran
cp "$here/compare_records.lua" compare.lua # the differences between two records, FIELDs aside
# same_chain NAME DIR: DIR's runs R-0001 and R-0002 and task T-0001 are the local ones'.
same_chain() {
  local r
  for r in runs/R-0001/run.json runs/R-0002/run.json tasks/T-0001.json; do
    eq "$1: $r the same as locally" "" "$("$S" script compare.lua local/.agent/$r $2/.agent/$r "$ignored")"
  done
  eq "$1: the fix run's prompt the same as locally" "$(cat local/.agent/runs/R-0002/prompt.md)" \
    "$(cat $2/.agent/runs/R-0002/prompt.md)"
  eq "$1: the fix run started from the first run's result" "$(field $2/.agent/runs/R-0001/run.json .worktree.result_commit)" \
    "$(field $2/.agent/runs/R-0002/run.json .worktree.start_commit)"
  # (The worker's exit status says how its run ended: 1 for the blocked first run.)
  eq "$1: both runs Slurm jobs, ended as their runs did" "failed completed" \
    "$(field $2/.agent/runs/R-0001/run.json .slurm.state) $(field $2/.agent/runs/R-0002/run.json .slurm.state)"
  eq "$1: no third run" "" "$(ls $2/.agent/runs | grep -v '^R-000[12]$' | grep '^R-' || true)"
}

# --- locally: the chain to compare with -----------------------------------------------------
(new_repo local)
cd local
expect_run "locally: fixed by one fix run" 0 "^R-0002 review" "fix run 1 of 2.*reaction stopped: fixed" -- \
  "$S" run T-0001 --runner fixer
cd "$work"

# --- the foreground run --executor slurm follows the fix run's job too ------------------------
(new_repo fg)
cd fg
expect_run "run --executor slurm: the fix run is a Slurm job, the task ends in review" 0 "^R-0002 review" \
  "submitted as Slurm job \d+.*validation failed; fix run 1 of 2 submitted as Slurm job \d+.*reaction stopped: fixed" \
  -- "$S" run T-0001 --runner fixer --executor slurm
eq "foreground: the fix run continued the first run's worktree" "R-0001" \
  "$(field .agent/runs/R-0002/run.json .worktree.reused_from)"
cd "$work"
same_chain foreground fg
cd fg
expect_run "foreground: approve" 0 "R-0002 approved" "" -- "$S" run approve R-0002
expect_run "foreground: apply" 0 "" "" -- "$S" run apply R-0002
eq "foreground: both attempts' change applied" "first try ok" "$(cat work.txt fixed.txt | tr '\n' ' ' | sed 's/ $//')"
cd "$work"

# --- start-ready --executor slurm waits for the fix run's job ---------------------------------
(new_repo queue)
cd queue
expect_run "start-ready --executor slurm: the task ends with its fix run" 0 "T-0001 +R-0002 +review" "" -- \
  "$S" run start-ready -j 2 --runner fixer --executor slurm
cd "$work"
same_chain start-ready queue

# --- in the background: the command that reconciles the run's end reacts, exactly once -------
(new_repo bg)
cd bg
# Its --notify command says where it ran: the submitting side tells of the chain's end, not the node.
expect_run "a background Slurm run" 0 "^R-0001\n$" "" -- "$S" run T-0001 --runner fixer --executor slurm --background \
  --notify 'echo "$SIDECAR_RUN $SIDECAR_EVENT job=${SLURM_JOB_ID:-none}" >>"'"$work"'/notified"'
job=$(field .agent/runs/R-0001/run.json .slurm.job_id)
# Until Slurm is done with the job; nothing of Sidecar reads the run meanwhile.
gone() { [ -z "$(squeue -h -j "$job" 2>/dev/null)" ]; }
wait_until "background: the job ended" 120 gone
readers=()
for i in 1 2 3; do
  "$S" run list >"$work/list$i.out" 2>&1 &
  readers+=($!)
done
"$S" run show R-0001 >"$work/show.out" 2>&1 &
readers+=($!)
wait "${readers[@]}"
eq "background: three run lists and a run show at once made one fix run" "R-0001 R-0002" "$(ls .agent/runs | grep '^R-' | tr '\n' ' ' | sed 's/ $//')"
eq "background: the first run names the fix run under way" "R-0002" "$(field .agent/runs/R-0001/run.json .reaction.fix_run)"
eq "background: the fix run is a Slurm job" "true" \
  "$(field .agent/runs/R-0002/run.json .slurm.job_id | grep -qE '^[0-9]+$' && echo true)"
expect_run "background: run wait on the fix run" 0 "" "" -- "$S" run wait R-0002
"$S" run list >/dev/null 2>&1 & # a reader racing the last step changes nothing
"$S" run show R-0002 >/dev/null 2>&1
wait
cd "$work"
same_chain background bg
eq "background: the loop under way is no longer recorded" "nil" "$(field bg/.agent/runs/R-0001/run.json .reaction.fix_run)"
eq "background: told once, of the chain's end, from here (not the node)" "R-0002 ended job=none" "$(cat notified)"
eq "nothing left in squeue" "" "$(squeue -h 2>/dev/null)"
finish
