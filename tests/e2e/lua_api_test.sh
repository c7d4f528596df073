#!/usr/bin/env bash
# End-to-end: the Lua API as docs/lua-api.md shows it. The page is what scripts/lua-api makes from
# the code now; its first script (two reviewers, merged) and its side-by-side form, taken from
# the page and run as written against two fake reviewers declared in a temporary repository's
# .agent/config.lua, print the report the page shows; agent.execute knows the config's runners,
# returns the whole answer, and refuses (nil, message, code) an unknown runner, recording nothing.
set -u
S=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$here/lib.sh"
cd "$work"

expect_run "docs/lua-api.md is what scripts/lua-api makes from the code" 0 "" "" -- \
  env SIDECAR="$S" "$root/scripts/lua-api" --check

# block FIRST_LINE: the ```lua block of docs/lua-api.md that starts with FIRST_LINE; `block -`:
# the plain ``` block after "Either prints".
block() {
  awk -v first="$1" '
    first == "-" && /^Either prints/ { want = 1; next }
    want == 1 && /^```$/ { want = 2; next }
    want == 2 && /^```$/ { exit }
    want == 2 { print; next }
    /^```lua$/ { start = 1; next }
    start == 1 { start = 0; if ($0 == first) { inside = 1 } }
    inside && /^```$/ { exit }
    inside { print }' "$root/docs/lua-api.md"
}
block "-- review.lua: sidecar script review.lua" >review.lua
block "-- review_together.lua: sidecar script review_together.lua" >review_together.lua
block - >expected.md
eq "the recipe is on the page" "yes yes yes" "$([ -s review.lua ] && echo yes) $([ -s review_together.lua ] && echo yes) \
$(grep -q '^# Merged findings' expected.md && echo yes)"

# A repository with a change, and two fake reviewers (the command runner's argv in config.lua).
mkdir repo && cd repo && git init -q
printf 'x = 1\n' >a.lua && git add a.lua && git -c user.email=t@e -c user.name=t commit -qm init
printf 'x = 2\n' >a.lua
"$S" init >/dev/null
mkdir "$work/reviewers"
# As real reviewers answer: alice wraps her JSON in prose and a ```json fence, bob puts his in a
# sentence. The page's scripts read both.
cat >"$work/reviewers/alice.sh" <<'SH'
#!/bin/sh
cat >/dev/null
echo 'I read the change. Here is what I found:'
echo '```json'
echo '{"findings": [{"file": "a.lua", "line": 1, "severity": "high", "claim": "x changed from 1 to 2 without a test"}]}'
echo '```'
echo 'Tell me if you want a fix.'
SH
cat >"$work/reviewers/bob.sh" <<'SH'
#!/bin/sh
cat >"$BOB_PROMPT"
echo 'My findings: {"findings": [{"file": "a.lua", "line": 1, "severity": "medium", "claim": "x changed from 1 to 2 without a test"},'
echo ' {"file": "a.lua", "line": 1, "severity": "low", "claim": "x is a global"}]} That is all.'
SH
chmod +x "$work/reviewers/"*.sh
sed -i "s|^  runners = {|  runners = {\n    alice = { command = { \"$work/reviewers/alice.sh\" } },\n    bob = { command = { \"$work/reviewers/bob.sh\" } },|" .agent/config.lua
export BOB_PROMPT=$work/reviewers/seen/bob-prompt
mkdir -p "$work/reviewers/seen" && sandbox_allow write "$work/reviewers/seen" # bob keeps what he saw there
sandbox_allow env BOB_PROMPT

expect_run "review.lua, as the page writes it: the merged report" 0 "" "^$" -- "$S" script "$work/review.lua"
cp "$work/out" "$work/got.md"
expect_run "review.lua prints what the page shows" 0 "" "" -- diff -u "$work/expected.md" "$work/got.md"
expect_run "the reviewers saw the change" 0 "Review this change.*\+x = 2" "" -- cat "$BOB_PROMPT"
expect_run "review_together.lua: the same report" 0 "" "" -- "$S" script "$work/review_together.lua"
cp "$work/out" "$work/together.md"
expect_run "review_together.lua prints what the page shows" 0 "" "" -- diff -u "$work/expected.md" "$work/together.md"
expect_run "review_together.lua's task is named after the script" 0 "script review_together" "" -- "$S" task list
eq "each reviewer's run is recorded under its runner" "alice alice bob bob" \
  "$("$S" -e 'local s = assert(require("sidecar.core.store").open(".agent")); local out = {}
    for _, r in ipairs(s:list_runs({})) do out[#out + 1] = r.runner_type end table.sort(out) print(table.concat(out, " "))')"

# agent.execute: the whole answer, the config's runners, refusals as data.
expect_run "execute: output is the whole answer (two lines), summary its first" 0 \
  "^review\nMy findings: \{\"findings\": .*x changed from 1 to 2 without a test\"\},\n \{.*x is a global\"\}\]\} That is all\.\n---\nMy findings: \{\"findings\": [^\n]*\},\n$" "^$" -- \
  "$S" -e 'local run = assert(require("sidecar").agent.execute({runner = "bob", prompt = "p"}))
    print(run.status); io.write(run.output); print("---"); print(run.summary)'
expect_run "execute: an unknown runner is nil, message, code; nothing recorded" 0 \
  "^nil\tunknown runner 'carol' \(known: .*alice.*bob.*\)\tunknown_runner\n5\n$" "^$" -- \
  "$S" -e 'local run, err, code = require("sidecar").agent.execute({runner = "carol", prompt = "p"})
    print(run, err, code); print(#assert(require("sidecar.core.store").open(".agent")):list_runs({}))'
printf '#!/bin/sh\ncat >/dev/null\necho "review $*"\n' >"$work/reviewers/echo_args.sh" && chmod +x "$work/reviewers/echo_args.sh"
sed -i "s|^  runners = {|  runners = {\n    carl = { command = { \"$work/reviewers/echo_args.sh\" }, args = { \"--extra-flag\" } },|" .agent/config.lua
expect_run "execute: the runner's config.lua args apply to a script's run" 0 "^review --extra-flag\n$" "" -- \
  "$S" -e 'io.write(assert(require("sidecar").agent.execute({runner = "carl", prompt = "p"})).output)'
mkdir "$work/elsewhere" && cd "$work/elsewhere"
expect_run "execute: repo names whose config is read" 0 "^review\n$" "" -- \
  "$S" -e "print(assert(require('sidecar').agent.execute({runner = 'alice', prompt = 'p', repo = '$work/repo'})).status)"
cd "$work/repo"
expect_run "execute: an untrusted config is named in the refusal" 0 "unknown runner 'alice'.*untrusted: .*config\.lua" "" -- \
  env SIDECAR_TRUST= "$S" -e 'print(select(2, require("sidecar").agent.execute({runner = "alice", prompt = "p"})))'

# A script's run in a repository nobody ran `sidecar init` in: the .agent folder it makes ignores
# itself, as init's does, so git sees nothing of the store.
mkdir "$work/fresh" && cd "$work/fresh" && git init -q
expect_run "a run before init: review" 0 "^review\n$" "" -- \
  "$S" -e "print(assert(require('sidecar').agent.execute({runner = 'command', prompt = 'p', command = { 'true' }})).status)"
eq "... its .agent ignores itself, git sees nothing" "* 0" \
  "$(cat .agent/.gitignore) $(git status --porcelain | wc -l)"

finish
