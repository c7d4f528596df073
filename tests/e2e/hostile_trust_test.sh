#!/usr/bin/env bash
# End-to-end: trust against a hostile repository and a hostile agent (issue 39). A trusted preset
# that points package.path into the repository (or dofile()s a file of it) runs a helper only as
# `sidecar trust` recorded it: after a "git pull" changes the helper, the preset is refused and
# the helper never runs; `trust --show` lists the helper with its hash. A clone whose .agent is a
# symbolic link is refused before anything is written through it. An agent that runs `sidecar
# trust` on its own checkout changes nothing (its OS sandbox keeps the trust file read-only; and
# without one, the command refuses inside a run). Each is a case: prevented when nothing ran or
# changed.
set -u
. "$(dirname "$0")/lib.sh" # S (absolute), here, root, $work; the shared helpers
. "$here/hostile_lib.sh"
cd "$work"
unset SIDECAR_TRUST # trust as a user has it

git_repo repo
mkdir -p lib .agent/presets
echo 'return { greet = function() return "hello" end }' >lib/helper.lua
echo 'return "dofile ok"' >lib/extra.lua
cat >.agent/presets/hi.lua <<'LUA'
package.path = "./lib/?.lua;" .. package.path
local helper = require("helper")
local preset = require("sidecar.preset.define")
return preset.define({ name = "hi", summary = "says hi", run = function()
  return { text = helper.greet() .. " " .. dofile("lib/extra.lua") .. "\n" }
end })
LUA
"$S" trust . >/dev/null
expect_run "the trusted preset runs with its helpers" 0 "^hello dofile ok\n$" "" -- "$S" preset run hi
expect_run "trust --show lists the helpers it may load, with their hashes" 0 \
  "lib/extra\.lua +trusted +[0-9a-f]{64}\nlib/helper\.lua +trusted +[0-9a-f]{64}" "" -- "$S" trust --show .

# A pull changes the helper: the preset is refused, the helper never runs.
echo "return { greet = function() io.open('$work/pwned', 'w'):close() return 'pwned' end }" >lib/helper.lua
expect_run "a changed helper: refused, naming it" 1 "" "lib/helper\.lua of .* is changed since it was trusted, so it was not loaded" \
  -- "$S" preset run hi
if [ -e "$work/pwned" ]; then hostile_case "changed helper through package.path" silent "the helper ran"
else hostile_case "changed helper through package.path" prevented; fi
git checkout -q lib/helper.lua 2>/dev/null || echo 'return { greet = function() return "hello" end }' >lib/helper.lua
echo "io.open('$work/pwned2', 'w'):close() return 'x'" >lib/extra.lua
"$S" preset run hi >/dev/null 2>&1
if [ -e "$work/pwned2" ]; then hostile_case "changed file run by dofile" silent "it ran"
else hostile_case "changed file run by dofile" prevented; fi

# A clone whose .agent is a symbolic link: refused, nothing written through it.
mkdir -p "$work/elsewhere" "$work/linked" && (cd "$work/linked" && git init -q && ln -s ../elsewhere .agent)
expect_run "a symlinked .agent is refused" 1 "" "\.agent is a symbolic link \(to .*elsewhere\): Sidecar writes its store only in a real folder" \
  -- sh -c "cd '$work/linked' && '$S' task create --title x"
if [ -z "$(ls -A "$work/elsewhere")" ]; then hostile_case "symlinked .agent" prevented
else hostile_case "symlinked .agent" silent "$(ls "$work/elsewhere")"; fi

# An agent that trusts its own checkout's code.
cat >"$work/agent.sh" <<'SH'
#!/bin/sh
cat >/dev/null
echo 'os.execute("touch /tmp/pwned")' >>"$SIDECAR_REPO/.agent/presets/hi.lua" 2>/dev/null
sidecar trust "$SIDECAR_REPO"; echo "trust exit $?"
SH
chmod +x "$work/agent.sh"
ln -sf "$S" "$work/sidecar"
add_runners "    selftrust = { command = $(lua_list "$work/agent.sh") },"
"$S" trust . >/dev/null
"$S" task create --title "trust yourself" --status ready >/dev/null
modes="bwrap off"
[ "${SIDECAR_OS_SANDBOX:-}" = off ] && modes=off && echo "SKIP: the sandboxed case (SIDECAR_OS_SANDBOX=off)"
for mode in $modes; do
  before=$(tree_digest "$XDG_STATE_HOME/sidecar")
  PATH="$work:$PATH" SIDECAR_OS_SANDBOX=$mode "$S" run T-0001 --runner selftrust >"$work/self.$mode" 2>&1
  id=$(run_ids "$work/self.$mode" | head -n 1)
  if [ "$(tree_digest "$XDG_STATE_HOME/sidecar")" = "$before" ] && grep -q "trust exit [1-9]" ".agent/runs/$id/stdout.log"; then
    hostile_case "self-trust (sandbox $mode)" prevented
  else
    hostile_case "self-trust (sandbox $mode)" silent "$(cat ".agent/runs/$id/stdout.log" 2>/dev/null)"
  fi
  git checkout -q .agent/presets/hi.lua 2>/dev/null || true
done
hostile_summary trust
finish
