#!/usr/bin/env bash
# End-to-end: secrets after JSON escapes and terminal colours (issue 39). A fake agent (a `command`
# runner, as codex's JSON stream would carry an answer's newlines, and as `grep --color` prints
# a match) writes one secret of each kind right after `\n` in a JSON line, after a colour code,
# after grep's match colours, and after a JSON-escaped colour. No raw secret may reach any file of
# the run, the store, `run show` (text and --json), `run tail`, `run list`, `task list` or the UI's
# API. Each kind is one case: prevented when none of its bytes got anywhere. Every secret is
# made up here.
set -u
. "$(dirname "$0")/lib.sh" # S (absolute), here, root, $work; the shared helpers
. "$here/hostile_lib.sh"
cd "$work"

rnd() { LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom | head -c "$1"; }
upper() { LC_ALL=C tr -dc 'A-Z0-9' </dev/urandom | head -c "$1"; }
b64() { LC_ALL=C tr -dc 'A-Za-z0-9+/' </dev/urandom | head -c "$1"; }
declare -A KIND
KIND[github]="ghp_$(rnd 36)"
KIND[github-pat]="github_pat_$(rnd 50)"
KIND[openai]="sk-proj-$(rnd 40)"
KIND[anthropic]="sk-ant-api03-$(rnd 50)"
KIND[stripe]="sk_live_$(rnd 24)"
KIND[gitlab]="glpat-$(rnd 24)"
KIND[npm]="npm_$(rnd 36)"
KIND[huggingface]="hf_$(rnd 34)"
KIND[google]="AIza$(rnd 35)"
KIND[slack]="xoxb-123-$(rnd 20)"
KIND[aws-id]="AKIA$(upper 16)"
KIND[jwt]="eyJ$(rnd 20).eyJ$(rnd 30).$(rnd 20)"
KIND[sendgrid]="SG.$(rnd 22).$(rnd 43)"
KIND[digitalocean]="dop_v1_$(LC_ALL=C tr -dc 'a-f0-9' </dev/urandom | head -c 64)"
KIND[age]="AGE-SECRET-KEY-1$(upper 58)"
KIND[private-key-b64]="LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0t$(b64 120)"
KIND[azure]="$(b64 86)=="
# Values found by the name before them (issue 45): the agent prints NAMED[k] then the value.
declare -A NAMED
NAMED[name-token]="TOKEN="
NAMED[name-secret]="SECRET="
NAMED[header-token]="Authorization: token "
NAMED[header-basic]="Authorization: Basic "
KIND[name-token]=$(rnd 24)
KIND[name-secret]=$(rnd 24)
KIND[header-token]=$(rnd 32)
KIND[header-basic]="$(b64 30)=="

# The agent: each secret after each escape, on stdout (stdout.log, the summary, run tail). It reads
# them from secrets.txt beside it (its OS sandbox lets it read its own folder).
for k in "${!KIND[@]}"; do
  v=${KIND[$k]}
  [ "$k" = azure ] && v="DefaultEndpointsProtocol=https;AccountName=a;AccountKey=$v;EndpointSuffix=core.windows.net"
  echo "${NAMED[$k]:-}$v"
done >"$work/secrets.txt"
cat >"$work/leaky.sh" <<'SH'
#!/bin/sh
cat >/dev/null
while read -r v; do
  printf '{"type":"message","text":"found:\\n%s and \\u001b[31m%s\\u001b[0m"}\n' "$v" "$v"
  printf 'src/a.c:3:\033[01;31m\033[K%s\033[m\033[K end\n' "$v"
  printf 'x\033[31m%s\033[0m\n' "$v"
done <"$(dirname "$0")/secrets.txt"
SH
chmod +x "$work/leaky.sh"

git_repo repo
add_runners "    leaky = { command = $(lua_list "$work/leaky.sh") },"
"$S" task create --title "Find the keys" --status ready >/dev/null
"$S" run T-0001 --runner leaky >"$work/run.out" 2>&1
id=$(run_ids "$work/run.out" | head -n 1)
eq "the run was recorded" yes "$([ -n "$id" ] && [ -f ".agent/runs/$id/stdout.log" ] && echo yes)"
eq "the agent's output is there, redacted" yes "$(grep -q 'REDACTED:github-token' ".agent/runs/$id/stdout.log" && echo yes)"
# (the escapes stay: a secret right after them was found, and only its bytes went; each shape,
# the Azure one and the named ones aside: their values are found by their names, AccountKey= ...)
shapes=$((${#KIND[@]} - 1 - ${#NAMED[@]}))
eq "after a JSON \\n, each kind" "$shapes" "$(grep -cP 'found:\\n\[REDACTED:' ".agent/runs/$id/stdout.log")"
eq "after grep --color, each kind" "$shapes" "$(grep -cP '\x1b\[K\[REDACTED:' ".agent/runs/$id/stdout.log")"
# The named ones keep their names, and the colours around their values.
names='(?:TOKEN=|SECRET=|Authorization: (?:token|Basic) )\[REDACTED:[A-Za-z-]+\]'
for before in 'found:\\n' '\\u001b\[31m' '\x1b\[01;31m\x1b\[K' 'x\x1b\[31m'; do
  eq "after $before, each name" "${#NAMED[@]}" "$(grep -cP "$before$names" ".agent/runs/$id/stdout.log")"
done
eq "a coloured value's colours stay" "${#NAMED[@]}" "$(grep -cP "x\x1b\[31m$names\x1b\[0m\$" ".agent/runs/$id/stdout.log")"

# Every view a person or a program reads.
mkdir "$work/views"
"$S" run show "$id" >"$work/views/show" 2>&1
"$S" run show "$id" --json >"$work/views/show.json" 2>&1
"$S" run tail "$id" >"$work/views/tail" 2>&1
"$S" run list >"$work/views/list" 2>&1
"$S" task list >"$work/views/tasks" 2>&1
"$S" task show T-0001 >"$work/views/task" 2>&1
"$S" ui --no-open --port 0 >"$work/url" 2>"$work/ui.err" &
ui_pid=$!
poll 20 test -s "$work/url"
url=$(head -1 "$work/url") && base=${url%%/\?token=*} && token=${url##*token=}
for path in "/api/runs/$id" "/api/runs/$id/events" "/api/runs" "/api/board" "/api/runs/$id/files/stdout.log" \
  "/api/runs/$id/files/output.md"; do
  curl -s -H "X-Sidecar-Token: $token" "$base$path" >>"$work/views/ui" 2>&1
done
kill "$ui_pid" 2>/dev/null
wait "$ui_pid" 2>/dev/null
eq "the UI answered" yes "$(grep -q "$id" "$work/views/ui" && echo yes)"
cp .agent/sidecar.db* "$work/views/" 2>/dev/null

for k in "${!KIND[@]}"; do
  v=${KIND[$k]}
  where=$(grep -rlaF -- "$v" .agent "$work/run.out" "$work/views" 2>/dev/null | sed "s|$work/||" | tr '\n' ' ')
  if [ -z "$where" ]; then hostile_case "$k" prevented; else hostile_case "$k" silent "raw in: $where"; fi
done
hostile_summary secrets
finish
