#!/usr/bin/env bash
# End-to-end: the task-executor preset on temporary git repositories whose `command` runner is a
# fake implementer (tests/fixtures/presets/executor/fake_implementer.lua: edits files and prints
# the output markers by the scenario its plan names): done in 2 iterations (golden), a blocker
# and a question escalated with exit 1 (a completion never overrides a blocker), max_iterations
# reached, a failed run carried to the next iteration, claimed files checked against the real
# change, --json, --dry-run, a missing or unreadable plan. Then the examples (best_of_n,
# fix_until_green, multi_repo_audit) against fake agents, and docs/presets.md run as written.
# UPDATE_GOLDEN=1 rewrites the golden files from this run.
set -u
. "$(dirname "$0")/lib.sh" # S (absolute), here, root, $work; the shared helpers
F=$root/tests/fixtures/presets/executor
golden_dir=$root/tests/golden/presets
cd "$work"

# fake ROLE: a runner entry for .agent/config.lua running the examples' fake agent as ROLE.
fake() { printf '    %s = { command = { "%s", "script", "%s/fake_example_agent.lua", "%s" } },\n' "$1" "$S" "$F" "$1"; }

# exec_repo NAME SCENARIO: a repository whose `command` runner is the fake implementer and whose
# plan.md names SCENARIO.
exec_repo() {
  git_repo "$1"
  printf 'return { runners = { command = { command = { "%s", "script", "%s/fake_implementer.lua" } } } }\n' \
    "$S" "$F" >.agent/config.lua
  printf '# Plan\nScenario: %s\nWrite the files the scenario needs.\n' "$2" >plan.md
}
TE=("$S" preset run task-executor --param plan=plan.md --runner command)

# --- task-executor ----------------------------------------------------------------------------
expect_run "executor: listed" 0 "task-executor +built-in +Implement a task from a plan file" "" -- "$S" preset list
expect_run "executor: show" 0 "max_iterations +integer +3 .*plan +string +\(required\).*sandbox +string +workspace-write" \
  "" -- "$S" preset show task-executor

exec_repo done two_steps
expect_run "executor: complete in 2 iterations" 0 "" \
  "iteration 1 of 3.*implement on command.*iteration 2 of 3.*complete: Greeting and farewell written" -- "${TE[@]}"
it1=$(run_id 1) it2=$(run_id 2) # the two iterations' runs
golden task-executor-complete.txt "$work/out"
cp "$work/out" "$work/complete.txt"
expect_run "executor: the first prompt has no previous iteration" 1 "" "" -- grep -q "Previous iteration" .agent/runs/$it1/prompt.md
expect_run "executor: the second is told what the first did" 0 \
  "## Previous iteration\n\nThis is iteration 2 of at most 3.*- Created greet.txt.*- greet.txt \(created\).*Wrote the greeting. Remaining: the farewell file." \
  "" -- cat .agent/runs/$it2/prompt.md
expect_run "executor: the plan is in the prompt" 0 "## Plan\n\n# Plan\nScenario: two_steps\n" "" -- cat .agent/runs/$it1/prompt.md
expect_run "executor: the prompt lints clean" 0 "^prompt lint: no warnings\n$" "" -- "$S" -e '
  local pk = require("sidecar.prompt.kit"); local f = assert(io.open(".agent/runs/R-0001/prompt.md")); print(pk.lint_text(pk.lint(f:read("a"))))'
eq "executor: the run records the route" "workspace-write implement strong task-executor implementer" \
  "$(R=.agent/runs/$it1/run.json; echo $(jv .sandbox <$R) $(jv .route.kind <$R) $(jv .route.tier <$R) $(jv .preset <$R) $(jv .agent_role <$R))"
# The implementers wrote in the preset run's worktree: the last one's run carries both iterations.
eq "executor: the user's tree is untouched" "" "$(ls greet.txt farewell.txt 2>/dev/null)"
eq "executor: the printed apply command names the last implementer" "$it2" \
  "$(grep -oP '^  sidecar run apply \KR-[0-9]+' "$work/complete.txt")"
expect_run "executor: run apply brings the change" 0 "" "" -- "$S" run apply $it2
eq "executor: files written" "hello bye" "$(cat greet.txt farewell.txt | tr '\n' ' ' | sed 's/ $//')"
eq "executor: only the main tree is left, no sidecar branch" "1|" "$(git worktree list | wc -l)|$(git branch --list 'sidecar/*')"

git_repo done_json && cp "$work/done/.agent/config.lua" .agent/ && cp "$work/done/plan.md" .
"${TE[@]}" --json >result.json 2>/dev/null
eq "executor --json: ok" "true complete false" "$(jv .ok <result.json) $(jv .data.result.outcome <result.json) $(jv .data.result.escalate <result.json)"
r1=$(jv .data.runs.1 <result.json) r2=$(jv .data.runs.2 <result.json)
eq "executor --json: runs, one per iteration" "implementer implementer nil 1" \
  "$(jv .agent_role <.agent/runs/$r1/run.json) $(jv .agent_role <.agent/runs/$r2/run.json) $(jv .data.runs.3 <result.json) \
$(grep -c 'This is iteration 2 ' .agent/runs/$r2/prompt.md)"
eq "executor --json: confirmed files" "greet.txt farewell.txt" \
  "$(jv .data.result.files.confirmed.1 <result.json) $(jv .data.result.files.confirmed.2 <result.json)"
eq "executor --json: empty lists stay lists" "true" "$(grep -q '"changed_not_claimed": \[\]' result.json && echo true)"

exec_repo blocked blocked
expect_run "executor: blocked -> exit 1" 1 "" "blocked: API_BASE_URL" -- "${TE[@]}"
golden task-executor-blocked.txt "$work/out"
"${TE[@]}" --json >result.json 2>/dev/null
eq "executor --json blocked: escalates" "false blocked true API_BASE_URL not defined in config" \
  "$(jv .ok <result.json) $(jv .data.result.outcome <result.json) $(jv .data.result.escalate <result.json) $(jv .data.result.blockers.1.reason <result.json)"

exec_repo question question
expect_run "executor: a question -> exit 1 with its options" 1 \
  "Outcome: question\. Escalate to a person:\n  \[QUESTION\] Should I use localStorage or sessionStorage\?\n    1\. localStorage - persists across sessions\n    2\. sessionStorage - cleared on close\n" \
  "" -- "${TE[@]}"

exec_repo endless endless
expect_run "executor: max_iterations reached -> exit 1" 1 "" "iteration 2 of 2" -- "${TE[@]}" --param max_iterations=2
golden task-executor-max-iterations.txt "$work/out"
eq "executor: no third iteration" "" "$(ls step3.txt 2>/dev/null)"

exec_repo idle idle
expect_run "executor: no progress -> the circuit breaker, exit 1" 1 \
  "Iteration 2/3  R-\d+  in progress: 1 progress, 0 claimed\nOutcome: stopped by the circuit breaker \(no progress: iteration 2 changed no file and reported nothing new\)" \
  "" -- "${TE[@]}"
eq "executor: no third iteration after no progress" "2" "$(ls .agent/runs | wc -l)"
"${TE[@]}" --json >result.json 2>/dev/null
eq "executor --json: no_progress and its reason" "false no_progress no progress: iteration 2 changed no file and reported nothing new" \
  "$(jv .ok <result.json) $(jv .data.result.outcome <result.json) $(jv .data.result.stopped <result.json)"

exec_repo liar liar
expect_run "executor: files checked" 0 "" "" -- "${TE[@]}"
golden task-executor-files.txt "$work/out"

exec_repo crash crash
expect_run "executor: a failed run goes on to the next iteration" 0 \
  "Iteration 1/3  R-\d+  run failed: exited with code 3: fake implementer: out of memory\nIteration 2/3  R-\d+  complete: Recovered\n" \
  "" -- "${TE[@]}"

cd "$work/liar"
expect_run "executor: the plan is required" 2 "^$" "--param plan=\.\.\. is required" -- "$S" preset run task-executor --runner command
expect_run "executor: a missing plan" 1 "^task-executor: cannot read the plan file nope\.md \(No such file or directory\)\n$" "" -- \
  "$S" preset run task-executor --param plan=nope.md --runner command
: >empty.md
expect_run "executor: an empty plan" 1 "^task-executor: the plan file empty\.md is empty\n$" "" -- \
  "$S" preset run task-executor --param plan=empty.md --runner command
expect_run "executor: max_iterations 0" 1 "max_iterations must be 1 or more" "" -- "${TE[@]}" --param max_iterations=0

mkdir "$work/nogit" && cd "$work/nogit" && mkdir .agent && cp "$work/liar/.agent/config.lua" .agent/ && cp "$work/liar/plan.md" .
expect_run "executor: outside git the files are not checked" 0 \
  "complete: All done\n.*\nFiles: not checked \(not a git repository \(no \.git in \. or above it\)\)\n$" "" -- "${TE[@]}"

exec_repo dry two_steps
expect_run "executor --dry-run: the command and the prompt" 0 \
  "^Iteration 1 would run:\n  codex exec .*-s workspace-write .*-m gpt-5\.5 - < \./\.agent/runs/(R-\d+)/prompt\.md\nPrompt: \.agent/runs/\1/prompt\.md\n$" \
  "" -- "$S" preset run task-executor --param plan=plan.md --dry-run
expect_run "executor --dry-run: the prompt is recorded" 0 "## Plan\n\n# Plan\nScenario: two_steps" "" -- cat .agent/runs/$(run_id)/prompt.md
eq "executor --dry-run: nothing ran" "" "$(ls greet.txt 2>/dev/null)"

# --- examples: best of N ------------------------------------------------------------------------
git_repo best
{ echo "return { runners = {"; for r in alpha beta broken judge sloppy_judge; do fake $r; done; echo "} }"; } >.agent/config.lua
expect_run "best_of_n: the judge picks" 0 \
  "^Task: How should the CLI turn on debug logging\?\n  1  alpha .* R-\d+  finished\n  2  beta .* (R-\d+)  finished\n  3  broken .* R-\d+  failed: exited with code 4: broken candidate: no model\nWinner: candidate 2 \(beta, \1\)\nWhy: Candidate 2 explains the trade-off\.\n\nUse --log-level=debug: the best answer, it scales to more levels\.\n$" \
  "review on judge" -- "$S" script "$root/examples/best_of_n.lua" --runners alpha,beta,broken --judge judge \
  How should the CLI turn on debug logging?
expect_run "best_of_n: the candidates never see the runners' names" 1 "" "" -- \
  grep -q "alpha\|beta" ".agent/runs/$(runs_where runner_type judge)/prompt.md"
expect_run "best_of_n: a judge without JSON is re-prompted once" 0 "\n  2  beta .* (R-\d+)  finished\n.*Winner: candidate 2 \(beta, \1\)" \
  "review on sloppy_judge.*review on sloppy_judge" -- "$S" script "$root/examples/best_of_n.lua" \
  --runners alpha,beta --judge sloppy_judge "Pick a flag"
expect_run "best_of_n: an unknown runner stops before any run" 2 "^$" "unknown runner 'nope'" -- \
  "$S" script "$root/examples/best_of_n.lua" --runners alpha,nope "x"
expect_run "best_of_n: no task" 2 "^$" "usage: " -- "$S" script "$root/examples/best_of_n.lua"

# --- examples: fix until green --------------------------------------------------------------------
git_repo green
{ echo "return { runners = {"; for r in fixer_good fixer_stubborn fixer_wobbly fixer_blocked; do fake $r; done; echo "} }"; } >.agent/config.lua
# The test prints a duration that differs on every run: the failure signature must not see it.
cat >check.sh <<'EOF'
v=$(cat value.txt)
if [ "$v" = 42 ]; then echo "1 passed in 0.$$s"; else echo "FAIL test_value: expected 42, got $v (0.$$s)"; exit 1; fi
EOF
FIX=("$S" script "$root/examples/fix_until_green.lua" --max 2)
echo 7 >value.txt
expect_run "fix_until_green: fixed" 0 \
  "^test 1: FAIL \(exit 1\): FAIL test_value: expected 42, got 7 \(0\.\d+s\)\nfix 1: R-\d+ review: Fixed \(files: value\.txt\)\ntest 2: pass\nGreen after 1 fix\.\n$" \
  "" -- "${FIX[@]}" --runner fixer_good -- sh check.sh
expect_run "fix_until_green: the fixer saw the failure" 0 "## Test output\n\nExit 1\. .*got 7" "" -- cat .agent/runs/$(run_id)/prompt.md
echo 7 >value.txt
expect_run "fix_until_green: the circuit breaker" 1 \
  "fix 1: R-\d+ review: Nothing to fix \(files: none\)\ntest 2: FAIL .*\nCircuit breaker: the same failure as test 1; the fixes are not helping\. Escalate to a person\.\n$" \
  "" -- "${FIX[@]}" --runner fixer_stubborn -- sh check.sh
expect_run "fix_until_green: the cap" 1 \
  "got 7x .*fix 2: R-\d+ .*got 7xx .*\nStill failing after 2 fixes \(--max 2\)\.\n$" "" -- "${FIX[@]}" --runner fixer_wobbly -- sh check.sh
fix1=$(run_id 1) fix2=$(run_id 2)
expect_run "fix_until_green: later fixes hear of the earlier ones" 0 "Fix 1 \($fix1\) changed value\.txt, and the tests still failed" \
  "" -- cat .agent/runs/$fix2/prompt.md
echo 7 >value.txt
expect_run "fix_until_green: a blocked fixer" 1 "The fixer needs a person: \[BLOCKED\] The test needs a database\n$" "" -- \
  "${FIX[@]}" --runner fixer_blocked -- sh check.sh
expect_run "fix_until_green: an unknown runner" 2 "^$" "unknown runner 'nope'" -- "${FIX[@]}" --runner nope -- sh check.sh
expect_run "fix_until_green: no test command" 2 "^$" "usage: " -- "${FIX[@]}" --runner fixer_good
echo 42 >value.txt
expect_run "fix_until_green: already green" 0 "^test 1: pass\nGreen after 0 fixes\.\n$" "" -- "${FIX[@]}" -- sh check.sh

# --- examples: multi-repo audit ---------------------------------------------------------------------
mkdir -p "$work/audit" && cd "$work/audit"
for r in app lib; do
  mkdir $r && (cd $r && git init -q && mkdir .agent && { echo "return { runners = {"; fake reviewer; fake broken; echo "} }"; } >.agent/config.lua)
done
printf 'local function div(a, b)\n  return a / b\nend\n' >app/calc.lua
printf 'password=hunter2\n' >app/config.env
mkdir notgit
expect_run "multi_repo_audit: reports and summary" 1 \
  "^# Audit of app\n\n2 findings from 2 workers: 1 high, 1 medium\.\n\n### \[HIGH\] config\.env:1 — A password is committed in plain text\n\nAgreement: 1 of 2 workers \(security/reviewer\).*### \[MEDIUM\] calc\.lua:2 — Division by zero is not handled\n\nAgreement: 2 of 2 workers \(correctness/reviewer, security/reviewer\).*# Audit of lib\n\nNo findings from 2 workers\.\n.*# Summary\n\nREPOSITORY  FINDINGS  CRITICAL  HIGH  MEDIUM  LOW  REVIEWERS\napp                2         0     1       1    0  2 of 2 answered\nlib                0         0     0       0    0  2 of 2 answered\nnotgit             -         -     -       -    -  not a git repository\n$" \
  "review \[correctness\] on reviewer.*review \[security\] on reviewer" -- \
  "$S" script "$root/examples/multi_repo_audit.lua" --runner reviewer app lib notgit
eq "multi_repo_audit: reviewers are read-only" 2 "$(grep -l "EDITS: none; this run is read-only" app/.agent/runs/*/prompt.md | wc -l)"
eq "multi_repo_audit: the reviewers ran side by side in each repository" "2 2" \
  "$(ls app/.agent/runs | wc -l) $(ls lib/.agent/runs | wc -l)"
expect_run "multi_repo_audit: all answered -> exit 0" 0 "# Summary" "" -- \
  "$S" script "$root/examples/multi_repo_audit.lua" --runner reviewer --lenses security lib
expect_run "multi_repo_audit: a reviewer that fails is reported" 1 \
  "Reviewers without a usable answer:\n- security reviewer \(R-\d+\): exited with code 4: broken candidate: no model\n.*lib +0 +0 +0 +0 +0 +0 of 1 answered\nmissing +- .*working directory missing does not exist\n$" \
  "" -- "$S" script "$root/examples/multi_repo_audit.lua" --runner broken --lenses security lib missing

# --- docs/presets.md, run as written ------------------------------------------------------------------
mkdir -p "$work/doc/out" && cd "$work/doc"
"$S" script "$F/doc_script.lua" "$root/docs/presets.md" >page.sh
S=$S DOC_OUT=$work/doc/out HOME=$work/doc XDG_CONFIG_HOME=$work/doc/.config bash page.sh
count=$(cat out/count 2>/dev/null || echo 0)
[ "$count" -ge 8 ] && passed=$((passed + 1)) || { failed=$((failed + 1)); echo "FAIL docs: only $count commands found"; }
for n in $(seq "$count"); do
  if diff -u out/want.$n out/got.$n >"$work/diff"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL docs/presets.md: \$ $(cat out/cmd.$n)"
    sed 's/^/  /' "$work/diff" | head -20
  fi
done
eq "docs: the failing fake exits 1, the rest 0" "0 0 0 0 0 0 0 0 1" "$(for n in $(seq "$count"); do cat out/status.$n; done | tr '\n' ' ' | sed 's/ $//')"

finish
