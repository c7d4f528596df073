# Shared helpers for the end-to-end tests: run the real binary, check status and output.
# Each script sources this, calls `expect_run` per case, and ends with `finish`.
passed=0
failed=0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The tests' repositories are their own: their .agent/config.lua and presets run without
# `sidecar trust` (tests/e2e/trust_test.sh unsets this), and no test touches the user's state.
export SIDECAR_TRUST=all XDG_STATE_HOME="$work/state"

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
  for _ in $(seq 200); do
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
