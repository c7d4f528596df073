#!/usr/bin/env bash
# End-to-end: a writing run in a repository holding an untracked file larger than
# worktree.max_untracked_bytes (a checkpoint). The agent sees the file in its worktree, but it is
# never hashed into the user's .git nor committed while unchanged: the run, its apply and the
# user's tree leave it as it is. A change of the agent's to it is the run's change like any other
# (applied over the user's copy), and a change of the user's meanwhile makes that apply a conflict.
set -u
. "$(dirname "$0")/lib.sh" # S (absolute), here, root, $work; the shared helpers
export OUTDIR=$work/seen
mkdir -p "$OUTDIR" "$work/agents"

agent() { printf '#!/bin/sh\n%s\n' "$2" >"$work/agents/$1.sh"; }
agent looker 'cat >/dev/null; md5sum < data/ckpt.bin > "$OUTDIR/seen"; echo agent-line >> a.txt; echo done'
agent grower 'cat >/dev/null; echo more >> data/ckpt.bin; echo done'
agent linker 'cat >/dev/null; rm -rf data; mkdir -p "$OUTDIR/outside"; ln -s "$OUTDIR/outside" data; echo done'
config() {
  cat >.agent/config.lua <<EOF
return {
  runners = {
    looker = { command = { "sh", "$work/agents/looker.sh" } },
    grower = { command = { "sh", "$work/agents/grower.sh" } },
    linker = { command = { "sh", "$work/agents/linker.sh" } },
  },
  worktree = { max_untracked_bytes = "1MiB", spares = 0, ${1:-} },
  isolation = { write = { "$OUTDIR" }, env = { "OUTDIR" } }, -- what the agents saw, kept for the test
  gates = { ${2:-} },
}
EOF
}
run_json() { echo ".agent/runs/$1/run.json"; }
# Whether the repository holds an object of this file's content.
stored() { git cat-file -e "$(git hash-object "$1")" 2>/dev/null && echo stored || echo absent; }
objects_kib() { du -sk .git/objects | cut -f1; }

repo=$work/repo
mkdir "$repo" && cd "$repo" && git init -q -b main && git config user.email t@e && git config user.name T
echo a >a.txt && git add -A && git commit -qm init
"$S" init >/dev/null && config
mkdir data && head -c 3145728 /dev/urandom >data/ckpt.bin && echo small >small.txt
user_ckpt=$(md5sum <data/ckpt.bin)
objects_before=$(objects_kib)
"$S" task create --title "Look at the checkpoint" >/dev/null

# --- the agent sees the file; nothing of it reaches .git or the run's commit ---------------------
expect_run "a writing run beside a 3 MiB untracked file" 0 "^R-\d+ review" "" -- \
  "$S" run T-0001 --runner looker --sandbox workspace-write
id=$(run_id)
R=$(run_json "$id")
eq "the agent saw the user's file, byte for byte" "$user_ckpt" "$(cat "$OUTDIR/seen")"
eq "the run's change is the agent's edit alone" "a.txt nil" "$(field "$R" .worktree.files.1.path) $(field "$R" .worktree.files.2.path)"
eq "the record names the file left out" "data/ckpt.bin 3145728" \
  "$(field "$R" .worktree.left_out.1.path) $(field "$R" .worktree.left_out.1.size)"
eq "the small untracked file is in the run's commit" "small.txt" \
  "$(git ls-tree -r --name-only "$(field "$R" .worktree.result_commit)" | grep -x small.txt)"
eq "the large one is not" "" "$(git ls-tree -r --name-only "$(field "$R" .worktree.result_commit)" | grep ckpt)"
eq "the large file was never hashed into .git" "absent" "$(stored data/ckpt.bin)"
expect_run "its apply" 0 "applied to your work tree" "" -- "$S" run apply "$id"
eq "applied: the agent's edit" "agent-line" "$(tail -n 1 a.txt)"
eq "applied: the user's large file as it was" "$user_ckpt" "$(md5sum <data/ckpt.bin)"
eq "applied: still not in .git" "absent" "$(stored data/ckpt.bin)"
eq ".git/objects grew by far less than the file (KiB)" "yes" \
  "$([ $(($(objects_kib) - objects_before)) -lt 1024 ] && echo yes)"

# --- a pipeline's second step works in a worktree made from the first's result: the file again ---
"$S" task create --title "Look twice" >/dev/null
expect_run "pipeline looker,looker" 0 "R-\d+ +review.*R-\d+ +review" "" -- \
  "$S" run T-0002 --runner looker,looker --sandbox workspace-write
second=$(run_id 2)
eq "step 2 continues step 1" "$(run_id 1)" "$(field "$(run_json "$second")" .worktree.reused_from)"
eq "step 2's agent saw the user's file" "$user_ckpt" "$(cat "$OUTDIR/seen")"
eq "step 2's change is the two edits, not the file" "a.txt nil" \
  "$(field "$(run_json "$second")" .worktree.files.1.path) $(field "$(run_json "$second")" .worktree.files.2.path)"
eq "step 2 left it out too" "data/ckpt.bin" "$(field "$(run_json "$second")" .worktree.left_out.1.path)"
eq "still not in .git" "absent" "$(stored data/ckpt.bin)"
expect_run "discard the pipeline" 0 "discarded" "" -- "$S" run discard "$second"

# --- a step after one that changed the file sees that step's version, not the user's -------------
"$S" task create --title "Grow, then look" >/dev/null
expect_run "pipeline grower,looker" 0 "R-\d+ +review.*R-\d+ +review" "" -- \
  "$S" run T-0003 --runner grower,looker --sandbox workspace-write
eq "step 2 saw step 1's version" "$( (cat data/ckpt.bin && echo more) | md5sum)" "$(cat "$OUTDIR/seen")"
expect_run "discard it" 0 "discarded" "" -- "$S" run discard "$(run_id 2)"

# --- a step after an agent that made the file's folder a symlink writes nothing through it --------
"$S" task create --title "Link, then look" >/dev/null
# The link leads out of the repository: the symlinks_out gate would stop the pipeline after step 1.
config "" 'symlinks_out = "allow"'
expect_run "pipeline linker,looker" 0 "R-\d+ +review" "" -- "$S" run T-0004 --runner linker,looker --sandbox workspace-write
eq "nothing was copied through the agent's symlink" "" "$(ls "$OUTDIR/outside")"
eq "the user's file is where it was" "$user_ckpt" "$(md5sum <data/ckpt.bin)"
expect_run "discard it too" 0 "discarded" "" -- "$S" run discard "$(run_id 2)"
config

# --- a change of the agent's to it is its change; a change of the user's meanwhile a conflict ------
"$S" task create --title "Grow the checkpoint" >/dev/null
expect_run "an agent that changes the large file" 0 "^R-\d+ review" "" -- \
  "$S" run T-0005 --runner grower --sandbox workspace-write
grown=$(run_id)
eq "its change is the large file" "data/ckpt.bin" "$(field "$(run_json "$grown")" .worktree.files.1.path)"
echo user-edit >>data/ckpt.bin
mine=$(md5sum <data/ckpt.bin)
expect_run "applying over the user's own change to it" 1 "" "conflict" -- "$S" run apply "$grown"
eq "the conflicting apply left the user's file alone" "$mine" "$(md5sum <data/ckpt.bin)"
head -c 3145728 /dev/urandom >data/ckpt.bin
agents=$( (cat data/ckpt.bin && echo more) | md5sum)
"$S" task create --title "Grow it again" >/dev/null
expect_run "the agent changes it again" 0 "^R-\d+ review" "" -- \
  "$S" run T-0006 --runner grower --sandbox workspace-write
again=$(run_id)
expect_run "applying with the user's file unchanged" 0 "applied to your work tree" "" -- "$S" run apply "$again"
eq "the user's file is now the agent's version" "$agents" "$(md5sum <data/ckpt.bin)"
eq "nothing of the move aside is left" "ckpt.bin" "$(ls data)"

# --- with a setup command, whose files join the run's base ----------------------------------------
config 'setup = "echo ran > setup-marker"'
head -c 3145728 /dev/urandom >data/ckpt.bin # a new one: the last was the agent's, committed
"$S" task create --title "Look after a setup" >/dev/null
expect_run "a run with a setup" 0 "^R-\d+ review" "" -- "$S" run T-0007 --runner looker --sandbox workspace-write
R=$(run_json "$(run_id)")
eq "with a setup: the agent saw the file" "$(md5sum <data/ckpt.bin)" "$(cat "$OUTDIR/seen")"
eq "with a setup: the change is the agent's edit alone" "a.txt nil" \
  "$(field "$R" .worktree.files.1.path) $(field "$R" .worktree.files.2.path)"
eq "with a setup: not in .git" "absent" "$(stored data/ckpt.bin)"
eq "no sidecar worktree left" "1" "$(git worktree list | wc -l)"

finish
