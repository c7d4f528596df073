#!/usr/bin/env bash
# End-to-end: `sidecar model-server` as users and tests start it. First driven with curl (both
# APIs: text, tool calls and usage, an HTTP error, a stream cut short, a hang, a slow stream, an
# unknown path, keep-alive, a malformed request, the request log, SIGTERM and SIGINT, bad
# scenarios), then the real codex and claude CLIs against it: a text turn, a tool turn and an
# HTTP 500 each, with the flags and environment of docs/agent-clis.md.
# The CLIs come from scripts/setup (.tools/npm) or PATH; SIDECAR_SKIP_REAL_CLIS=1 skips them.
set -u
. "$(dirname "$0")/lib.sh" # S (absolute), here, root, $work; the shared helpers
scenarios=$root/tests/fixtures/scenarios
cd "$work"

# check NAME COMMAND...: passes when COMMAND succeeds.
check() {
  local name=$1
  shift
  if "$@"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL $name"
    echo "  command: $*"
  fi
}

# has FILE REGEX: FILE holds REGEX (Perl, across lines). lacks: it does not.
has() { grep -Pzq -- "(?s)$2" "$1"; }
lacks() { ! grep -Pzq -- "(?s)$2" "$1"; }


# line FILE REGEX: the last line of FILE matching REGEX.
line() { grep -P -- "$2" "$1" | tail -n 1; }



# expect_stop NAME SIGNAL: the server exits 0 on SIGNAL, says so, and leaves no process.
expect_stop() {
  local name=$1 sig=$2 status=0
  kill "-$sig" "$pid"
  wait "$pid" || status=$?
  eq "$name: exit status after SIG$sig" 0 "$status"
  check "$name: says it stopped" has "$work/$name.err" "stopped \\(SIG$sig\\) after [0-9]+ requests"
  check "$name: no process left" sh -c "! kill -0 $pid 2>/dev/null"
}

# ---------------------------------------------------------------------------------------------
# curl against the scenario of tests/fixtures/scenarios/curl_checks.json

start_server curl "$scenarios/curl_checks.json" --json || { finish; exit 1; }
check "ready line as JSON" has curl.out "^\\{\"base_url\":\"http://127\\.0\\.0\\.1:$port\",\"port\":$port\\}\\n$"
base=http://127.0.0.1:$port
post() { curl -sS -N -D "$work/headers" -o "$work/body" -w '%{http_code}' -H 'Content-Type: application/json' "$@"; }

# Responses: reasoning, text and usage, streamed.
code=$(post "$base/v1/responses" -d '{"model":"gpt-test","stream":true,"input":[{"role":"user","content":"the curl prompt"}]}')
eq "responses text: status" 200 "$code"
check "responses text: an event stream, chunked" has headers 'Content-Type: text/event-stream.*Transfer-Encoding: chunked'
check "responses text: events in order" has body '^event: response\.created\n.*event: response\.in_progress\n.*event: response\.output_item\.added\n.*"type":"reasoning".*event: response\.output_text\.delta\ndata: \{[^\n]*"delta":"Hello over Responses\."[^\n]*\n\n.*event: response\.completed\n'
completed=$(grep -A0 '"type":"response.completed"' body | sed 's/^data: //')
eq "responses text: model echoed" gpt-test "$(jv .response.model <<<"$completed")"
eq "responses text: usage" "11 3 22 4 33" "$(for k in input_tokens input_tokens_details.cached_tokens output_tokens output_tokens_details.reasoning_tokens total_tokens; do jv ".response.usage.$k" <<<"$completed"; done | xargs)"

# Responses: a shell call and an apply_patch custom tool call.
code=$(post "$base/responses" -d '{"stream":true}')
eq "responses tools: status" 200 "$code"
check "responses tools: exec_command" has body '"type":"function_call","status":"completed","call_id":"call_0002_0","name":"exec_command","arguments":"\{\\"cmd\\":\\"ls -la\\"\}"'
check "responses tools: apply_patch" has body '"type":"custom_tool_call","status":"completed","call_id":"call_0002_1","name":"apply_patch","input":"\*\*\* Begin Patch\\n'
check "responses tools: scripted model name" has body '"model":"scripted-model"'

# Responses: HTTP 500, a stream cut short, a hang, and then no step left.
code=$(post "$base/v1/responses" -d '{"stream":true}')
eq "responses 500: status" 500 "$code"
check "responses 500: the API's error shape" has body '^\{"error":\{"message":"mock internal error","type":"server_error"'
status=0
post "$base/v1/responses" -d '{"stream":true}' >/dev/null 2>client.err || status=$?
eq "responses cut: curl sees the body end early (exit 18)" 18 "$status"
check "responses cut: three events, no completion" sh -c "[ \$(grep -c '^event: ' body) = 3 ] && ! grep -q response.completed body"
status=0
start=$(date +%s%N)
post --max-time 0.5 "$base/v1/responses" -d '{"stream":true}' >/dev/null 2>client.err || status=$?
elapsed=$((($(date +%s%N) - start) / 1000000))
eq "responses hang: curl times out (exit 28)" 28 "$status"
check "responses hang: two events, then nothing for 0.5 s" sh -c "[ \$(grep -c '^event: ' body) = 2 ] && [ $elapsed -ge 450 ]"
code=$(post "$base/v1/responses" -d '{"stream":true}')
eq "responses after the last step: status" 500 "$code"
check "responses after the last step: says so" has body 'the scenario has no reply left for the responses API'

# Messages: thinking, text and usage; a tool use; an overload error with a header; a slow stream.
code=$(post "$base/v1/messages?beta=true" -d '{"model":"claude-test","stream":true,"messages":[{"role":"user","content":"the claude prompt"}]}')
eq "messages text: status" 200 "$code"
check "messages text: events in order" has body '^event: message_start\n.*event: ping\n.*"type":"thinking".*"type":"text_delta","text":"Hello over Messages\.".*event: message_delta\ndata: [^\n]*"stop_reason":"end_turn".*event: message_stop\n'
start_line=$(grep '"type":"message_start"' body | sed 's/^data: //')
delta_line=$(grep '"type":"message_delta"' body | sed 's/^data: //')
eq "messages text: model echoed" claude-test "$(jv .message.model <<<"$start_line")"
eq "messages text: input usage at the start" "33 5 6" "$(for k in input_tokens cache_read_input_tokens cache_creation_input_tokens; do jv ".message.usage.$k" <<<"$start_line"; done | xargs)"
eq "messages text: output usage at the end" 44 "$(jv .usage.output_tokens <<<"$delta_line")"
code=$(post "$base/v1/messages" -d '{"stream":true}')
check "messages tool: Bash tool_use" has body '"content_block":\{"type":"tool_use","id":"toolu_0008_0","name":"Bash","input":\{\}\}.*"partial_json":"\{\\"command\\":\\"ls -la\\"\}".*"stop_reason":"tool_use"'
code=$(post "$base/v1/messages" -d '{"stream":true}')
eq "messages 529: status" 529 "$code"
check "messages 529: retry-after header" has headers 'retry-after: 0\r\n'
check "messages 529: the API's error shape" has body '^\{"type":"error","error":\{"type":"overloaded_error","message":"overloaded"\}\}$'
start=$(date +%s%N)
code=$(post "$base/v1/messages" -d '{"stream":true}')
elapsed=$((($(date +%s%N) - start) / 1000000))
check "messages slow: 200 ms before, 20 ms between 7 events" sh -c "[ $code = 200 ] && [ $elapsed -ge 340 ] && grep -q message_stop body"

# Other paths and methods; keep-alive; a request that is not HTTP.
code=$(post "$base/v1/models" -X GET)
eq "unknown path: 404" 404 "$code"
check "unknown path: says what is served" has body 'no endpoint GET /v1/models \(it serves POST /v1/responses and POST /v1/messages\)'
curl -sv "$base/a" "$base/b" >/dev/null 2>client.err
check "keep-alive: curl reuses the connection" grep -qi 're-using existing connection' client.err
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'NOT HTTP AT ALL\r\n\r\n' >&3
timeout 5 cat <&3 >bad.txt
exec 3<&-
check "malformed request: 400 and closed" has bad.txt '^HTTP/1\.1 400 Bad Request\r\n.*Connection: close\r\n.*malformed request line'

# The log: one line per request, each with its step, status and body.
eq "log: one line per request" 14 "$(wc -l <curl.log)"
first=$(sed -n 1p curl.log)
eq "log: first request" "1 POST /v1/responses responses 0 200 stream 10 curl" \
  "$(for k in seq method path api step status reply events user_agent; do jv ".$k" <<<"$first"; done | xargs | sed 's|curl/[^ ]*|curl|')"
eq "log: the prompt arrived" "the curl prompt" "$(jv .body.input.1.content <<<"$first")"
check "log: ISO time" has curl.log '^\{"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z","seq":1,'
check "log: the messages query" has curl.log '"seq":7,"method":"POST","path":"/v1/messages","query":"beta=true","api":"messages","step":5,'
check "log: cut, hang and no step" has curl.log '"step":3,"status":200,"reply":"cut".*"step":4,"status":200,"reply":"hang".*"step":null,"status":500,"reply":"no_step"'
check "log: unknown path and bad request" has curl.log '"path":"/v1/models","api":null,"step":null,"status":404,"reply":"not_found".*"status":400,"reply":"bad_request","error":"malformed request line'
check "stderr: a line per request" has curl.err 'POST /v1/responses -> step 0: 200 stream, 10 events\n'
expect_stop curl TERM

# SIGINT stops it as well; the plain ready line.
printf '{"steps": [], "default_reply": {"hang": true}}' >hang.json
start_server sigint hang.json --port 0 && {
  check "ready line" has sigint.out "^listening on http://127\\.0\\.0\\.1:$port\\n$"
  # A client left hanging does not keep it from stopping.
  curl -sS -N -o /dev/null --max-time 10 "http://127.0.0.1:$port/v1/responses" -d '{"stream":true}' 2>/dev/null &
  client=$!
  wait_until "sigint: the client is being answered" 60 grep -qs '"reply":"hang"' sigint.log
  expect_stop sigint INT
  status=0
  wait "$client" || status=$?
  check "the hanging client saw the connection close" [ "$status" != 28 ]
}

# Mistakes: exit 2 and a message naming the file, the JSON path and what is wrong.
printf '{"steps": [{"text": "ok"}, {"usage": {"input_tokens": "ten"}}]}' >bad.json
expect_run "bad scenario" 2 '^$' \
  '^sidecar model-server: bad\.json: \$\.steps\[1\]\.usage\.input_tokens: expected an integer >= 0, got "ten"\n$' \
  -- "$S" model-server --scenario bad.json
expect_run "missing scenario" 2 '^$' '^sidecar model-server: nope\.json: cannot read: No such file or directory\n$' \
  -- "$S" model-server --scenario nope.json
expect_run "no --scenario" 2 '^$' 'scenario is required' -- "$S" model-server
expect_run "unwritable log" 2 '^$' 'cannot open the log /nonexistent/x\.jsonl: No such file or directory' \
  -- "$S" model-server --scenario "$scenarios/text_turn.json" --log /nonexistent/x.jsonl
start_server busy "$scenarios/text_turn.json" && {
  expect_run "port in use" 1 '^$' "cannot listen on 127\\.0\\.0\\.1:$port: EADDRINUSE" \
    -- "$S" model-server --scenario "$scenarios/text_turn.json" --port "$port"
  expect_stop busy TERM
}

# ---------------------------------------------------------------------------------------------
# The real CLIs (scripts/setup installs the pinned versions into .tools/npm).

export PATH="$root/.tools/npm/bin:$PATH"
if [ "${SIDECAR_SKIP_REAL_CLIS:-}" = 1 ]; then
  echo "SKIP: the real codex and claude CLIs (SIDECAR_SKIP_REAL_CLIS=1)"
  finish
  exit
fi
missing=""
command -v codex >/dev/null || missing="$missing @openai/codex@0.169.0"
command -v claude >/dev/null || missing="$missing @anthropic-ai/claude-code@2.1.330"
if [ -n "$missing" ]; then
  failed=$((failed + 1))
  echo "FAIL real CLIs not installed:$missing (run scripts/setup, or set SIDECAR_SKIP_REAL_CLIS=1 to skip)"
  finish
  exit
fi
echo "real CLIs: $(codex --version), claude $(claude --version)"

# run_codex NAME PROMPT [ARGS...]: codex exec against $port, in a fresh home, workspace and TMPDIR.
run_codex() {
  local name=$1 prompt=$2
  shift 2
  mkdir -p "$name/home" "$name/tmp" "$name/ws"
  codex_status=0
  CODEX_HOME=$work/$name/home TMPDIR=$work/$name/tmp MOCK_API_KEY=sk-mock timeout 60 \
    codex exec --json --skip-git-repo-check --ephemeral -C "$work/$name/ws" -s read-only -m gpt-5.5 \
    -c model_provider=mock -c model_providers.mock.name=mock \
    -c "model_providers.mock.base_url=http://127.0.0.1:$port/v1" \
    -c model_providers.mock.wire_api=responses -c model_providers.mock.env_key=MOCK_API_KEY \
    -c model_providers.mock.request_max_retries=0 -c model_providers.mock.stream_max_retries=0 \
    --disable plugins -c analytics.enabled=false --disable unbounded_connection_retries \
    "$@" "$prompt" </dev/null >"$name/out.jsonl" 2>"$name/err" || codex_status=$?
}

# run_claude NAME PROMPT [ARGS...]: claude -p against $port, from a fresh workspace.
run_claude() {
  local name=$1 prompt=$2
  shift 2
  mkdir -p "$name/config" "$name/tmp" "$name/ws"
  claude_status=0
  (cd "$name/ws" && ANTHROPIC_BASE_URL=http://127.0.0.1:$port ANTHROPIC_API_KEY=sk-ant-mock \
    CLAUDE_CONFIG_DIR=$work/$name/config TMPDIR=$work/$name/tmp CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 \
    DISABLE_TELEMETRY=1 DISABLE_AUTOUPDATER=1 DISABLE_ERROR_REPORTING=1 CLAUDE_CODE_MAX_RETRIES=0 \
    timeout 60 claude -p "$prompt" --output-format stream-json --verbose "$@" \
    </dev/null >"$work/$name/out.jsonl" 2>"$work/$name/err") || claude_status=$?
}

show_failure() { [ "$failed" -gt "$1" ] && for f in "$2/out.jsonl" "$2/err"; do tail -n 5 "$f" | cut -c1-300 | sed "s|^|  $f| |"; done; }

# usage_of FILE: codex's turn.completed usage as "input cached output reasoning".
codex_usage() {
  local u
  u=$(line "$1" '"type":"turn.completed"')
  for k in input_tokens cached_input_tokens output_tokens reasoning_output_tokens; do jv ".usage.$k" <<<"$u"; done | xargs
}
claude_usage() {
  local u
  u=$(line "$1" '"type":"result"')
  for k in input_tokens cache_read_input_tokens output_tokens; do jv ".usage.$k" <<<"$u"; done | xargs
}

# A text turn; the same scenario answers codex and claude (each API has its own place in it).
start_server text "$scenarios/text_turn.json" && {
  before=$failed
  run_codex codex_text "Say hello to the sidecar e2e test"
  eq "codex text: exit status" 0 "$codex_status"
  eq "codex text: final message" "Hello from the scripted model." "$(jv .item.text <<<"$(line codex_text/out.jsonl '"type":"agent_message"')")"
  eq "codex text: usage as scripted" "1234 200 56 7" "$(codex_usage codex_text/out.jsonl)"
  show_failure "$before" codex_text
  before=$failed
  run_claude claude_text "Say hello to the sidecar e2e test"
  result=$(line claude_text/out.jsonl '"type":"result"')
  eq "claude text: exit status" 0 "$claude_status"
  eq "claude text: final message" "Hello from the scripted model. false" "$(jv .result <<<"$result") $(jv .is_error <<<"$result")"
  eq "claude text: usage as scripted" "1234 200 56" "$(claude_usage claude_text/out.jsonl)"
  show_failure "$before" claude_text
  eq "text: one request per CLI, each answered by step 0" "responses 0 200 messages 0 200" \
    "$(while read -r l; do for k in api step status; do jv ".$k" <<<"$l"; done; done <text.log | xargs)"
  check "text: codex's prompt arrived" has text.log '^\{[^\n]*"path":"/v1/responses"[^\n]*Say hello to the sidecar e2e test'
  check "text: claude's prompt arrived" has text.log '\n\{[^\n]*"path":"/v1/messages","query":"beta=true"[^\n]*Say hello to the sidecar e2e test'
  expect_stop text TERM
}

# A tool turn: the shell command runs, its output goes back to the model, the final message ends it.
start_server tool "$scenarios/tool_turn.json" && {
  before=$failed
  run_codex codex_tool "Run the command the test scripted"
  eq "codex tool: exit status" 0 "$codex_status"
  ran=$(line codex_tool/out.jsonl '"type":"item.completed".*"type":"command_execution"')
  eq "codex tool: the command ran" "0 completed" "$(jv .item.exit_code <<<"$ran") $(jv .item.status <<<"$ran")"
  check "codex tool: its output" grep -q 'sidecar-tool-ok' <<<"$(jv .item.aggregated_output <<<"$ran")"
  eq "codex tool: final message" "The command printed sidecar-tool-ok." "$(jv .item.text <<<"$(line codex_tool/out.jsonl '"type":"agent_message"')")"
  eq "codex tool: usage summed over both steps" "800 300 100 0" "$(codex_usage codex_tool/out.jsonl)"
  show_failure "$before" codex_tool
  before=$failed
  run_claude claude_tool "Run the command the test scripted" --allowedTools Bash
  eq "claude tool: exit status" 0 "$claude_status"
  check "claude tool: the Bash result" has claude_tool/out.jsonl '"type":"tool_result","content":"sidecar-tool-ok","is_error":false'
  eq "claude tool: final message" "The command printed sidecar-tool-ok." "$(jv .result <<<"$(line claude_tool/out.jsonl '"type":"result"')")"
  eq "claude tool: usage summed over both steps" "800 300 100" "$(claude_usage claude_tool/out.jsonl)"
  show_failure "$before" claude_tool
  eq "tool: two requests per CLI" "responses 0 responses 1 messages 0 messages 1" \
    "$(while read -r l; do for k in api step; do jv ".$k" <<<"$l"; done; done <tool.log | xargs)"
  check "tool: codex sent the command's output back" has tool.log '"seq":2,[^\n]*"type":"function_call_output","[^\n]*sidecar-tool-ok'
  check "tool: claude sent the command's output back" has tool.log '"seq":4,[^\n]*"type":"tool_result","content":"sidecar-tool-ok"'
  expect_stop tool TERM
}

# HTTP 500 with retries off: both fail at once and say why.
start_server e500 "$scenarios/http_500.json" && {
  before=$failed
  start=$(date +%s)
  run_codex codex_500 "This request fails"
  eq "codex 500: exit status" 1 "$codex_status"
  check "codex 500: turn.failed" grep -q '"type":"turn.failed"' codex_500/out.jsonl
  run_claude claude_500 "This request fails"
  result=$(line claude_500/out.jsonl '"type":"result"')
  eq "claude 500: is_error and the status" "true 500" "$(jv .is_error <<<"$result") $(jv .api_error_status <<<"$result")"
  check "claude 500: the server's message" grep -q 'mock internal error' <<<"$(jv .result <<<"$result")"
  check "500: both done within 20 s" [ $(($(date +%s) - start)) -le 20 ]
  show_failure "$before" claude_500
  expect_stop e500 TERM
}

check "no CLI process left behind" sh -c "! ps -e -o args= | grep -v grep | grep -q -- '$work/'"
finish
