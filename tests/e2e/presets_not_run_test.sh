#!/usr/bin/env bash
# End-to-end: a preset never reports success for work that did not run. A step whose agent CLI
# is not installed makes `sidecar preset run` exit 1, naming it (exit 0 with --dry-run); a step
# the preset marks optional is reported as skipped, in the text and in --json, and the preset
# succeeds. Steps take the config's `runner` unless --runner or the preset names another.
set -u
S=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
cd "$work"
export XDG_CONFIG_HOME=$work/xdg # no user presets

mkdir repo && cd repo && git init -q
printf '# demo\n' >README.md && git add . && git -c user.email=t@e -c user.name=t commit -qm init
"$S" init >/dev/null
# alice and bob: fake agents answering with their name; ghost: a runner whose CLI is missing.
for who in alice bob; do
  printf '#!/bin/sh\ncat >/dev/null\necho "%s read it"\n' "$who" >"$work/$who.sh" && chmod +x "$work/$who.sh"
done
sed -i -e 's|^  runner = "codex",|  runner = "alice",|' \
  -e "s|^  runners = {|  runners = {\n    alice = { command = { \"$work/alice.sh\" } },\n    bob = { command = { \"$work/bob.sh\" } },\n    ghost = { command = { \"/nonexistent/ghost\" } },|" \
  .agent/config.lua
mkdir -p .agent/presets
cat >.agent/presets/two-steps.lua <<'LUA'
local preset = require("sidecar.preset.define")
return preset.define({
  name = "two-steps",
  summary = "A scan on the default runner, then a second opinion from ghost",
  params = { required = { type = "boolean", default = false, doc = "the second opinion is needed" } },
  run = function(ctx, p)
    local first = ctx:agent({ kind = "scan", prompt = "Read the README" })
    local second = ctx:agent({ kind = "review", runner = "ghost", prompt = "Read it too", optional = not p.required })
    return { text = ("scan: %s on %s: %s\nsecond: %s\n"):format(first.status, first.route.runner,
      (first.output or first.why or ""):gsub("%s+$", ""), second.status),
      data = { first = first.status, second = second.status } }
  end,
})
LUA

expect_run "config's runner takes the step; the optional one is skipped; exit 0" 0 \
  "^scan: review on alice: alice read it\nsecond: not_run\n\nskipped: review on ghost: /nonexistent/ghost is not installed \(put it on PATH\)\n$" \
  "scan on alice \(scan work goes to the fast tier; runner alice from \.agent/config\.lua\)" -- "$S" preset run two-steps
"$S" preset run two-steps --json >skip.json 2>/dev/null
eq "--json: ok, one skipped step, no error" "true 1 review on ghost 0" \
  "$("$S" -e 'local j = require("sidecar.core.json").decode(io.read("a"))
    print(("%s %d %s %d"):format(j.ok, #j.data.skipped, j.data.skipped[1].step, #j.errors))' <skip.json)"
eq "--json: the skipped step's why and run" "/nonexistent/ghost is not installed (put it on PATH) R-" \
  "$(jv .data.skipped.1.why <skip.json) $(jv .data.skipped.1.run_id <skip.json | cut -c1-2)"

expect_run "a needed step that could not run: exit 1, naming it" 1 \
  "^scan: review on alice: alice read it\nsecond: not_run\n$" \
  "sidecar: preset run: 1 step could not run, so the preset did not do its work: review on ghost \(R-\d+\): /nonexistent/ghost is not installed \(put it on PATH\)\n" \
  -- "$S" preset run two-steps --param required=true
"$S" preset run two-steps --param required=true --json >missed.json 2>/dev/null
eq "--json: not ok, the error names the step, nothing skipped" "false 1 0" \
  "$("$S" -e 'local j = require("sidecar.core.json").decode(io.read("a"))
    print(("%s %d %d"):format(j.ok, #j.errors, #j.data.skipped))' <missed.json)"
expect_run "--json: the error" 0 "^1 step could not run, so the preset did not do its work: review on ghost \(R-\d+\): " "" -- \
  sh -c '"$0" -e "print(require(\"sidecar.core.json\").decode(io.read(\"a\")).errors[1].message)" <missed.json' "$S"
expect_run "--dry-run runs nothing by design: exit 0" 0 "^scan: dry_run on alice: --dry-run\nsecond: dry_run\n$" "" -- \
  "$S" preset run two-steps --param required=true --dry-run

expect_run "--runner beats config's runner" 0 "^scan: review on bob: bob read it\n" "runner from the command line" -- \
  "$S" preset run two-steps --runner bob

# The default runner, codex, not installed (a PATH without it): the preset did not do its work.
sed -i 's|^  runner = "alice",|  runner = "codex",|' .agent/config.lua
expect_run "codex not on PATH: exit 1" 1 "^scan: not_run on codex: codex is not installed" \
  "1 step could not run.*scan on codex \(R-\d+\): codex is not installed \(install it: npm install -g @openai/codex\)" -- \
  env PATH=/usr/bin:/bin "$S" preset run two-steps
finish
