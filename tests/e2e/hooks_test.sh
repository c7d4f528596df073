#!/usr/bin/env bash
# Claude Code hooks (stdlib/sidecar/cli/hooks.lua): `sidecar hook` on hostile input (always exit 0,
# nothing broken recorded), session records (idempotent per event), `hooks install` merging into
# settings files (idempotent, other hooks kept, --remove, a malformed file refused), a run's own
# hook denying push, tag and avoided files, the skill file listing every preset and command, and
# the REAL claude through `sidecar run --runner claude` against the scripted model server: a Write
# recorded as hook.PostToolUse in the run's events.jsonl, a `git push` denied by the hook and the
# denial in the run's record.
. "$(dirname "$0")/lib.sh"
F=$root/tests/fixtures
C=$F/captures/claude_hooks_stdin.jsonl
line() { sed -n "$1p" "$C" | sed "s#/home/user/project#$2#g"; }
# valid_jsonl FILE: every line is a JSON object (prints "ok" or the first bad line number).
valid_jsonl() {
  "$S" -e "local json = require('sidecar.core.json'); local n = 0
    for l in io.lines('$1') do n = n + 1; local ok, v = pcall(json.decode, l)
      if not ok or not json.is_object(v) then print('bad line ' .. n) return end end print('ok')"
}

# --- sessions: hostile input, idempotency ------------------------------------------------------
git_repo plain
repo=$PWD
for n in 1 2 3 4 5 6; do
  event=$(line $n "$repo" | jv .hook_event_name)
  stdin_text=$(line $n "$repo") expect_run "hook $event" 0 "^$" "^$" -- "$S" hook "$event"
done
eq "session recorded" "6" "$("$S" session list --json | jv .data.1.events)"
stdin_text=$(line 3 "$repo") expect_run "the same event again" 0 "^$" "^$" -- "$S" hook PostToolUse
eq "an event handed over twice is recorded once" "6" "$("$S" session list --json | jv .data.1.events)"
expect_run "session show" 0 "claude-code:cebb53f8 .*files edited:\n  NOTES\.md\n.*hook\.UserPromptSubmit +write notes then publish" "" \
  -- "$S" session show claude-code:cebb53f8
expect_run "session show: unknown" 1 "^$" "no session claude-code:00000000" -- "$S" session show claude-code:00000000
eq "context: the files the session edited" "NOTES.md claude-code:cebb53f8" \
  "$("$S" context --json | jv .data.session_files.1.file) $("$S" context --json | jv .data.session_files.1.session)"
expect_run "context: as text" 0 "Files edited in recent sessions.*\n- NOTES\.md \(claude-code:cebb53f8\)" "" -- "$S" context
session=.agent/sessions/claude-code-cebb53f8.jsonl
size_before=$(wc -c <$session)
stdin_text='{"hook_event_name": "PostToolUse", "session_id": ' expect_run "malformed input" 0 "^$" "not a JSON object" -- "$S" hook PostToolUse
stdin_text='' expect_run "empty input" 0 "^$" "not a JSON object" -- "$S" hook Stop
stdin_text='[1, 2]' expect_run "an array" 0 "^$" "not a JSON object" -- "$S" hook Stop
expect_run "no event" 0 "^$" "" -- "$S" hook
expect_run "an unknown flag" 0 "^$" "" -- "$S" hook Stop --bogus
eq "nothing recorded for them" "$size_before" "$(wc -c <$session)"
# 50 MB: a Write of a huge file; recorded (the file's name), not the content.
"$S" -e "local json = require('sidecar.core.json'); io.write(json.encode({hook_event_name = 'PostToolUse',
  session_id = 'cebb53f8-6566', cwd = '$repo', tool_name = 'Write', tool_use_id = 'toolu_huge',
  tool_input = {file_path = '$repo/huge.txt', content = ('x'):rep(50 * 1024 * 1024)}}))" >huge.json
expect_run "50 MB input" 0 "^$" "^$" -- sh -c "\"$S\" hook PostToolUse <huge.json"
eq "50 MB: the file recorded, small" "huge.txt" "$(tail -n 1 $session | jv .fields.files.1)"
eq "50 MB: the line stays small" "yes" "$([ "$(tail -n 1 $session | wc -c)" -lt 2000 ] && echo yes)"
printf '{"hook_event_name":"UserPromptSubmit","session_id":"cebb53f8-6566","cwd":"%s","prompt":"caf\xe9 \xff\xfe sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD and more"}' "$repo" >latin1.json
expect_run "invalid UTF-8" 0 "^$" "^$" -- sh -c "\"$S\" hook UserPromptSubmit <latin1.json"
eq "invalid UTF-8: repaired, secret redacted" "yes" \
  "$(tail -n 1 $session | grep -q 'caf\\ufffd\|caf�' && ! grep -q 'sk-proj-abc' $session && echo yes)"
long=$(printf 'word %.0s' $(seq 1 100))
stdin_text="{\"hook_event_name\":\"UserPromptSubmit\",\"session_id\":\"cebb53f8-6566\",\"cwd\":\"$repo\",\"prompt\":\"$long\"}" \
  expect_run "a long prompt" 0 "^$" "^$" -- "$S" hook UserPromptSubmit
eq "a prompt: its first 200 characters" "203" "$(tail -n 1 $session | jv .fields.prompt | tr -d '\n' | wc -m)"
eq "the session record stays valid JSON Lines" "ok" "$(valid_jsonl $session)"
cd "$work"
mkdir -p nostore && cd nostore
stdin_text=$(line 1 "$work/nostore") expect_run "no store: nothing recorded, still 0" 0 "^$" "^$" -- "$S" hook SessionStart
eq "no store: no .agent made" "no" "$([ -e .agent ] && echo yes || echo no)"
cd "$work"

# --- hooks install / remove -------------------------------------------------------------------
export CLAUDE_CONFIG_DIR=$work/claude-user
mkdir -p "$CLAUDE_CONFIG_DIR"
cat >"$CLAUDE_CONFIG_DIR/settings.json" <<'EOF'
{"env": {"ANTHROPIC_API_KEY": "sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789"}, "model": "opus",
 "hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "my-guard"}]}],
           "Notification": [{"hooks": [{"type": "command", "command": "notify-send hi"}]}]}}
EOF
expect_run "install --user" 0 "installed Sidecar's hooks in .*claude-user/settings\.json" "^$" -- "$S" hooks install --user
cp "$CLAUDE_CONFIG_DIR/settings.json" once.json
expect_run "install again" 0 "already in .*nothing changed" "^$" -- "$S" hooks install --user
eq "install is idempotent" "" "$(cmp once.json "$CLAUDE_CONFIG_DIR/settings.json")"
eq "the user's hook kept, ours after it" "my-guard" "$(jv .hooks.PreToolUse.1.hooks.1.command <once.json)"
eq "ours: the run hook of PreToolUse" "$S hook PreToolUse" "$(jv .hooks.PreToolUse.2.hooks.1.command <once.json)"
eq "the other event and settings kept" "notify-send hi opus" \
  "$(jv .hooks.Notification.1.hooks.1.command <once.json) $(jv .model <once.json)"
eq "the user's key is not redacted" "1" "$(grep -c '"ANTHROPIC_API_KEY": "sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789"' once.json)"
eq "six events" "6" "$(grep -c "$S hook " once.json)"
expect_run "remove" 0 "removed Sidecar's hooks" "^$" -- "$S" hooks install --user --remove
expect_run "remove again" 0 "no Sidecar hooks in .*nothing changed" "^$" -- "$S" hooks install --user --remove
eq "removed: ours gone, theirs kept" "0 my-guard notify-send hi nil" \
  "$(grep -c 'hook Stop' "$CLAUDE_CONFIG_DIR/settings.json") $(jv .hooks.PreToolUse.1.hooks.1.command <"$CLAUDE_CONFIG_DIR/settings.json") $(jv .hooks.Notification.1.hooks.1.command <"$CLAUDE_CONFIG_DIR/settings.json") $(jv .hooks.Stop <"$CLAUDE_CONFIG_DIR/settings.json")"
printf '{"hooks": {"Stop": [' >"$CLAUDE_CONFIG_DIR/settings.json"
expect_run "malformed settings refused" 1 "^$" "settings\.json: it is not valid JSON \(line 1, column \d+\); fix or move it.*nothing was changed" \
  -- "$S" hooks install --user
eq "malformed settings left as they were" '{"hooks": {"Stop": [' "$(cat "$CLAUDE_CONFIG_DIR/settings.json")"
echo '{"hooks": []}' >"$CLAUDE_CONFIG_DIR/settings.json"
expect_run "hooks not an object refused" 1 "^$" '"hooks" is not a JSON object' -- "$S" hooks install --user
rm "$CLAUDE_CONFIG_DIR/settings.json"
mkdir -p proj/sub && (cd proj && git init -q)
(cd proj/sub && PATH=/usr/bin:/bin "$S" hooks install >/dev/null 2>"$work/note")
eq "--project: the repository's .claude/settings.json" "$S hook Stop" "$(jv .hooks.Stop.1.hooks.1.command <proj/.claude/settings.json)"
eq "--project, this sidecar not on PATH: its path, and a note why" "yes" \
  "$(grep -q "note: the project's hooks call $S by its path" "$work/note" && echo yes)"
# With this binary on PATH, the shared settings name it `sidecar`: each teammate's own answers.
mkdir -p "$work/bin" && ln -sf "$S" "$work/bin/sidecar"
(cd proj/sub && PATH="$work/bin:$PATH" "$S" hooks install >/dev/null 2>"$work/note")
eq "--project, this sidecar on PATH: by name, the old entry replaced" "sidecar hook Stop 1" \
  "$(jv .hooks.Stop.1.hooks.1.command <proj/.claude/settings.json) $(grep -c 'hook Stop' proj/.claude/settings.json)"
eq "--project, this sidecar on PATH: no note" "" "$(cat "$work/note")"
expect_run "hooks print" 0 '"hooks": \{\n +"PostToolUse".*"matcher": "Bash\|Edit\|Write\|MultiEdit\|NotebookEdit"' "^$" -- "$S" hooks print
unset CLAUDE_CONFIG_DIR

# --- a run's own hook: deny push, tag, avoided files -------------------------------------------
cd "$repo"
mkdir -p "$work/rundir"
pre() { printf '{"hook_event_name":"PreToolUse","session_id":"s1","cwd":"%s","tool_name":"%s","tool_use_id":"t%s","tool_input":%s}' "$repo" "$1" "$RANDOM" "$2"; }
in_run() { SIDECAR_RUN_ID=R-0042 SIDECAR_RUN_DIR=$work/rundir SIDECAR_REPO=$repo SIDECAR_AVOID='["package-lock.json", "secrets/"]' "$@"; }
stdin_text=$(pre Bash '{"command":"cd x && git -C . push origin HEAD"}') expect_run "run: git push denied" 0 \
  '^\{"hookSpecificOutput":\{"hookEventName":"PreToolUse","permissionDecision":"deny","permissionDecisionReason":"Sidecar run R-0042: agents may not push' "^$" \
  -- in_run "$S" hook PreToolUse --run
stdin_text=$(pre Bash '{"command":"git tag -a v1 -m v1"}') expect_run "run: git tag denied" 0 '"deny".*tags' "^$" -- in_run "$S" hook PreToolUse --run
stdin_text=$(pre Bash '{"command":"git tag --list"}') expect_run "run: git tag --list allowed" 0 "^$" "^$" -- in_run "$S" hook PreToolUse --run
stdin_text=$(pre Bash '{"command":"git status"}') expect_run "run: other commands allowed" 0 "^$" "^$" -- in_run "$S" hook PreToolUse --run
stdin_text=$(pre Write "{\"file_path\":\"$repo/secrets/key.txt\",\"content\":\"x\"}") expect_run "run: an avoided file denied" 0 \
  '"deny".*avoid changing secrets/key\.txt \(files_to_avoid: secrets/\)' "^$" -- in_run "$S" hook PreToolUse --run
stdin_text=$(pre Edit "{\"file_path\":\"$repo/src/a.c\"}") expect_run "run: another file allowed" 0 "^$" "^$" -- in_run "$S" hook PreToolUse --run
stdin_text=$(pre Bash '{"command":"git push"}') expect_run "run: the user's own hook leaves it to the run's" 0 "^$" "^$" -- in_run "$S" hook PreToolUse
eq "run: events recorded with seq (the --run hook only)" "6 hook.PreToolUse deny" \
  "$(wc -l <"$work/rundir/events.jsonl" | tr -d ' ') $(head -n 1 "$work/rundir/events.jsonl" | jv .kind) $(head -n 1 "$work/rundir/events.jsonl" | jv .fields.decision)"
eq "run: seq follows the file" "1 6" "$(head -n 1 "$work/rundir/events.jsonl" | jv .seq) $(tail -n 1 "$work/rundir/events.jsonl" | jv .seq)"

# --- the skill file ------------------------------------------------------------------------------
"$S" skill print >skill.md
missing=""
for p in $("$S" preset list --json | "$S" -e "local json = require('sidecar.core.json')
  for _, p in ipairs(json.decode(io.read('a')).data) do print(p.name) end"); do
  grep -q "\`$p\`" skill.md || missing="$missing preset:$p"
done
for c in $("$S" --help | sed -n '/^SUBCOMMANDS:/,$p' | grep -oP '^\s{2}\K[a-z-]+'); do
  grep -q "\`sidecar $c" skill.md || missing="$missing command:$c"
done
eq "skill: every preset and top-level command" "" "$missing"
eq "skill: front matter" "---|name: sidecar" "$(head -n 2 skill.md | tr '\n' '|' | sed 's/|$//')"
expect_run "skill install --codex" 0 "wrote .*\.agents/skills/sidecar/SKILL\.md" "^$" -- "$S" skill install --codex
expect_run "skill install (claude)" 0 "wrote .*\.claude/skills/sidecar/SKILL\.md" "^$" -- "$S" skill install
cd "$work"

# --- the real claude, its hooks installed by the runner ------------------------------------------
if [ "${SIDECAR_SKIP_REAL_CLIS:-}" = 1 ]; then
  echo "SKIP: the real claude CLI (SIDECAR_SKIP_REAL_CLIS=1)"
  finish
  exit $?
fi
export PATH="$root/.tools/npm/bin:$PATH"
command -v claude >/dev/null || { echo "FAIL: claude is not installed (scripts/setup)"; exit 1; }
mkdir -p "$work/real-home" "$work/real-tmp"
# real_repo NAME: a repository whose claude runner talks to the model server on $port.
real_repo() {
  git_repo "$1"
  sed -i 's/^\(\s*\)enabled = true,/\1enabled = false,/' .agent/config.lua # edits in place: known paths
  add_runners "    claude = { env = { ANTHROPIC_BASE_URL = \"http://127.0.0.1:$port\", ANTHROPIC_API_KEY = \"sk-ant-mock\", CLAUDE_CONFIG_DIR = \"$work/real-home/$1\", TMPDIR = \"$work/real-tmp\", CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC = \"1\", DISABLE_TELEMETRY = \"1\", DISABLE_AUTOUPDATER = \"1\", DISABLE_ERROR_REPORTING = \"1\", CLAUDE_CODE_MAX_RETRIES = \"0\" } },"
  mkdir -p "$work/real-home/$1"
}
cat >"$work/write.json" <<EOF
{"steps": [
  {"text": "Writing notes.", "tool_calls": [{"name": "Write", "arguments": {"file_path": "$work/real-write/NOTES.md", "content": "hello\n"}}],
   "usage": {"input_tokens": 100, "output_tokens": 10}},
  {"text": "Wrote NOTES.md.", "usage": {"input_tokens": 120, "output_tokens": 10}}]}
EOF
start_server write "$work/write.json" || exit 1
real_repo real-write
# The user's own hooks installed as well: they leave a run's events to the run's hook.
CLAUDE_CONFIG_DIR=$work/real-home/real-write "$S" hooks install --user >/dev/null
"$S" task create --title "Write notes" --goal "NOTES.md says hello" >/dev/null
expect_run "real claude: a Write" 0 "R-\d+ +review" "" -- \
  "$S" run T-0001 --runner claude --sandbox workspace-write --timeout 2m --idle-timeout 60s
r=$(run_id 1)
ev=.agent/runs/$r/events.jsonl
eq "real claude: the file written" "hello" "$(cat NOTES.md 2>/dev/null)"
eq "real claude: hook.PostToolUse names the file" "NOTES.md Write" \
  "$(grep '"kind":"hook.PostToolUse"' $ev | head -n 1 | jv .fields.files.1) $(grep '"kind":"hook.PostToolUse"' $ev | head -n 1 | jv .fields.tool)"
eq "real claude: recorded once (the user's hook stood aside)" "1" "$(grep -c '"kind":"hook.PostToolUse"' $ev)"
eq "real claude: session start and stop seen" "yes" \
  "$(grep -q '"kind":"hook.SessionStart"' $ev && grep -q '"kind":"hook.Stop"' $ev && echo yes)"
eq "real claude: events.jsonl stays valid" "ok" "$(valid_jsonl $ev)"
eq "real claude: no session record for a run" "no" "$([ -d .agent/sessions ] && echo yes || echo no)"
expect_run "real claude: run tail shows the hook's events" 0 "hook\.PostToolUse +\{.*NOTES\.md" "" -- "$S" run tail $r
expect_run "real claude: the store rebuilds with them" 0 "" "" -- "$S" store rebuild
stop_server

cd "$work"
start_server push "$F/scenarios/hook_push_turn.json" || exit 1
real_repo real-push
"$S" task create --title "Publish" --goal "Push it" >/dev/null
# Blocked: the push gate weighs the attempt too (stdlib/sidecar/run/gates.lua), though it never ran.
expect_run "real claude: a git push" 1 "R-\d+ blocked: .*\n +blocker: tried to push \(git push origin HEAD\)" "" -- \
  "$S" run T-0001 --runner claude --sandbox workspace-write --timeout 2m --idle-timeout 60s
r=$(run_id 1)
ev=.agent/runs/$r/events.jsonl
eq "real claude: the hook denied the push" "deny" "$(grep '"kind":"hook.PreToolUse"' $ev | head -n 1 | jv .fields.decision)"
eq "real claude: the denial in the record" "Bash hook git push origin HEAD" \
  "$(field .agent/runs/$r/run.json .permission_denials.1.tool) $(field .agent/runs/$r/run.json .permission_denials.1.by) $(field .agent/runs/$r/run.json .permission_denials.1.input)"
eq "real claude: the reason in the record" "yes" \
  "$(field .agent/runs/$r/run.json .permission_denials.1.reason | grep -q 'agents may not push' && echo yes)"
eq "real claude: the agent was told why" "yes" \
  "$(grep -q 'PreToolUse:Bash hook error: .*agents may not push' .agent/runs/$r/agent.jsonl && echo yes)"
eq "real claude: the model got the reason" "yes" "$(grep -q 'agents may not push' "$work/push.log" && echo yes)"
stop_server

finish
