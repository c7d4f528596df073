#!/usr/bin/env bash
# End-to-end: the precommit-classifier preset on prepared repositories, one per path (Fast,
# Skill, Code, Risk), by rules alone; then with a fake agent answering in the §2 format, one
# answering wrongly (one re-prompt, then escalation), and none installed (the classification and
# the exact command it would run); an agent whose path or validation differs from the rules' (kept,
# the disagreement shown, in text and --json). Also `preset list|show` and bad parameters.
# UPDATE_GOLDEN=1 rewrites the golden files from this run.
set -u
. "$(dirname "$0")/lib.sh" # S (absolute), here, root, $work; the shared helpers
golden_dir=$root/tests/golden/presets
cd "$work"

# repo NAME: a git repository with one commit (a README and a Makefile).
repo() {
  mkdir "$work/$1" && cd "$work/$1" && git init -q -b main
  printf '# Demo\n' >README.md
  printf 'test:\n\ttrue\n' >Makefile
  git add . && git -c user.email=t@e -c user.name=t commit -q -m init
}
classify() { "$S" preset run precommit-classifier --param agent=false "$@"; }

repo fast
printf '# Demo\n\nMore words.\n' >README.md
expect_run "fast: prose only" 0 "\*\*Path:\*\* Fast\n- \*\*Confidence:\*\* high\n.*README\.md is prose.*Minimal validation:\*\*\n  - \`git diff --check\`\n- \*\*Reinstall needed:\*\* no\n$" "" -- classify

repo skill
mkdir -p skills/review && printf -- '---\nname: review\n---\nReview carefully.\n' >skills/review/SKILL.md
expect_run "skill: agent instructions" 0 "\*\*Path:\*\* Skill.*skills/review/SKILL\.md instructs agents.*reinstall the changed skills: review.*Reinstall needed:\*\* yes, specific skills: review" "" -- classify

repo code
mkdir src && printf 'int main(void) { return 0; }\n' >src/main.c
printf '# Demo\n\nUsage.\n' >README.md
classify >"$work/code.md"
golden precommit-classifier.md "$work/code.md"
expect_run "code: source wins over prose" 0 "\*\*Path:\*\* Code.*src/main\.c is code.*\`git diff --check\`\n  - \`make test\`" "" -- classify

repo risk
git checkout -q -b other && printf 'a\n' >f.txt && git add f.txt && git -c user.email=t@e -c user.name=t commit -qm a
git checkout -q main && printf 'b\n' >f.txt && git add f.txt && git -c user.email=t@e -c user.name=t commit -qm b
git merge -q other >/dev/null 2>&1
expect_run "risk: a merge with conflicts" 0 "\*\*Path:\*\* Risk.*a merge is in progress; unresolved conflicts: f\.txt.*a person reviews the change" "" -- classify
git merge --abort
printf 'TOKEN=x\n' >.env.production
expect_run "risk: credentials" 0 "\*\*Path:\*\* Risk.*\.env\.production touches credentials" "" -- classify
"$S" preset run precommit-classifier --param agent=false --json >risk.json
eq "--json: the path" "risk" "$(jv .data.result.path <risk.json)"

repo clean
expect_run "no changes" 0 "\*\*Path:\*\* Fast.*Why this path:\*\* no changes" "" -- "$S" preset run precommit-classifier

# A fake agent: the command runner answers with the §2 format (or wrongly, per ANSWER; or the
# file $ANSWER_FILE).
cat >"$work/answer.sh" <<'SH'
#!/bin/sh
cat >/dev/null
n=$(cat "$ANSWER_COUNT" 2>/dev/null || echo 0); echo $((n + 1)) >"$ANSWER_COUNT"
if [ -n "${ANSWER_FILE:-}" ]; then cat "$ANSWER_FILE"; exit 0; fi
if [ "$ANSWER" = bad ] || { [ "$ANSWER" = once ] && [ "$n" = 0 ]; }; then echo "Looks fine to me."; exit 0; fi
cat <<'MD'
# Precommit Classification
- **Path:** Code
- **Confidence:** high
- **Changed files:**
  - `a.lua`
- **Why this path:** a new Lua source file.
- **Minimal validation:**
  - `git diff --check`
  - `make test`
- **Reinstall needed:** no
- **Commit scope risk:** low: one new file.
- **Blockers:** None.
- **Suggested commit message:** Add a.lua
MD
SH
chmod +x "$work/answer.sh"
# with_agent: `sidecar init` here, with the `command` runner running the fake agent.
with_agent() {
  "$S" init >/dev/null
  add_runners "    command = { command = $(lua_list "$work/answer.sh") },"
  sandbox_allow write "$work/counts" # where the agent counts its answers (its OS sandbox lets it)
  sandbox_allow env ANSWER ANSWER_FILE ANSWER_COUNT
}
mkdir -p "$work/counts"
export ANSWER_COUNT=$work/counts/count

# jlen PATH: "array N" for a JSON array at PATH of the JSON on stdin, else its type.
jlen() {
  "$S" -e "local json = require('sidecar.core.json'); local v = json.decode(io.read('a'))
    for k in ('$1'):gmatch('[^.]+') do if type(v) ~= 'table' then v = nil break end v = v[tonumber(k) or k] end
    print(json.is_array(v) and ('array ' .. #v) or type(v))"
}

# The rules decide the path, confidence and validation: an agent that says otherwise (Fast, no
# validation, for a changed .env) is shown as a disagreement, never as the answer.
repo disagree
printf 'TOKEN=x\n' >.env
with_agent
cat >"$work/fast.md" <<'MD'
# Precommit Classification
- **Path:** Fast
- **Confidence:** high
- **Changed files:** `.env`
- **Why this path:** only a setting changed.
- **Minimal validation:** none
- **Reinstall needed:** no
- **Commit scope risk:** low: one line.
- **Blockers:** None.
- **Suggested commit message:** Set the token
MD
ANSWER_FILE=$work/fast.md "$S" preset run precommit-classifier --runner command >"$work/disagree.md" 2>/dev/null
golden precommit-classifier-disagreement.md "$work/disagree.md"
expect_run "disagreement: the rules' path and validation, the agent's message" 0 \
  "^# Precommit Classification\n- \*\*Path:\*\* Risk\n- \*\*Confidence:\*\* high\n.*Minimal validation:\*\*\n  - \`git diff --check\`\n  - \`make test\`\n  - \`a person reviews the change before it is committed\`\n.*Suggested commit message:\*\* Set the token\n\nAgent disagreed \(R-\d+\): it said Path Fast, Minimal validation none; the rules decide Path Risk, Minimal validation \`git diff --check\`, \`make test\`, \`a person reviews the change before it is committed\`, because \.env touches credentials, security or release\.\n$" "" -- \
  cat "$work/disagree.md"
expect_run "disagreement: never the agent's Path" 1 "" "" -- grep -q "Path:\*\* Fast" "$work/disagree.md"
ANSWER_FILE=$work/fast.md "$S" preset run precommit-classifier --runner command --json >"$work/disagree.json" 2>/dev/null
eq "--json disagreement: ok" "true" "$(jv .ok <"$work/disagree.json")"
eq "--json disagreement: the rules' path" "risk" "$(jv .data.result.path <"$work/disagree.json")"
eq "--json disagreement: the report's path" "risk" "$(jv .data.result.report.path <"$work/disagree.json")"
eq "--json disagreement: the report's validation" "array 3" "$(jlen .data.result.report.minimal_validation <"$work/disagree.json")"
eq "--json disagreement: its last step" "a person reviews the change before it is committed" \
  "$(jv .data.result.report.minimal_validation.3 <"$work/disagree.json")"
eq "--json disagreement: the agent's message" "Set the token" \
  "$(jv .data.result.report.suggested_commit_message <"$work/disagree.json")"
eq "--json disagreement: the fields" "path minimal_validation" \
  "$(jv .data.result.disagreement.fields.1 <"$work/disagree.json") $(jv .data.result.disagreement.fields.2 <"$work/disagree.json")"
eq "--json disagreement: the agent's path" "fast" "$(jv .data.result.disagreement.agent.path <"$work/disagree.json")"
eq "--json disagreement: the agent's validation" "array 0" \
  "$(jlen .data.result.disagreement.agent.minimal_validation <"$work/disagree.json")"
eq "--json disagreement: the rules' path" "risk" "$(jv .data.result.disagreement.rules.path <"$work/disagree.json")"
eq "--json disagreement: the rules' validation" "make test" \
  "$(jv .data.result.disagreement.rules.minimal_validation.2 <"$work/disagree.json")"
eq "--json disagreement: the reason" ".env touches credentials, security or release" \
  "$(jv .data.result.disagreement.reason <"$work/disagree.json")"
# The same change, an agent that agrees (its steps in another order): no disagreement.
sed -e 's/Path:\*\* Fast/Path:** Risk/' -e 's/^- \*\*Minimal validation:\*\* none$/- **Minimal validation:**\n  - a person reviews the change before it is committed\n  - `make test`\n  - `git diff --check`/' \
  "$work/fast.md" >"$work/risk.md"
expect_run "agreement: no disagreement shown" 0 \
  "(?s)^(?!.*disagreed)# Precommit Classification\n- \*\*Path:\*\* Risk\n.*Why this path:\*\* only a setting changed\.\n.*Suggested commit message:\*\* Set the token\n$" "" -- \
  env ANSWER_FILE="$work/risk.md" "$S" preset run precommit-classifier --runner command
ANSWER_FILE=$work/risk.md "$S" preset run precommit-classifier --runner command --json >"$work/agree.json" 2>/dev/null
eq "--json agreement: no disagreement" "nil" "$(jv .data.result.disagreement <"$work/agree.json")"
eq "--json agreement: the report's path" "risk" "$(jv .data.result.report.path <"$work/agree.json")"

repo agent
printf 'x = 1\n' >a.lua
with_agent
rm -f "$ANSWER_COUNT"
expect_run "agent: its §2 answer" 0 "(?s)^(?!.*disagreed)# Precommit Classification\n.*Suggested commit message:\*\* Add a\.lua\n$" "" -- \
  env ANSWER=good "$S" preset run precommit-classifier --runner command
eq "agent: one run" "1" "$(cat "$ANSWER_COUNT")"
rm -f "$ANSWER_COUNT"
expect_run "agent: wrong once, re-prompted" 0 '"suggested_commit_message": "Add a\.lua"' "" -- \
  env ANSWER=once "$S" preset run precommit-classifier --runner command --json
eq "agent: two runs" "2" "$(cat "$ANSWER_COUNT")"
expect_run "re-prompt names the problems" 0 "did not match the required format:\n- blockers: required field missing\n" "" -- \
  cat ".agent/runs/$(jv .data.result.agent.run_id <"$work/out")/prompt.md"
rm -f "$ANSWER_COUNT"
expect_run "agent: wrong twice, escalated" 1 "\*\*Path:\*\* Code.*Escalate: classify the why and blockers by hand" "" -- \
  env ANSWER=bad "$S" preset run precommit-classifier --runner command
eq "agent: never more than two runs" "2" "$(cat "$ANSWER_COUNT")"
expect_run "no agent installed, agent left to its default: the step is skipped, exit 0" 0 \
  "\*\*Path:\*\* Code.*Agent: not run \(codex is not installed \(install it: npm install -g @openai/codex\)\)\. It would run:\n  codex exec --ephemeral --json .* -s read-only .*-m gpt-5\.3-codex-spark - < .*/prompt\.md.*skipped: classify on codex: codex is not installed" "" -- \
  env PATH=/usr/bin:/bin "$S" preset run precommit-classifier
expect_run "no agent installed, --json: the skipped step in data.skipped" 0 '"skipped": \[\s*\{[^]]*"step": "classify on codex",\s*"why": "codex is not installed' "" -- \
  env PATH=/usr/bin:/bin "$S" preset run precommit-classifier --json
expect_run "no agent installed, agent asked for: the preset did not do its work, exit 1" 1 \
  "Agent: not run \(codex is not installed" "could not run, so the preset did not do its work: classify" -- \
  env PATH=/usr/bin:/bin "$S" preset run precommit-classifier --param agent=true
expect_run "--dry-run" 0 "Agent: not run \(--dry-run\)\. It would run:\n  '?$work/answer\.sh" "" -- \
  "$S" preset run precommit-classifier --runner command --dry-run
eq "dry run recorded" "dry_run" "$(jv .status <".agent/runs/$(run_id)/run.json")"

expect_run "preset list" 0 "PRESET +FROM +WHAT IT DOES\n.*precommit-classifier +built-in +Classify" "" -- "$S" preset list
expect_run "preset show" 0 "Parameters.*agent +boolean +true.*Escalates:" "" -- "$S" preset show precommit-classifier
expect_run "unknown preset" 1 "^$" "no preset 'nope' \(presets: .*precommit-classifier" -- "$S" preset run nope
expect_run "unknown parameter" 2 "^$" "--param colour: precommit-classifier has no such parameter \(parameters: agent\)" -- \
  "$S" preset run precommit-classifier --param colour=red
expect_run "bad parameter type" 2 "^$" "--param agent=maybe: expected true or false" -- \
  "$S" preset run precommit-classifier --param agent=maybe
mkdir -p .agent/presets && cat >.agent/presets/precommit-classifier.lua <<'LUA'
local preset = require("sidecar.preset.define")
return preset.define({ name = "precommit-classifier", summary = "the project's own",
  run = function() return { text = "project preset\n" } end })
LUA
expect_run "a project preset replaces the built-in one" 0 "^project preset\n$" "" -- "$S" preset run precommit-classifier

finish
