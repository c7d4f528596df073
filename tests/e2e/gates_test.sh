#!/usr/bin/env bash
# End-to-end: gates on what a run did (stdlib/sidecar/run/gates.lua, stdlib/sidecar/run/git_refs.lua). A fake agent (a
# shell script run as a `command` runner) commits, tags, tries to push to a local bare "remote",
# edits a file the task avoids, edits outside the task's scope, or edits during a read-only run:
# each run is blocked and never auto-approved (auto-approval on, validation green), or warned or
# allowed when the config says so; `run show` (and --json) names what happened; the push never
# reaches the remote. Then the real codex through the model server does the same (if installed).
set -u
. "$(dirname "$0")/lib.sh" # S (absolute), here, root, $work; the shared helpers
scenarios=$root/tests/fixtures/scenarios
cd "$work"
# The gates are the second line: they judge what a run did where nothing stopped it, so these runs
# have no OS sandbox (which would stop most of it first: tests/e2e/hostile_gates_test.sh runs
# the same attempts in both).
export SIDECAR_OS_SANDBOX=off
export PATH="$root/.tools/npm/bin:$PATH"

# The fake agent: reads its prompt, then does what AGENT_DOES lists (comma-separated).
cat >agent.sh <<'SH'
#!/bin/sh
cat >/dev/null
for act in $(echo "${AGENT_DOES:-}" | tr , ' '); do
  case $act in
    edit) echo changed >>a.txt ;;
    src) mkdir -p src && echo code >src/new.c ;;
    avoid) echo leaked >>config/secrets.yml ;;
    commit) echo committed >>a.txt && git commit -qam "agent change" ;;
    tag) git tag v9.9 ;;
    push) git push origin HEAD; echo "push exit $?" ;;
  esac
done
echo "agent did: ${AGENT_DOES:-nothing}"
SH
chmod +x agent.sh

# new_repo NAME [POLICY]: a repository with a.txt, config/secrets.yml and src/, a bare remote
# ($work/NAME/remote.git) holding main, `sidecar init` with auto-approval on and the fake agent as
# runner `fake`; POLICY (block | warn | allow) for every gate.
new_repo() {
  mkdir "$work/$1" && cd "$work/$1" && git init -q --bare remote.git
  git init -q -b main repo && cd repo
  git config user.email t@example.com && git config user.name T
  echo base >a.txt && mkdir config src && echo old >config/secrets.yml && echo code >src/main.c
  git add -A && git commit -qm init && git remote add origin "$work/$1/remote.git" && git push -q origin main
  "$S" init >/dev/null
  add_runners "    fake = { command = $(lua_list "$work/agent.sh") },"
  sed -i -e 's/auto_approve_on_all_green = false/auto_approve_on_all_green = true/' \
    -e "s/^\(    [a-z_]* = \)\"block\",/\1\"${2:-block}\",/" .agent/config.lua
  remote_refs=$(git --git-dir=../remote.git for-each-ref)
}
# run_json_of COMMAND...: runs COMMAND (a `sidecar run`, its output dropped) and prints the path of
# the record of the run it created.
run_json_of() { echo ".agent/runs/$("$@" 2>/dev/null | run_ids - | head -n 1)/run.json"; }
# A task that avoids config/secrets.yml, with a validation step that passes.
avoid_task() {
  "$S" task create --title "Fix a.txt" --status ready --avoid config/secrets.yml --validate-cmds "test:true" >/dev/null
}

# --- commit, tag, push, an avoided file: blocked, never auto-approved ---------------------------
new_repo everything
avoid_task
head_before=$(git rev-parse --short HEAD)
AGENT_DOES=avoid,commit,tag,push expect_run "blocked run: exit 1" 1 "^R-\\d+ blocked: push exit 128\n  blocker: made 1 commit \\(\\w+ \"agent change\"\\) and created tag v9.9\n  blocker: tried to push to origin .*\n  blocker: changed config/secrets.yml, which the task lists under files_to_avoid\n$" \
  "validation 1/1 test: true" -- "$S" run T-0001 --runner fake --sandbox workspace-write
id=$(run_id) R=.agent/runs/$(run_id)/run.json
commit=$(git rev-parse --short v9.9)
eq "blocked: status and review state" "blocked pending" "$(field $R .status) $(field $R .review_state)"
eq "blocked: not approved by anyone" "nil" "$(field $R .reviewed_by)"
eq "blocked: the validation ran green" "true" "$(field $R .validation.1.ok)"
eq "blocked: blocker 1 names the commit and the tag" "made 1 commit ($commit \"agent change\") and created tag v9.9" \
  "$(field $R .blockers.1)"
eq "blocked: blocker 2 names the push" "tried to push to origin $work/everything/remote.git" "$(field $R .blockers.2)"
eq "blocked: blocker 3 names the avoided file" "changed config/secrets.yml, which the task lists under files_to_avoid" \
  "$(field $R .blockers.3)"
eq "blocked: no other blocker" "nil" "$(field $R .blockers.4)"
# The run's events say the same, in order (docs/formats.md: events.jsonl): the gates' verdict, the
# validation step begun and ended, the end.
eq "blocked: the events of the gates, the validation and the end" \
  "gates blocked=true 3; validation.started 1/1 test true; validation.finished 1 ok=true; run.finished blocked" \
  "$("$S" -e 'local json, out = require("sidecar.core.json"), {}
  for line in io.lines() do
    local e, f = json.decode(line), nil
    f = e.fields
    if e.kind == "gates" then out[#out + 1] = ("gates blocked=%s %d"):format(f.blocked, #f.blockers)
    elseif e.kind == "validation.started" then out[#out + 1] = ("%s %d/%d %s %s"):format(e.kind, f.step, f.steps, f.kind, f.command)
    elseif e.kind == "validation.finished" then out[#out + 1] = ("%s %d ok=%s"):format(e.kind, f.step, f.ok)
    elseif e.kind == "run.finished" then out[#out + 1] = e.kind .. " " .. f.status end
  end
  io.write(table.concat(out, "; "))' <".agent/runs/$id/events.jsonl")"
eq "blocked: the task is blocked with the same blockers" "blocked tried to push to origin $work/everything/remote.git" \
  "$(field .agent/tasks/T-0001.json .status) $(field .agent/tasks/T-0001.json .blockers.2)"
# The run's branch: main in place, sidecar/<run id> in a worktree of its own.
branch=$(field $R .git.head_branch_before)
eq "facts: HEAD before and after, on one branch" "$head_before $commit $branch" "$(field $R .git.head_before | cut -c1-7) \
$(field $R .git.head_after | cut -c1-7) $(field $R .git.head_branch_after)"
eq "facts: the commit, the tag, the branch moved" "agent change v9.9 $branch" \
  "$(field $R .git.commits.1.subject) $(field $R .git.tags_created.1.name) $(field $R .git.branches_moved.1.name)"
eq "facts: the push refused by the push block" "git origin" \
  "$(field $R .git.push_attempts.1.source) $(field $R .git.push_attempts.1.remote)"
eq "push: the agent saw Sidecar refuse it" "yes" "$(grep -q 'Sidecar blocked this push' .agent/runs/$id/stderr.log &&
  grep -q 'push exit 128' .agent/runs/$id/stdout.log && echo yes)"
eq "push: the bare remote is untouched" "$remote_refs" "$(git --git-dir=../remote.git for-each-ref)"
want_git="Git: +HEAD $branch $head_before -> $branch $commit\n  commit $commit agent change\n"
want_git+="  moved branch $branch \\($head_before -> $commit\\)\n  created tag v9\\.9 \\($commit\\)\n"
want_git+="  push refused by Sidecar: origin "
want_gates="Gates:\n  commit +blocked +made 1 commit \\($commit \"agent change\"\\)\n  tag +blocked +created tag v9\\.9\n"
want_gates+="  push +blocked +tried to push to origin .*\n"
want_gates+="  avoided_files +blocked +changed config/secrets\\.yml, which the task lists under files_to_avoid\n"
want_gates+="  scope +skipped +the task's scope names no paths\n  read_only_changes +skipped +not a read-only run\n"
expect_run "run show names what happened" 0 "$want_git.*$want_gates.*Blockers:\n  - made 1 commit" "" -- \
  "$S" run show $id
"$S" run show $id --json >show.json
eq "run show --json: each gate's verdict" "blocked blocked blocked blocked skipped skipped" \
  "$(for g in commit tag push avoided_files scope read_only_changes; do field show.json .data.gates.results.$g.verdict; done | xargs)"
eq "run show --json: the facts" "agent change v9.9 1" \
  "$(field show.json .data.git.commits.1.subject) $(field show.json .data.git.tags_created.1.name) \
$("$S" -e "print(#require('sidecar.core.json').decode(io.read('a')).data.git.push_attempts)" <show.json)"
expect_run "run review lists it" 0 "R-0001 +T-0001 +Fix a\.txt +fake +blocked .*files_to_avoid" "" -- "$S" run review
expect_run "a person may still approve over the gates" 0 "" "" -- "$S" run approve $id --note "the commit is fine"
eq "approved by a person" "completed approved" "$(field $R .status) $(field $R .review_state)"

# --- each alone ----------------------------------------------------------------------------------
new_repo single
avoid_task
# one_run DOES SANDBOX WANT_BLOCKER: a run of T-0001 doing DOES, blocked with WANT_BLOCKER alone.
one_run() {
  local r
  r=$(AGENT_DOES=$1 run_json_of "$S" run T-0001 --runner fake --sandbox "$2")
  eq "$1 ($2): blocked, not approved" "blocked pending" "$(field "$r" .status) $(field "$r" .review_state)"
  eq "$1 ($2): the blocker" "$3" "$(field "$r" .blockers.1) $(field "$r" .blockers.2)"
}
r=$(AGENT_DOES=commit run_json_of "$S" run T-0001 --runner fake --sandbox workspace-write)
sha=$(field $r .git.commits.1.sha)
eq "commit alone: blocked, naming the commit" "blocked made 1 commit (${sha:0:7} \"agent change\") nil" \
  "$(field $r .status) $(field $r .blockers.1) $(field $r .blockers.2)"
eq "commit alone: that commit is the agent's" "agent change" "$(git log -1 --format=%s "$sha" 2>&1)"
one_run tag workspace-write "created tag v9.9 nil"
one_run push workspace-write "tried to push to origin $work/single/remote.git nil"
one_run avoid workspace-write "changed config/secrets.yml, which the task lists under files_to_avoid nil"
git checkout -q config/secrets.yml
one_run edit read-only "changed a.txt during a read-only run nil"
git checkout -q a.txt
r=$(run_json_of "$S" run T-0001 --runner fake) # nothing done: no blocker
eq "nothing done: auto-approved" "completed sidecar:auto" "$(field $r .status) $(field $r .reviewed_by)"
eq "each alone: the remote untouched" "$remote_refs" "$(git --git-dir=../remote.git for-each-ref)"

# --- scope: a file outside the paths the task names ---------------------------------------------
"$S" -e 'print(require("sidecar.core.json").encode({title = "Only src", status = "ready", scope = {in_scope = {"src/**", "the parser"}},
  execution = {commands = {validation = {{kind = "test", command = "true"}}}}}))' >scoped.json
"$S" task import scoped.json >/dev/null
r=$(AGENT_DOES=src,edit run_json_of "$S" run T-0002 --runner fake --sandbox workspace-write)
eq "scope: blocked for a.txt only" "blocked changed a.txt, outside the task's scope nil" \
  "$(field $r .status) $(field $r .blockers.1) $(field $r .blockers.2)"
git checkout -q a.txt && rm -rf src/new.c

# --- warn and allow ------------------------------------------------------------------------------
for policy in warn allow; do
  new_repo "$policy" "$policy"
  avoid_task
  AGENT_DOES=avoid,commit,tag,push expect_run "$policy: the run ends well" 0 "^R-\d+ completed: .*\nauto-approved" "" -- \
    "$S" run T-0001 --runner fake --sandbox workspace-write
  id=$(run_id) R=.agent/runs/$(run_id)/run.json
  verdict=$([ $policy = warn ] && echo warned || echo allowed)
  eq "$policy: each gate's verdict" "$verdict $verdict $verdict $verdict" \
    "$(for g in commit tag push avoided_files; do field $R .gates.results.$g.verdict; done | xargs)"
  eq "$policy: no blocker" "nil" "$(field $R .blockers.1)"
  eq "$policy: warnings" "$([ $policy = warn ] && echo 3 || echo 0)" \
    "$("$S" -e "print(#require('sidecar.core.json').decode(io.read('a')).gates.warnings)" <$R)"
  expect_run "$policy: run show lists the gates" 0 "Gates:\n  commit +$verdict +made 1 commit" "" -- "$S" run show R-0001
  eq "$policy: the push was refused all the same" "$remote_refs" "$(git --git-dir=../remote.git for-each-ref)"
done

# --- a bad policy is refused by name -------------------------------------------------------------
new_repo badpolicy
sed -i 's/^    commit = "block",/    commit = "deny",/' .agent/config.lua
avoid_task 2>/dev/null
expect_run "a bad gate policy" 1 "" 'gates\.commit: expected "block", "warn" or "allow", got "deny"' -- \
  "$S" run T-0001 --runner fake

# --- the real codex, through the model server -----------------------------------------------------
if [ "${SIDECAR_SKIP_REAL_CLIS:-}" = 1 ] || ! command -v codex >/dev/null; then
  echo "SKIP: the real codex CLI (not installed: scripts/setup puts it in .tools/npm; or SIDECAR_SKIP_REAL_CLIS=1)"
  finish
  exit $?
fi
# codex_repo NAME: a repository whose codex runner talks to the model server on $port.
codex_repo() {
  new_repo "$1"
  mkdir -p "$work/$1/home" "$work/$1/tmp"
  add_runners "    codex = { env = { CODEX_HOME = \"$work/$1/home\", TMPDIR = \"$work/$1/tmp\", MOCK_API_KEY = \"sk-mock\" },
      args = $(lua_list -c model_provider=mock -c model_providers.mock.name=mock \
        -c "model_providers.mock.base_url=http://127.0.0.1:$port/v1" -c model_providers.mock.wire_api=responses \
        -c model_providers.mock.env_key=MOCK_API_KEY -c model_providers.mock.request_max_retries=0 \
        -c model_providers.mock.stream_max_retries=0 --disable plugins -c analytics.enabled=false) },"
  "$S" task create --title "Commit it" --status ready --validate-cmds "test:true" >/dev/null
}

# Full access: codex's own sandbox lets git write .git, so the commit and the tag happen.
start_server codex_full "$scenarios/git_commit_turn.json" && {
  codex_repo codex_full
  expect_run "codex, full access: blocked" 1 "^R-\d+ blocked" "" -- \
    "$S" run T-0001 --runner codex --model gpt-5.5 --sandbox danger-full-access --allow-full-auto
  id=$(run_id) R=.agent/runs/$(run_id)/run.json
  commit=$(git rev-parse --short v9.9 2>/dev/null)
  eq "codex, full access: the commit and the tag" "made 1 commit ($commit \"agent commit\") and created tag v9.9" \
    "$(field $R .blockers.1)"
  eq "codex, full access: the push seen in its command" "tried to push (git push origin HEAD)" "$(field $R .blockers.2)"
  eq "codex, full access: never auto-approved" "blocked pending nil" \
    "$(field $R .status) $(field $R .review_state) $(field $R .reviewed_by)"
  eq "codex, full access: its git push was refused by Sidecar" yes \
    "$(field $R .commands_run.1.output_tail | grep -q 'Sidecar blocked this push' && echo yes)"
  eq "codex, full access: the remote untouched" "$remote_refs" "$(git --git-dir=../remote.git for-each-ref)"
  expect_run "codex, full access: run show" 0 "commit +blocked +made 1 commit.*push +blocked +tried to push \(git push origin HEAD\)" \
    "" -- "$S" run show $id
  stop_server
}
# workspace-write: codex's sandbox keeps .git read-only, so the commit fails; the push attempt is
# still seen and blocks the run.
start_server codex_ws "$scenarios/git_commit_turn.json" && {
  codex_repo codex_ws
  expect_run "codex, workspace-write: blocked" 1 "^R-\d+ blocked" "" -- \
    "$S" run T-0001 --runner codex --model gpt-5.5 --sandbox workspace-write
  R=.agent/runs/$(run_id)/run.json
  eq "codex, workspace-write: no commit could be made" "0 tried to push (git push origin HEAD)" \
    "$("$S" -e "print(#require('sidecar.core.json').decode(io.read('a')).git.commits)" <$R) $(field $R .blockers.1)"
  eq "codex, workspace-write: the remote untouched" "$remote_refs" "$(git --git-dir=../remote.git for-each-ref)"
  stop_server
}
eq "no codex process left behind" "" "$(ps -e -o args= | grep -F -- "$work/" | grep -v grep)"
finish
