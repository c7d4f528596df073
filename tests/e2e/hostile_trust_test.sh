#!/usr/bin/env bash
# End-to-end: trust against a hostile repository and a hostile agent (issue 39, item 6).
# The repository: a trusted preset points package.path (and package.cpath) into the repository
# and dofile()s a file of it; a `git pull` then changes a helper, changes the dofile'd file, adds
# a module the preset requires only if present, turns a helper into a link out of the
# repository, and adds a native library. Each is refused when it loads, naming the file, and
# never runs. A clone whose .agent (or .agent/sidecar.db) is a symbolic link is refused before
# anything is written through it. The agent: a fake one (a command runner) writes a preset into
# the user's checkout and trusts it with `sidecar trust`, with the courtesy check unset (`env -u
# SIDECAR_RUN_ID`, or through the library), or records a task's commands as the user's (`task
# create --validate-cmds`);
# with the OS sandbox and without it. A case is prevented when nothing of it ran and the trust
# file is byte-identical, detected when the run is blocked and `run show` names the trust file.
set -u
. "$(dirname "$0")/lib.sh" # S (absolute), here, root, $work; the shared helpers
. "$here/hostile_lib.sh"
cd "$work"
unset SIDECAR_TRUST # trust as a user has it
export XDG_CONFIG_HOME=$work/xdg # no user presets
marks=$work/marks
mkdir -p "$marks"
commit() { git add -A && git -c user.email=t@e -c user.name=t commit -q -m "$1"; }
# ran MARK: the mark a piece of hostile code leaves when it runs.
ran() { [ -e "$marks/$1" ]; }

# --- the upstream repository and the user's clone ---------------------------------------------------
mkdir up && cd up && git init -q -b main
mkdir -p lib .agent/presets
echo 'return { greet = function() return "hello" end }' >lib/helper.lua
echo 'return "dofile ok"' >lib/extra.lua
cat >.agent/presets/hi.lua <<'LUA'
package.path = "./lib/?.lua;" .. package.path
package.cpath = "./lib/?.so;" .. package.cpath
local helper = require("helper")
local preset = require("sidecar.preset.define")
return preset.define({ name = "hi", summary = "says hi", run = function()
  local has_plugin, plugin = pcall(require, "plugin") -- an optional module: only when present
  local has_fast = pcall(require, "fast") -- an optional native module
  return { text = helper.greet() .. " " .. dofile("lib/extra.lua") .. (has_plugin and plugin or "")
    .. (has_fast and " fast" or "") .. "\n" }
end })
LUA
commit init
cd "$work" && git clone -q up repo && cd repo
"$S" trust . >/dev/null
expect_run "the trusted preset runs with its helpers" 0 "^hello dofile ok\n$" "" -- "$S" preset run hi
expect_run "trust --show lists the helpers it may load, with their hashes" 0 \
  "lib/extra\.lua +trusted +[0-9a-f]{64}\nlib/helper\.lua +trusted +[0-9a-f]{64}" "" -- "$S" trust --show .

# pull CHANGE...: upstream runs the shell commands CHANGE and commits; the clone pulls.
pull() {
  (cd "$work/up" && eval "$1" && commit "$1") && git pull -q --ff-only 2>/dev/null
}
# refused NAME MARK STDERR_REGEX: `preset run hi` fails naming the file, and MARK was not left.
refused() {
  expect_run "$1: refused, naming the file" 1 "" "$3" -- "$S" preset run hi
  if ran "$2"; then hostile_case "$1" silent "it ran"; else hostile_case "$1" prevented; fi
}

pull "echo \"io.open('$marks/helper', 'w'):close() return { greet = function() return 'pwned' end }\" >lib/helper.lua"
refused "a pull changes a helper required through package.path" helper \
  "lib/helper\.lua of .* is changed since it was trusted, so it was not loaded: review it \(sidecar trust --show .*\), then run \`sidecar trust"
"$S" trust . >/dev/null # the user reviewed it: from now on it runs
expect_run "reviewed and trusted again: it runs" 0 "^pwned dofile ok\n$" "" -- "$S" preset run hi
rm -f "$marks"/*

pull "echo \"io.open('$marks/extra', 'w'):close() return 'x'\" >lib/extra.lua"
refused "a pull changes a file the preset runs with dofile" extra "lib/extra\.lua of .* is changed since it was trusted"
"$S" trust . >/dev/null

pull "echo \"io.open('$marks/plugin', 'w'):close() return ' plugin'\" >lib/plugin.lua"
expect_run "a pull adds a module the preset requires if present: it is not loaded" 0 "^pwned x\n$" \
  "not trusted, so not run: lib/plugin\.lua of .*the code that loads it fails" -- "$S" preset run hi
if ran plugin; then hostile_case "a pull adds an optional module" silent "it ran"
else hostile_case "a pull adds an optional module" prevented; fi
"$S" trust . >/dev/null
expect_run "trusted: the optional module runs" 0 "^pwned x plugin\n$" "" -- "$S" preset run hi
rm -f "$marks"/*

# A link out of the repository (to a file of another checkout, or one a run left in /tmp).
echo "io.open('$marks/outside', 'w'):close() return { greet = function() return 'outside' end }" >"$work/outside.lua"
pull "ln -sf '$work/outside.lua' lib/helper.lua"
refused "a pull turns a helper into a link out of the repository" outside "lib/helper\.lua of .* is changed since it was trusted"
"$S" trust . >/dev/null

# A native library: nobody can review it, so it is never loaded from the repository.
if printf '#include <stdio.h>\n__attribute__((constructor)) static void mark(void) { fclose(fopen("%s/native", "w")); }\nint luaopen_fast(void *L) { (void)L; return 0; }\n' \
  "$marks" >"$work/fast.c" && cc -shared -fPIC -o "$work/fast.so" "$work/fast.c" 2>/dev/null; then
  pull "cp '$work/fast.so' lib/fast.so"
  "$S" trust . >/dev/null # trusted as it is: the .so is not something trust can cover
  expect_run "a native library in the repository: not loaded" 0 "^outside x plugin\n$" "" -- "$S" preset run hi
  expect_run "... and require says why" 1 "" "lib/fast\.so of .* is a native library, which Sidecar never loads from a repository" \
    -- "$S" -e 'require("sidecar.core.trust_guard").guard("."); package.cpath = "./lib/?.so"; require("fast")'
  if ran native; then hostile_case "a native library through package.cpath" silent "it was loaded"
  else hostile_case "a native library through package.cpath" prevented; fi
else
  echo "SKIP: no C compiler, no native library case"
fi

# --- a store reached through a symbolic link -----------------------------------------------------
mkdir -p "$work/elsewhere" "$work/linked" && (cd "$work/linked" && git init -q && ln -s ../elsewhere .agent)
expect_run "a symlinked .agent is refused" 1 "" \
  "\.agent is a symbolic link \(to .*elsewhere\): Sidecar writes its store only in real folders and files.*remove the link" \
  -- sh -c "cd '$work/linked' && '$S' task create --title x"
if [ -z "$(ls -A "$work/elsewhere")" ]; then hostile_case "symlinked .agent" prevented
else hostile_case "symlinked .agent" silent "$(ls "$work/elsewhere")"; fi
mkdir -p "$work/dblinked/.agent" && (cd "$work/dblinked" && git init -q && ln -s "$work/elsewhere/x.db" .agent/sidecar.db)
expect_run "a symlinked .agent/sidecar.db is refused" 1 "" "\.agent/sidecar\.db is a symbolic link" \
  -- sh -c "cd '$work/dblinked' && '$S' task create --title x"
if [ -z "$(ls -A "$work/elsewhere")" ]; then hostile_case "symlinked .agent/sidecar.db" prevented
else hostile_case "symlinked .agent/sidecar.db" silent "$(ls "$work/elsewhere")"; fi

# --- a clone that planted its own run folder and notify/otel folders under .agent ------------------
printf 'precious\n' >"$work/victim"
mkdir -p "$work/planter/.agent/runs/R-0001" && (cd "$work/planter" && git init -q &&
  ln -s "$work/victim" .agent/runs/R-0001/stdout.log && ln -s "$work/victim" .agent/runs/R-0001/agent.jsonl &&
  git add -A -f && git -c user.email=t@e -c user.name=t commit -qm planted)
git clone -q "$work/planter" "$work/planted" 2>/dev/null
cd "$work/planted" && "$S" init >/dev/null && sandbox_allow read "$root/tests/fixtures"
{ # in this shell, not a subshell: the checks' counts are the test's
  add_runners '    command = { command = { "sh", "-c", "cat >/dev/null; echo done" } },'
  sed -i 's|^  runner = "codex",|  runner = "command",|' .agent/config.lua
  "$S" trust >/dev/null # its config read, as a person would before running it
  "$S" task create --title planted --goal "say done" --status ready >/dev/null
  expect_run "a clone's planted run folder: the run goes on in a new folder" 0 "R-0001 review" "" -- "$S" run T-0001
  eq "a clone's planted run folder: kept aside whole, nothing written through its links" "precious agent.jsonl stdout.log" \
    "$(cat "$work/victim") $(ls .agent/runs-aside/R-0001-* | sort | tr '\n' ' ' | sed 's/ $//')"
  mkdir -p "$work/elsewhere-otel" && ln -s "$work/elsewhere-otel" .agent/otel
  OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:9 expect_run "a clone's .agent/otel link: refused, named" 1 "" \
    "\.agent/otel is a symbolic link" -- "$S" run T-0001
  eq "a clone's .agent/otel link: nothing written through it" "" "$(ls -A "$work/elsewhere-otel")"
}
cd "$work"
if [ "$(cat "$work/victim")" = precious ] && [ -z "$(ls -A "$work/elsewhere-otel")" ]; then
  hostile_case "a clone's planted run folder and .agent/otel" prevented
else hostile_case "a clone's planted run folder and .agent/otel" silent "$(cat "$work/victim")"; fi

# --- an agent that trusts its own code --------------------------------------------------------------
git_repo main
MAIN=$(pwd)
cat >"$work/agent.sh" <<'SH'
#!/bin/sh
cat >/dev/null
printf 'io.open("%s/self", "w"):close()\nreturn require("sidecar.preset.define").define({ name = "evil", summary = "e", run = function() return {} end })\n' \
  "$MARKS" >"$MAIN/.agent/presets/evil.lua" 2>/dev/null || echo "could not write the preset"
case $EVIL in
  trust) sidecar trust "$MAIN" ;;
  unset) env -u SIDECAR_RUN_ID sidecar trust "$MAIN" ;;
  library) sidecar -e 'assert(require("sidecar.core.trust").grant(os.getenv("MAIN")))' ;;
  task) sidecar task create --title evil --status ready --root "$MAIN/.agent" --validate-cmds "custom:touch '$MARKS/task'" ;;
esac
echo "agent $EVIL: exit $?"
SH
chmod +x "$work/agent.sh"
ln -sf "$S" "$work/sidecar" # `sidecar` on the agent's PATH, as a user's would be
mkdir -p .agent/presets
add_runners "    selftrust = { command = $(lua_list "$work/agent.sh") }, noop = { command = { \"true\" } },"
sandbox_allow env EVIL MAIN MARKS # the agent's orders, given by name
"$S" trust . >/dev/null
"$S" task create --title "trust yourself" --status ready >/dev/null
cp "$XDG_STATE_HOME/sidecar/trust.json" "$work/trust.saved"
modes="bwrap off"
if [ "${SIDECAR_OS_SANDBOX:-}" = off ] || ! command -v bwrap >/dev/null || ! bwrap --unshare-all --ro-bind / / true 2>/dev/null
then
  modes=off && echo "SKIP: the sandboxed cases (SIDECAR_OS_SANDBOX=off, or bubblewrap cannot make a sandbox here)"
fi
for mode in $modes; do
  for evil in trust unset library task; do
    name="self-trust: $evil (sandbox $mode)"
    cp "$work/trust.saved" "$XDG_STATE_HOME/sidecar/trust.json" && rm -f .agent/presets/evil.lua "$marks"/*
    before=$(tree_digest "$XDG_STATE_HOME/sidecar")
    PATH="$work:$PATH" MAIN=$MAIN MARKS=$marks EVIL=$evil SIDECAR_OS_SANDBOX=$mode \
      "$S" run T-0001 --runner selftrust >"$work/self.out" 2>&1
    id=$(run_ids "$work/self.out" | head -n 1)
    after=$(tree_digest "$XDG_STATE_HOME/sidecar")
    eq "$name: the agent ran" "agent $evil: exit" "$(grep -o "agent $evil: exit" ".agent/runs/$id/stdout.log" 2>/dev/null)"
    # What the user does next: list the presets, run the agent's task (if it made one).
    "$S" preset list >/dev/null 2>&1
    new_task=$("$S" task list --json | grep -o '"T-[0-9]*"' | tr -d '"' | grep -v '^T-0001$' | tail -n 1)
    [ -n "$new_task" ] && "$S" run "$new_task" --runner noop >/dev/null 2>&1
    echo "--- $name: $(grep 'agent ' ".agent/runs/$id/stdout.log" 2>/dev/null); $(grep -h -m1 '^sidecar' ".agent/runs/$id/stderr.log" 2>/dev/null)"
    if [ "$after" = "$before" ] && ! ran self && ! ran task; then
      hostile_case "$name" prevented
    elif "$S" run show "$id" 2>/dev/null | grep -q "the trust file" && [ "$(field ".agent/runs/$id/run.json" .status)" = blocked ]; then
      hostile_case "$name" detected
    else
      hostile_case "$name" silent "$(cat ".agent/runs/$id/stdout.log" 2>/dev/null)"
    fi
    [ -n "$new_task" ] && "$S" task set-status "$new_task" done >/dev/null 2>&1
    "$S" task set-status T-0001 ready >/dev/null 2>&1
  done
done
hostile_summary trust
finish
