#!/usr/bin/env bash
# End-to-end: the sidecar binary run as a user runs it. Usage: cli_test.sh path/to/sidecar
set -u
. "$(dirname "$0")/lib.sh" # S (absolute), here, root, $work; the shared helpers
cd "$work"

# --- help, version, usage errors (exit 2) ------------------------------------------------------
expect_run "version" 0 '^sidecar [0-9]+\.[0-9]+\.[0-9]+ \(Lua 5\.4' '' -- "$S" --version
expect_run "help lists every command" 0 'script.*repl.*test' '' -- "$S" --help
expect_run "help shows -e" 0 '-e CODE' '' -- "$S" --help
expect_run "no arguments prints help" 0 'Usage: sidecar' '' -- "$S"
expect_run "script --help" 0 'sidecar script' '' -- "$S" script --help
expect_run "unknown command" 2 '^$' "unknown command 'bogus'.*sidecar --help" -- "$S" bogus
expect_run "unknown flag" 2 '^$' 'unknown option or argument: --bogus' -- "$S" --bogus
expect_run "unknown test flag" 2 '^$' 'unknown option or argument: --nope' -- "$S" test --nope
# A flag close to a known one of the same command: named in the error (issue 40).
expect_run "--budget-cost: did you mean --budget-usd?" 2 '^$' \
  '^sidecar: unknown option or argument: --budget-cost 0\.03 \(did you mean --budget-usd\?\)\n' -- "$S" run T-0001 --budget-cost 0.03
expect_run "--limt: did you mean --limit?" 2 '^$' '\(did you mean --limit\?\)' -- "$S" run list --limt 3
expect_run "run diff R-1: not a task id nor a subcommand, the subcommands named (exit 2)" 2 '^$' \
  '^sidecar: run: diff is not a task id \(T-0001\) nor a subcommand of run; subcommands: list, show, approve, .*discard\n' \
  -- "$S" run diff R-0001
expect_run "run shwo: did you mean show?" 2 '^$' 'run: shwo is not a task id \(T-0001\) nor a subcommand of run \(did you mean show\?\)' \
  -- "$S" run shwo
expect_run "a flag close to nothing: no guess" 2 '^$' '^sidecar: unknown option or argument: --zzzzzz\n' -- "$S" run list --zzzzzz
expect_run "-e without code" 2 '^$' '-e needs Lua code' -- "$S" -e
expect_run "script without a file" 2 '^$' 'script needs a file' -- "$S" script
# A number flag is checked by the parser (cli/lua_command.cpp), before any Lua runs; --help
# shows a default declared with the flag.
expect_run "a number flag that is not one" 2 '^$' "^sidecar: --limit: 'ten' is not a whole number\n" \
  -- "$S" run list --limit ten
expect_run "-j that is not a number" 2 '^$' "^sidecar: --jobs: '1.5' is not a whole number\n" \
  -- "$S" preset run demo -j 1.5
expect_run "a flag's default in --help" 0 'At most N runs; 0: all \(default: 50\)' '' -- "$S" run list --help

# --- -e ----------------------------------------------------------------------------------------
expect_run "-e runs code" 0 '^2\n$' '^$' -- "$S" -e 'print(1 + 1)'
expect_run "-e repeated runs in order" 0 '^a\nb\n$' '' -- "$S" -e 'print("a")' -e 'print("b")'
expect_run "-e error: message, position, traceback" 1 '' '^sidecar: \(command line\):1: boom\nstack traceback:' \
  -- "$S" -e 'error("boom")'
expect_run "-e error object with __tostring" 1 '' 'custom error text' \
  -- "$S" -e 'error(setmetatable({}, {__tostring = function() return "custom error text" end}))'
expect_run "-e non-string error" 1 '' 'error object is a table value' -- "$S" -e 'error({})'

# --- script ------------------------------------------------------------------------------------
printf 'print(#arg, ...)\nprint(arg[0])\n' >args.lua
expect_run "script gets arg and ... verbatim" 0 '^4\tx\t--flag\t-e\ty\nargs.lua\n$' '' \
  -- "$S" script args.lua x --flag -e y
expect_run "script runs after -e" 0 '^first\n1\tz\n' '' -- "$S" -e 'print("first")' script args.lua z
expect_run "missing script" 1 '^$' '^sidecar: cannot open nosuch\.lua' -- "$S" script nosuch.lua
printf 'local x = 1\nlocal = 2\n' >syntax.lua
expect_run "syntax error names file:line, no traceback" 1 '^$' '^sidecar: syntax\.lua:2: [^\n]*\n$' \
  -- "$S" script syntax.lua
printf 'local json = require("sidecar.core.json")\nlocal function parse(s)\n  local v = json.decode(s)\n  return v\nend\nparse("{")\n' >stdlib_error.lua
expect_run "error inside a stdlib module" 1 '' 'stdlib_error\.lua:3: invalid JSON at line 1, column 2.*stdlib/sidecar/core/json\.lua:[0-9]+: in function .sidecar\.core\.json\.decode.*stdlib_error\.lua:6' \
  -- "$S" script stdlib_error.lua
printf 'os.exit(7)\n' >exit7.lua
expect_run "os.exit status passes through" 7 '' '' -- "$S" script exit7.lua
stdin_text='print("from stdin", ...)' expect_run "script - reads standard input" 0 '^from stdin\tq\n$' '' \
  -- "$S" script - q

# --- JSON through the binary: bad input is a clear error, never a crash -------------------------
printf '["ok", "\xff"]' >bad_utf8.json
expect_run "invalid UTF-8 in JSON" 1 '' 'invalid JSON at line 1, column [0-9]+: .*UTF-8' \
  -- "$S" -e 'local f = assert(io.open("bad_utf8.json")) require("sidecar.core.json").decode(f:read("a"))'
expect_run "JSON nested 100 000 deep" 1 '' 'nesting deeper than 1000 levels' \
  -- "$S" -e 'require("sidecar.core.json").decode(string.rep("[", 100000) .. string.rep("]", 100000))'
expect_run "encode error names the path" 1 '' 'cannot encode a function value at \$\.a\[3\]\.b' \
  -- "$S" -e 'require("sidecar.core.json").encode({a = {1, 2, {b = print}}})'

# --- Ctrl-C (SIGINT) interrupts the running chunk -----------------------------------------------
# interrupt CODE WHAT CHECK...: `sidecar -e CODE` in the background ($pid), Ctrl-C once CHECK holds
# (WHAT names that moment); sets $status, its output in $work/out and $work/err.
interrupt() {
  local code=$1 what=$2
  shift 2
  "$S" -e "$code" >"$work/out" 2>"$work/err" &
  pid=$!
  wait_until "$what" 60 "$@"
  kill -INT $pid
  status=0
  wait $pid || status=$?
}

# The chunk says when it runs (its Ctrl-C handler is in place from then on), then loops.
rm -f "$work/looping"
interrupt "io.open('$work/looping', 'w'):close() while true do end" "the looping chunk started" test -e "$work/looping"
if [ "$status" = 130 ] && grep -q 'interrupted!' "$work/err"; then
  passed=$((passed + 1))
else
  failed=$((failed + 1))
  echo "FAIL SIGINT interrupts a running chunk: status $status"
  cat "$work/err"
fi
eq "an interrupt names no place in Lua's code" "sidecar: interrupted!" "$(head -n 1 "$work/err" | cut -c1-21)"
marker="$((RANDOM + 3000)).$$"
interrupt "require('sidecar.core.proc').spawn({'sleep', '$marker'}):wait()" "the child to wait for started" \
  eval 'pgrep -f "sleep $marker" >/dev/null'
eq "... nor in a -e chunk, while a child is waited for" "sidecar: interrupted! stopped 1 child process" \
  "$(head -n 1 "$work/err")"
# Ctrl-C while Lua runs, not while it waits: the child it started is stopped and counted all the same.
marker="$((RANDOM + 3000)).$$"
interrupt "require('sidecar.core.proc').spawn({'sleep', '$marker'}) io.open('$work/busy', 'w'):close() while true do end" \
  "the busy chunk with a child started" test -e "$work/busy"
eq "... or while Lua runs, with a child started" "130 sidecar: interrupted! stopped 1 child process" \
  "$status $(head -n 1 "$work/err")"
eq "... and that child is gone" "" "$(pgrep -f "sleep $marker")"
# A pcall that swallows the interruption and fails otherwise: the failure is the interruption's.
printf 'started\n' >"$work/started"
interrupt "io.open('$work/started', 'w'):close() pcall(function() while true do end end) error('a failure of its own')" \
  "the swallowing chunk runs" \
  eval '[ ! -s "$work/started" ] && m=$(awk '"'"'/^SigCgt/{print $2}'"'"' /proc/$pid/status) && [ $((0x$m & 2)) -ne 0 ]'
eq "a swallowed interruption still ends as one (130, no stray message)" "130 sidecar: interrupted!" "$status $(cat "$work/err")"

# Ctrl-C while the redactor loads, before the command runs (a terminal module of a stdlib folder
# that loops): the command stops there, 130, and never runs as if no Ctrl-C came.
mkdir -p slowlib/sidecar/core
printf 'io.open(os.getenv("LOADING"), "w"):close() while true do end\n' >slowlib/sidecar/core/terminal.lua
rm -f "$work/loading"
LOADING=$work/loading SIDECAR_STDLIB_DIR=$work/slowlib interrupt "print('the command ran')" \
  "the redactor's module loads" test -e "$work/loading"
eq "Ctrl-C while the redactor loads: 130, the command never ran" "130 sidecar: interrupted!" \
  "$status $(cat "$work/out" "$work/err")"

# --- development stdlib directory --------------------------------------------------------------
mkdir -p devlib/sidecar/dev
printf 'return {dev = true}\n' >devlib/sidecar/dev/inspect.lua
SIDECAR_STDLIB_DIR=$work/devlib expect_run "SIDECAR_STDLIB_DIR loads modules from disk" 0 '^true\n$' '' \
  -- "$S" -e 'print(require("sidecar.dev.inspect").dev)'
expect_run "embedded stdlib otherwise" 0 '^nil\n$' '' -- "$S" -e 'print(require("sidecar.dev.inspect").dev)'

# --- sidecar test ------------------------------------------------------------------------------
mkdir -p specs/nested
cat >specs/good_spec.lua <<'LUA'
local test = require("sidecar.dev.test")
test.describe("math", function()
  test.it("adds", function() test.expect(1 + 1):equals(2) end)
end)
LUA
cat >specs/nested/more_spec.lua <<'LUA'
local test = require("sidecar.dev.test")
test.it("top level", function() test.expect("abc"):contains("b") end)
LUA
cat >bad_spec.lua <<'LUA'
local test = require("sidecar.dev.test")
test.it("fails", function() test.expect({a = {1, 2}}):equals({a = {1, 3}}) end)
test.it("passes", function() test.expect(true):is_true() end)
LUA
expect_run "test: passing specs" 0 '2 passed, 0 failed\n$' '' -- "$S" test specs
expect_run "test: failures are shown and fail the run" 1 \
  'FAIL fails\n    bad_spec\.lua:2: values differ at \.a\[2\]: expected 3, got 2.*1 passed, 1 failed\n$' '' \
  -- "$S" test bad_spec.lua
expect_run "test: --filter" 0 '^1 passed, 0 failed\n$' '' -- "$S" test specs --filter adds
expect_run "test: verbose lists tests" 0 'ok   math > adds' '' -- "$S" test -v specs
expect_run "test: missing path" 2 '' 'no such file or directory: nope' -- "$S" test nope
mkdir -p empty_dir
expect_run "test: no spec files" 1 '' 'no \*_spec\.lua files found' -- "$S" test empty_dir
expect_run "test --help: what a spec file made under a temporary name goes" 0 \
  'temporary name \(os\.tmpname, test\.temp_dir\) is removed' '' -- "$S" test --help
expect_run "test: a filter matching nothing fails" 1 '' 'no tests ran' -- "$S" test specs --filter zzz

finish
