#!/usr/bin/env bash
# End-to-end: one worktree per writing run, with command runners as fake agents. A writing run
# sees HEAD plus the user's uncommitted, staged and untracked files (ignored ones not, unless
# worktree.copy names them) and leaves the user's tree alone; its result is changes.patch and a
# branch; `run apply` brings exactly the change (three-way, unstaged), a conflicting apply
# changes nothing; discard, approve --apply, setup and its failure, pipelines continuing a
# worktree, tracking.branch, a worker killed mid-run (sweep), eight writers at once in the
# background, a read-only run in place, and a folder outside git.
set -u
. "$(dirname "$0")/lib.sh" # S (absolute), here, root, $work; the shared helpers
export OUTDIR=$work/seen
mkdir -p "$OUTDIR" "$work/agents"

# agent NAME BODY: a fake agent script (the prompt arrives on stdin; its cwd is where it works).
agent() { printf '#!/bin/sh\n%s\n' "$2" >"$work/agents/$1.sh"; }
agent probe 'pwd > "$OUTDIR/cwd"; cat b.txt > "$OUTDIR/b"; [ -f u.txt ] && echo yes > "$OUTDIR/u"
[ -f ignored.log ] && echo yes > "$OUTDIR/ignored"; [ -f .env.local ] && echo yes > "$OUTDIR/env"
[ -f setup-marker ] && echo yes > "$OUTDIR/setup"; git diff --cached --name-only > "$OUTDIR/staged"
echo agent-line >> a.txt; echo done'
agent writer 'f=$(grep -o "FILE-[0-9]*" | head -n 1); echo "$f" > "$f.txt"; sleep 1; echo "wrote $f"'
agent conflict 'sed -i "1s/.*/agent first line/" a.txt; echo done'
agent noop 'cat >/dev/null; echo nothing to do'
agent reader 'pwd > "$OUTDIR/reader-cwd"; echo read'
agent step2 'grep -q agent-line a.txt && echo yes > "$OUTDIR/step2-saw"; echo step2 >> d.txt; echo done'
agent sleeper 'echo crash-line >> a.txt; echo $$ > "$OUTDIR/sleeper.pid"; exec sleep 120'
agent editor 'echo editor-line >> b.txt; printf "\\000\\001" > new.bin; echo done'
agent pfile 'test -s "$1" && echo yes > "$OUTDIR/pfile"; echo done'

# config [WORKTREE_SETTINGS]: the config with every fake agent as a runner.
config() {
  {
    echo 'return {'
    echo '  runners = {'
    for a in probe writer conflict noop reader step2 sleeper editor; do
      echo "    $a = { command = { \"sh\", \"$work/agents/$a.sh\" } },"
    done
    echo "    pfile = { command = { \"sh\", \"$work/agents/pfile.sh\", \"{prompt_file}\" } },"
    echo '  },'
    echo "  worktree = { ${1:-} },"
    echo "  isolation = { write = { \"$OUTDIR\" }, env = { \"OUTDIR\" } }," # what the agents saw, kept for the test
    echo '}'
  } >.agent/config.lua
}
run_json() { echo ".agent/runs/$1/run.json"; }
# The user's tree as git and the files say: status, and a digest of every file outside .git/.agent.
tree_state() {
  git status --porcelain=v1 --untracked-files=all
  find . -path ./.git -prune -o -path ./.agent -prune -o -type f -print0 | sort -z | xargs -0 md5sum
}
only_main_tree() {
  eq "$1: git worktree list shows only the main tree" "1" "$(git worktree list | wc -l)"
  eq "$1: git worktree prune finds nothing" "" "$(git worktree prune --dry-run -v 2>&1)"
}

repo=$work/repo
mkdir "$repo" && cd "$repo" && git init -q -b main && git config user.email t@e && git config user.name T
printf 'line 1\nline 2\n' >a.txt && echo b >b.txt && printf '*.log\n.env.local\n' >.gitignore
git add -A && git commit -qm init
"$S" init >/dev/null && config 'copy = { ".env.local" }, setup = "echo ran > setup-marker"'
echo uncommitted >>b.txt
echo staged >s.txt && git add s.txt
echo untracked >u.txt && echo ignored >ignored.log && echo LOCAL=1 >.env.local
"$S" task create --title "Append a line" >/dev/null
before=$(tree_state)

# --- a writing run works in its own worktree -------------------------------------------------
expect_run "writing run" 0 "^R-\d+ review" "" -- "$S" run T-0001 --runner probe --sandbox workspace-write
writing=$(run_id)
R=$(run_json $writing)
eq "the agent worked in .agent/worktrees/$writing" "$repo/.agent/worktrees/$writing" "$(cat "$OUTDIR/cwd")"
eq "the worktree has the uncommitted change" "$(printf 'b\nuncommitted')" "$(cat "$OUTDIR/b")"
eq "the worktree has the untracked file" "yes" "$(cat "$OUTDIR/u" 2>/dev/null)"
eq "the worktree lacks the ignored file" "" "$(cat "$OUTDIR/ignored" 2>/dev/null)"
eq "worktree.copy brought .env.local" "yes" "$(cat "$OUTDIR/env" 2>/dev/null)"
eq "the setup command ran before the agent" "yes" "$(cat "$OUTDIR/setup" 2>/dev/null)"
eq "the setup's own file is not the run's change" "setup-marker" "$(field $R .worktree.setup.files.1.path)"
eq "the user's changes are staged there (the agent's own show in git diff)" "$(printf 'b.txt\ns.txt\nu.txt')" \
  "$(cat "$OUTDIR/staged")"
eq "the user's tree is untouched" "$before" "$(tree_state)"
eq "record: branch" "sidecar/$writing" "$(field $R .worktree.branch)"
eq "record: state ready" "ready" "$(field $R .worktree.state)"
eq "record: the change is exactly a.txt" "a.txt modified nil" \
  "$(field $R .worktree.files.1.path) $(field $R .worktree.files.1.change) $(field $R .worktree.files.2.path)"
eq "record: the agent's changed files" "a.txt nil" "$(field $R .changed_files.1) $(field $R .changed_files.2)"
eq "record: base is HEAD" "$(git rev-parse HEAD)" "$(field $R .worktree.base_commit)"
expect_run "changes.patch holds the change" 0 "\+\+\+ b/a\.txt.*\+agent-line" "" -- cat .agent/runs/$writing/changes.patch
eq "the branch's commit is Sidecar's" "Sidecar <sidecar@localhost>" "$(git log -1 --format='%an <%ae>' sidecar/$writing)"
eq "the branch's commit names the run and task" "sidecar $writing: result of task T-0001" \
  "$(git log -1 --format=%s sidecar/$writing)"
eq "the worktree folder is gone" "no" "$([ -e .agent/worktrees/$writing ] && echo yes || echo no)"
only_main_tree "after the run"
expect_run "run show: the worktree" 0 "Worktree:\n  path +$repo/\.agent/worktrees/$writing \(removed\).*branch +sidecar/$writing.*patch +\.agent/runs/$writing/changes\.patch \(1 file\).*change +ready: sidecar run apply $writing" \
  "" -- "$S" run show $writing

# --- apply brings exactly the change ----------------------------------------------------------
expect_run "run apply" 0 "^$writing applied to your work tree \(unstaged\): 1 file\n  modified +a\.txt\n$" "" -- \
  "$S" run apply $writing
eq "apply: a.txt has the agent's line" "$(printf 'line 1\nline 2\nagent-line')" "$(cat a.txt)"
eq "apply: unstaged, the index as it was" "s.txt" "$(git diff --cached --name-only)"
eq "apply: nothing else changed" "$(printf '%s\n' "$before" | grep -v 'a\.txt$')" "$(tree_state | grep -v 'a\.txt$')"
eq "apply: the branch is deleted" "" "$(git branch --list "sidecar/$writing")"
eq "apply: recorded" "applied" "$(field $R .worktree.state)"
expect_run "apply twice: refused" 1 "^$" "$writing was applied already" -- "$S" run apply $writing
only_main_tree "after apply"

# --- a conflicting apply changes nothing -------------------------------------------------------
expect_run "conflicting run" 0 "^R-\d+ review" "" -- "$S" run T-0001 --runner conflict --sandbox workspace-write
conflicting=$(run_id)
sed -i '1s/.*/my own first line/' a.txt
before=$(tree_state)
expect_run "apply: conflict" 1 "^$" "$conflicting conflicts with your work tree in a\.txt; nothing was changed" -- \
  "$S" run apply $conflicting
eq "conflict: the tree is unchanged" "$before" "$(tree_state)"
"$S" run apply $conflicting --json >"$work/apply.json" 2>/dev/null
eq "conflict --json: ok false, the file named" "false a.txt" "$(field "$work/apply.json" .ok) $(field "$work/apply.json" .data.conflicts.1)"
expect_run "discard" 0 "^$conflicting discarded: branch sidecar/$conflicting deleted; its change stays in \.agent/runs/$conflicting/changes\.patch; [0-9]+ blobs? \([0-9]+ bytes\) only it wrote left \.git/objects\n$" \
  "" -- "$S" run discard $conflicting
eq "discard: the branch is gone" "" "$(git branch --list "sidecar/$conflicting")"
eq "discard: the patch stays" "yes" "$([ -s .agent/runs/$conflicting/changes.patch ] && echo yes)"
eq "discard: the tree is unchanged" "$before" "$(tree_state)"
expect_run "apply after discard: refused" 1 "" "$conflicting was discarded already" -- "$S" run apply $conflicting
only_main_tree "after discard"

# --- no changes; approve --apply; --json -------------------------------------------------------
expect_run "a run that changes nothing" 0 "^R-\d+ review" "" -- "$S" run T-0001 --runner noop --sandbox workspace-write
expect_run "apply: no changes" 0 "^$(run_id) has no changes to apply" "" -- "$S" run apply "$(run_id)"
git checkout -q a.txt
"$S" task create --title "Second" >/dev/null
expect_run "run T-0002" 0 "^R-\d+ review" "" -- "$S" run T-0002 --runner probe --sandbox workspace-write
approved=$(run_id)
expect_run "approve --apply" 0 "^$approved approved by .*\n$approved applied to your work tree \(unstaged\): 1 file" "" -- \
  "$S" run approve $approved --apply
eq "approve --apply: approved" "completed approved" "$(field $(run_json $approved) .status) $(field $(run_json $approved) .review_state)"
eq "approve --apply: applied" "agent-line" "$(tail -n 1 a.txt)"
git checkout -q a.txt
id=$("$S" run T-0002 --runner probe --sandbox workspace-write 2>/dev/null | run_ids - | head -n 1)
"$S" run apply "$id" --json >"$work/apply.json"
eq "apply --json" "true true a.txt" "$(field "$work/apply.json" .ok) $(field "$work/apply.json" .data.applied) $(field "$work/apply.json" .data.files.1.path)"
git checkout -q a.txt
id=$("$S" run T-0002 --runner probe --sandbox workspace-write 2>/dev/null | run_ids - | head -n 1)
"$S" run discard "$id" --json >"$work/discard.json"
eq "discard --json" "true true" "$(field "$work/discard.json" .ok) $(field "$work/discard.json" .data.branch_deleted)"

# --- paths into .agent handed to the agent still lead there from its worktree -------------------
expect_run "a runner reading {prompt_file}" 0 "^R-\d+ review" "" -- "$S" run T-0002 --runner pfile --sandbox workspace-write
"$S" run discard "$(run_id)" >/dev/null
eq "the prompt file was found from the worktree" "yes" "$(cat "$OUTDIR/pfile" 2>/dev/null)"

# --- a read-only run stays in place ------------------------------------------------------------
expect_run "read-only run" 0 "^R-\d+ review" "" -- "$S" run T-0002 --runner reader
eq "read-only: in the user's tree" "$repo" "$(cat "$OUTDIR/reader-cwd")"
eq "read-only: no worktree recorded" "nil" "$(field $(run_json "$(run_id)") .worktree)"

# --- setup failure -----------------------------------------------------------------------------
config 'setup = "echo preparing; echo npm broke >&2; exit 3"'
expect_run "setup failure fails the run" 1 "^R-\d+ failed: worktree setup .* exited with code 3: npm broke" "" -- \
  "$S" run T-0002 --runner probe --sandbox workspace-write
id=$(run_id)
eq "setup failure: its log" "$(printf 'preparing\nnpm broke')" "$(cat .agent/runs/$id/setup.log)"
eq "setup failure: no branch left" "" "$(git branch --list "sidecar/$id")"
only_main_tree "after a failed setup"
config

# --- a pipeline continues the task's worktree -----------------------------------------------------
"$S" task create --title "Pipeline" >/dev/null
expect_run "pipeline probe,step2" 0 "R-\d+ +review.*R-\d+ +review" "" -- \
  "$S" run T-0003 --runner probe,step2 --sandbox workspace-write
step1=$(run_id 1) step2=$(run_id 2)
eq "step 2 saw step 1's change" "yes" "$(cat "$OUTDIR/step2-saw" 2>/dev/null)"
eq "step 2 continues step 1" "$step1" "$(field $(run_json $step2) .worktree.reused_from)"
eq "step 2's patch sums both" "a.txt d.txt" \
  "$(field $(run_json $step2) .worktree.files.1.path) $(field $(run_json $step2) .worktree.files.2.path)"
eq "step 2's own changes" "d.txt nil" "$(field $(run_json $step2) .changed_files.1) $(field $(run_json $step2) .changed_files.2)"
expect_run "apply the pipeline's last step" 0 "2 files" "" -- "$S" run apply $step2
eq "step 1 applied with it" "applied $step2" "$(field $(run_json $step1) .worktree.state) $(field $(run_json $step1) .worktree.applied_with)"
eq "both branches gone" "" "$(git branch --list 'sidecar/*')"
git checkout -q a.txt && rm -f d.txt

# --- tracking.branch ---------------------------------------------------------------------------------
"$S" task create --title "Tracked" >/dev/null
"$S" -e 'local s = assert(require("sidecar.core.store").open(".agent")); local t = s:get_task("T-0004")
  t.tracking = { branch = "feature/tracked" }; assert(s:update_task(t))'
expect_run "run with tracking.branch" 0 "^R-\d+ review" "" -- "$S" run T-0004 --runner probe --sandbox workspace-write
tracked=$(run_id)
eq "tracking.branch: the run's branch" "feature/tracked" "$(field $(run_json $tracked) .worktree.branch)"
eq "tracking.branch: holds the result" "agent-line" "$(git show feature/tracked:a.txt | tail -n 1)"
"$S" run discard $tracked >/dev/null

# --- a worker killed mid-run: sweep recovers its worktree ------------------------------------------
"$S" task create --title "Crash" >/dev/null
id=$("$S" run T-0005 --runner sleeper --sandbox workspace-write --background 2>/dev/null)
wait_until "crash: the agent started" 60 test -s "$OUTDIR/sleeper.pid"
worker=$(field $(run_json "$id") .worker_pid)
kill -9 "$worker" "$(cat "$OUTDIR/sleeper.pid")" 2>/dev/null
poll 30 eval '! kill -0 "$worker" 2>/dev/null'
eq "crash: the worktree is still there" "yes" "$([ -d ".agent/worktrees/$id" ] && echo yes)"
expect_run "sweep recovers it" 0 "^$id\n$" "" -- "$S" -e 'local s = assert(require("sidecar.task.runs").open(".agent"))
  print(table.concat(require("sidecar.run.worktree_result").sweep(s), ","))'
eq "crash: the worktree is gone" "no" "$([ -e ".agent/worktrees/$id" ] && echo yes || echo no)"
eq "crash: the result is recorded" "ready a.txt" "$(field $(run_json "$id") .worktree.state) $(field $(run_json "$id") .worktree.files.1.path)"
expect_run "crash: its patch" 0 "\+crash-line" "" -- cat ".agent/runs/$id/changes.patch"
only_main_tree "after the sweep"
expect_run "sweep again: nothing" 0 "^\n$" "" -- "$S" -e 'local s = assert(require("sidecar.task.runs").open(".agent"))
  print(table.concat(require("sidecar.run.worktree_result").sweep(s), ","))'
"$S" run kill "$id" >/dev/null 2>&1 # the worker is gone: the run ends (interrupted)
expect_run "discard the crashed run" 0 "^$id discarded" "" -- "$S" run discard "$id"

# --- eight writers at once ------------------------------------------------------------------------
git checkout -q a.txt
before=$(tree_state)
ids=()
for i in 1 2 3 4 5 6 7 8; do
  "$S" task create --title "Write FILE-$i" >/dev/null
  ids+=("$("$S" run "T-$(printf %04d $((5 + i)))" --runner writer --sandbox workspace-write --background 2>/dev/null)")
done
eq "eight background runs started" "8" "$(printf '%s\n' "${ids[@]}" | grep -c '^R-[0-9]*$')"
for id in "${ids[@]}"; do "$S" run wait "$id" --timeout 120s >/dev/null; done
eq "eight writers: the user's tree untouched" "$before" "$(tree_state)"
for i in 1 2 3 4 5 6 7 8; do
  r=$(run_json "${ids[$((i - 1))]}")
  status=$(field "$r" .status)
  eq "writer $i: review" "review" "$status"
  [ "$status" = review ] || echo "  why: $(field "$r" .failure_reason)"
  eq "writer $i: exactly its own file" "FILE-$i.txt nil" "$(field "$r" .worktree.files.1.path) $(field "$r" .worktree.files.2.path)"
  eq "writer $i: the agent changed only its file" "FILE-$i.txt nil" "$(field "$r" .changed_files.1) $(field "$r" .changed_files.2)"
done
for id in "${ids[@]}"; do "$S" run apply "$id" >/dev/null || echo "FAIL apply $id"; done
eq "eight writers: all applied" "FILE-1 FILE-2 FILE-3 FILE-4 FILE-5 FILE-6 FILE-7 FILE-8" "$(cat FILE-*.txt | tr '\n' ' ' | sed 's/ $//')"
eq "eight writers: no sidecar branch left" "" "$(git branch --list 'sidecar/*')"
only_main_tree "after eight writers"
eq "at most two spare copies kept" "yes" "$([ "$(ls -d .agent/worktrees/.spare-* 2>/dev/null | wc -l)" -le 2 ] && echo yes)"

# --- no git process on a writing run's path: a git on PATH records every call -------------------
mkdir -p "$work/gitbin"
printf '#!/bin/sh\necho "$*" >> "%s/git-calls"\nexec "%s" "$@"\n' "$work" "$(command -v git)" >"$work/gitbin/git"
chmod +x "$work/gitbin/git"
tid=$("$S" task create --title "Edit, git unused" | grep -o 'T-[0-9]*' | head -n 1)
: >"$work/git-calls"
expect_run "a writing run with a recording git on PATH" 0 "^R-\d+ review" "" -- \
  env PATH="$work/gitbin:$PATH" "$S" run "$tid" --runner editor --sandbox workspace-write
nogit=$(run_id)
eq "its change is recorded" "b.txt new.bin" "$(field $(run_json $nogit) .worktree.files.1.path) $(field $(run_json $nogit) .worktree.files.2.path)"
expect_run "its apply" 0 "applied to your work tree" "" -- env PATH="$work/gitbin:$PATH" "$S" run apply "$nogit"
eq "the run and its apply started no git" "" "$(cat "$work/git-calls")"
eq "the applied change" "editor-line" "$(tail -n 1 b.txt)"
only_main_tree "after the run without git"

# --- outside git: in place, and said so ----------------------------------------------------------
mkdir "$work/plain" && cd "$work/plain" && "$S" init >/dev/null && config
"$S" task create --title "Plain" >/dev/null
expect_run "outside git: runs" 0 "^R-\d+ review" "" -- "$S" run T-0001 --runner probe --sandbox workspace-write
id=$(run_id)
eq "outside git: in place" "$work/plain" "$(cat "$OUTDIR/cwd")"
eq "outside git: recorded" "true" "$(field $(run_json $id) .worktree.in_place)"
expect_run "outside git: apply says why" 1 "" "did not run in a worktree of its own \(not a git repository" -- \
  "$S" run apply $id

finish
