#!/usr/bin/env bash
# End-to-end: the user's untracked secrets against a writing run's snapshot of their tree
# (host/git/git_tree.cpp tree_snapshot, stdlib/sidecar/run/worktree.lua) and against the search that
# hides secret files from the sandboxed agent (host/secrets/secret_file_find.cpp). The user's repository
# holds, untracked and not ignored, .env, .env.production, .envrc, a *.pem, an id_rsa, credentials,
# terraform.tfstate, a service-account.json, a kubeconfig, a *.kdbx, .aws/credentials and an .npmrc,
# each with bytes of its own; an ignored .env.local; a tracked .env.tracked (the user's choice);
# an ordinary untracked notes.txt. A fake agent then looks for them, commits an .env of its own for
# `run apply` to write over the user's, leaves one untracked; a worktree.setup writes one; and in a
# repository of 205 000 files the agent reads every .env it can find. Each case is prevented: no
# object anywhere in .git (loose or packed, reachable or not) holds a secret's bytes, the worktree
# never had the files, the agent read none of them, `run show` names each as left out; silent fails.
set -u
. "$(dirname "$0")/lib.sh" # S (absolute), here, root, $work; the shared helpers
. "$here/hostile_lib.sh"
cd "$work"
hostile_need_sandbox
export HOME=$work/home
mkdir -p "$HOME" && git config --global user.email t@example.com && git config --global user.name T
hostile_watch_home # the cases leave the user's home alone
mark=SNAPSECRET-$RANDOM$RANDOM-$$ # every secret's bytes hold it; nothing else does

SECRETS=".env .env.production .envrc config/server.pem keys/id_rsa credentials.json infra/terraform.tfstate
gcp/service-account.json kube/kubeconfig vault.kdbx .aws/credentials deploy/.npmrc"

# The fake agent: does what EVIL says in its worktree (its cwd), and prints what it found.
cat >"$work/agent.sh" <<'SH'
#!/bin/sh
cat >/dev/null
case $EVIL in
  look)
    for f in $SECRETS .env.local; do
      [ -e "$f" ] && echo "PRESENT $f"
      cat "$f" "$MAIN/$f" 2>/dev/null
    done
    [ -f .env.tracked ] && echo "TRACKED present"
    [ -f notes.txt ] && echo "NOTES present"
    grep -q copied .env.copyme 2>/dev/null && echo "COPY read"
    echo agent-line >>a.txt ;;
  commit-env) printf 'AGENT_OWN=1\n' >.env && git add -f .env && git commit -qm "agent: its own .env" ;;
  leave-env) printf 'AGENT_LEFT=1\n' >.env && echo agent-line >>a.txt ;;
  deep)
    find "$MAIN/data" -name .env -type f -exec cat {} + 2>/dev/null
    echo "FOUND $(find "$MAIN/data" -name .env | wc -l)" ;;
esac
echo "agent $EVIL: exit $?"
SH
chmod +x "$work/agent.sh"

# new_repo NAME: the user's repository with its secrets, `sidecar init`, the agent as runner
# `snoop`, worktree.copy naming .env.copyme and a setup that writes .env.setup; $MAIN for it.
new_repo() {
  mkdir -p "$work/$1" && cd "$work/$1"
  git init -q -b main repo && cd repo
  echo base >a.txt && printf '.agent/\n.env.local\ndata/\n' >.gitignore
  printf 'TRACKED=%s-tracked\n' "$mark" >.env.tracked # the user's own choice: tracked, so it stays
  git add -A && git commit -qm init
  local f
  for f in $SECRETS; do
    mkdir -p "$(dirname "$f")" && printf 'VALUE=%s-%s\n' "$mark" "$f" >"$f"
  done
  printf 'LOCAL=%s-local\n' "$mark" >.env.local
  printf 'COPY=copied\n' >.env.copyme
  echo "notes" >notes.txt
  "$S" init >/dev/null
  add_runners "    snoop = { command = $(lua_list "$work/agent.sh") },"
  sandbox_allow env EVIL MAIN SECRETS # the agent's orders, given by name
  sed -i "s|^    copy = {},|    copy = { \".env.copyme\" }, setup = \"echo SETUP=$mark-setup >.env.setup\",|" .agent/config.lua
  "$S" task create --title "look around" --status ready >/dev/null
  MAIN=$(pwd)
}

# secret_objects: each object of the repository (loose or packed, reachable or not, the worktrees'
# too) whose bytes hold the mark, as "ID: first line"; empty when none.
secret_objects() {
  git -C "$MAIN" cat-file --batch-all-objects --batch-check='%(objectname)' | while read -r id; do
    git -C "$MAIN" cat-file -p "$id" 2>/dev/null | grep -qaF "$mark" && echo "$id: $(git -C "$MAIN" cat-file -p "$id" | grep -aF "$mark" | head -n 1)"
  done | grep -v -- "-tracked$" # the tracked secret is the user's, in HEAD since before
}

# snapshot_run EVIL: one writing run of the agent; sets $id and $show (run show's text).
snapshot_run() {
  EVIL=$1 "$S" run T-0001 --runner snoop --sandbox workspace-write >"$work/out.$1" 2>&1
  id=$(run_ids "$work/out.$1" | head -n 1)
  show=$("$S" run show "$id" 2>&1)
}

# verdict NAME WHY: the case prevented when WHY is empty, else silent.
verdict() { if [ -z "$2" ]; then hostile_case "$1" prevented; else hostile_case "$1" silent "$2"; fi; }

export SECRETS MAIN
new_repo look
export MAIN
user_before=$(cd "$MAIN" && for f in $SECRETS .env.local; do sha256sum "$f"; done)
snapshot_run look
log=$MAIN/.agent/runs/$id/stdout.log
eq "look: the run is a writing run of its own worktree" "yes" \
  "$([ "$(field ".agent/runs/$id/run.json" .worktree.state)" = ready ] && echo yes)"
eq "look: the agent ran" "agent look: exit 0" "$(grep -h '^agent look' "$log")"
# Controls: what is not a secret of the user's reaches the worktree as before.
eq "look: the untracked notes.txt is in the worktree" "NOTES present" "$(grep -h '^NOTES' "$log")"
eq "look: the tracked .env.tracked is in the worktree (the user's choice)" "TRACKED present" "$(grep -h '^TRACKED' "$log")"
eq "look: worktree.copy brings .env.copyme, readable" "COPY read" "$(grep -h '^COPY' "$log")"
eq "look: the setup ran" "true" "$(field ".agent/runs/$id/run.json" .worktree.setup.ok)"

why=$(secret_objects)
verdict objects "${why:+objects holding a secret: $why}"
why=$(grep -h '^PRESENT' "$log" | tr '\n' ' ')
verdict worktree "${why:+the worktree had: $why}"
why=$(grep -aF "$mark" "$log" "$work/out.look" | head -n 3 | tr '\n' ' ')
verdict read "${why:+the agent read: $why}"
why=""
branch=$(field ".agent/runs/$id/run.json" .worktree.branch)
for f in $SECRETS .env.local .env.setup; do
  git -C "$MAIN" cat-file -e "$branch:$f" 2>/dev/null && why="$why $f"
done
verdict branch "${why:+the branch of the run holds:$why}"
# run show names each secret left out, as a secret.
why=""
line=$(printf '%s\n' "$show" | grep '^  left out' | grep 'secret file')
for f in $SECRETS; do
  case ", ${line#*left out }" in *", $f"[,:]*) ;; *) why="$why $f" ;; esac
done
[ -n "$line" ] || why="no left out line: $(printf '%s\n' "$show" | grep -A8 '^Worktree:')"
eq "run show: the secrets left out, by name" "" "$why"
eq "run show: said as secret files git does not track" "1" \
  "$(printf '%s\n' "$show" | grep -c "secret files git does not track: never hashed into the run's objects nor committed")"
eq "record: each left out with reason secret (and .env.copyme, which worktree.copy brings, and the setup's .env.setup)" "14" "$("$S" -e "local n = 0
  for _, f in ipairs(require('sidecar.core.json').decode(io.read('a')).worktree.left_out) do
    n = n + (f.reason == 'secret' and 1 or 0) end print(n)" <".agent/runs/$id/run.json")"
"$S" run apply "$id" >"$work/apply.look" 2>&1
eq "look: the run applies (a.txt)" "agent-line" "$(tail -n 1 a.txt)"
eq "look: the user's secrets are as they were" "$user_before" \
  "$(for f in $SECRETS .env.local; do sha256sum "$f"; done)"
why=$(secret_objects)
verdict objects-after-apply "${why:+objects holding a secret: $why}"
cd "$work"

# The agent commits an .env of its own: applying it would write over the user's untracked .env,
# which the run never saw. A conflict: nothing is written.
new_repo commit-env
user_env=$(sha256sum <.env)
snapshot_run commit-env
branch=$(field ".agent/runs/$id/run.json" .worktree.branch)
eq "commit-env: the agent's .env is its change" "AGENT_OWN=1" "$(git show "$branch:.env" 2>&1)"
"$S" run apply "$id" >"$work/apply.commit-env" 2>&1
status=$?
why=""
[ "$status" -ne 0 ] || why="run apply wrote it"
[ "$(sha256sum <.env)" = "$user_env" ] || why="${why:+$why; }the user's .env changed: $(head -c 100 .env)"
grep -q "conflicts with your work tree in .env" "$work/apply.commit-env" ||
  why="${why:+$why; }apply said: $(head -c 300 "$work/apply.commit-env")"
verdict apply-over-secret "$why"
why=$(secret_objects)
verdict commit-env-objects "${why:+objects holding a secret: $why}"
cd "$work"

# The agent leaves an untracked .env in its worktree: not the run's change, the user's stays.
new_repo leave-env
user_env=$(sha256sum <.env)
snapshot_run leave-env
branch=$(field ".agent/runs/$id/run.json" .worktree.branch)
why=""
git cat-file -e "$branch:.env" 2>/dev/null && why="the run's branch holds the agent's .env"
"$S" run apply "$id" >"$work/apply.leave-env" 2>&1 || why="${why:+$why; }apply failed: $(head -c 300 "$work/apply.leave-env")"
[ "$(sha256sum <.env)" = "$user_env" ] || why="${why:+$why; }the user's .env changed"
verdict leave-env "$why"
cd "$work"

# A repository of 205 000 files (more than the 200 000 entries the search once stopped at), 41
# .env files among them in an ignored folder the agent can read in the main checkout: every one
# is hidden.
new_repo deep
python3 - "$mark" <<'PY'
import os, sys
mark = sys.argv[1]
for d in range(2050):
    folder = "data/p%d/m%d" % (d // 50, d % 50)
    os.makedirs(folder)
    for f in range(100):
        with open("%s/f%d.txt" % (folder, f), "w") as out:
            out.write("x\n")
for i in range(41):
    folder = "data/p%d/m%d" % ((i * 37) % 41, (i * 13) % 50)
    with open(folder + "/.env", "w") as out:
        out.write("DEEP=%s-deep-%d\n" % (mark, i))
PY
snapshot_run deep
log=$MAIN/.agent/runs/$id/stdout.log
eq "deep: the agent ran and found the 41 .env files" "FOUND 41" "$(grep -h '^FOUND' "$log")"
why=$(grep -aF "$mark" "$log" | head -n 3 | tr '\n' ' ')
hidden=$(field ".agent/runs/$id/run.json" .os_sandbox.hidden.files)
[ "${hidden:-0}" -ge 41 ] 2>/dev/null || why="${why:+$why; }the record says $hidden files hidden"
verdict deep-search "${why:+the agent read: $why}"
cd "$work"

hostile_summary snapshot
finish
