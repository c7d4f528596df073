#!/usr/bin/env bash
# End-to-end: `sidecar preset run P --executor slurm` on a throwaway one-node cluster
# (tests/e2e/slurm_cluster.sh). triangulated-review's three side-by-side reviewers (the fake agent
# of the preset tests, tests/fixtures/presets/review/fake_answer.lua) run as ONE job array and give
# the same findings, text and run records as the same preset run locally (times, ids, processes
# aside); a lone ctx:agent reader is one batch job, a writer runs here; `run kill` of a step
# cancels its job and the preset reports the run interrupted by Slurm's CANCELLED; Ctrl-C on the
# preset cancels its batch, leaving no run active and nothing in squeue. Says SKIP with the reason
# when the cluster cannot start.
set -u
. "$(dirname "$0")/lib.sh" # S (absolute), here, root, $work; the shared helpers
. "$here/slurm_cluster.sh"
F=$root/tests/fixtures/presets/review
slurm_test_start "$work/cluster"
cd "$work"
# The repositories' commits are the same commits (the records name them).
export GIT_AUTHOR_DATE=2026-01-01T00:00:00Z GIT_COMMITTER_DATE=2026-01-01T00:00:00Z

# review_repo NAME: a repository with a change to review; runners: `command` (the canned
# reviewer), `quick` (answers at once), `slow` (sleeps), `writer` (writes a file); the test
# preset `trio` (three readers side by side, the third on --param slow's runner, then a lone
# reader and a writer) and `mixed` (a reader and a writer in one batch).
review_repo() {
  git_repo "$1"
  add_runners "    command = { command = $(lua_list "$S" script "$F/fake_answer.lua" "$F/answers/good") },
    quick = { command = { \"sh\", \"-c\", \"cat >/dev/null; echo quick answer\" } },
    slow = { command = { \"sleep\", \"300\" } },
    writer = { command = { \"sh\", \"-c\", \"cat >/dev/null; echo note >note.txt; echo wrote note.txt\" } },"
  mkdir src && printf 'import pickle\n\nclass Cache:\n    def load(self, path):\n        return pickle.load(open(path, "rb"))\n' >src/cache.py
  git add -A . && git -c user.email=t@e -c user.name=t commit -qm init
  printf '    def get(self, key):\n        return self.items[key]\n' >>src/cache.py
  mkdir -p .agent/presets
  cat >.agent/presets/trio.lua <<'LUA'
local preset = require("sidecar.preset.define")
local function line(r)
  return ("%s %s %s"):format(r.lens, r.status, r.why or (r.output or ""):gsub("\n", ""))
end
return preset.define({
  name = "trio",
  summary = "Three readers side by side, then a lone reader and a writer",
  params = { slow = { type = "string", default = "quick", doc = "the third reader's runner" },
    write = { type = "boolean", default = false, doc = "end with a writer" } },
  run = function(ctx, p)
    local lines = {}
    for _, r in ipairs(ctx:agents({ { kind = "scan", lens = "a", runner = "quick", prompt = "First" },
      { kind = "scan", lens = "b", runner = "quick", prompt = "Second" },
      { kind = "scan", lens = "c", runner = p.slow, prompt = "Third" } })) do
      lines[#lines + 1] = line(r)
    end
    lines[#lines + 1] = line(ctx:agent({ kind = "scan", lens = "solo", runner = "quick", prompt = "Alone" }))
    if p.write then
      lines[#lines + 1] = line(ctx:agent({ kind = "implement", lens = "w", runner = "writer", prompt = "Write" }))
    end
    return { text = table.concat(lines, "\n") .. "\n" }
  end,
})
LUA
  cat >.agent/presets/mixed.lua <<'LUA'
local preset = require("sidecar.preset.define")
return preset.define({
  name = "mixed",
  summary = "A reader and a writer side by side",
  run = function(ctx)
    local rs = ctx:agents({ { kind = "scan", lens = "r", runner = "quick", prompt = "Read" },
      { kind = "implement", lens = "w", runner = "writer", prompt = "Write" } })
    return { text = ("%s %s\n%s %s\n"):format(rs[1].lens, rs[1].status, rs[2].lens, rs[2].status) }
  end,
})
LUA
}

# --- triangulated-review, locally and through Slurm: the same result and records ----------------
(review_repo here)
(review_repo there)
LENSES="--param lenses=correctness,risks,security"
(cd here && "$S" preset run triangulated-review --runner command $LENSES --json >"$work/local.json" 2>/dev/null)
cd there
expect_run "preset run --executor slurm: the three reviewers as one job array" 0 "" \
  "review \[correctness\] on command.*R-\d+ as a Slurm job.*3 agents submitted as Slurm job array \d+" \
  -- "$S" preset run triangulated-review --runner command $LENSES --executor slurm --json
cp "$work/out" "$work/slurm.json"
cd "$work"
eq "the preset's answer: ok" "true true" "$(field local.json .ok) $(field slurm.json .ok)"
# The result (findings, their sources, the report) with run ids and the repository's path aside.
normal() { "$S" -e 'local j = require("sidecar.core.json")
  local d = j.decode(io.read("a")).data
  print((j.encode({ result = d.result, text = d.text, runs = #d.runs }):gsub("R%-%d%d%d%d", "R-NNNN")))'; }
normal <local.json >local.result
normal <slurm.json >slurm.result
eq "the preset's result: the same findings, sources and text" "$(cat local.result)" "$(cat slurm.result)"
eq "the result: five findings" "5" \
  "$("$S" -e 'print(#require("sidecar.core.json").decode(io.read("a")).data.result.findings)' <slurm.json)"
cp "$here/compare_records.lua" compare.lua
ignored=completed_at,started_at,created_at,updated_at,duration_ms,owner_pid,owner_start,starter_pid,starter_start
ignored+=,worker_pid,worker_start,process_mark,revision,executor,slurm,repo,command,run_id,prompt_path
ignored+=,preset_pid,preset_start # the process that ran the preset: each run its own
ignored+=,owner_shared # a local preset's pool runs its runs side by side, a Slurm job one: how it ran
ignored+=,peak_rss,peak_tasks # sampled while the agent runs: measurements, not outcomes
ignored+=,withheld_env # the names of what the machine hands in: a Slurm job's environment differs
ignored+=,agent_slot # which of the machine's agent slots it took, and how long it waited: where it ran
ignored+=,reused # folders its secret-file search took from its process's earlier one: a cache of where it ran
# run_of DIR LENS: the newest run of that lens in DIR's store.
run_of() { grep -l "\"lens\": \"$2\"" "$work/$1"/.agent/runs/R-*/run.json | tail -1; }
for lens in correctness risks security; do
  eq "run record ($lens): the same fields" "" \
    "$("$S" script compare.lua "$(run_of here $lens)" "$(run_of there $lens)" "$ignored")"
  eq "prompt ($lens): the same bytes" "$(cat "$(dirname "$(run_of here $lens)")/prompt.md")" \
    "$(cat "$(dirname "$(run_of there $lens)")/prompt.md")"
  eq "output ($lens): the same bytes" "$(cat "$(dirname "$(run_of here $lens)")/output.md")" \
    "$(cat "$(dirname "$(run_of there $lens)")/output.md")"
done
eq "each Slurm run: the executor, Slurm's end" "slurm completed;slurm completed;slurm completed;" \
  "$(for r in there/.agent/runs/R-*/run.json; do printf '%s %s;' "$(field $r .executor)" "$(field $r .slurm.state)"; done)"
arrays=$(for r in there/.agent/runs/R-*/run.json; do field $r .slurm.array_job_id; done | sort -u)
eq "the three: one array" "1" "$(echo "$arrays" | wc -l | tr -d ' ')"
eq "the three: its tasks 0, 1, 2" "${arrays}_0 ${arrays}_1 ${arrays}_2" \
  "$(for r in there/.agent/runs/R-*/run.json; do field $r .slurm.job_id; done | sort | tr '\n' ' ' | sed 's/ $//')"
eq "each step: its job in its folder, the prompt in prompt.md only" "3 0 3" \
  "$(ls there/.agent/runs/R-*/preset_job.json | wc -l | tr -d ' ') \
$(cat there/.agent/runs/R-*/preset_job.json | grep -c "Review through") \
$(cat there/.agent/runs/R-*/prompt.md | grep -c "Review through the")"
expect_run "store check: the store and the copies agree" 0 "agree" "" -- "$S" store check --root there/.agent
eq "no scratch database left on the node" "" \
  "$(ls "${TMPDIR:-/tmp}" | grep -E "^sidecar-R-[0-9]+-${arrays}_?[0-9]*\.db" || true)"

# --- a lone reader is one batch job; a writer runs here ----------------------------------------
cd there
expect_run "trio --executor slurm: all answer" 0 "^a review quick answer\nb review quick answer\nc review quick answer\nsolo review quick answer\nw review wrote note.txt\n\nChanges \(made in a worktree" \
  "3 agents submitted as Slurm job array \d+.*1 agent submitted as Slurm job \d+\n" \
  -- "$S" preset run trio --executor slurm --param write=true
solo=$(run_of there solo)
eq "the lone reader: one job, not an array" "true" "$(field $solo .slurm.job_id | grep -qE '^[0-9]+$' && echo true)"
eq "the lone reader: Slurm says completed" "completed" "$(field $solo .slurm.state)"
w=$(run_of there w)
eq "the writer ran here, in the preset's worktree" "nil nil review" \
  "$(field $w .executor) $(field $w .slurm) $(field $w .status)"
eq "the user's tree is untouched" "no" "$([ -e note.txt ] && echo yes || echo no)"

# A batch with a writer: its reader goes to Slurm, the writer runs here beside it. The config's
# `executor = "slurm"` chooses Slurm without --executor.
sed -i 's/^  executor = "local",/  executor = "slurm",/' .agent/config.lua
expect_run "a reader and a writer in one batch, executor from the config" 0 "^r review\nw review\n" \
  "1 agent submitted as Slurm job \d+\n.*implement \[w\] on writer" -- "$S" preset run mixed
eq "the batch's reader ran on Slurm, its writer here" "slurm completed nil" \
  "$(field "$(run_of there r)" .executor) $(field "$(run_of there r)" .slurm.state) $(field "$(run_of there w)" .executor)"
sed -i 's/^  executor = "slurm",/  executor = "local",/' .agent/config.lua

# --- run kill of a step: its job cancelled, the preset reports it --------------------------------
# wait_running RUNNER: the id of the preset's run on RUNNER once it runs (at most 60 s).
wait_running() {
  local id
  for _ in $(seq 600); do
    id=$(runs_where runner_type "$1" | head -1)
    [ -n "$id" ] && [ "$(field .agent/runs/$id/run.json .status)" = running ] && echo "$id" && return 0
    sleep 0.1
  done
  return 1
}
"$S" preset run trio --executor slurm --param slow=slow >"$work/kill.out" 2>"$work/kill.err" &
preset=$!
killed=$(wait_running slow)
job=$(field .agent/runs/$killed/run.json .slurm.job_id)
expect_run "run kill of a preset's step: scancel" 0 "" "" -- "$S" run kill "$killed"
status=0
wait "$preset" || status=$?
eq "the preset goes on and ends" "0" "$status"
eq "the preset reports the killed step" "true" \
  "$(grep -qE "^c interrupted Slurm job ${job} ended CANCELLED" "$work/kill.out" && echo true)"
eq "the others answered" "3" "$(grep -c ' review quick answer$' "$work/kill.out")"
eq "the killed run: interrupted, Slurm says cancelled" "interrupted cancelled" \
  "$(field .agent/runs/$killed/run.json .status) $(field .agent/runs/$killed/run.json .slurm.state)"
eq "run kill: nothing left in squeue" "" "$(squeue -h 2>/dev/null)"

# --- Ctrl-C on the preset: its batch cancelled, no run left active ---------------------------------
"$S" preset run trio --executor slurm --param slow=slow >"$work/int.out" 2>"$work/int.err" &
preset=$!
slow_run=$(wait_running slow)
eq "the slow step runs before Ctrl-C" "true" "$([ -n "$slow_run" ] && echo true)"
kill -INT "$preset"
status=0
wait "$preset" || status=$?
eq "Ctrl-C: the preset stops (130)" "130" "$status"
eq "Ctrl-C: the slow run interrupted, Slurm says cancelled" "interrupted cancelled" \
  "$(field .agent/runs/$slow_run/run.json .status) $(field .agent/runs/$slow_run/run.json .slurm.state)"
eq "Ctrl-C: no run left active" "" "$("$S" run list --limit 0 | grep -E ' (queued|preparing|running) ' || true)"
eq "Ctrl-C: nothing left in squeue" "" "$(squeue -h 2>/dev/null)"
eq "Ctrl-C: no run's lock held (each can be taken)" "" "$("$S" -e 'local rr = require("sidecar.run.reconcile")
  local s = assert(require("sidecar.core.store").open(".agent"))
  for d in io.popen("ls .agent/runs"):lines() do
    local lock = rr.try_lock(s, d)
    if not lock then print(d) else lock:release() end
  end')"

# --- errors ----------------------------------------------------------------------------------------
expect_run "--executor: an unknown name" 2 "" "--executor 'nomad': not an executor \(one of: local, slurm\)" \
  -- "$S" preset run trio --executor nomad
expect_run "--dry-run --executor slurm: nothing submitted" 0 "dry_run" "" -- "$S" preset run trio --executor slurm --dry-run
eq "--dry-run: no job" "" "$(squeue -h 2>/dev/null)"
sed -i 's/^  runners = {/  slurm = { sbatch_args = { "--bogus-flag" } },\n  runners = {/' .agent/config.lua
expect_run "sbatch refuses: each step fails saying why, the preset goes on" 0 \
  "^a failed the Slurm job array could not be submitted: sbatch failed" "" -- "$S" preset run trio --executor slurm
eq "sbatch refuses: the preset's task is done, not left ready" "done" \
  "$("$S" task list --json | jv .data.1.status)"
cd "$work"
eq "nothing left in squeue" "" "$(squeue -h 2>/dev/null)"
finish