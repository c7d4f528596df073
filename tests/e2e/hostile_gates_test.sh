#!/usr/bin/env bash
# End-to-end: a hostile agent against the push block and the gates (issue 39), in its OS sandbox
# and without one (isolation.sandbox = "off", where only detection holds). A fake agent in a
# writing run tries one thing per run: ten ways to push to a local bare remote (undoing the push
# block's git config, send-pack, pushurl, insteadOf, a file:// URL, copying objects and a ref file
# into it, a git daemon), hooks, core.fsmonitor, core.hooksPath, an alias in .git/config,
# ~/.gitconfig and ~/.bashrc, a file of the main checkout by absolute path, refs/notes, refs/stash,
# a custom ref, moving the user's main branch through GIT_DIR, a validation script it wrote
# that tags, pushes and moves a ref, and symbolic links leading out of the repository (absolute, to
# ~/.ssh, ../../, a link retargeted, one through another link), which `run approve --apply` must
# refuse unless gates.symlinks_out allows them. Each case is prevented (the
# user's repository, remote and home are byte-identical) or detected (the run is blocked and
# `run show` names it); silent fails the test.
set -u
. "$(dirname "$0")/lib.sh" # S (absolute), here, root, $work; the shared helpers
. "$here/hostile_lib.sh"
cd "$work"
export HOME=$work/home
mkdir -p "$HOME" && git config --global user.email t@example.com && git config --global user.name T
echo "# the user's" >"$HOME/.bashrc"
export PWNED=$work/pwned # what planted code would make, were it ever run
daemon_port=$((20000 + RANDOM % 20000))
if command -v git-daemon >/dev/null || [ -x "$(git --exec-path)/git-daemon" ]; then has_daemon=1; else has_daemon=0; fi

cat >"$work/agent.sh" <<'SH'
#!/bin/sh
cat >/dev/null
R=$REMOTE
case $EVIL in
  push) git push origin HEAD:refs/heads/evil ;;
  push-unset) env -u GIT_CONFIG_COUNT git push origin HEAD:refs/heads/evil ;;
  push-count0) GIT_CONFIG_COUNT=0 git push origin HEAD:refs/heads/evil ;;
  push-params) env -u GIT_CONFIG_COUNT GIT_CONFIG_PARAMETERS="'remote.origin.pushurl'='$R'" git push origin HEAD:refs/heads/evil ;;
  send-pack) git send-pack "$R" HEAD:refs/heads/evil ;;
  pushurl) git -c remote.origin.pushurl="$R" push origin HEAD:refs/heads/evil ;;
  insteadof) git -c url."$R".pushInsteadOf=evil: push evil: HEAD:refs/heads/evil ;;
  file-url) env -u GIT_CONFIG_COUNT git push "file://$R" HEAD:refs/heads/evil ;;
  copy) cp -r "$(git rev-parse --git-common-dir)"/objects/. "$R/objects/" && git rev-parse HEAD >"$R/refs/heads/evil" ;;
  daemon) env -u GIT_CONFIG_COUNT git push "git://127.0.0.1:$DAEMON_PORT/remote.git" HEAD:refs/heads/evil ;;
  hook) printf '#!/bin/sh\ntouch $PWNED\n' >"$MAIN/.git/hooks/pre-commit" && chmod +x "$MAIN/.git/hooks/pre-commit" ;;
  fsmonitor) git --git-dir="$MAIN/.git" config core.fsmonitor "touch $PWNED" ;;
  hookspath) git --git-dir="$MAIN/.git" config core.hooksPath /tmp ;;
  alias) git --git-dir="$MAIN/.git" config alias.st '!touch $PWNED' ;;
  gitconfig) git config --global alias.co '!touch $PWNED' ;;
  bashrc) echo 'touch $PWNED' >>"$HOME/.bashrc" ;;
  abs-write) echo evil >>"$MAIN/a.txt" ;;
  notes) git notes add -m evil HEAD ;;
  stash) echo x >>a.txt && git stash ;;
  custom-ref) git update-ref refs/evil/x HEAD ;;
  move-main) GIT_DIR=$MAIN/.git git update-ref refs/heads/main "$(GIT_DIR=$MAIN/.git git rev-parse HEAD~1)" ;;
  validate) # a script the task's validation runs after the agent: a tag, a push, a ref of the user's moved
    printf 'git tag v6.6.6; env -u GIT_CONFIG_COUNT git push "%s" HEAD:refs/heads/evil\nGIT_DIR=%s/.git git update-ref refs/heads/evil HEAD\n' \
      "$R" "$MAIN" >check.sh ;;
  link-abs) ln -s /etc/passwd passwd ;;
  link-home) ln -s ~/.ssh/id_rsa key ;;
  link-rel) mkdir -p docs && ln -s ../../outside docs/outside ;;
  link-changed) ln -sfn ../../../etc ok ;;
  link-chain) mkdir sub && ln -s .. sub/up && ln -s sub/up/../secret via ;;
esac
echo "agent $EVIL: exit $?"
SH
chmod +x "$work/agent.sh"

# new_repo NAME: a repository with a commit history of two, a bare remote holding main, `sidecar
# init`, the fake agent as runner `evil`; $MAIN, $REMOTE for it.
new_repo() {
  mkdir -p "$work/$1" && cd "$work/$1" && git init -q --bare remote.git
  git init -q -b main repo && cd repo
  echo base >a.txt && git add -A && git commit -qm one && echo two >>a.txt && git commit -qam two
  git remote add origin "$work/$1/remote.git" && git push -q origin main
  "$S" init >/dev/null
  add_runners "    evil = { command = $(lua_list "$work/agent.sh") },"
  sandbox_allow env EVIL MAIN REMOTE DAEMON_PORT PWNED # the agent's orders, given by name
  "$S" task create --title "hostile" --status ready >/dev/null
  "$S" task create --title "validated" --status ready --validate-cmds "custom:sh ./check.sh" >/dev/null
  MAIN=$(pwd) REMOTE=$work/$1/remote.git
}
# state: what must not change (the checkout but .agent, .git's config, hooks, HEAD and the user's
# refs, the remote, the home).
state() {
  (cd "$MAIN" && git -c core.fsmonitor=false -c core.hooksPath=/dev/null status --porcelain --ignored -- . ':!.agent' &&
    cat a.txt .git/config .git/HEAD &&
    ls -la .git/hooks | awk '{print $1, $5, $NF}' && git for-each-ref --format='%(refname) %(objectname)' |
    grep -v '^refs/heads/sidecar/'
  tree_digest "$REMOTE" "$HOME") | sha256sum
}

modes="bwrap off"
[ "$HOSTILE_KIND" = landlock ] && modes="landlock off" # where namespaces are refused (tests/e2e/no_userns.cpp)
[ "${SIDECAR_OS_SANDBOX:-}" = off ] && modes=off && echo "SKIP: the sandboxed half (SIDECAR_OS_SANDBOX=off)"
for mode in $modes; do
  for evil in push push-unset push-count0 push-params send-pack pushurl insteadof file-url copy daemon hook fsmonitor \
    hookspath alias gitconfig bashrc abs-write notes stash custom-ref move-main validate; do
    [ "$evil" = daemon ] && [ "$has_daemon" = 0 ] && continue
    new_repo "$mode-$evil"
    dpid=
    if [ "$evil" = daemon ]; then
      git daemon --reuseaddr --listen=127.0.0.1 --port="$daemon_port" --base-path="$work/$mode-$evil" --export-all \
        --enable=receive-pack "$work/$mode-$evil" >"$work/daemon.log" 2>&1 &
      dpid=$!
      poll 10 eval "git ls-remote git://127.0.0.1:$daemon_port/remote.git >/dev/null 2>&1"
    fi
    before=$(state)
    EVIL=$evil MAIN=$MAIN REMOTE=$REMOTE DAEMON_PORT=$daemon_port SIDECAR_OS_SANDBOX=$mode \
      "$S" run "$([ "$evil" = validate ] && echo T-0002 || echo T-0001)" --runner evil --sandbox workspace-write \
      >"$work/out.$mode.$evil" 2>&1
    [ -n "$dpid" ] && kill "$dpid" 2>/dev/null && wait "$dpid" 2>/dev/null
    id=$(run_ids "$work/out.$mode.$evil" | head -n 1)
    status=$(field ".agent/runs/$id/run.json" .status 2>/dev/null)
    if [ "$(state)" = "$before" ] && [ ! -e "$PWNED" ]; then
      hostile_case "$evil ($mode)" prevented
    elif [ "$status" = blocked ] && "$S" run show "$id" | grep -qE "(outside_changes|commit|push) +blocked|validation steps changed"; then
      hostile_case "$evil ($mode)" detected
    else
      hostile_case "$evil ($mode)" silent "status $status; $(grep -h "agent $evil" ".agent/runs/$id/stdout.log" 2>/dev/null)"
    fi
    cd "$work"
  done
  # Links leading out of the repository: the run is blocked, `run show` names each link and its
  # target, `run approve --apply` refuses it and the checkout stays as it was.
  for evil in link-abs link-home link-rel link-changed link-chain; do
    new_repo "$mode-$evil"
    ln -s a.txt ok && git add ok && git commit -qm "a link inside" # link-changed retargets it
    link=$(case $evil in link-abs) echo passwd ;; link-home) echo key ;; link-rel) echo docs/outside ;;
      link-changed) echo ok ;; link-chain) echo via ;; esac)
    before=$(state)
    EVIL=$evil SIDECAR_OS_SANDBOX=$mode "$S" run T-0001 --runner evil --sandbox workspace-write >"$work/out.$mode.$evil" 2>&1
    id=$(run_ids "$work/out.$mode.$evil" | head -n 1)
    status=$(field ".agent/runs/$id/run.json" .status 2>/dev/null)
    "$S" run show "$id" >"$work/show.$mode.$evil" 2>&1
    "$S" run show "$id" --json >"$work/show.$mode.$evil.json" 2>&1
    "$S" run approve "$id" --apply >"$work/apply.$mode.$evil" 2>&1 && applied=yes || applied=no
    why=
    [ "$status" = blocked ] || why="status $status"
    grep -qE "symlinks_out +blocked +link $link -> .+ leads out of the repository" "$work/show.$mode.$evil" ||
      why+=" run show does not name the link"
    [ "$(field "$work/show.$mode.$evil.json" .data.symlinks_out.1.path)" = "$link" ] || why+=" no symlinks_out in --json"
    [ "$applied" = no ] && grep -q "leading out of the repository" "$work/apply.$mode.$evil" ||
      why+=" run approve --apply did not refuse it"
    [ "$(state)" = "$before" ] && [ "$(readlink ok)" = a.txt ] && [ ! -L "$link" -o "$link" = ok ] ||
      why+=" the checkout changed"
    if [ -z "$why" ]; then
      hostile_case "$evil ($mode)" detected
    else
      hostile_case "$evil ($mode)" silent "$why"
    fi
    cd "$work"
  done
  # Allowed (gates.symlinks_out = "allow"): the run is not blocked and the link is applied.
  new_repo "$mode-link-allowed"
  sed -i 's/^    symlinks_out = "block",/    symlinks_out = "allow",/' .agent/config.lua
  EVIL=link-rel SIDECAR_OS_SANDBOX=$mode "$S" run T-0001 --runner evil --sandbox workspace-write >"$work/out" 2>&1
  id=$(run_id)
  eq "an allowed link out is recorded, not blocked ($mode)" "review allowed" \
    "$(field ".agent/runs/$id/run.json" .status) $(field ".agent/runs/$id/run.json" .gates.results.symlinks_out.verdict)"
  expect_run "run approve --apply writes an allowed link out ($mode)" 0 \
    "applied to your work tree.*note: the link docs/outside -> \.\./\.\./outside leads out" "" -- \
    "$S" run approve "$id" --apply
  eq "the allowed link is in the checkout ($mode)" "../../outside" "$(readlink docs/outside)"
  cd "$work"
  hostile_summary "gates, sandbox $mode"
  hostile_tried=0 hostile_prevented=0 hostile_detected=0 hostile_silent=0
done
finish
