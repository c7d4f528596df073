# Shared helpers for the end-to-end tests: run the real binary, check status and output.
# Each script (`bash x_test.sh path/to/sidecar`) sources this, calls `expect_run` per case, and
# ends with `finish`.
# S: the sidecar binary, absolute (the tests run in folders of their own); here: this folder;
# root: the repository.
S=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
passed=0
failed=0
work=$(mktemp -d)
# A failed script keeps its folder (the runs' records say what went wrong), and says where.
trap 'if [ "$failed" -eq 0 ]; then rm -rf "$work"; else echo "kept for a look: $work" >&2; fi' EXIT
# The tests' repositories are their own: their .agent/config.lua and presets run without
# `sidecar trust` (tests/e2e/trust_test.sh unsets this), and no test touches the user's state, nor
# the machine's agent slots (its runtime folder: stdlib/sidecar/run/agent_slots.lua).
export SIDECAR_TRUST=all XDG_STATE_HOME="$work/state" XDG_RUNTIME_DIR="$work/runtime"
unset SIDECAR_RUN_ID # run from inside a Sidecar run (an agent running the suite), trust still works

# matches REGEX FILE: Perl regex over the whole file ("." crosses lines); "^$" means empty.
matches() {
  case "$1" in
    "") return 0 ;;
    "^$") [ ! -s "$2" ] ;;
    *) grep -Pzq -- "(?s)$1" "$2" ;;
  esac
}

# expect_run NAME EXPECTED_STATUS STDOUT_REGEX STDERR_REGEX -- COMMAND...
# Regexes are Perl-style (\n, \t work); an empty one is not checked. Standard input comes from $stdin_text
# when set, else /dev/null.
expect_run() {
  local name=$1 want_status=$2 want_out=$3 want_err=$4
  shift 5
  local status=0
  if [ -n "${stdin_text+x}" ]; then
    printf '%s' "$stdin_text" | "$@" >"$work/out" 2>"$work/err" || status=$?
  else
    "$@" <"$work/empty" >"$work/out" 2>"$work/err" || status=$?
  fi
  local why=""
  [ "$status" = "$want_status" ] || why="exit status $status, expected $want_status"
  [ -z "$why" ] && ! matches "$want_out" "$work/out" && why="stdout does not match /$want_out/"
  [ -z "$why" ] && ! matches "$want_err" "$work/err" && why="stderr does not match /$want_err/"
  if [ -z "$why" ]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL $name: $why"
    echo "  command: $*"
    sed 's/^/  stdout| /' "$work/out" | head -20
    sed 's/^/  stderr| /' "$work/err" | head -20
  fi
}
: >"$work/empty"

finish() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}

# Helpers for tests that start servers and read JSON; they need $S (the sidecar binary) and
# $work.
# jv PATH: the value at PATH (".usage.input_tokens", ".content.1.text") of the JSON on stdin.
jv() {
  "$S" -e "local json = require('sidecar.core.json'); local v = json.decode(io.read('a'))
    for k in ('$1'):gmatch('[^.]+') do if type(v) ~= 'table' then v = nil break end v = v[tonumber(k) or k] end
    print(v == json.null and 'null' or tostring(v))"
}

# eq NAME WANT GOT
eq() {
  if [ "$2" = "$3" ]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL $1: got '$3', expected '$2'"
  fi
}

# start_server NAME SCENARIO [ARGS...]: in the background; sets $pid and $port once it is ready.
start_server() {
  local name=$1 scenario=$2
  shift 2
  "$S" model-server --scenario "$scenario" --log "$work/$name.log" "$@" >"$work/$name.out" 2>"$work/$name.err" &
  pid=$!
  port=
  local deadline=$(($(date +%s) + 60))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    port=$(grep -oP '127\.0\.0\.1:\K[0-9]+' "$work/$name.out" 2>/dev/null | head -n 1)
    [ -n "$port" ] && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.025
  done
  echo "FAIL $name: the server did not start"
  sed 's/^/  stderr| /' "$work/$name.err"
  failed=$((failed + 1))
  return 1
}

# stop_server: ends the server start_server started, and waits for it.
stop_server() { kill -TERM "$pid"; wait "$pid" 2>/dev/null; }

# --- Waiting: for readiness, never for a fixed time ---------------------------------------------

# poll SECONDS COMMAND...: runs COMMAND every 50 ms until it succeeds, for at most SECONDS; its status.
poll() {
  local deadline=$(($(date +%s) + $1))
  shift
  until "$@"; do
    [ "$(date +%s)" -ge "$deadline" ] && return 1
    sleep 0.05
  done
}

# wait_until NAME SECONDS COMMAND...: as poll; a COMMAND that never succeeds fails the test NAME.
wait_until() {
  local name=$1 seconds=$2
  shift 2
  poll "$seconds" "$@" && return 0
  failed=$((failed + 1))
  echo "FAIL $name: still not so after $seconds s: $*"
  return 1
}

# signal_taken PID SIGNUM: PID has no signal SIGNUM pending (it was delivered: its handler has run,
# or runs now), or PID is gone. A second signal sent before that would merge with the first.
signal_taken() {
  local masks m
  masks=$(awk '$1 == "SigPnd:" || $1 == "ShdPnd:" { print $2 }' "/proc/$1/status" 2>/dev/null) || return 0
  for m in $masks; do
    (((16#$m >> ($2 - 1)) & 1)) && return 1
  done
  return 0
}

# running PID: it has not ended (a zombie that init has yet to reap has).
running() { ps -o stat= -p "$1" 2>/dev/null | grep -qv '^Z'; }

# left N: the pids of the `sleep $M.N` processes still running (N may be a pattern: '[0-9]'). The
# script sets $M, a marker no other test uses, and names every process it starts after it.
left() { pgrep -f "sleep ${M}\.$1" 2>/dev/null | tr '\n' ' ' | sed 's/ $//'; }

# need_codex_and_claude: the rest of the test drives the real codex and claude CLIs. With
# SIDECAR_SKIP_REAL_CLIS=1 the test ends here with its result so far; without the CLIs it fails
# (scripts/setup installs them into .tools/npm, first on PATH from here).
need_codex_and_claude() {
  if [ "${SIDECAR_SKIP_REAL_CLIS:-}" = 1 ]; then
    echo "SKIP: the real codex and claude CLIs (SIDECAR_SKIP_REAL_CLIS=1)"
    finish
    exit $?
  fi
  export PATH="$root/.tools/npm/bin:$PATH"
  if ! command -v codex >/dev/null || ! command -v claude >/dev/null; then
    echo "FAIL: codex or claude is not installed (scripts/setup installs them into .tools/npm)"
    exit 1
  fi
}

# --- Repositories, records and golden files -----------------------------------------------------

# git_repo NAME: $work/NAME, a git repository with one empty commit and `sidecar init` done; the
# current folder from then on.
git_repo() {
  mkdir -p "$work/$1" && cd "$work/$1" && git init -q &&
    git -c user.email=t@e -c user.name=t commit -q --allow-empty -m init
  "$S" init >/dev/null
  sandbox_allow read "$root/tests/fixtures" # what fake agents replay, wherever the checkout is (/tmp: private)
}

# add_runners TEXT: TEXT (runner entries, `    name = { ... },` lines) first in the `runners`
# table of ./.agent/config.lua.
add_runners() {
  RUNNERS=$1 "$S" -e '
    local f = assert(io.open(".agent/config.lua")); local text = f:read("a"); f:close()
    text = text:gsub("  runners = {\n", function() return "  runners = {\n" .. os.getenv("RUNNERS") .. "\n" end, 1)
    f = assert(io.open(".agent/config.lua", "w")); f:write(text); f:close()'
}

# sandbox_allow read|write|env PATH...: in .agent/config.lua, the agents' OS sandbox lets them read
# (or write) PATH all the same: a folder of the test's own under /tmp, which the sandbox makes
# private. Added to what the list holds already.
sandbox_allow() {
  local list
  list=$(lua_list "${@:2}")
  sed -i -e "s|^    $1 = {},|    $1 = $list,|" -e "t" -e "s|^    $1 = { \([^}]*\) },|    $1 = { \1, ${list#\{ },|" \
    .agent/config.lua
}

# fan_of_agents SCRIPT: ./.agent runs the fan preset (tests/fixtures/presets/fan.lua) with the
# `command` runner, SCRIPT (made executable) its agent, which may write $work/agents (AGENT_LOG,
# exported) and reads AGENT_LOG and AGENT_SLEEP.
fan_of_agents() {
  chmod +x "$1"
  mkdir -p "$work/agents" .agent/presets
  add_runners "    command = { command = $(lua_list "$1") },"
  sed -i 's|^  runner = "codex",|  runner = "command",|' .agent/config.lua
  sandbox_allow write "$work/agents"
  sandbox_allow env AGENT_LOG AGENT_SLEEP
  export AGENT_LOG=$work/agents
  cp "$root/tests/fixtures/presets/fan.lua" .agent/presets/fan.lua
}

# lua_list WORD...: the words as a Lua list of strings, { "a", "b" }.
lua_list() {
  local out="{" w
  for w in "$@"; do
    w=${w//\\/\\\\}
    out+=" \"${w//\"/\\\"}\","
  done
  echo "${out%,} }"
}

# fake_agent REPLAY [ARG...]: as a Lua list for a runner's `program` or `command`, the fake agent
# (tests/fixtures/fake_agent.lua) replaying the captured stream REPLAY.
fake_agent() { lua_list "$S" script "$root/tests/fixtures/fake_agent.lua" "$@"; }

# field FILE PATH: a value of a JSON file (see jv).
field() { jv "$2" <"$1"; }

# run_ids FILE: the run ids (R-0001) FILE names, each once, in order ("-": standard input).
run_ids() { grep -oP '\bR-\d+\b' "$1" | awk '!seen[$0]++'; }

# run_id [N]: the Nth run id (default the first) on the stdout of the last expect_run. A step names
# the run it created so, never by counting the runs before it.
run_id() { run_ids "$work/out" | sed -n "${1:-1}p"; }

# runs_where FIELD VALUE: the ids of the runs in ./.agent whose FIELD (as `run list --json` gives
# it: runner_type, agent_role, task_id...) is VALUE, newest first.
runs_where() {
  local list id i=1
  list=$("$S" run list --limit 0 --json)
  while id=$(jv ".data.$i.run_id" <<<"$list") && [ "$id" != nil ]; do
    [ "$(jv ".data.$i.$1" <<<"$list")" = "$2" ] && echo "$id"
    i=$((i + 1))
  done
}

# golden NAME FILE: FILE, run ids made R-NNNN, the binary's path "sidecar", the fixtures folder
# ($F, when set) FIXTURES and the script's own $golden_sed (sed -E) applied, equals
# $golden_dir/NAME. UPDATE_GOLDEN=1 writes it there instead.
golden() {
  sed -E -e 's/R-[0-9]{4}/R-NNNN/g' -e "s#$S#sidecar#g" ${F:+-e "s#$F#FIXTURES#g"} -e "${golden_sed:-}" \
    "$2" >"$work/got"
  if [ "${UPDATE_GOLDEN:-}" = 1 ]; then cp "$work/got" "$golden_dir/$1"; fi
  if diff -u "$golden_dir/$1" "$work/got" >"$work/diff"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL golden $1 differs:"
    sed 's/^/  /' "$work/diff" | head -60
  fi
}
