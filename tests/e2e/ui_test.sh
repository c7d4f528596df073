#!/usr/bin/env bash
# End-to-end: `sidecar ui`'s API over curl, and every security rule: no token, a wrong token, a
# foreign Host (DNS rebinding), a foreign Origin, a state change over GET, a bad body: each refused
# and nothing changed; then a run started over the API (fake agent) reaching review, approved with
# a note (run show --json agrees), and an event pushed when the store changed.
set -u
. "$(dirname "$0")/lib.sh"
F=$root/tests/fixtures
git_repo ui
printf '#!/bin/sh\ncat >/dev/null; echo from-the-agent >> new.txt; echo wrote new.txt\n' >"$work/writer.sh"
add_runners "    codex = { program = $(fake_agent "$F/captures/codex_exec_json_text_turn.jsonl") },
    writer = { command = { \"sh\", \"$work/writer.sh\" } },"
mkdir -p .agent/presets
cp "$F/ui_greet_preset.lua" .agent/presets/greet.lua
sed -i "s/auto_approve_on_all_green = true/auto_approve_on_all_green = false/" .agent/config.lua
"$S" task create --title "first task" --status ready >/dev/null
"$S" task create --title "second task" >/dev/null

SIDECAR_TRUST=all "$S" ui --no-open --port 0 >"$work/url" 2>"$work/ui.err" &
ui_pid=$!
trap 'kill $ui_pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do [ -s "$work/url" ] && break; sleep 0.1; done
url=$(head -1 "$work/url")
base=${url%%/\?token=*}
token=${url##*token=}
port=${base##*:}
eq "the URL carries a 64-hex-digit token" 64 "$(printf %s "$token" | grep -cP '^[0-9a-f]{64}$' >/dev/null && echo ${#token})"

# status METHOD PATH [CURL ARGS...]: the HTTP status; the body in $work/body, headers in $work/head.
status() {
  local method=$1 path=$2
  shift 2
  curl -s -o "$work/body" -D "$work/head" -w '%{http_code}' -X "$method" "$@" "$base$path"
}
T=(-H "X-Sidecar-Token: $token")
review_state() { "$S" run show "$1" --json | jv .data.review_state; }

# --- the page and its headers -------------------------------------------------------------------
eq "the page is served" 200 "$(status GET /)"
eq "the page has a strict CSP" 1 "$(grep -ci "^content-security-policy: default-src 'self'; script-src 'self'" "$work/head")"
eq "the page loads no inline script" 0 "$(grep -c '<script>' "$work/body")"
eq "app.js is served" 200 "$(status GET /app.js)"
eq "a wrong ?token= is refused" 401 "$(status GET "/?token=nope")"
eq "?token= sets the cookie" 303 "$(status GET "/?token=$token")"
eq "the cookie is HttpOnly and SameSite=Strict" 1 \
  "$(grep -ciP "^set-cookie: sidecar_token=$token; HttpOnly; SameSite=Strict; Path=/" "$work/head")"

# --- the token -----------------------------------------------------------------------------------
eq "an API call without the token is refused" 401 "$(status GET /api/tasks)"
eq "its body is the envelope" false "$(jv .ok <"$work/body")"
# The token with its last character changed (to another one: a token ending in 0 gets a 1).
wrong=${token%?}$([ "${token: -1}" = 0 ] && echo 1 || echo 0)
eq "a wrong header token is refused" 401 "$(status GET /api/tasks -H "X-Sidecar-Token: $wrong")"
eq "the events stream needs the token" 401 "$(status GET /api/events)"
eq "the header token is taken" 200 "$(status GET /api/tasks "${T[@]}")"
eq "task list over the API is the CLI's" "$("$S" task list --json | jv .data.2.title)" "$(jv .data.2.title <"$work/body")"
eq "the command is named" "task list" "$(jv .command <"$work/body")"
eq "the cookie token is taken" 200 "$(status GET /api/runs -H "Cookie: a=b; sidecar_token=$token")"

# --- Host and Origin -----------------------------------------------------------------------------
eq "a foreign Host is refused (DNS rebinding)" 403 "$(status GET /api/tasks "${T[@]}" -H "Host: evil.example:$port")"
eq "a foreign Host is refused for the page too" 403 "$(status GET / -H "Host: evil.example:$port")"
eq "localhost:PORT is this server" 200 "$(status GET /api/tasks "${T[@]}" -H "Host: localhost:$port")"
eq "another port is not" 403 "$(status GET /api/tasks "${T[@]}" -H "Host: 127.0.0.1:1")"
eq "the own Origin is taken" 200 "$(status GET /api/tasks "${T[@]}" -H "Origin: $base")"

# --- a run started over the API ------------------------------------------------------------------
eq "a task runs in the background" 200 "$(status POST /api/tasks/T-0001/run "${T[@]}" -d '{"runner":"codex","worker":"R-9999"}')"
run=$(jv .data.run_id <"$work/body")
"$S" run wait "$run" --timeout 60s >/dev/null
eq "the run reached review" pending "$(review_state "$run")"
eq "run show over the API" "$run" "$(status GET "/api/runs/$run" "${T[@]}" >/dev/null; jv .data.run_id <"$work/body")"
eq "the run's final message over the API" "$(cat .agent/runs/$run/output.md)" "$(status GET "/api/runs/$run/files/output.md" "${T[@]}" >/dev/null; jv .data.text <"$work/body")"
eq "only the files the page shows" "404 404" "$(status GET "/api/runs/$run/files/run.json" "${T[@]}") $(status GET "/api/runs/$run/files/..%2Frun.json" "${T[@]}")"
eq "the review queue lists it" "$run" "$(status GET /api/review "${T[@]}" >/dev/null; jv .data.1.run.run_id <"$work/body")"

# --- refused state changes change nothing -------------------------------------------------------
eq "approve over GET is refused" 405 "$(status GET "/api/runs/$run/approve?note=x" "${T[@]}")"
eq "the 405 says Allow: POST" 1 "$(grep -ci '^allow: POST' "$work/head")"
eq "approve without the token is refused" 401 "$(status POST "/api/runs/$run/approve" -d '{}')"
eq "approve from a foreign Origin is refused" 403 \
  "$(status POST "/api/runs/$run/approve" "${T[@]}" -H "Origin: http://evil.example")"
eq "approve with a foreign Host is refused" 403 \
  "$(status POST "/api/runs/$run/approve" "${T[@]}" -H "Host: evil.example:$port")"
eq "a body that is not JSON is refused" 400 "$(status POST "/api/runs/$run/approve" "${T[@]}" -d '{"note":')"
eq "a JSON array body is refused" 400 "$(status POST "/api/runs/$run/approve" "${T[@]}" -d '[1]')"
eq "a note that is not a string is refused" 400 "$(status POST "/api/runs/$run/approve" "${T[@]}" -d '{"note":{}}')"
eq "PUT is refused" 405 "$(status PUT "/api/runs/$run/approve" "${T[@]}")"
eq "after all that the run still waits" pending "$(review_state "$run")"
eq "a bad run id is a usage error" 404 "$(status POST "/api/runs/R-x/approve" "${T[@]}")"
eq "an unknown route" 404 "$(status GET /api/nothing "${T[@]}")"

# --- events when the store changes --------------------------------------------------------------
curl -sN --max-time 20 "${T[@]}" "$base/api/events" >"$work/events" &
events_pid=$!
for _ in $(seq 100); do grep -q "event: hello" "$work/events" && break; sleep 0.1; done
eq "approve with a note" 200 "$(status POST "/api/runs/$run/approve" "${T[@]}" -d '{"note":"looks right <b>"}')"
eq "run show agrees: approved" approved "$(review_state "$run")"
eq "run show agrees: the note" "looks right <b>" "$("$S" run show "$run" --json | jv .data.review_note)"
for _ in $(seq 100); do grep -q "event: change" "$work/events" && break; sleep 0.1; done
eq "a change of the store is an event" 1 "$(grep -c "event: change" "$work/events" | head -1 | sed 's/[1-9][0-9]*/1/')"
kill "$events_pid" 2>/dev/null
eq "approving twice fails as the CLI does" 422 "$(status POST "/api/runs/$run/approve" "${T[@]}" -d '{}')"

# --- replay, dry run, apply / discard, presets, usage --------------------------------------------
eq "replay over GET is refused" 405 "$(status GET "/api/runs/$run/replay" "${T[@]}")"
eq "a reason that is not a string is refused" 400 "$(status POST "/api/runs/$run/replay" "${T[@]}" -d '{"reason":[1]}')"
eq "replay with a reason" 200 "$(status POST "/api/runs/$run/replay" "${T[@]}" -d '{"reason":"try again <i>"}')"
replay=$(jv .data.run_id <"$work/body")
eq "the replay is queued for a worker (the server is not held)" queued "$(jv .data.status <"$work/body")"
"$S" run wait "$replay" --timeout 60s >/dev/null
eq "the replay ran to review" pending "$(review_state "$replay")"
eq "run show: replay of" "$run" "$("$S" run show "$replay" --json | jv .data.lineage.replay_of)"
eq "run show: the reason" "try again <i>" "$("$S" run show "$replay" --json | jv .data.replay_reason)"
eq "run show: replayed as" "$replay" "$("$S" run show "$run" --json | jv .data.lineage.replayed_as.1)"
eq "a replay of an unknown run fails as the CLI does" 422 "$(status POST "/api/runs/R-9999/replay" "${T[@]}" -d '{}')"

eq "dry-run over GET is refused" 405 "$(status GET "/api/tasks/T-0002/dry-run" "${T[@]}")"
eq "dry run of a task" 200 "$(status POST "/api/tasks/T-0002/dry-run" "${T[@]}" -d '{"runner":"codex"}')"
eq "its budget report" true "$(jv .data.steps.1.prompt_budget.estimated_tokens <"$work/body" | grep -qP '^\d+$' && echo true)"
eq "its status" dry_run "$(jv .data.steps.1.status <"$work/body")"
eq "a dry run of an unknown task fails" 422 "$(status POST "/api/tasks/T-9999/dry-run" "${T[@]}" -d '{}')"

"$S" task create --title "write a file" --status ready >/dev/null
writing=$("$S" run T-0003 --runner writer --sandbox workspace-write 2>/dev/null | run_ids - | head -1)
eq "apply over GET is refused" 405 "$(status GET "/api/runs/$writing/apply" "${T[@]}")"
eq "apply a writing run's change" 200 "$(status POST "/api/runs/$writing/apply" "${T[@]}")"
eq "the change is in the work tree" from-the-agent "$(cat new.txt)"
eq "applying twice fails as the CLI does" 422 "$(status POST "/api/runs/$writing/apply" "${T[@]}")"
rm -f new.txt
writing2=$("$S" run T-0003 --runner writer --sandbox workspace-write 2>/dev/null | run_ids - | head -1)
eq "discard a writing run's change" 200 "$(status POST "/api/runs/$writing2/discard" "${T[@]}")"
eq "run show agrees: discarded" 1 "$("$S" run show "$writing2" | grep -c 'discard')"
eq "nothing was applied" "" "$(ls new.txt 2>/dev/null)"
eq "discard over GET is refused" 405 "$(status GET "/api/runs/$writing2/discard" "${T[@]}")"

eq "a preset's declarations" 200 "$(status GET /api/presets/greet "${T[@]}")"
eq "its parameters" "times who" "$(jv .data.params.1.name <"$work/body") $(jv .data.params.2.name <"$work/body")"
eq "an unknown preset" 422 "$(status GET /api/presets/nothing "${T[@]}")"
eq "preset run over GET is refused" 405 "$(status GET /api/presets/greet/run "${T[@]}")"
eq "params must be an object" 400 "$(status POST /api/presets/greet/run "${T[@]}" -d '{"params":[1]}')"
eq "param names are words" 400 "$(status POST /api/presets/greet/run "${T[@]}" -d '{"params":{"a b":"1"}}')"
eq "invalid UTF-8 in a parameter is refused" 400 \
  "$(status POST /api/presets/greet/run "${T[@]}" --data-binary "$(printf '{"params":{"who":"\xff\x1b[2J"}}')")"
eq "a preset runs in the background" 200 "$(status POST /api/presets/greet/run "${T[@]}" -d '{"params":{"who":"ann","times":3}}')"
pid=$(jv .data.id <"$work/body")
for _ in $(seq 200); do status GET "/api/preset-runs/$pid" "${T[@]}" >/dev/null; [ "$(jv .data.running <"$work/body")" = false ] && break; sleep 0.1; done
eq "its report" "hello ann
hello ann
hello ann" "$(jv .data.report.data.text <"$work/body")"
eq "its report is the command's envelope" "preset run" "$(jv .data.report.command <"$work/body")"
status POST /api/presets/greet/run "${T[@]}" -d '{"params":{"times":"x"}}' >/dev/null
pid=$(jv .data.id <"$work/body")
for _ in $(seq 200); do status GET "/api/preset-runs/$pid" "${T[@]}" >/dev/null; [ "$(jv .data.running <"$work/body")" = false ] && break; sleep 0.1; done
eq "a bad parameter: the report says so" false "$(jv .data.report.ok <"$work/body")"
eq "an unknown preset run" 422 "$(status GET /api/preset-runs/P-20260101T000000-1 "${T[@]}")"

eq "usage by day" 200 "$(status GET "/api/usage?by=day" "${T[@]}")"
eq "usage by model: the CLI's figures" "$("$S" usage --by model --json | jv .data.total.runs)" \
  "$(status GET "/api/usage?by=model" "${T[@]}" >/dev/null; jv .data.total.runs <"$work/body")"
eq "usage by a bad group" 400 "$(status GET "/api/usage?by=nothing" "${T[@]}")"
eq "the page's second script is served" 200 "$(status GET /views.js)"

# --- stopping -----------------------------------------------------------------------------------
kill -TERM "$ui_pid"
wait "$ui_pid"
eq "SIGTERM stops the server cleanly" 0 "$?"
eq "it says so" 1 "$(grep -c "sidecar ui: stopped" "$work/ui.err")"
"$S" ui --no-open --port 0 --host 0.0.0.0 >"$work/url2" 2>"$work/ui2.err" &
pid2=$!
for _ in $(seq 100); do [ -s "$work/url2" ] && break; sleep 0.1; done
kill -TERM "$pid2"; wait "$pid2"
eq "--host beyond loopback warns" 1 "$(grep -c "warning: listening on 0.0.0.0" "$work/ui2.err")"
finish
