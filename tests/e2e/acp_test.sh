#!/usr/bin/env bash
# End-to-end: Agent Client Protocol agents as runners (issue 50), driven as a user does, against a
# fake ACP agent (tests/fixtures/fake_acp_agent.lua) in the OS sandbox: the answer to output.md,
# usage and cost as the agent reported them, permissions decided from the run's sandbox (denied in
# a read-only run and outside the run's folder, allowed in a writing one) and recorded, a refusal,
# a budget that stops the turn with session/cancel, and peers that break the protocol (a version
# Sidecar cannot speak, an error answer, malformed lines and a prompt never answered): each a
# clear status and reason, never a hang past the watchdog.
set -u
. "$(dirname "$0")/lib.sh" # S (absolute), here, root, $work; the shared helpers
cd "$work" || exit 1
git_repo acp
add_runners "    mine = { acp = $(lua_list "$S" script "$root/tests/fixtures/fake_acp_agent.lua") },"
sandbox_allow env FAKE_ACP # the fake agent's orders, given by name
"$S" task create --title "Say hello" --goal "Answer" --status ready >/dev/null
rec() { field ".agent/runs/$(run_id)/run.json" "$1"; }

expect_run "an ACP agent answers: the run is in review with its answer" 0 "^R-\d+ review: Hello world\." "" \
  -- env FAKE_ACP=ok "$S" run T-0001 --runner mine
eq "the answer is output.md" "Hello world." "$(cat ".agent/runs/$(run_id)/output.md")"
eq "usage as the agent reported it (input with its cached reads), and the cost of its usage_update" \
  "130 30 20 5 150 0.0125 fake-session-1" \
  "$(rec .usage.input) $(rec .usage.cached_input) $(rec .usage.output) $(rec .usage.reasoning_output) $(rec .usage.total) \
$(rec .cost_usd) $(rec .session_id)"
eq "the run's events: the session, the tool call, the usage update, the turn's end" "1 1 1 1" \
  "$(for k in agent.session agent.tool_call agent.usage_update agent.stopped; do
    grep -c "\"kind\":\"$k\"" ".agent/runs/$(run_id)/events.jsonl"; done | tr '\n' ' ' | sed 's/ $//')"
eq "the agent ran in the OS sandbox, which Sidecar ended after the turn" "yes" \
  "$([ "$(rec .os_sandbox.kind)" != nil ] && [ "$(rec .duration_ms)" -lt 5000 ] && echo yes)"

expect_run "a read-only run denies an edit: the turn stops, the run is blocked, saying which and why" 1 \
  "^R-\d+ blocked: the agent stopped after a permission was denied: Edit [^\n]*/a\.txt \(a read-only run: no edit\)" "" \
  -- env FAKE_ACP=permission "$S" run T-0001 --runner mine
eq "the request and the answer are recorded: denied, with reject_once's option" '"decision":"deny" "option":"no"' \
  "$(grep '"kind":"agent.permission"' ".agent/runs/$(run_id)/events.jsonl" | grep -o '"decision":"[a-z]*"\|"option":"[a-z]*"' |
    tr '\n' ' ' | sed 's/ $//')"
eq "and nothing was written" "" "$(cat a.txt 2>/dev/null)"
expect_run "a writing run allows an edit inside its worktree, once (never allow_always)" 0 \
  "^R-\d+ review: Edited [^\n]*/worktrees/R-\d+/a\.txt\." "" \
  -- env FAKE_ACP=permission "$S" run T-0001 --runner mine --sandbox workspace-write
eq "the option chosen was allow_once's" '"option":"yes"' \
  "$(grep '"kind":"agent.permission"' ".agent/runs/$(run_id)/events.jsonl" | grep -o '"option":"[a-z]*"')"
expect_run "an edit outside the run's folder is denied, whatever the sandbox" 1 \
  "^R-\d+ blocked: [^\n]*Edit /etc/passwd \(/etc/passwd lies outside the run's folder\)" "" \
  -- env FAKE_ACP=outside "$S" run T-0001 --runner mine --sandbox workspace-write
expect_run "a refusal blocks the run" 1 "^R-\d+ blocked: the agent refused to go on \(stopReason refusal\)" "" \
  -- env FAKE_ACP=refusal "$S" run T-0001 --runner mine

# A budget crossed mid-turn (the agent's usage_update says 0.50 USD): session/cancel first, the
# agent stops its turn `cancelled`, the run ends budget_exceeded at once.
start=$(date +%s%N)
expect_run "a budget stops an ACP agent's turn with session/cancel" 1 "^R-\d+ budget_exceeded: budget exceeded: \\\$0\.5000" \
  "" -- env FAKE_ACP=cancel "$S" run T-0001 --runner mine --budget-usd 0.1 --budget-allow-unknown
took=$((($(date +%s%N) - start) / 1000000))
eq "the agent answered the cancel: its turn stopped cancelled" 1 \
  "$(grep '"kind":"agent.stopped"' ".agent/runs/$(run_id)/events.jsonl" | grep -c '"reason":"cancelled"')"
echo "  the budget's cancel ended the run in $took ms"

# Ctrl-C or SIGTERM (what `run kill` sends its owner): session/cancel first; the agent stops its
# turn `cancelled`, the run is interrupted.
next=$(printf 'R-%04d' $(($(ls .agent/runs | wc -l) + 1)))
env FAKE_ACP=cancel "$S" run T-0001 --runner mine >"$work/out" 2>"$work/err" &
owner=$!
wait_until "cancel: the agent's turn is under way" 30 grep -qs agent.usage_update ".agent/runs/$next/events.jsonl"
start=$(date +%s%N)
kill -TERM "$owner"
wait "$owner"
took=$((($(date +%s%N) - start) / 1000000))
eq "SIGTERM: the run is interrupted, after the agent answered session/cancel" "interrupted 1" \
  "$(field ".agent/runs/$next/run.json" .status) $(grep '"kind":"agent.stopped"' ".agent/runs/$next/events.jsonl" |
    grep -c '"reason":"cancelled"')"
echo "  SIGTERM to the run's owner ended it in $took ms"

# A timeout (wall or idle) asks for session/cancel first, as a budget does: the agent stops its turn
# `cancelled`, and the run fails with the timeout's reason.
expect_run "a wall timeout: session/cancel first, then the run fails timed out" 1 \
  "^R-\d+ failed: wall timeout: still running after 3000 ms" "" \
  -- env FAKE_ACP=cancel "$S" run T-0001 --runner mine --timeout 3
eq "the agent answered the timeout's cancel: its turn stopped cancelled" 1 \
  "$(grep '"kind":"agent.stopped"' ".agent/runs/$(run_id)/events.jsonl" | grep -c '"reason":"cancelled"')"
expect_run "an idle timeout: session/cancel first, then the run fails idle" 1 \
  "^R-\d+ failed: idle timeout: no output for 2000 ms" "" \
  -- env FAKE_ACP=cancel "$S" run T-0001 --runner mine --idle-timeout 2
eq "the agent answered the idle timeout's cancel too" 1 \
  "$(grep '"kind":"agent.stopped"' ".agent/runs/$(run_id)/events.jsonl" | grep -c '"reason":"cancelled"')"

# Peers that break the protocol.
expect_run "a protocol version Sidecar cannot speak: a clear failure" 1 \
  "^R-\d+ failed: the agent speaks ACP version 2; Sidecar speaks version 1" "" \
  -- env FAKE_ACP=version "$S" run T-0001 --runner mine
expect_run "an error answer: the run fails with the agent's words" 1 \
  "^R-\d+ failed: session/new failed: no model configured \(-32000\)" "" \
  -- env FAKE_ACP=error "$S" run T-0001 --runner mine
expect_run "malformed lines, a request Sidecar does not serve, a flood, then no answer (nor to the cancel): ended" 1 \
  "^R-\d+ failed: wall timeout: still running after 4000 ms" "" \
  -- env FAKE_ACP=hostile "$S" run T-0001 --runner mine --timeout 4
eq "the malformed line is counted" "yes" \
  "$(grep -q '"kind":"agent.malformed_line"' ".agent/runs/$(run_id)/events.jsonl" && echo yes)"

# A runner named in config.lua with a setting it does not know is refused, naming acp among the known.
sed -i 's/^    mine = { acp = /    bad = { acp = true },\n    mine = { acp = /' .agent/config.lua
expect_run "a bad acp setting: the config says so" 1 "" "runners\.bad\.acp: expected a list of strings" -- "$S" run T-0001 --runner mine

# --- the real adapters, offline against the scripted model server ----------------------------------
# claude-agent-acp (Claude Code through the Claude Agent SDK) and codex-acp (codex built in), as the
# built-in claude-acp and codex-acp runners: the answer, the usage exactly as scripted (codex-acp's
# split from its session file in the run's state folder), and claude's Write asked of Sidecar:
# denied in a read-only run, allowed in a writing one.
export PATH="$root/.tools/npm/bin:$PATH"
if [ "${SIDECAR_SKIP_REAL_CLIS:-}" = 1 ] || ! command -v claude-agent-acp >/dev/null || ! command -v codex-acp >/dev/null; then
  echo "SKIP: the real ACP adapters (scripts/setup puts them in .tools/npm; or SIDECAR_SKIP_REAL_CLIS=1)"
else
  git_repo real
  mkdir -p "$work/claude-home" "$work/codex-home"
  # real_runners PORT: both adapters pointed at the model server on PORT.
  real_runners() {
    cp "$work/real-config" .agent/config.lua 2>/dev/null || cp .agent/config.lua "$work/real-config"
    printf 'model_provider = "mock"\nmodel = "gpt-5.5"\n[model_providers.mock]\nname = "mock"\nbase_url = "http://127.0.0.1:%s/v1"\nwire_api = "responses"\nenv_key = "MOCK_API_KEY"\nrequest_max_retries = 0\nstream_max_retries = 0\n[analytics]\nenabled = false\n' \
      "$1" >"$work/codex-home/config.toml"
    add_runners "    [\"claude-acp\"] = { env = { ANTHROPIC_BASE_URL = \"http://127.0.0.1:$1\", ANTHROPIC_API_KEY = \"sk-ant-mock\",
      CLAUDE_CONFIG_DIR = \"$work/claude-home\", CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC = \"1\", DISABLE_TELEMETRY = \"1\",
      DISABLE_AUTOUPDATER = \"1\", DISABLE_ERROR_REPORTING = \"1\", CLAUDE_CODE_MAX_RETRIES = \"0\" } },
    [\"codex-acp\"] = { env = { CODEX_HOME = \"$work/codex-home\", MOCK_API_KEY = \"sk-mock\" } },"
  }
  "$S" task create --title "Say hello" --goal "Answer" --status ready >/dev/null
  # usage_of ID: the run's usage (input, cached, output, reasoning, total) and whether it has a cost.
  usage_of() {
    local f=".agent/runs/$1/run.json" u
    for u in .usage.input .usage.cached_input .usage.output .usage.reasoning_output .usage.total; do
      printf '%s ' "$(field "$f" "$u")"
    done
    [ "$(field "$f" .cost_usd)" != nil ] && echo cost || echo "no cost"
  }
  for cli in claude codex; do
    start_server "$cli-text" "$root/tests/fixtures/scenarios/text_turn.json" && real_runners "$port"
    expect_run "$cli-acp: a text turn, in review with the scripted answer" 0 "^R-\d+ review: Hello from the scripted model\." \
      "" -- "$S" run T-0001 --runner "$cli-acp" --timeout 120
    stop_server
    eval "${cli}_run=$(run_id)"
  done
  # Claude counts every input token (cache reads included) as the claude runner does, and says its
  # cost; codex-acp's split is codex's own, as the codex runner records it, and it says no cost.
  eq "claude-acp: usage exactly as scripted, and its cost" "1434 200 56 null 1490 cost" "$(usage_of "$claude_run")"
  eq "codex-acp: usage exactly as scripted, from its session file" "1234 200 56 7 1290 no cost" "$(usage_of "$codex_run")"
  # A session continued (--keep-session, then --continue): each adapter loads it (session/load), the
  # second turn's request carries the first turn's answer, and each run's usage is its own turn's
  # exactly: claude-acp's as it reports it (a new adapter process counts from zero), codex-acp's
  # from the thread's totals in codex's session file less the first run's.
  start_server resume "$root/tests/fixtures/scenarios/resume_turns.json" && real_runners "$port"
  for cli in claude codex; do
    expect_run "$cli-acp: a first turn, its session kept" 0 "^R-\d+ review: Resume turn one answer\." "" \
      -- "$S" run T-0001 --runner "$cli-acp" --keep-session --timeout 120
    eval "${cli}_first=$(run_id)"
    expect_run "$cli-acp: --continue loads the session and answers the second turn" 0 \
      "^R-\d+ review: Resume turn two answer\." "" -- "$S" run T-0001 --continue --timeout 120
    eval "${cli}_second=$(run_id)"
  done
  stop_server
  for cli in claude codex; do
    first=${cli}_first second=${cli}_second
    eq "$cli-acp resume: the second run continues the first's session" \
      "$(field ".agent/runs/${!first}/run.json" .session_id) ${!first}" \
      "$(field ".agent/runs/${!second}/run.json" .resumed_session) $(field ".agent/runs/${!second}/run.json" .resumed_run)"
  done
  for api in messages responses; do
    eq "resume ($api): the second turn's request carries the first turn's answer" 1 \
      "$(grep '"step":1' "$work/resume.log" | grep "\"api\":\"$api\"" | grep -c 'Resume turn one answer')"
  done
  eq "claude-acp resume: each run's usage its own turn's, with a cost" "1200 200 50 null 1250 cost|2500 1000 70 null 2570 cost" \
    "$(usage_of "$claude_first")|$(usage_of "$claude_second")"
  # Priced as the adapter's default model prices them ($3/M input, $0.30/M cache reads, $15/M output):
  # the second run's cost is its own turn's, not the difference of two counts.
  eq "claude-acp resume: each run's own cost" "0.00381 0.00585" \
    "$(field ".agent/runs/$claude_first/run.json" .cost_usd) $(field ".agent/runs/$claude_second/run.json" .cost_usd)"
  eq "codex-acp resume: each run's usage its own turn's, from the thread's totals" \
    "1000 200 50 5 1050 no cost|1500 1000 70 9 1570 no cost" "$(usage_of "$codex_first")|$(usage_of "$codex_second")"
  # claude's Write, asked of Sidecar over ACP: denied in a read-only run (the file stays unwritten,
  # the turn goes on), allowed in a writing one (the file is in the run's worktree).
  for level in read-only workspace-write; do
    next=$(printf 'R-%04d' $(($(ls .agent/runs | wc -l) + 1)))
    target=$PWD/a.txt
    [ "$level" = workspace-write ] && target=$PWD/.agent/worktrees/$next/a.txt
    printf '{"steps":[{"api":"messages","text":"Writing.","tool_calls":[{"name":"Write","arguments":{"file_path":"%s","content":"written by claude\\n"}}]},{"api":"messages","text":"Done."}]}\n' \
      "$target" >"$work/write_turn.json"
    start_server "write-$level" "$work/write_turn.json" && real_runners "$port"
    "$S" run T-0001 --runner claude-acp --sandbox "$level" --timeout 120 >"$work/out" 2>"$work/err"
    stop_server
    decision=$(grep '"kind":"agent.permission"' ".agent/runs/$next/events.jsonl" 2>/dev/null | grep -o '"decision":"[a-z]*"' | head -n 1)
    if [ "$level" = read-only ]; then
      eq "claude-acp, read-only: the Write asked, denied, nothing written" '"decision":"deny" no' \
        "$decision $([ -e "$target" ] && echo yes || echo no)"
    else
      eq "claude-acp, writing: the Write asked, allowed, written in the worktree (the run's change)" \
        '"decision":"allow" a.txt 1' "$decision $(field ".agent/runs/$next/run.json" .worktree.files.1.path) \
$(grep -c '^+written by claude' ".agent/runs/$next/changes.patch" 2>/dev/null)"
    fi
  done
fi

finish
