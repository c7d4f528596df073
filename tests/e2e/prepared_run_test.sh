#!/usr/bin/env bash
# End-to-end: `sidecar run --prepared DIR` runs a folder `sidecar prepare` made and fills it
# (output.md, model.json and model.md with the exact usage, events.jsonl, run.json; decision.md
# left to the caller), refusing a folder already run, one that is not a prepared folder, and a
# broken model.json; then, with the real codex against `sidecar model-server`: a prepared folder's
# usage exactly as scripted, and `sidecar run answer` continuing a session that stopped with a
# [QUESTION] (codex exec resume, the answer link, the run's own usage).
# The CLIs come from scripts/setup (.tools/npm) or PATH; SIDECAR_SKIP_REAL_CLIS=1 skips them.
set -u
. "$(dirname "$0")/lib.sh" # S (absolute), here, root, $work; the shared helpers
F=$root/tests/fixtures
scenarios=$F/scenarios
cd "$work"
export PATH="$root/.tools/npm/bin:$PATH"

# --- with the fake agent ------------------------------------------------------------------------
git_repo fake
"$S" init >/dev/null
add_runners "    codex = { program = $(fake_agent "$F/captures/codex_exec_json_text_turn.jsonl") },"
"$S" prepare --title "Look around" --prompt "Say hello." --task-id look >/dev/null
cp .agent/sidecars/look/decision.md "$work/decision-before"
expect_run "run --prepared" 0 "^R-0001 review: Hello from the mock model\.\n$" "filled: output\.md, model\.json" -- \
  "$S" run --prepared .agent/sidecars/look
d=.agent/sidecars/look
eq "output.md: the final answer" "Hello from the mock model." "$(cat $d/output.md)"
eq "output.md ends with a newline, as a run's does" "0a" "$(tail -c 1 $d/output.md | od -An -tx1 | tr -d ' ')"
eq "model.json: the usage, exactly" "100 0 20 0 120" "$(for k in input_tokens cached_input_tokens output_tokens reasoning_output_tokens total_tokens; do field $d/model.json .usage.$k; done | xargs)"
eq "model.json: the run and the command that ran" "R-0001 yes" "$(field $d/model.json .run_id) $(field $d/model.json .command | grep -q 'exec --ephemeral --json' && echo yes)"
eq "model.md: the token usage" "yes" "$(grep -q '| Total | 120 |' $d/model.md && echo yes)"
eq "events.jsonl: the run's events" "run.started run.finished" "$(head -1 $d/events.jsonl | jv .kind) $(tail -1 $d/events.jsonl | jv .kind)"
eq "run.json: the record" "review" "$(field $d/run.json .status)"
eq "decision.md: left to the caller" "" "$(diff "$work/decision-before" $d/decision.md)"
eq "the run is in the store, naming the folder" "$d" "$(field .agent/runs/R-0001/run.json .prepared)"
expect_run "a folder already run is refused (exit 1: the command line is right)" 1 "^$" "has been run already" -- "$S" run --prepared $d
expect_run "not a prepared folder" 2 "^$" "is not a prepared folder.*sidecar prepare" -- "$S" run --prepared .agent
"$S" prepare --title "Broken" --prompt "x" --task-id broken >/dev/null
printf '{"task_id": 3' >.agent/sidecars/broken/model.json
expect_run "a broken model.json (exit 1)" 1 "^$" "model\.json is not a JSON object" -- "$S" run --prepared .agent/sidecars/broken
"$S" prepare --title "Planted" --prompt "x" --task-id planted >/dev/null
sed -i 's/"sandbox": "read-only"/"sandbox": "danger-full-access"/' .agent/sidecars/planted/model.json
expect_run "a folder asking for danger-full-access needs --allow-full-auto" 2 "^$" "danger-full-access" -- \
  "$S" run --prepared .agent/sidecars/planted
"$S" prepare --title "Fifo" --prompt "x" --task-id fifo >/dev/null
rm .agent/sidecars/fifo/prompt.md && mkfifo .agent/sidecars/fifo/prompt.md
expect_run "a planted FIFO for prompt.md is refused, not waited on (exit 1)" 1 "^$" "fifo cannot be run: .*prompt\.md" -- \
  "$S" run --prepared .agent/sidecars/fifo
expect_run "a task and --prepared" 2 "^$" "not both" -- "$S" run T-0001 --prepared .agent/sidecars/broken
"$S" prepare --title "JSON" --prompt "Say hello." --task-id json >/dev/null
"$S" run --prepared .agent/sidecars/json --json >json.out
eq "--json: the envelope" "true R-0002 review 120" "$(jv .ok <json.out) $(jv .data.run_id <json.out) $(jv .data.status <json.out) $(jv .data.usage.total <json.out)"
expect_run "context: a run of no task waits for review, said plainly" 0 "\n- R-0001 \(review\): Hello from the mock model\.\n" "" -- "$S" context
eq "context: no json.null in its text" "0" "$("$S" context | grep -c 'json.null')"
cd "$work"

if [ "${SIDECAR_SKIP_REAL_CLIS:-}" = 1 ]; then
  echo "SKIP: the real codex CLI (SIDECAR_SKIP_REAL_CLIS=1)"
  finish
  exit $?
fi
if ! command -v codex >/dev/null; then
  echo "FAIL: codex is not installed (scripts/setup installs it into .tools/npm)"
  exit 1
fi

# real_repo NAME PORT: a repository whose codex runner talks to the model server at PORT.
real_repo() {
  git_repo "$1"
  "$S" init >/dev/null
  mkdir -p "$work/$1-home"
  add_runners "    codex = { args = { \"-c\", \"model_provider=mock\", \"-c\", \"model_providers.mock.name=mock\",
      \"-c\", \"model_providers.mock.base_url=http://127.0.0.1:$2/v1\", \"-c\", \"model_providers.mock.wire_api=responses\",
      \"-c\", \"model_providers.mock.env_key=MOCK_API_KEY\", \"-c\", \"model_providers.mock.request_max_retries=0\",
      \"-c\", \"model_providers.mock.stream_max_retries=0\", \"--disable\", \"plugins\", \"-c\", \"analytics.enabled=false\",
      \"--disable\", \"unbounded_connection_retries\" },
      env = { CODEX_HOME = \"$work/$1-home\", MOCK_API_KEY = \"sk-mock\", TMPDIR = \"$work/$1-home\" } },"
}

start_server text "$scenarios/text_turn.json" && {
  real_repo real_prepared "$port"
  "$S" prepare --title "Real" --prompt "Say hello to the sidecar e2e test" --task-id real --model gpt-5.5 >/dev/null
  expect_run "real codex: run --prepared" 0 "^R-0001 review: Hello from the scripted model\.\n$" "" -- \
    "$S" run --prepared .agent/sidecars/real
  eq "real codex: model.json usage exactly as scripted" "1234 200 56 7 1290" \
    "$(for k in input_tokens cached_input_tokens output_tokens reasoning_output_tokens total_tokens; do field .agent/sidecars/real/model.json .usage.$k; done | xargs)"
  eq "real codex: output.md" "Hello from the scripted model." "$(cat .agent/sidecars/real/output.md)"
  eq "real codex: the prompt reached the model" 1 "$(grep -c 'Say hello to the sidecar e2e test' "$work/text.log")"
  stop_server
  cd "$work"
}

start_server question "$scenarios/question_turns.json" && {
  real_repo real_answer "$port"
  "$S" task create --title "Ask first" --goal "Fix the parser" --status ready >/dev/null
  expect_run "real codex: a run that asks, its session kept" 1 "^R-0001 blocked" "" -- \
    "$S" run T-0001 --keep-session --model gpt-5.5
  eq "real codex: the question is a blocker" "question: Which API version should it use?" "$(field .agent/runs/R-0001/run.json .blockers.1)"
  expect_run "real codex: run answer" 0 "^R-0002 review: Done: the parser uses v2\.\n" "" -- "$S" run answer R-0001 "Use v2."
  r=.agent/runs/R-0002/run.json
  # (-s danger-full-access: in Sidecar's OS sandbox, which keeps the run read-only, codex's own steps aside)
  eq "real codex: exec resume of the first run's thread" "yes $(field .agent/runs/R-0001/run.json .session_id)" \
    "$(field $r .command | grep -qE '^codex exec -C \S+ -s danger-full-access resume --json' && echo yes) $(field $r .resumed_session)"
  eq "real codex: the answer reached the model in the same thread" 1 \
    "$(grep '"step":1' "$work/question.log" | grep -c 'Use v2\.')"
  eq "real codex: the answer's own usage (the thread's totals minus the first run's)" "1400 900 60 8 1460" \
    "$(for k in input cached_input output reasoning_output total; do field $r .usage.$k; done | xargs)"
  eq "real codex: linked as an answer" "answer R-0001" "$("$S" run show R-0002 --json | jv .data.lineage.answer_of | sed 's/^/answer /')"
  stop_server
  cd "$work"
}
finish
