#!/usr/bin/env bash
# End-to-end: OpenTelemetry export (issue 51, item 2; stdlib/sidecar/run/otel.lua), against an
# OTLP/HTTP receiver that decodes protobuf and JSON (tests/e2e/otlp_receiver.py):
# - nothing is sent unless configured; `sidecar otel` shows the settings, `otel --test` sends;
# - a run: its invoke_agent span with its steps (the agent process, each gate, each validation
#   step, a failed one an error), the GenAI attributes and metrics, over protobuf and JSON;
# - a pipeline codex,claude of fake CLIs: one trace, the invoke_workflow span over both runs, exact
#   tokens and cost; a preset of four steps in workers: one trace under its span;
# - TRACEPARENT in Sidecar's environment nests a run under the caller's trace; the agent gets the
#   run's own; headers reach the collector and never the store; content only when asked, redacted;
# - a dead, failing or slow collector costs the run nothing, its attempts logged; OTEL_* variables
#   alone configure it, OTEL_SDK_DISABLED turns it off; config errors name the setting;
# - with the real codex and claude against the scripted model server: a pipeline's one trace with
#   the workflow span, both agent spans with exact usage and cost, and the CLIs' own spans (Claude
#   Code's through TRACEPARENT, Codex's through its [otel] settings) nested under Sidecar's.
# The CLIs come from scripts/setup (.tools/npm) or PATH; SIDECAR_SKIP_REAL_CLIS=1 skips them.
set -u
. "$(dirname "$0")/lib.sh" # S (absolute), here, root, $work; the shared helpers
F=$root/tests/fixtures
cd "$work" || exit 1

recv_log=$work/otlp.jsonl
: >"$recv_log"
python3 "$here/otlp_receiver.py" "$recv_log" >"$work/port" 2>"$work/receiver.err" &
receiver=$!
wait_until "the receiver listens" 30 test -s "$work/port"
oport=$(cat "$work/port")
python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' >"$work/dead"
dead=$(cat "$work/dead")
trap 'kill $receiver 2>/dev/null; if [ "$failed" -eq 0 ]; then rm -rf "$work"; else echo "kept for a look: $work" >&2; fi' EXIT

# dump: what the receiver got, one span or metric a line (tests/e2e/otlp_dump.lua).
dump() { "$S" script "$here/otlp_dump.lua" "$recv_log"; }
# spans PATTERN: the received span lines matching PATTERN.
spans() { dump | grep '^span ' | grep -- "$1"; }
# nspans PATTERN: how many.
nspans() { dump | grep '^span ' | grep -c -- "$1"; }
# field N LINE: the Nth |-separated field of a dumped line (1: "span NAME").
part() { echo "$2" | cut -d'|' -f"$1"; }
# attr KEY LINE: an attribute's value on a dumped line.
attr() { echo "$2" | tr ';|' '\n\n' | sed -n "s/^$1=//p" | head -1; }
# at_least N COMMAND...: COMMAND prints a number of at least N (run anew each time wait_until tries).
at_least() {
  local n=$1
  shift
  [ "$("$@")" -ge "$n" ]
}
# attempts SIGNAL: the export attempts of SIGNAL in the log.
attempts() { grep -c "\"signal\":\"$1\"" .agent/otel/log.jsonl; }
# nmetrics NAME: how many metric lines of NAME were received.
nmetrics() { dump | grep -c "^metric $1|"; }
# set_otel TEXT: the config's otel setting (TEXT empty: none).
set_otel() {
  OTEL=$(echo "$1" | tr '\n' ' ') "$S" -e '
    local f = assert(io.open(".agent/config.lua")); local text = f:read("a"); f:close()
    text = text:gsub("\n  otel = [^\n]*\n", "\n", 1)
    if os.getenv("OTEL"):match("%S") then
      text = text:gsub("\nreturn {\n", function() return "\nreturn {\n  otel = " .. os.getenv("OTEL") .. ",\n" end, 1)
    end
    f = assert(io.open(".agent/config.lua", "w")); f:write(text); f:close()'
}
unset TRACEPARENT OTEL_EXPORTER_OTLP_ENDPOINT OTEL_EXPORTER_OTLP_TRACES_ENDPOINT OTEL_EXPORTER_OTLP_METRICS_ENDPOINT \
  OTEL_EXPORTER_OTLP_PROTOCOL OTEL_EXPORTER_OTLP_HEADERS OTEL_SDK_DISABLED OTEL_TRACES_EXPORTER OTEL_METRICS_EXPORTER

git_repo otel
add_runners "    plain = { command = { \"sh\", \"-c\", \"cat >/dev/null; echo \\\"parent \$TRACEPARENT\\\"\" } },
    leaky = { command = { \"sh\", \"-c\", \"cat >/dev/null; echo 'token ghp_0123456789abcdefghijklmnopqrstuvwxyzAB'\" } },
    codex = { program = $(fake_agent "$F/captures/codex_exec_json_text_turn.jsonl") },
    claude = { program = $(fake_agent "$F/captures/claude_stream_json_text_turn.jsonl") },"
"$S" task create --title "Traced" --goal "Say hello" --validate-cmds "test:true" >/dev/null

# --- nothing configured: nothing sent -------------------------------------------------------------
expect_run "otel: nothing configured, said so" 0 "Nothing is exported: set otel\.endpoint" "" -- "$S" otel
expect_run "otel --json: data null" 0 '"data": null' "" -- "$S" otel --json
expect_run "otel --test: nothing to test (exit 1)" 1 "^$" "Nothing is exported: set otel.endpoint" -- "$S" otel --test
OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$dead OTEL_SDK_DISABLED=true expect_run \
  "otel: an endpoint turned off, said so" 0 "Nothing is exported: OTEL_SDK_DISABLED=true turns it off" "" -- "$S" otel
expect_run "a run with nothing configured" 0 "^R-0001 review" "" -- "$S" run T-0001 --runner plain
eq "nothing configured: no trace context recorded, none given the agent" "nil parent" \
  "$(field .agent/runs/R-0001/run.json .trace) $(cat .agent/runs/R-0001/output.md | xargs)"
eq "nothing configured: no otel folder" "no" "$(test -e .agent/otel && echo yes || echo no)"

# --- config errors name the setting ---------------------------------------------------------------
set_otel '{ endpoint = "http://127.0.0.1:1", protocol = "grpc" }'
expect_run "otel.protocol grpc: refused, saying what is sent" 1 "^$" \
  'otel\.protocol: expected "http/protobuf" or "http/json"' -- "$S" run T-0001 --runner plain
set_otel '{ endpont = "http://127.0.0.1:1" }'
expect_run "a misspelt key: the one meant" 1 "^$" 'otel\.endpont: unknown setting \(did you mean endpoint\?\)' -- \
  "$S" run T-0001 --runner plain
set_otel '{ endpoint = "ftp://127.0.0.1:1" }'
expect_run "an endpoint that is not http(s)" 1 "^$" 'otel\.endpoint: expected an http:// or https:// URL' -- \
  "$S" run T-0001 --runner plain
for args in "otel" "otel --test"; do
  expect_run "sidecar $args: the config's mistake, not 'nothing is exported'" 1 "^$" \
    'otel\.endpoint: expected an http:// or https:// URL' -- "$S" $args
done
expect_run "sidecar otel --json: the config's mistake" 1 '"message": ".*otel\.endpoint: expected an http:// or https:// URL' \
  "" -- "$S" otel --json
set_otel ''
mkdir "$work/elsewhere"
cd "$work/elsewhere" || exit 1
OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$dead expect_run "otel --test with no store: said, nothing made" 1 "^$" \
  "no Sidecar store at .*sidecar init" -- "$S" otel --test
eq "otel --test with no store: no .agent made" "no" "$(test -e .agent && echo yes || echo no)"
OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$dead expect_run "otel --root of a mistyped folder: said, nothing made" 1 \
  "^$" "no Sidecar store at" -- "$S" otel --test --root "$work/elsewhere/typo/.agnet"
eq "the mistyped folder is not made" "no" "$(test -e typo && echo yes || echo no)"
cd - >/dev/null || exit 1

# --- a run over protobuf: its span, its steps, its metrics ----------------------------------------
set_otel "{ endpoint = \"http://127.0.0.1:$oport\", headers = { Authorization = \"Bearer otel-token-$$\" } }"
expect_run "otel: the settings, without header values" 0 \
  "traces +http://127\.0\.0\.1:$oport/v1/traces \(http/protobuf, headers Authorization\)" "" -- "$S" otel
eq "otel: no header value shown" "0" "$("$S" otel --json | grep -c "otel-token")"
expect_run "otel --test: both endpoints took it, saying each as it sends" 0 "traces .* sent .*\n.*metrics .* sent" \
  "otel: sending a test of traces to http://127.0.0.1:[0-9]+/v1/traces \\(its answer awaited up to 10\.0s\\)" -- "$S" otel --test
eq "otel --test: a span and a metric, protobuf, decoded" "1 1 0" \
  "$(nspans '^span sidecar otel --test|.*|application/x-protobuf|') $(dump | grep -c '^metric sidecar.test|') $(dump | grep -c '^error')"
eq "the headers reached the collector" "yes" \
  "$(grep -q "\"Authorization\": \"Bearer otel-token-$$\"" "$recv_log" && echo yes)"
: >"$recv_log"
OTEL_RESOURCE_ATTRIBUTES='team=a%FFb' OTEL_SERVICE_NAME=$'svc\xff\e[31m' expect_run \
  "otel --test: bytes that are not UTF-8 in the resource, over protobuf" 0 "traces .* sent" "" -- "$S" otel --test
OTEL_EXPORTER_OTLP_PROTOCOL=http/json OTEL_SERVICE_NAME=$'svc\xff' expect_run \
  "otel --test: and over JSON" 0 "traces .* sent" "" -- "$S" otel --test
eq "the collector decoded every body (strings sent as valid UTF-8)" "2 0" \
  "$(nspans '^span sidecar otel --test|') $(dump | grep -c '^error')"
OTEL_EXPORTER_OTLP_HEADERS='bad header=1,X-Ok=1' OTEL_EXPORTER_OTLP_TIMEOUT=abc expect_run \
  "otel: what a variable held that was left out, said" 0 \
  'warning  OTEL_EXPORTER_OTLP_HEADERS: "bad …" left out.*\nwarning  OTEL_EXPORTER_OTLP_TIMEOUT=abc' "" -- "$S" otel
OTEL_EXPORTER_OTLP_HEADERS='x-honeycomb-team:hcaik_SeCrEt0123' expect_run \
  "otel: a header written wrong is named, its value never shown" 0 'warning  .*"x-honeycomb-team …" left out' "" -- \
  "$S" otel
eq "the value is not on the screen" 0 "$(grep -c SeCrEt0123 "$work/out")"
: >"$recv_log"
expect_run "a traced run" 0 "^R-0002 review" "" -- "$S" run T-0001 --runner plain
run2=R-0002
wait_until "the run's span arrives" 30 at_least 1 nspans "^span invoke_agent plain|"
wait_until "its metrics arrive" 30 at_least 1 nmetrics sidecar.runs
line=$(spans "^span invoke_agent plain|")
trace=$(field .agent/runs/$run2/run.json .trace.trace_id) span=$(field .agent/runs/$run2/run.json .trace.span_id)
eq "the run records its trace context; its span has those ids, no parent" "$trace $span -" \
  "$(part 2 "$line") $(part 3 "$line") $(part 4 "$line")"
eq "invoke_agent: GenAI and sidecar attributes" "invoke_agent plain $run2 T-0001 review read-only" \
  "$(attr gen_ai.operation.name "$line") $(attr gen_ai.agent.name "$line") $(attr sidecar.run.id "$line") \
$(attr sidecar.task.id "$line") $(attr sidecar.run.status "$line") $(attr sidecar.sandbox "$line")"
eq "the agent got the run's span as TRACEPARENT" "parent 00-$trace-$span-01" "$(cat .agent/runs/$run2/output.md)"
eq "under it: the agent process, 6 gates, the validation step" "1 6 1" \
  "$(nspans "^span agent|$trace|[0-9a-f]*|$span|") $(nspans "^span gate [a-z_]*|$trace|[0-9a-f]*|$span|") \
$(nspans "^span validation test|$trace|[0-9a-f]*|$span|")"
eq "the validation step's command and result" "true true" \
  "$(attr sidecar.validation.command "$(spans '^span validation test|')") $(attr sidecar.validation.ok "$(spans '^span validation test|')")"
mline=$(dump | grep '^metric sidecar.runs|')
eq "metric sidecar.runs: 1 run, by runner and status" "{run} 1 plain review" \
  "$(part 2 "$mline") $(part 3 "$mline") $(attr sidecar.runner "$mline") $(attr sidecar.run.status "$mline")"
eq "the queue is empty once sent; the log has each attempt" "0 2" \
  "$(ls .agent/otel/queue | wc -l) $(grep '"http_status":200' .agent/otel/log.jsonl | grep -c "\"what\":\"$run2\"")"
eq "the header's token is in the store nowhere but the config" "0" \
  "$(grep -rl --exclude=config.lua "otel-token-$$" .agent | wc -l)"

# --- a failed validation: its step's span is an error ---------------------------------------------
"$S" task create --title "Failing" --goal "Say hello" --validate-cmds "test:false" >/dev/null
: >"$recv_log"
expect_run "a run whose validation fails" 1 "blocked" "" -- "$S" run T-0002 --runner plain
wait_until "the failed run's span" 30 at_least 1 nspans "^span invoke_agent plain|"
eq "the failed validation step's span: status error (2), ok false" "2 false" \
  "$(part 5 "$(spans '^span validation test|')") $(attr sidecar.validation.ok "$(spans '^span validation test|')")"

# --- JSON; a pipeline codex,claude (fake CLIs): one trace, exact tokens and cost ---------------------
set_otel "{ endpoint = \"http://127.0.0.1:$oport\", protocol = \"http/json\" }"
: >"$recv_log"
expect_run "a pipeline codex,claude" 0 "step 1/2 +codex .*\nstep 2/2 +claude " "" -- "$S" run T-0001 --runner codex,claude
wait_until "the workflow's span" 30 at_least 1 nspans "^span invoke_workflow pipeline codex,claude|"
wait_until "both runs' spans" 30 at_least 2 nspans "^span invoke_agent "
wf=$(spans "^span invoke_workflow pipeline codex,claude|") cx=$(spans "^span invoke_agent codex|") cl=$(spans "^span invoke_agent claude|")
eq "over JSON" "application/json" "$(part 6 "$wf")"
eq "one trace: the workflow span is the root, both runs under it" "1 - $(part 3 "$wf") $(part 3 "$wf")" \
  "$(printf '%s\n%s\n%s\n' "$(part 2 "$wf")" "$(part 2 "$cx")" "$(part 2 "$cl")" | sort -u | wc -l) $(part 4 "$wf") \
$(part 4 "$cx") $(part 4 "$cl")"
eq "codex: exact tokens, provider, no cost" "100 20 openai " \
  "$(attr gen_ai.usage.input_tokens "$cx") $(attr gen_ai.usage.output_tokens "$cx") $(attr gen_ai.provider.name "$cx") $(attr sidecar.cost_usd "$cx")"
eq "claude: exact tokens, provider, cost" "100 20 anthropic 0.0008" \
  "$(attr gen_ai.usage.input_tokens "$cl") $(attr gen_ai.usage.output_tokens "$cl") $(attr gen_ai.provider.name "$cl") $(attr sidecar.cost_usd "$cl")"
eq "the workflow: its kind, status, both runs, the sums" "pipeline review 200 40 0.0008" \
  "$(attr sidecar.workflow.kind "$wf") $(attr sidecar.workflow.status "$wf") $(attr gen_ai.usage.input_tokens "$wf") \
$(attr gen_ai.usage.output_tokens "$wf") $(attr sidecar.cost_usd "$wf")"
eq "both steps name the pipeline by the first's id (the first too, though it learns it once ended)" \
  "$(attr sidecar.run.id "$cx") $(attr sidecar.run.id "$cx")" "$(attr sidecar.pipeline.id "$cx") $(attr sidecar.pipeline.id "$cl")"
eq "metrics: tokens by type and the cost" "100;20 0.0008" \
  "$(part 3 "$(dump | grep '^metric gen_ai.client.token.usage|' | grep 'sidecar.runner=claude' | head -1)") \
$(part 3 "$(dump | grep '^metric sidecar.cost|' | head -1)")"

# --- a preset of four steps in workers: one trace under its span ----------------------------------
cp "$F/presets/fan.lua" .agent/presets/fan.lua 2>/dev/null || { mkdir -p .agent/presets && cp "$F/presets/fan.lua" .agent/presets/; }
: >"$recv_log"
expect_run "a preset of four agents, two at once" 0 "4 of 4 agents done" "" -- "$S" preset run fan -p n=4 -j 2 --runner plain
wait_until "the preset's span" 30 at_least 1 nspans "^span invoke_workflow fan|"
wait_until "its four runs' spans" 30 at_least 4 nspans "^span invoke_agent plain|"
pw=$(spans "^span invoke_workflow fan|")
eq "the four runs under the preset's span, in its trace" "4" \
  "$(nspans "^span invoke_agent plain|$(part 2 "$pw")|[0-9a-f]*|$(part 3 "$pw")|")"
eq "the preset's span: kind and runs" "preset 4" \
  "$(attr sidecar.workflow.kind "$pw") $(attr sidecar.workflow.runs "$pw" | tr ',' '\n' | wc -l)"
eq "no run reported usage: none on the preset's span (never a zero)" "--" \
  "$(attr gen_ai.usage.input_tokens "$pw")-$(attr gen_ai.usage.output_tokens "$pw")-$(attr sidecar.cost_usd "$pw")"

# --- the caller's TRACEPARENT; content only when asked, redacted ----------------------------------
set_otel "{ endpoint = \"http://127.0.0.1:$oport\", content = true }"
: >"$recv_log"
caller=4bf92f3577b34da6a3ce929d0e0e4736 callspan=00f067aa0ba902b7
TRACEPARENT=00-$caller-$callspan-01 "$S" run T-0001 --runner leaky >/dev/null 2>&1
wait_until "the leaky run's span" 30 at_least 1 nspans "^span invoke_agent leaky|"
lk=$(spans "^span invoke_agent leaky|")
eq "a caller's TRACEPARENT: the run nests under it" "$caller $callspan" "$(part 2 "$lk") $(part 4 "$lk")"
eq "content: the prompt and output exported" "yes yes" \
  "$(attr gen_ai.input.messages "$lk" | grep -q 'Say hello' && echo yes) $(attr gen_ai.output.messages "$lk" | grep -q token && echo yes)"
eq "content: as the GenAI conventions' messages (JSON, by role)" "yes yes" \
  "$(attr gen_ai.input.messages "$lk" | grep -q '^\[{"parts":\[{"content":".*"type":"text"}\],"role":"user"}\]$' && echo yes) \
$(attr gen_ai.output.messages "$lk" | grep -q '"role":"assistant"' && echo yes)"
eq "content: the secret redacted" "0" "$(grep -c ghp_0123456789abcdef "$recv_log")"
eq "content off by default" "0" "$(grep -c gen_ai.input.messages <<<"$(spans '^span invoke_agent plain|')")"

# --- a dead, failing or slow collector costs the run nothing --------------------------------------
for what in "dead http://127.0.0.1:$dead" "503 http://127.0.0.1:$oport/status/503" "400 http://127.0.0.1:$oport/status/400"; do
  set -- $what
  set_otel "{ traces_endpoint = \"$2/v1/traces\", metrics = false, timeout = \"2s\" }"
  : >.agent/otel/log.jsonl
  start=$(date +%s%N)
  "$S" run T-0001 --runner plain >"$work/out" 2>&1
  took=$((($(date +%s%N) - start) / 1000000))
  eq "a $1 collector: the run ended review" "yes" "$(grep -q review "$work/out" && echo yes)"
  # Generous: the run itself takes ~0.2 s; the sender's retries (1 s, 4 s) are not the run's.
  eq "a $1 collector: the run took less than 4 s" "yes" "$([ "$took" -lt 4000 ] && echo yes || echo "no ($took ms)")"
  want=3
  [ "$1" = 400 ] && want=1
  wait_until "a $1 collector: $want attempts logged" 30 at_least $want attempts traces
  sleep 0.5
  eq "a $1 collector: $want attempts, none after" "$want" "$(grep -c '"signal":"traces"' .agent/otel/log.jsonl)"
done
eq "a 400 collector: its answer's first line is in the attempt's error" yes \
  "$(grep -q '"error":"HTTP 400: refused by the test receiver (400)"' .agent/otel/log.jsonl && echo yes)"

# A 429 with Retry-After: 3 is tried again after 3 s, not the 1 s backoff (a lower bound only).
set_otel "{ traces_endpoint = \"http://127.0.0.1:$oport/status/429/after/3/v1/traces\", metrics = false }"
: >.agent/otel/log.jsonl
"$S" run T-0001 --runner plain >/dev/null 2>&1
wait_until "a 429 collector: two attempts logged" 30 at_least 2 attempts traces
gap=$("$S" -e '
  local json, at = require("sidecar.core.json"), {}
  for line in io.lines(".agent/otel/log.jsonl") do
    local e = json.decode(line)
    local h, m, s = e.at:match("T(%d+):(%d+):([%d.]+)Z$")
    at[#at + 1] = h * 3600 + m * 60 + tonumber(s)
  end
  print(at[2] - at[1] >= 2.9 and "yes" or ("no: " .. (at[2] - at[1]) .. " s"))')
eq "a 429 collector's Retry-After: 3 s waited before the next attempt" yes "$gap"

# --- the OTEL_* variables alone; OTEL_SDK_DISABLED ------------------------------------------------
set_otel ""
: >"$recv_log"
OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$oport OTEL_EXPORTER_OTLP_PROTOCOL=http/json OTEL_SERVICE_NAME=ci-sidecar \
  "$S" run T-0001 --runner plain >/dev/null 2>&1
wait_until "the variables alone: a span" 30 at_least 1 nspans "^span invoke_agent plain|.*|application/json|"
eq "the variables' service name" "yes" "$(grep -q '"stringValue": "ci-sidecar"' "$recv_log" && echo yes)"
: >"$recv_log"
OTEL_SDK_DISABLED=true OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$oport "$S" run T-0001 --runner plain >"$work/out" 2>&1
last=$(run_id 1)
eq "OTEL_SDK_DISABLED: no trace context" "nil" "$(field .agent/runs/$last/run.json .trace)"
sleep 1
eq "OTEL_SDK_DISABLED: nothing sent" "0" "$(wc -l <"$recv_log")"
OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$oport OTEL_EXPORTER_OTLP_PROTOCOL=grpc "$S" run T-0001 --runner plain \
  >"$work/out" 2>&1
eq "grpc, which Sidecar does not send: the run is not traced" "nil" "$(field .agent/runs/$(run_id 1)/run.json .trace)"
expect_run "grpc: sidecar otel says why, and fails (a script sees it)" 1 \
  'problem +the traces protocol "grpc" is not one Sidecar sends' "" -- \
  env OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$oport OTEL_EXPORTER_OTLP_PROTOCOL=grpc "$S" otel
expect_run "grpc: sidecar otel --json has the problems in its errors" 1 \
  '"errors": \[\s*\{\s*"code": "failed",\s*"message": "the traces protocol ..grpc.. is not one Sidecar sends.*"ok": false' "" -- \
  env OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$oport OTEL_EXPORTER_OTLP_PROTOCOL=grpc "$S" otel --json
sleep 1
eq "grpc: nothing sent" "0" "$(wc -l <"$recv_log")"

# --- the real codex and claude: their own spans under Sidecar's -----------------------------------
need_codex_and_claude
cd "$work"
start_server real "$F/scenarios/text_turn.json" || exit 1
mkdir -p "$work/real-home/codex" "$work/real-home/claude" "$work/real-tmp"
base=http://127.0.0.1:$port
git_repo real
add_runners "    codex = { args = { \"-m\", \"gpt-5.5\", \"-c\", \"model_provider=mock\", \"-c\", \"model_providers.mock.name=mock\", \"-c\", \"model_providers.mock.base_url=$base/v1\", \"-c\", \"model_providers.mock.wire_api=responses\", \"-c\", \"model_providers.mock.env_key=MOCK_API_KEY\", \"-c\", \"model_providers.mock.request_max_retries=0\", \"-c\", \"model_providers.mock.stream_max_retries=0\", \"--disable\", \"plugins\", \"-c\", \"analytics.enabled=false\", \"--disable\", \"unbounded_connection_retries\" }, env = { CODEX_HOME = \"$work/real-home/codex\", MOCK_API_KEY = \"sk-mock\", TMPDIR = \"$work/real-tmp\" } },
    claude = { env = { ANTHROPIC_BASE_URL = \"$base\", ANTHROPIC_API_KEY = \"sk-ant-mock\", CLAUDE_CONFIG_DIR = \"$work/real-home/claude\", TMPDIR = \"$work/real-tmp\", CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC = \"1\", DISABLE_AUTOUPDATER = \"1\", DISABLE_ERROR_REPORTING = \"1\", CLAUDE_CODE_MAX_RETRIES = \"0\" } },"
set_otel "{ endpoint = \"http://127.0.0.1:$oport\", protocol = \"http/json\", agents = true }"
"$S" task create --title "Real pipeline" --goal "Say hello" --validate-cmds "test:true" >/dev/null
: >"$recv_log"
expect_run "real CLIs: a traced pipeline codex,claude" 0 \
  "step 1/2 +codex +- +R-\d+ +review .*\nstep 2/2 +claude +- +R-\d+ +review " "" -- \
  "$S" run T-0001 --runner codex,claude --timeout 2m --idle-timeout 60s
step1=$(run_id 1) step2=$(run_id 2)
stop_server
wait_until "real: the workflow span" 60 at_least 1 nspans "^span invoke_workflow pipeline codex,claude|"
wait_until "real: Claude Code's own interaction span" 60 at_least 1 nspans "^span claude_code.interaction|"
wait_until "real: Codex's own exec span" 60 at_least 1 nspans "^span codex.exec|"
wf=$(spans "^span invoke_workflow pipeline codex,claude|") cx=$(spans "^span invoke_agent codex|") cl=$(spans "^span invoke_agent claude|")
t=$(part 2 "$wf")
eq "real: the workflow span is the root; both runs under it, in its trace" "- $(part 3 "$wf") $(part 3 "$wf") $t $t" \
  "$(part 4 "$wf") $(part 4 "$cx") $(part 4 "$cl") $(part 2 "$cx") $(part 2 "$cl")"
eq "real codex: the scripted usage, exactly" "1234 56 $step1" \
  "$(attr gen_ai.usage.input_tokens "$cx") $(attr gen_ai.usage.output_tokens "$cx") $(attr sidecar.run.id "$cx")"
eq "real claude: the scripted usage (input with the cached 200), the cost it reported" \
  "1434 56 $(field .agent/runs/$step2/run.json .cost_usd) $step2" \
  "$(attr gen_ai.usage.input_tokens "$cl") $(attr gen_ai.usage.output_tokens "$cl") $(attr sidecar.cost_usd "$cl") $(attr sidecar.run.id "$cl")"
eq "real claude: a cost was reported" "yes" "$(awk -v c="$(attr sidecar.cost_usd "$cl")" 'BEGIN { print (c > 0) ? "yes" : "no" }')"
ci=$(spans "^span claude_code.interaction|" | head -1)
eq "real claude: its interaction span nested under Sidecar's agent span (TRACEPARENT)" "$t $(part 3 "$cl")" \
  "$(part 2 "$ci") $(part 4 "$ci")"
eq "real claude: its LLM request span under its interaction" "yes" \
  "$(spans "^span claude_code.llm_request|$t|[0-9a-f]*|$(part 3 "$ci")|" >/dev/null && echo yes)"
ce=$(spans "^span codex.exec|$t|" | head -1)
eq "real codex: its exec span nested under Sidecar's agent span" "$t $(part 3 "$cx")" "$(part 2 "$ce") $(part 4 "$ce")"
eq "real: every body decoded" "0" "$(dump | grep -c '^error')"

finish
