#!/usr/bin/env bash
# End-to-end: a hostile agent against the sandbox's edges (issue 45), where Sidecar itself acts on
# what an agent left, or where the machine hands things in:
#   setup      the first run's agent rewrites the script worktree.setup runs; a replay, `run
#              answer` and pipeline steps build their worktree from that run's, so the setup runs
#              the agent's script: in the run's OS sandbox, never as the user;
#   fds        the program that started Sidecar left descriptors open (a folder, a file it
#              appends to): none reaches the agent, in a writing or a read-only run;
#   leftovers  the owner of a run is killed with SIGKILL while its agent runs: the sandbox's
#              private folder (/tmp/sidecar-sandbox-*) goes at the next reconciliation.
# Each case is prevented (nothing happened: home, checkout and .git byte-identical) or the test
# fails; `hostile edges: tried N, prevented P, detected D, silent S` sums them up.
set -u
. "$(dirname "$0")/lib.sh" # S (absolute), here, root, $work; the shared helpers
. "$here/hostile_lib.sh"
cd "$work"
if [ "${SIDECAR_OS_SANDBOX:-}" = off ] || ! command -v bwrap >/dev/null || ! bwrap --unshare-all --ro-bind / / true 2>/dev/null; then
  echo "SKIP: bubblewrap cannot make a sandbox here (not installed, or user namespaces are off)"
  exit 0
fi
M=7$((RANDOM % 900 + 100))$$ # the slow agent's marker: sleep ${M}.N
trap 'pkill -KILL -f "sleep ${M}\." 2>/dev/null; [ "$failed" -eq 0 ] && rm -rf "$work"' EXIT

export HOME=$work/home
mkdir -p "$HOME" && git config --global user.email t@example.com && git config --global user.name T
echo "# the user's" >"$HOME/.bashrc"

# The user's repository: a setup script of theirs, a bare remote.
git init -q --bare remote.git
git init -q -b main repo && cd repo
mkdir scripts && printf 'echo ready >setup-marker && cat setup-marker\n' >scripts/bootstrap.sh
echo base >a.txt && printf '.agent/\nsetup-marker\n' >.gitignore && git add -A && git commit -qm init
git remote add origin "$work/remote.git" && git push -q origin main
MAIN=$(pwd)
"$S" init >/dev/null

cat >"$work/agent.sh" <<'SH'
#!/bin/sh
cat >/dev/null
case $EVIL in
  setup) # the next setup, run on this worktree, would do this as the user
    printf 'echo pwned >>"$HOME/.bash_aliases"; echo evil >>"%s/a.txt"; git -C "%s" tag pwned-tag\n' "$MAIN" "$MAIN" \
      >scripts/bootstrap.sh ;;
  fds)
    ls -l /proc/self/fd >&2
    for fd in 7 8; do [ -e /proc/self/fd/$fd ] && echo "descriptor $fd is open"; done
    echo pwned >>/proc/self/fd/7/.bash_logout 2>/dev/null
    echo LEAKED >&8 2>/dev/null ;;
  slow) exec sleep "$ESC_MARK.1" ;;
esac
echo "agent $EVIL: exit $?"
SH
chmod +x "$work/agent.sh"
add_runners "    evil = { command = $(lua_list "$work/agent.sh") },"
sed -i 's|^  worktree = {|  worktree = {\n    setup = "sh scripts/bootstrap.sh",|' .agent/config.lua
grep -q 'setup = "sh scripts/bootstrap.sh"' .agent/config.lua || echo "  -- (no worktree table in the config)" >&2
"$S" task create --title "hostile" --status ready >/dev/null
export MAIN ESC_MARK=$M

# What must not change: the checkout (.agent aside), .git's config, hooks, HEAD and the user's refs
# and tags, the remote, the home.
state() {
  (cd "$MAIN" && git -c core.fsmonitor=false status --porcelain -- . ':!.agent' ':!setup-marker' &&
    cat a.txt .git/config .git/HEAD && tree_digest .git/hooks &&
    git for-each-ref --format='%(refname) %(objectname)' | grep -v '^refs/heads/sidecar/'
  tree_digest "$work/remote.git" "$HOME") | sha256sum
}

# --- setup: the agent's script, run by the next run's setup ---------------------------------------
before=$(state)
EVIL=setup "$S" run T-0001 --runner evil --sandbox workspace-write >"$work/setup1.out" 2>&1
first=$(run_ids "$work/setup1.out" | head -n 1)
eq "the first run's setup ran, in the OS sandbox" "1" \
  "$("$S" run show "$first" | grep -c 'setup .*sh scripts/bootstrap.sh. ok .*in the OS sandbox')"
eq "the user's setup wrote its marker in the worktree" "ready" "$(cat ".agent/runs/$first/setup.log")"
EVIL=none "$S" run replay "$first" --same-prompt >"$work/setup2.out" 2>&1
second=$(run_ids "$work/setup2.out" | grep -v "^$first$" | head -n 1)
why=""
[ "$(state)" = "$before" ] || why="the user's state changed"
[ -e "$HOME/.bash_aliases" ] && why="the agent's setup wrote ~/.bash_aliases"
[ -n "$second" ] || why="no replay was recorded: $(head -3 "$work/setup2.out")"
[ "$(field ".agent/runs/$second/run.json" .worktree.reused_from 2>/dev/null)" = "$first" ] ||
  why="${why:-the replay did not continue the worktree of the first run}"
if [ -z "$why" ]; then hostile_case "setup on the agent's script" prevented; else hostile_case "setup on the agent's script" silent "$why"; fi
eq "the replay's record names the setup's sandbox" "bwrap" "$(field ".agent/runs/$second/run.json" .worktree.setup.sandbox.kind)"

# --- fds: descriptors the caller left open -------------------------------------------------------
for level in workspace-write read-only; do
  before=$(state)
  : >"$work/leak"
  EVIL=fds "$S" run T-0001 --runner evil --sandbox "$level" >"$work/fds.$level.out" 2>&1 7<"$HOME" 8>>"$work/leak"
  id=$(run_ids "$work/fds.$level.out" | head -n 1)
  why=""
  [ "$(state)" = "$before" ] || why="the user's state changed"
  [ -e "$HOME/.bash_logout" ] && why="the agent wrote ~/.bash_logout through descriptor 7"
  [ -s "$work/leak" ] && why="the agent wrote into descriptor 8"
  grep -q "descriptor . is open" ".agent/runs/$id/stdout.log" 2>/dev/null && why="${why:-$(grep -h "descriptor" ".agent/runs/$id/stdout.log")}"
  grep -q "agent fds: exit" ".agent/runs/$id/stdout.log" 2>/dev/null || why="${why:-the agent did not run: $(head -3 "$work/fds.$level.out")}"
  if [ -z "$why" ]; then hostile_case "inherited descriptors ($level)" prevented; else hostile_case "inherited descriptors ($level)" silent "$why"; fi
done

# --- leftovers: a private folder of a sandbox whose owner was killed ------------------------------
owned_by() { grep -ls "^$1 " /tmp/sidecar-sandbox-*/owner 2>/dev/null; }
EVIL=slow "$S" run T-0001 --runner evil --sandbox read-only >"$work/slow.out" 2>&1 &
owner=$!
poll 30 eval '[ -n "$(owned_by $owner)" ] && [ -n "$(left 1)" ]'
had=$(owned_by "$owner")
kill -KILL "$owner" && wait "$owner" 2>/dev/null
poll 10 eval '[ -z "$(left 1)" ]' # the agent dies with its sandbox (--die-with-parent)
"$S" run list >/dev/null 2>&1 # reconciliation
why=""
[ -n "$had" ] || why="the running sandbox had no owner file"
[ -z "$(owned_by "$owner")" ] || why="left behind: $(dirname "$(owned_by "$owner")")"
[ -z "$(left 1)" ] || why="${why:-the agent outlived its owner}"
if [ -z "$why" ]; then hostile_case "sandbox folder of a killed owner" prevented; else hostile_case "sandbox folder of a killed owner" silent "$why"; fi

hostile_summary edges
finish
