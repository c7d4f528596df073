#!/usr/bin/env bash
# End-to-end: no secret leaves unredacted. A corpus of planted secrets (fresh random values of
# every kind the redactor knows, and the config's own rules) goes into the environment of
# `sidecar run`, an input file (task create --read, prepare --input FILE and "cat FILE"), command
# inputs (prepare --input "printf ...", task create --goal), an agent's stdout and stderr (each
# secret cut in two by a pause, so it arrives in two reads), a codex-style `-o` final message and
# JSON stream, a refused `git push` to a URL holding a password, and validation output. After
# init, task create, run (foreground and background), run wait/show/list/tail, task
# show/list/export and prepare, `grep -rF` finds none of the values under .agent/ nor on any
# command's stdout or stderr, and the places they were say which kind was redacted. Secret files
# are refused by task create, task import and prepare alike.
set -u
. "$(dirname "$0")/lib.sh" # S (absolute), here, root, $work; the shared helpers
[ -n "${KEEP_WORK:-}" ] && trap 'echo "kept $work"' EXIT # to look at what was written
cd "$work"

# --- the corpus ----------------------------------------------------------------------------------
# rnd N [SET]: N random characters of SET (default letters and digits).
rnd() { LC_ALL=C tr -dc "${2:-A-Za-z0-9}" </dev/urandom | head -c "$1"; }
b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }

VALUES=()  # what grep looks for (a PEM block gives one value per body line)
VKIND=()   # the kind of each value
VPLACE=()  # where it was planted
SECRETS=0
KINDS_SEEN=" "
# TEXTS[place]: what is planted there; ORDER[place]: its secrets' numbers; LINE[n]: secret n's
# text; SPLIT_AT[place.n]: the value where an agent's stream cuts it in two.
declare -A TEXTS ORDER LINE SPLIT_AT
# plant KIND PLACE TEXT VALUE...: TEXT goes to PLACE; each VALUE must never be seen again.
plant() {
  local kind=$1 place=$2 text=$3
  shift 3
  SECRETS=$((SECRETS + 1))
  case "$KINDS_SEEN" in *" $kind "*) ;; *) KINDS_SEEN="$KINDS_SEEN$kind " ;; esac
  for v in "$@"; do
    VALUES+=("$v") VKIND+=("$kind") VPLACE+=("$place")
  done
  TEXTS[$place]="${TEXTS[$place]:-}$text"$'\n'
  SPLIT_AT["$place.$SECRETS"]=$1
  ORDER[$place]="${ORDER[$place]:-} $SECRETS"
  LINE["$SECRETS"]=$text
}

pem() { # pem LABEL: a PEM block of random base64; sets PEM_TEXT and PEM_LINES (the body lines)
  local label=$1 body=() i
  for i in 1 2 3 4 5; do body+=("$(rnd 64 'A-Za-z0-9+/')"); done
  body+=("$(rnd 40 'A-Za-z0-9+/')==")
  PEM_LINES=("${body[@]}")
  PEM_TEXT="-----BEGIN $label-----"$'\n'
  if [ "$label" = "PGP PRIVATE KEY BLOCK" ]; then PEM_TEXT+="Version: GnuPG v2"$'\n\n'; fi
  PEM_TEXT+=$(printf '%s\n' "${body[@]}")$'\n'
  if [ "$label" = "PGP PRIVATE KEY BLOCK" ]; then PEM_TEXT+="=$(rnd 4 'A-Za-z0-9+/')"$'\n'; fi
  PEM_TEXT+="-----END $label-----"
}

# One secret of KIND at PLACE, its value fresh.
secret() {
  local kind=$1 place=$2 v u p
  case $kind in
    openai) v=sk-proj-$(rnd 74 'A-Za-z0-9_-'); plant $kind $place "found key $v" "$v" ;;
    anthropic) v=sk-ant-api03-$(rnd 93 'A-Za-z0-9_-')AA; plant $kind $place "claude key: $v" "$v" ;;
    github) v=ghp_$(rnd 36); plant $kind $place "git token $v in the remote" "$v" ;;
    github-pat) v=github_pat_$(rnd 22)_$(rnd 59); plant $kind $place "fine-grained: $v" "$v" ;;
    aws) u=AKIA$(rnd 16 'A-Z2-7'); v=$(rnd 40 'A-Za-z0-9/+')
      plant $kind $place "aws_access_key_id = $u"$'\n'"aws_secret_access_key = $v" "$u" "$v" ;;
    google) v=AIza$(rnd 35 'A-Za-z0-9_-'); plant $kind $place "maps key=$v" "$v" ;;
    slack) v=xoxb-$(rnd 12 0-9)-$(rnd 13 0-9)-$(rnd 24); plant $kind $place "slack bot $v" "$v" ;;
    stripe) v=sk_live_$(rnd 48); plant $kind $place "billing uses $v today" "$v" ;;
    jwt) u=$(printf '{"sub":"%s","name":"Ada","iat":%d}' "$(rnd 12)" "$RANDOM" | b64url)
      v=eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.$u.$(rnd 43 'A-Za-z0-9_-'); plant $kind $place "session=$v;" "$v" ;;
    pem-rsa) pem "RSA PRIVATE KEY"; plant $kind $place "$PEM_TEXT" "${PEM_LINES[@]}" ;;
    pem-ec) pem "EC PRIVATE KEY"; plant $kind $place "$PEM_TEXT" "${PEM_LINES[@]}" ;;
    pem-openssh) pem "OPENSSH PRIVATE KEY"; plant $kind $place "$PEM_TEXT" "${PEM_LINES[@]}" ;;
    pem-encrypted) pem "ENCRYPTED PRIVATE KEY"; plant $kind $place "$PEM_TEXT" "${PEM_LINES[@]}" ;;
    pem-pgp) pem "PGP PRIVATE KEY BLOCK"; plant $kind $place "$PEM_TEXT" "${PEM_LINES[@]}" ;;
    basic-url) v=$(rnd 20); plant $kind $place "clone https://deploy:$v@git.example.com/org/repo.git now" "$v" ;;
    bearer) v=$(rnd 40 'A-Za-z0-9._~-'); plant $kind $place "Authorization: Bearer $v" "$v" ;;
    basic) p=$(rnd 16); v=$(printf 'admin:%s' "$p" | base64 -w0)
      plant $kind $place "Authorization: Basic $v" "$v" ;;
    db-password) v=$(rnd 20); plant $kind $place "DB_PASSWORD=$v" "$v" ;;
    export-key) v=$(rnd 32); plant $kind $place "export MY_API_KEY=$v" "$v" ;;
    colon-secret) v=$(rnd 24); plant $kind $place "FOO_SECRET: $v" "$v" ;;
    x-token) v=$(rnd 30); plant $kind $place "X_TOKEN=$v" "$v" ;;
    aws-env) v=$(rnd 40 'A-Za-z0-9/+'); plant $kind $place "AWS_SECRET_ACCESS_KEY=$v" "$v" ;;
    json-password) v=$(rnd 18); plant $kind $place "{\"user\": \"ada\", \"password\": \"$v\"}" "$v" ;;
    user-pattern) v=acme_live_$(rnd 32 'a-f0-9'); plant $kind $place "acme client $v" "$v" ;;
    user-name) v=$(rnd 22); plant $kind $place "LOCKER_COMBINATION=$v" "$v" ;;
  esac
}

KINDS="openai anthropic github github-pat aws google slack stripe jwt pem-rsa pem-ec pem-openssh pem-encrypted
  pem-pgp basic-url bearer basic db-password export-key colon-secret x-token aws-env json-password user-pattern
  user-name"
PLACES=(validation notes stdout stderr codex command)
# The run's summary line is the first line the agent prints: it starts with a key.
secret openai stdout
k=0
for kind in $KINDS; do
  for j in 0 1 2; do
    secret "$kind" "${PLACES[$(((k + j) % ${#PLACES[@]}))]}"
  done
  k=$((k + 1))
done
# A push the agent tries with a password in the URL: refused, and logged in the run's folder.
secret basic-url push
PUSH_URL=$(printf '%s' "${TEXTS[push]}" | grep -o 'https://[^ ]*')
# The environment of `sidecar run`: variables whose names say secret; the agent prints their
# values alone, with nothing around them that looks like a secret.
ENV_NAMES=(SERVICE_API_KEY DEPLOY_TOKEN BACKUP_PASSWORD SIGNING_SECRET CLOUD_CREDENTIALS)
ENV_VALUES=()
for name in "${ENV_NAMES[@]}"; do
  v=$(rnd 28)
  ENV_VALUES+=("$v")
  SECRETS=$((SECRETS + 1))
  VALUES+=("$v") VKIND+=("env:$name") VPLACE+=("environment")
done
KINDS_SEEN="${KINDS_SEEN}env "
nkinds=$(echo $KINDS_SEEN | wc -w)
echo "corpus: $SECRETS secrets of $nkinds kinds (${#VALUES[@]} values to look for)"
eq "corpus: at least 60 secrets" yes "$([ "$SECRETS" -ge 60 ] && echo yes)"
eq "corpus: at least 15 kinds" yes "$([ "$nkinds" -ge 15 ] && echo yes)"

# --- the repository, the config, the agents --------------------------------------------------------
mkdir repo && cd repo && git init -q && git -c user.email=t@e -c user.name=t commit -q --allow-empty -m init
repo=$(pwd)
mkdir -p "$work/cap" "$work/parts"
n=0
# cap NAME COMMAND...: runs COMMAND, keeping its stdout and stderr for the final grep; the status
# is in $status.
cap() {
  local name=$1
  shift
  n=$((n + 1))
  status=0
  "$@" >"$work/cap/$n-$name.out" 2>"$work/cap/$n-$name.err" </dev/null || status=$?
  out="$work/cap/$n-$name.out" err="$work/cap/$n-$name.err"
}
cap init "$S" init
eq "init" 0 "$status"

CANARY_NOTES=canary-notes-$(rnd 8) CANARY_VALIDATION=canary-validation-$(rnd 8)
CANARY_STDOUT=canary-stdout-$(rnd 8) CANARY_STDERR=canary-stderr-$(rnd 8) CANARY_CODEX=canary-codex-$(rnd 8)
printf '%s\n%s' "$CANARY_NOTES" "${TEXTS[notes]}" >notes.txt
# Validation output: one step per few secrets, so each step's output fits in its stored snippet.
cmds="" i=0 chunk=""
flush_validation() {
  [ -z "$chunk" ] && return
  i=$((i + 1))
  printf '%s\n%s' "$CANARY_VALIDATION" "$chunk" >"v$i.txt"
  cmds="$cmds${cmds:+,}test:cat v$i.txt"
  chunk=""
}
for id in ${ORDER[validation]}; do
  [ $((${#chunk} + ${#LINE[$id]})) -gt 1200 ] && flush_validation
  chunk="$chunk${LINE[$id]}"$'\n'
done
flush_validation

# split_parts STREAM PLACE CANARY: the texts of PLACE as parts/STREAM-NNN files, each secret cut
# in the middle of its first value: the agent prints a part, pauses, prints the next.
split_parts() {
  local stream=$1 place=$2 canary=$3 k=0 carry="" id text v before cut
  for id in ${ORDER[$place]}; do
    text=${LINE[$id]}$'\n'
    v=${SPLIT_AT["$place.$id"]}
    before=${text%%"$v"*}
    cut=$((${#before} + ${#v} / 2))
    k=$((k + 1))
    printf '%s' "$carry${text:0:$cut}" >"$work/parts/$stream-$(printf %03d $k)"
    carry=${text:$cut}
  done
  printf '%s%s\n' "$carry" "$canary" >"$work/parts/$stream-$(printf %03d $((k + 1)))"
}
split_parts out stdout "$CANARY_STDOUT"
split_parts err stderr "$CANARY_STDERR"
env_echo=""
for name in "${ENV_NAMES[@]}"; do env_echo="$env_echo printf 'value: %s\\n' \"\$$name\";"; done
cat >"$work/leaky.sh" <<EOF
cat >/dev/null
for k in \$(seq 1 200); do
  f=$work/parts/out-\$(printf %03d \$k) g=$work/parts/err-\$(printf %03d \$k)
  [ -e "\$f" ] || [ -e "\$g" ] || break
  [ -e "\$f" ] && cat "\$f"
  [ -e "\$g" ] && cat "\$g" >&2
  sleep 0.2
done
cat notes.txt
$env_echo
EOF

# A codex-style agent: JSON Lines on stdout (cut mid-secret like the others) and the final message
# written by itself with -o FILE, as codex does.
printf '%s\n%s' "$CANARY_CODEX" "${TEXTS[codex]}" >"$work/final.txt"
FINAL=$work/final.txt OUT=$work/codex.jsonl "$S" -e '
  local json = require("sidecar.core.json")
  local f = assert(io.open(os.getenv("FINAL"), "rb")); local text = f:read("a"); f:close()
  local lines = { { type = "thread.started", thread_id = "01a1fddb-6319-7bd2-9e42-00be972fec02" },
    { type = "turn.started" },
    { type = "item.completed", item = { id = "item_0", type = "agent_message", text = text } },
    { type = "turn.completed", usage = { input_tokens = 100, cached_input_tokens = 0, output_tokens = 20 } } }
  local out = assert(io.open(os.getenv("OUT"), "wb")) -- a file: written as it is
  for _, l in ipairs(lines) do out:write(json.encode(l), "\n") end
  out:close()'
size=$(stat -c %s "$work/codex.jsonl")
# Cut the stream in three inside the message: at a third and at two thirds of the file.
head -c $((size / 3)) "$work/codex.jsonl" >"$work/parts/codex-1"
tail -c +$((size / 3 + 1)) "$work/codex.jsonl" | head -c $((size / 3)) >"$work/parts/codex-2"
tail -c +$((2 * (size / 3) + 1)) "$work/codex.jsonl" >"$work/parts/codex-3"
cat >"$work/fake_codex.sh" <<EOF
cat >/dev/null
out=
while [ \$# -gt 0 ]; do [ "\$1" = -o ] && out=\$2; shift; done
for p in 1 2 3; do cat "$work/parts/codex-\$p"; sleep 0.2; done
git push "$PUSH_URL" HEAD >/dev/null 2>&1
cat "$work/final.txt" >"\$out"
EOF

# The agents as runners, and a secrets section with a rule of the user's own.
add_runners "    leaky = { command = $(lua_list sh "$work/leaky.sh") },
    codex = { program = $(lua_list sh "$work/fake_codex.sh") },"
"$S" -e '
  local f = assert(io.open(".agent/config.lua")); local text = f:read("a"); f:close()
  text = text:gsub("\n}\n$", function() return [[

  secrets = {
    patterns = { "acme_live_[0-9a-f]{32}" },
    names = { "LOCKER_COMBINATION" },
    files = { "*.vault" },
    allow_files = { "fixtures/test.pem" },
  },
  gates = { push = "warn" }, -- the push below is refused either way; the run still ends in review
}
]] end)
  f = assert(io.open(".agent/config.lua", "w")); f:write(text); f:close()'
cap config "$S" -e 'assert(require("sidecar.core.config").load(".agent"))'
eq "the config with a secrets section loads" 0 "$status"
[ "$status" = 0 ] || sed 's/^/  stderr| /' "$err"

# --- secret files are refused the same way by every command ---------------------------------------
printf 'API_KEY=%s\n' "$(rnd 30)" >.env
printf 'not a key\n' >id_rsa
REFUSED="'\.env' looks like a secrets file \(\.env\*\); Sidecar never passes such files to an agent — name a redacted copy instead"
expect_run "task create --read .env is refused" 1 '^$' "^sidecar: task create: --read: $REFUSED\n$" -- \
  "$S" task create --title refused --read notes.txt --read .env --read id_rsa
expect_run "task create --read id_rsa is refused" 1 '^$' "--read: 'id_rsa' looks like a secrets file \(SSH private key" -- \
  "$S" task create --title refused --read id_rsa
printf '{"title": "imported", "implementation": {"files_to_read": ["notes.txt", "config/.env"]}}\n' >packet.json
expect_run "task import of a packet reading a secret file is refused" 1 '^$' \
  "packet\.json: implementation\.files_to_read\[2\]: 'config/\.env' looks like a secrets file \(\.env\*\); Sidecar never" -- \
  "$S" task import packet.json
expect_run "prepare --input .env is refused in the same words" 1 '^$' "--input 2: $REFUSED" -- \
  "$S" prepare --task-id refused --prompt x --input notes.txt --input .env
expect_run "prepare --prompt-file id_rsa is refused" 1 '^$' "--prompt-file: 'id_rsa' looks like a secrets file" -- \
  "$S" prepare --task-id refused --prompt-file id_rsa
printf 'vault\n' >prod.vault
mkdir fixtures && printf 'a test certificate, no key\n' >fixtures/test.pem
expect_run "the config's own rule refuses a file (task create)" 1 '^$' \
  "--read: 'prod\.vault' looks like a secrets file \(\*\.vault, a rule of the project's secrets\.files\)" -- \
  "$S" task create --title refused --read prod.vault
expect_run "the config's own rule refuses a file (prepare)" 1 '^$' "--input 1: 'prod\.vault' looks like a secrets file" -- \
  "$S" prepare --task-id refused --prompt x --input prod.vault
eq "... and nothing was created" 0 "$(find .agent/tasks .agent/sidecars -type f 2>/dev/null | wc -l)"

# --- the runs --------------------------------------------------------------------------------------
goal=$(printf 'Check the notes. Facts: %s' "${TEXTS[command]}")
cap task-create "$S" task create --title "Leak check" --goal "$goal" --read notes.txt --status ready \
  --validate-cmds "$cmds"
eq "task create T-0001" "0 created T-0001: Leak check (ready)" "$status $(cat "$out")"
cap task-create-2 "$S" task create --title "Codex leak check" --goal "Say what you found" --status ready
eq "task create T-0002" 0 "$status"

env_args=()
for i in "${!ENV_NAMES[@]}"; do env_args+=("${ENV_NAMES[$i]}=${ENV_VALUES[$i]}"); done
cap run-foreground env "${env_args[@]}" "$S" run T-0001 --runner leaky
eq "run T-0001 (foreground): exit 0" 0 "$status"
fg=$(run_ids "$out" | head -n 1)
expect_run "run: the summary line says what was found, redacted" 0 "^R-\d+ review: found key \[REDACTED:" "" -- cat "$out"
expect_run "run: validation passed" 0 "" "" -- grep -q "validation" "$err"

cap run-background "$S" run T-0002 --runner codex --background
bg=$(run_ids "$out" | head -n 1)
eq "run T-0002 --background: prints its run id" "0 yes" "$status $(grep -qx 'R-[0-9]*' "$out" && echo yes)"
cap run-wait "$S" run wait $bg --timeout 60s
eq "run wait $bg" "0 $bg review" "$status $(cat "$out")"

for what in "run show $fg" "run show $bg" "run show $fg --json" "run show $bg --json" "run list" \
  "run list --json" "run tail $fg" "run tail $bg" "run tail $fg --json" "task show T-0001" \
  "task show T-0001 --json" "task list --json" "task export T-0001" "run review"; do
  cap "$(echo "$what" | tr ' ' '-')" "$S" $what
  eq "$what: exit 0" 0 "$status"
done

# prepare: the notes file (hashed), its content through a command, and commands holding secrets.
prep_args=(--title "Leak check prepare" --prompt "Review the notes" --input notes.txt --input "cat notes.txt")
for id in ${ORDER[command]}; do
  prep_args+=(--input "printf '%s\\n' '${LINE[$id]}'")
done
cap prepare "$S" prepare "${prep_args[@]}"
eq "prepare: exit 0" 0 "$status"
prep_dir=$(find .agent/sidecars -mindepth 1 -maxdepth 1 -type d | head -1)
manifest_ok=yes
for name in $(grep -o 'inputs/[^`]*\.txt' "$prep_dir/input-manifest.md"); do
  [ -f "$prep_dir/$name" ] || { manifest_ok="no: $name is named in the manifest but does not exist"; break; }
done
eq "prepare: every input file the manifest names exists" yes "$manifest_ok"
eq "prepare: one saved output per command input" $(($(echo ${ORDER[command]} | wc -w) + 1)) \
  "$(ls "$prep_dir/inputs" | wc -l)"
# A file the built-in rules refuse (*.pem) that the config allows is taken.
cap task-create-allowed "$S" task create --title "Allowed input" --read fixtures/test.pem
eq "the config's allow_files lets a file through" "0 created T-0003: Allowed input" "$status $(cat "$out")"
# A script's own print goes through the same redactor.
cap script-print env "${env_args[@]}" "$S" -e "print(os.getenv('SERVICE_API_KEY')); io.stderr:write(io.open('notes.txt'):read('a'))"
eq "sidecar -e: exit 0" 0 "$status"

# --- nothing leaked, and the redacted places say which kind ---------------------------------------
# The data reached the places looked at (else "nothing leaked" would prove nothing).
for c in "$CANARY_NOTES" "$CANARY_VALIDATION" "$CANARY_STDOUT" "$CANARY_STDERR" "$CANARY_CODEX"; do
  eq "the planted text reached .agent/ ($c)" yes "$(grep -rqF -- "$c" .agent && echo yes || echo no)"
done
expect_run "the refused push was logged, its password redacted" 0 "deploy:\[REDACTED:url-password\]@" "" -- \
  cat .agent/runs/$bg/push_attempts.log
eq "the codex-style -o file was written" yes "$([ -s .agent/runs/$bg/last-message.txt ] && echo yes || echo no)"
leaks=0
# --- the policy is data, and the paths that print before Lua runs use it too -------------------
# A command line CLI11 cannot take, and the model server (no Lua at all), print through the host's
# default policy: stdlib/sidecar/core/secret_rules.lua read as text. No stdlib on disk is needed.
early_key="sk-$(rnd 40)" early_gh="ghp_$(rnd 36)"
mkdir -p "$work/no-stdlib"
expect_run "an option CLI11 refuses is printed redacted" 2 '^$' \
  "^sidecar: unknown option or argument: --nope=\[REDACTED:openai-key\]\n" -- \
  env SIDECAR_STDLIB_DIR="$work/no-stdlib" "$S" --nope="$early_key"
expect_run "an unknown command is printed redacted" 2 '^$' "^sidecar: unknown command '\[REDACTED:github-token\]'" -- \
  "$S" "$early_gh"
expect_run "the model server's errors are printed redacted" 2 '^$' "\[REDACTED:openai-key\]" -- \
  "$S" model-server --scenario "$work/missing-$early_key.json"
grep -qF -e "$early_key" -e "$early_gh" "$work/err" && echo "FAIL an early path printed a key" && failed=$((failed + 1))
# A shape added to secret_rules.lua (loaded from SIDECAR_STDLIB_DIR) is redacted; the built-in
# file does not know it.
cp -r "$here/../../stdlib" "$work/stdlib-edit"
sed -i 's/^  patterns = {$/  patterns = {\n    { pattern = "zq_[0-9a-f]{24,}", kind = "zq-token" },/' \
  "$work/stdlib-edit/sidecar/core/secret_rules.lua"
zq="zq_$(rnd 30 0-9a-f)"
expect_run "a shape added to the data module is redacted" 0 "^found \[REDACTED:zq-token\]\n$" '^$' -- \
  env SIDECAR_STDLIB_DIR="$work/stdlib-edit" "$S" -e "print('found $zq')"
expect_run "the built-in data does not have it" 0 "^found $zq\n$" '^$' -- "$S" -e "print('found $zq')"

for i in "${!VALUES[@]}"; do
  v=${VALUES[$i]}
  where=$(grep -rlF -- "$v" .agent "$work/cap" 2>/dev/null | sed "s|^$work/||" | tr '\n' ' ')
  if [ -n "$where" ]; then
    leaks=$((leaks + 1))
    failed=$((failed + 1))
    echo "FAIL leaked: ${VKIND[$i]} secret planted in ${VPLACE[$i]} found in: $where"
  else
    passed=$((passed + 1))
  fi
done
echo "leak check: ${#VALUES[@]} values looked for, $leaks found"
labels=$(grep -rhoa '\[REDACTED:[A-Za-z0-9_.-]*\]' .agent "$work/cap" | sort | uniq -c | sort -rn)
echo "labels seen:"
echo "$labels" | sed 's/^/  /'
for label in openai-key anthropic-key github-token aws-access-key aws-secret-key google-api-key slack-token \
  stripe-key jwt private-key url-password basic-auth bearer-token DB_PASSWORD MY_API_KEY FOO_SECRET X_TOKEN \
  AWS_SECRET_ACCESS_KEY password acme-live LOCKER_COMBINATION; do
  eq "a redacted place says [REDACTED:$label...]" yes "$(echo "$labels" | grep -qF "[REDACTED:$label" && echo yes || echo no)"
done
# Sidecar's own secret-looking variables: redacted where they show, or never given to an agent at
# all (its OS sandbox withholds them, and the run's record names them).
for label in SERVICE_API_KEY DEPLOY_TOKEN BACKUP_PASSWORD; do
  eq "[REDACTED:$label...] or withheld from the agent" yes "$({ echo "$labels" | grep -qF "[REDACTED:$label" ||
    grep -qs "\"$label\"" .agent/runs/*/run.json; } && echo yes || echo no)"
done
finish
