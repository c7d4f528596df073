#!/usr/bin/env bash
# End-to-end: the orchestration-pattern presets (review-fix-verify, scout-act-verify,
# split-by-sections, research-synthesis, options-sprint) run by `sidecar preset run` on a
# temporary git repository, with a fake agent as the `command` runner that answers by the role in
# its prompt (tests/fixtures/presets/patterns/fake_agent.lua; its implementer really edits
# src/calc.py). Each preset against a golden file, then --dry-run and a missing agent for each;
# the implementer's claims against the real change; rounds; the writer lock: two presets writing
# at once never overlap (the fake writer logs its start and end), a stale lock taken over, a busy
# one given up after a bounded wait, and two writers in one batch refused.
# UPDATE_GOLDEN=1 rewrites the golden files from this run.
set -u
. "$(dirname "$0")/lib.sh" # S (absolute), here, root, $work; the shared helpers
F=$root/tests/fixtures/presets/patterns
golden_dir=$root/tests/golden/presets
cd "$work"
export XDG_CONFIG_HOME=$work/xdg # no user presets

# new_repo NAME [CODEX]: a git repository with a committed src/calc.py, a change to it, doc.md,
# and the fake agent as the `command` runner; CODEX, when given, is the codex runner's program.
new_repo() {
  mkdir "$work/$1" && cd "$work/$1" && git init -q
  "$S" init >/dev/null
  mkdir src && printf 'def divide(a, b):\n    return a / b\n' >src/calc.py && printf '# calc\n' >README.md
  cp "$F/doc.md" doc.md
  git add -A . && git -c user.email=t@e -c user.name=t commit -qm base
  printf '\ndef twice(x):\n    return 2 * x\n' >>src/calc.py
  local runners
  runners="    command = { command = $(lua_list "$S" script "$F/fake_agent.lua") },"
  if [ -n "${2:-}" ]; then runners+=$'\n'"    codex = { program = $(lua_list "$2") },"; fi
  add_runners "$runners"
  sandbox_allow env "FAKE_*" # the agents' orders, given by name
}
# reset: src/calc.py back to the committed file plus the change under review.
reset() {
  git checkout -q src/calc.py && printf '\ndef twice(x):\n    return 2 * x\n' >>src/calc.py
}
# run_preset NAME EXTRA_ARGS...: each preset with the parameters it needs (stdout in $work/out).
run_preset() {
  local p=$1
  shift
  case $p in
    review-fix-verify) "$S" preset run "$p" "$@" ;;
    scout-act-verify) "$S" preset run "$p" --param "goal=divide() returns None for a zero divisor" "$@" ;;
    split-by-sections) "$S" preset run "$p" --param "task=Check each section for clarity" --param file=doc.md "$@" ;;
    research-synthesis) "$S" preset run "$p" --param "topic=Should we adopt X?" \
      --param "questions=Is X fast?,Is X maintained?" "$@" ;;
    options-sprint) "$S" preset run "$p" --param "goal=a plan for the migration" \
      --param angles=minimal,robust,fast "$@" ;;
  esac
}
PRESETS="review-fix-verify scout-act-verify split-by-sections research-synthesis options-sprint"
lock_gone() { eq "$1: no writer lock left" "" "$(ls -d .agent/writer.lock* 2>/dev/null)"; }

# --- each preset end to end, against its golden file ---------------------------------------------
new_repo main
# What the fake agents keep between runs lives in the test's folder, which their OS sandbox keeps
# private: they may write there.
mkdir -p "$work/state1" "$work/state2" && : >"$work/writers.log"
sandbox_allow write "$work/state1" "$work/state2" "$work/writers.log"
expect_run "preset show: a parameter's choices are said" 0 \
  "kind +string +scan +the kind of work, which picks the tier [^\n]*\(one of: scan, review, research, draft\)" "" -- \
  "$S" preset show split-by-sections
expect_run "the presets are listed" 0 "options-sprint +built-in.*research-synthesis +built-in.*review-fix-verify +built-in.*scout-act-verify +built-in.*split-by-sections +built-in" \
  "" -- "$S" preset list
for p in $PRESETS; do
  reset
  expect_run "$p runs" 0 "^# $p: " "" -- run_preset "$p" --runner command
  golden "$p.md" "$work/out"
  expect_run "$p show" 0 "^$p \(built-in.*Parameters.*Escalates:" "" -- "$S" preset show "$p"
  reset
  run_preset "$p" --runner command --json >"$work/$p.json" 2>/dev/null
  eq "$p --json" "preset run true $p" "$(jv .command <"$work/$p.json") $(jv .ok <"$work/$p.json") \
$(jv .data.preset <"$work/$p.json")"
done
lock_gone "after the presets"
# The writers work in the preset run's worktree: the user's tree changes only with `run apply`.
reset
run_preset review-fix-verify --runner command >"$work/rfv.out" 2>/dev/null
eq "review-fix-verify: the user's tree is untouched" "    return a / b" "$(sed -n 2p src/calc.py)"
apply_id=$(grep -oP '^  sidecar run apply \KR-[0-9]+' "$work/rfv.out")
eq "review-fix-verify: the apply command names the implementer's run" "implementer" \
  "$("$S" run show "$apply_id" --json | "$S" -e 'print(require("sidecar.core.json").decode(io.read("a")).data.agent_role)')"
expect_run "review-fix-verify: run apply brings the change" 0 "" "" -- "$S" run apply "$apply_id"
eq "review-fix-verify: exactly the implementer's fix is in the work tree" "    return a / b if b else None|src/calc.py" \
  "$(sed -n 2p src/calc.py)|$(git status --short | cut -c4- | tr '\n' ' ' | sed 's/ $//')"
eq "review-fix-verify: the change kept the user's uncommitted edit" "def twice(x):" "$(grep -o 'def twice(x):' src/calc.py)"
eq "review-fix-verify: only the main tree is left" "1" "$(git worktree list | wc -l)"
eq "review-fix-verify: the run's branch is gone" "" "$(git branch --list "sidecar/$apply_id")"
eq "the writer's run is recorded with its sandbox" "implementer workspace-write review" \
  "$("$S" run list --json | "$S" -e 'for _, r in ipairs(require("sidecar.core.json").decode(io.read("a")).data) do
    if r.agent_role == "implementer" then print(r.agent_role .. " " .. r.sandbox .. " " .. r.status) break end end')"

# --- dry runs and a missing agent: the plan, each step's command; exit 0, 1 -------------------------
for p in $PRESETS; do
  expect_run "$p --dry-run" 0 "^# $p: dry run\n\nNothing ran \(--dry-run\)" "^$" -- run_preset "$p" --dry-run
  golden "$p.dry-run.md" "$work/out"
done
eq "dry runs leave the work tree alone" " M src/calc.py" "$(git status --short)"
eq "every worker prompt passes the prompt lint" "" "$("$S" -e 'local pk = require("sidecar.prompt.kit")
  for _, path in ipairs(require("sidecar.core.artifact").open(".agent/runs"):list("*/prompt.md")) do
    local f = io.open(".agent/runs/" .. path); local w = pk.lint(f:read("a")); f:close()
    if #w > 0 then print(path, pk.lint_text(w)) end
  end')"
new_repo missing /nonexistent/codex
for p in $PRESETS; do
  expect_run "$p without its agent: the plan, and exit 1 (its work did not run)" 1 \
    "^# $p: not run\n\nNothing ran: /nonexistent/codex is not installed.*\n1\. .*\n   /nonexistent/codex exec " \
    "sidecar: preset run: \d+ steps? could not run, so the preset did not do its work: .*\(R-\d+\): /nonexistent/codex is not installed" \
    -- run_preset "$p"
done
"$S" preset run scout-act-verify --param goal=g --dry-run --json >dry.json
eq "--dry-run --json: the steps" "true scout implementer workspace-write dry_run" \
  "$(jv .ok <dry.json) $(jv .data.result.steps.1.role <dry.json) $(jv .data.result.steps.2.role <dry.json) \
$(jv .data.result.steps.2.sandbox <dry.json) $(jv .data.result.steps.2.status <dry.json)"
eq "--dry-run --json: the runs recorded, each step's command naming its run folder" "3 yes" \
  "$("$S" -e "print(#require('sidecar.core.json').decode(io.read('a')).data.runs)" <dry.json) \
$(jv .data.result.steps.1.command <dry.json | grep -q "/runs/$(jv .data.runs.1 <dry.json)/prompt.md" && echo yes)"
expect_run "an empty list parameter is a usage error (exit 2)" 2 "" \
  "--param lenses=: expected a list of one or more items, comma-separated \(lenses=a,b\)" -- \
  "$S" preset run triangulated-review --param lenses=
expect_run "... and so is a list of empty items" 2 "" "--param lenses=,: expected a list of one or more items" -- \
  "$S" preset run triangulated-review --param lenses=,
mkdir -p .agent/presets
cat >.agent/presets/empty-lists.lua <<'LUA'
local json = require("sidecar.core.json")
return require("sidecar.preset.define").define({
  name = "empty-lists",
  summary = "Empty tables in data",
  run = function()
    return { text = "none\n", data = { findings = {}, nested = { runs = {} }, counts = json.object() } }
  end,
})
LUA
"$S" preset run empty-lists --json >empty.json
eq "an empty list in a preset's data is [], an empty object marked so is {}" '[] [] {}' \
  "$("$S" -e "local j = require('sidecar.core.json'); local d = j.decode(io.read('a')).data.result
print(j.encode(d.findings) .. ' ' .. j.encode(d.nested.runs) .. ' ' .. j.encode(d.counts))" <empty.json)"
rm .agent/presets/empty-lists.lua

# --- checks, rounds and re-prompts -------------------------------------------------------------
cd "$work/main"
reset
FAKE_LIE=1 expect_run "scout-act-verify: a claimed file that did not change escalates" 1 \
  "Files: confirmed src/calc.py; claimed but not changed docs/ghost.md; changed but not claimed -\..*Escalate: claimed but not changed: docs/ghost\.md" \
  "" -- run_preset scout-act-verify --runner command
reset
run_preset scout-act-verify --runner command --json >sav.json 2>/dev/null
eq "scout-act-verify --json" "true pass src/calc.py src/calc.py pass" "$(jv .ok <sav.json) $(jv .data.result.outcome <sav.json) \
$(jv .data.result.scout_files.1 <sav.json) $(jv .data.result.files.confirmed.1 <sav.json) $(jv .data.result.verdict.verdict <sav.json)"
mkdir -p "$work/state1" "$work/state2"
reset
FAKE_STATE=$work/state1 expect_run "review-fix-verify: a failed verification escalates after max_rounds" 1 \
  "^# review-fix-verify: fail.*Verification: fail.*issue: divide\(1, 0\) still raises.*Escalate: verification still fails after 1 round\n" \
  "" -- run_preset review-fix-verify --runner command
reset
FAKE_STATE=$work/state2 expect_run "review-fix-verify: a second round fixes what the first did not" 0 \
  "^# review-fix-verify: pass.*## Round 1.*Verification: fail.*## Round 2.*Verification: pass.*pass after 2 rounds\.\n\nChanges \(made in a worktree; your work tree is untouched\): src/calc\.py\n  sidecar run apply R-[0-9]+ .*\n  sidecar run discard R-[0-9]+ .*\n$" \
  "" -- run_preset review-fix-verify --runner command --param max_rounds=2
reset
expect_run "review-fix-verify: a reviewer's wrong answer is re-prompted once" 0 \
  "reviewer \[format\]  R-[0-9]+  done \(after one re-prompt\).*pass after 1 round" "" -- \
  run_preset review-fix-verify --runner command --param lenses=correctness,format
eq "the re-prompt is a run of its own" "1" "$(grep -l 'did not match the required format' .agent/runs/*/prompt.md | wc -l)"
reset
expect_run "review-fix-verify: nothing found, nothing fixed" 0 "^# review-fix-verify: clean.*Nothing to fix" "" -- \
  run_preset review-fix-verify --runner command --param lenses=style
expect_run "split-by-sections: files, one section each" 0 "^# split-by-sections: .*\n\n2 files: 2 sections.*## 1\. src/calc\.py.*## 2\. README\.md" \
  "" -- "$S" preset run split-by-sections --runner command --param task=Check --param paths=src/calc.py,README.md
expect_run "split-by-sections: file or paths" 1 "give --param file" "" -- "$S" preset run split-by-sections --param task=x
expect_run "options-sprint: 2 to 5 options" 2 "" "options=9: expected 2 to 5" -- "$S" preset run options-sprint \
  --param goal=g --param options=9

# --- the writer lock ----------------------------------------------------------------------------
reset
: >"$work/writers.log"
export FAKE_LOG=$work/writers.log FAKE_WRITER_MS=1500
run_preset review-fix-verify --runner command >"$work/w1.out" 2>"$work/w1.err" &
w1=$!
# The second starts once the first one's writer works, so without the lock they would overlap.
wait_until "two writers: the first one's writer works" 60 grep -q start "$work/writers.log"
run_preset scout-act-verify --runner command >"$work/w2.out" 2>"$work/w2.err"
w2_status=$?
wait $w1
w1_status=$?
unset FAKE_LOG FAKE_WRITER_MS
eq "two writers: both pass" "0 0" "$w1_status $w2_status"
eq "two writers: never at once" "start end start end" \
  "$(sort -k2 -n "$work/writers.log" | cut -d' ' -f1 | tr '\n' ' ' | sed 's/ $//')"
eq "two writers: the second waited, saying for whom" "1" "$(grep -c "implementer (R-[0-9]*) waits for the work \
tree's writer lock (0 s so far), held by pid [0-9]* (preset review-fix-verify, task T-[0-9]*, run R-[0-9]*, implementer)" \
  "$work/w2.err")"
lock_gone "after two writers"

reset
dead=$(sh -c 'echo $$')
mkdir .agent/writer.lock && printf '{"pid": %s, "token": "old", "preset": "gone", "role": "implementer"}' "$dead" \
  >.agent/writer.lock/owner.json
expect_run "a stale lock (its process ended) is taken over" 0 "^# scout-act-verify: pass" \
  "took over a stale writer lock: pid $dead \(preset gone, implementer\) no longer runs" -- \
  run_preset scout-act-verify --runner command
lock_gone "after a takeover"

reset
sleep 30 &
holder=$!
mkdir .agent/writer.lock && printf '{"pid": %s, "token": "live", "preset": "elsewhere", "run_id": "R-0999"}' "$holder" \
  >.agent/writer.lock/owner.json
SIDECAR_WRITER_WAIT_MS=400 expect_run "a busy lock: the writer gives up after the bounded wait" 1 \
  "^# scout-act-verify: escalate.*implementer  R-[0-9]+  failed: another writer holds the work tree: pid $holder \(preset elsewhere, run R-0999\).*waited 0 s" \
  "waits for the work tree's writer lock" -- run_preset scout-act-verify --runner command
eq "a busy lock: the holder's lock is left alone" "live" "$(jv .token <.agent/writer.lock/owner.json)"
eq "a busy lock: the writer's run is recorded as failed, saying why" "failed" \
  "$("$S" run list --json | "$S" -e 'for _, r in ipairs(require("sidecar.core.json").decode(io.read("a")).data) do
    if r.agent_role == "implementer" then print(r.status) break end end')"
kill "$holder"
wait "$holder" 2>/dev/null
rm -rf .agent/writer.lock

mkdir -p .agent/presets && cp "$F/two_writers.lua" .agent/presets/two-writers.lua
runs_before=$(ls .agent/runs | wc -l)
expect_run "ctx:agents refuses two writers in one batch" 1 "" \
  "two-writers\.lua:[0-9]+: ctx:agents: steps 2 \(a, sandbox workspace-write\) and 3 \(b, sandbox workspace-write\) may both write" \
  -- "$S" preset run two-writers --runner command
eq "two writers in one batch: nothing ran" "$runs_before" "$(ls .agent/runs | wc -l)"
expect_run "ctx:agents: one writer among readers runs" 0 "^one writer: review review review\n" "" -- \
  "$S" preset run two-writers --runner command --param one=true
lock_gone "after a batch"

# --- the preset run's worktree and its gates ----------------------------------------------------
# Runners that are scripts: editors append to README.md; in the batch, the writer edits once all
# both readers have started (so they see its edit while they run), and the readers end once it
# has; the committer commits.
new_repo gated
mkdir "$work/bin" "$work/sync"
sandbox_allow write "$work/sync" # where the scripted agents meet (each in a pid namespace: no $$ there)
wait_for() { echo "i=0; while [ $1 ] && [ \$i -lt 1200 ]; do sleep 0.05; i=\$((i+1)); done"; }
printf '%s\n' "printf '# first\\n' >>README.md" >"$work/bin/editor.sh"
printf '%s\n' "$(wait_for "\$(ls $work/sync/started.* 2>/dev/null | wc -l) -lt 2")" \
  "printf '# second\\n' >>README.md; touch $work/sync/written" >"$work/bin/editor2.sh"
printf '%s\n' "mktemp $work/sync/started.XXXXXX >/dev/null" "$(wait_for "! -e $work/sync/written")" "echo fine" >"$work/bin/reader.sh"
printf '%s\n' "grep -c '^# [fs][ie]' README.md" >"$work/bin/checker.sh"
printf '%s\n' "printf '# c\\n' >>README.md && git -c user.email=a@b -c user.name=a commit -qam agent-commit && echo done" \
  >"$work/bin/committer.sh"
add_runners "$(for n in editor editor2 reader checker committer; do
  echo "    $n = { command = $(lua_list sh "$work/bin/$n.sh") },"; done)"
mkdir -p .agent/presets && cp "$F/mixed_batch.lua" .agent/presets/mixed-batch.lua
status_before=$(git status --short)
expect_run "mixed batch: readers beside a writer in the shared worktree are not blocked" 0 \
  "^first review -\nreader1 review -\nwriter review -\nreader2 review -\nafter review -\nafter saw: 2 \n\nChanges \(made in a worktree; your work tree is untouched\): README\.md\n  sidecar run apply R-[0-9]+ " \
  "" -- "$S" preset run mixed-batch
eq "mixed batch: the user's tree is untouched" "$status_before" "$(git status --short)"
reader1=$(grep -oP 'R-[0-9]+' <<<"$("$S" run list --json | "$S" -e 'for _, r in ipairs(require("sidecar.core.json").decode(io.read("a")).data) do
  if r.agent_role == "reader1" then print(r.run_id) break end end')")
"$S" run show "$reader1" --json >"$work/reader1.json"
# Under bubblewrap the reader's tree is kept read-only, so it is not read (tree_kept): the writer's
# edit is not in the reader's record at all. Elsewhere (Landlock) it is read, and left out by the
# judgement.
kind=$(jv .data.os_sandbox.kind <"$work/reader1.json")
eq "mixed batch: the reader's record ($kind), and its judgement on its own effect" \
  "$([ "$kind" = bwrap ] && echo "nil bwrap" || echo "README.md nil") review passed" \
  "$(jv .data.changed_files.1 <"$work/reader1.json") $(jv .data.tree_kept <"$work/reader1.json") \
$(jv .data.status <"$work/reader1.json") $(jv .data.gates.results.read_only_changes.verdict <"$work/reader1.json")"
eq "mixed batch: the judgement says how" "1" "$(jv .data.gates.judged <"$work/reader1.json" | grep -c "own effect")"
apply_id=$(grep -oP '^  sidecar run apply \KR-[0-9]+' "$work/out")
expect_run "mixed batch: run apply brings both writers' edits" 0 "" "" -- "$S" run apply "$apply_id"
eq "mixed batch: README.md has both edits" "# first|# second" "$(grep '^# [fs][ie]' README.md | tr '\n' '|' | sed 's/|$//')"
eq "mixed batch: only the main tree is left" "1" "$(git worktree list | wc -l)"
git checkout -q README.md

head_before=$(git rev-parse HEAD)
expect_run "a preset writer that commits is blocked by the commit gate" 0 \
  "^committer blocked made 1 commit \([0-9a-f]{7} \"agent-commit\"\)\n" "" -- "$S" preset run mixed-batch --param commit=true
eq "the commit stayed in the worktree: the user's HEAD did not move" "$head_before" "$(git rev-parse HEAD)"
discard_id=$(grep -oP '^  sidecar run discard \KR-[0-9]+' "$work/out")
expect_run "the blocked writer's change is discarded" 0 "" "" -- "$S" run discard "$discard_id"
eq "after discard: only the main tree, no sidecar branch" "1|" "$(git worktree list | wc -l)|$(git branch --list 'sidecar/*')"

finish
