#!/usr/bin/env bash
# End-to-end: under --json every command answers with one envelope {ok, version, command, data,
# errors[]} on stdout, on success or failure, a command line that cannot be parsed included, and a
# failure has at least one error with a code and a message. The commands come from their own
# declarations (sidecar.cli.completion's model: the tables in cli/*_command.cpp and the commands
# main.cpp declares), so a new command is walked without being listed here.
set -u
. "$(dirname "$0")/lib.sh"
cd "$work"
export HOME="$work/home" XDG_CONFIG_HOME="$work/home/.config"
mkdir -p "$HOME"

"$S" -e 'local m = require("sidecar.cli.completion").model()
  local paths = {} for p in pairs(m) do if p ~= "" then paths[#paths + 1] = p end end
  table.sort(paths) print(table.concat(paths, "\n"))' >paths

# check_envelope NAME FILE WANT_COMMAND WANT_CODE: FILE holds exactly one envelope (nothing else) for
# WANT_COMMAND; a failure has errors, each with a code and a message (the first's code WANT_CODE
# when given). Prints nothing and returns 0 when it does, else why.
cat >check.lua <<'LUA'
local json = require("sidecar.core.json")
local file, want_command, want_code = arg[1], arg[2], arg[3]
local f = assert(io.open(file, "rb")) local text = f:read("a") f:close()
local ok, e = pcall(json.decode, text)
if not ok or type(e) ~= "table" then print("stdout is not one JSON document: " .. text:sub(1, 200)) os.exit(1) end
for _, k in ipairs({ "ok", "version", "command", "data", "errors" }) do
  if e[k] == nil then print("no " .. k) os.exit(1) end
end
if e.command ~= want_command then print(("command %q, expected %q"):format(tostring(e.command), want_command)) os.exit(1) end
if type(e.ok) ~= "boolean" or type(e.errors) ~= "table" then print("ok or errors of the wrong type") os.exit(1) end
if not e.ok and #e.errors == 0 then print("a failure without errors") os.exit(1) end
for _, err in ipairs(e.errors) do
  if type(err) ~= "table" or type(err.code) ~= "string" or err.code == "" or type(err.message) ~= "string"
      or err.message == "" then
    print("an error without a code and a message: " .. json.encode(err)) os.exit(1)
  end
end
if want_code ~= "" and (e.ok or e.errors[1].code ~= want_code) then
  print(("first error code %s, expected %s"):format(tostring(e.errors[1] and e.errors[1].code), want_code)) os.exit(1)
end
LUA
check_envelope() { "$S" script "$work/check.lua" "$2" "$3" "${4:-}"; }

walked=0
while read -r path; do
  walked=$((walked + 1))
  # shellcheck disable=SC2086
  set -- $path
  # 1. A command line that cannot be parsed: the envelope, code "usage", exit 2 (hook: always 0).
  status=0
  "$S" "$@" --json --no-such-flag <"$work/empty" >parse.out 2>parse.err || status=$?
  why=$(check_envelope "$path" parse.out "$path" usage)
  want=2
  [ "$path" = hook ] && want=0
  [ "$status" = "$want" ] || why="$why exit $status, expected $want"
  [ -s parse.err ] && why="$why; stderr: $(head -c 200 parse.err)"
  if [ -z "$why" ]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL $path --json --no-such-flag: $why"; fi

  # 2. As it is, in an empty folder (no store, no repository): an envelope whatever happens.
  rm -rf empty-dir && mkdir empty-dir
  status=0
  (cd empty-dir && timeout 60 "$S" "$@" --json <"$work/empty" >../plain.out 2>../plain.err) || status=$?
  why=$(check_envelope "$path" plain.out "$path" "")
  [ "$status" = 124 ] && why="$why (timed out)"
  if [ -z "$why" ]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL $path --json: $why"; fi
done <paths
eq "commands walked (at least the 50 declared today)" yes "$([ "$walked" -ge 50 ] && echo yes)"

# No hidden command: every subcommand --help lists, at every level, is one the walk covered.
hidden=""
for parent in "" $(cat paths); do
  # shellcheck disable=SC2086
  for sub in $("$S" $parent --help 2>/dev/null | sed -n '/^Subcommands:/,/^$/p' | grep -oP '^  \K[a-z][a-z-]*'); do
    grep -qx "${parent:+$parent }$sub" paths || hidden="$hidden '${parent:+$parent }$sub'"
  done
done
eq "every command --help lists was walked (none hidden)" "" "$hidden"

# The envelope names an unknown command's failure, and a Lua error escaping a command.
expect_run "an unknown command under --json" 2 '"command": "sidecar",.*"code": "usage",\s*"message": "unknown command .frobnicate.' \
  '^$' -- "$S" frobnicate --json
expect_run "script --json: returned values and printed text" 0 \
  '"output": "hi\\t1\\n",\s*"returned": \[\s*3,\s*"x"\s*\].*"ok": true' '^$' \
  -- sh -c "printf 'print(\"hi\", 1) return 3, \"x\"' >r.lua && '$S' script --json r.lua"
expect_run "script --json: a raised error is a script_error with its traceback" 1 \
  '"traceback": "e\.lua:1: boom\\nstack traceback:.*"code": "script_error",\s*"message": "e\.lua:1: boom"' '^$' \
  -- sh -c "printf 'error(\"boom\")' >e.lua && '$S' script --json e.lua"
mkdir -p specs
cat >specs/two_spec.lua <<'EOF'
local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
describe("two", function()
  it("passes", function() print("noise from a spec") expect(1):equals(1) end)
  it("fails", function() expect(1):equals(2) end)
end)
EOF
expect_run "test --json: counts, each failure, the specs' output in data" 1 \
  '"failed": 1,\s*"failures": \[\s*\{\s*"message": "specs/two_spec\.lua:5: expected 2, got 1",\s*"name": "two > fails".*"output": "noise from a spec\\n.*"passed": 1.*"code": "test_failed"' \
  '^$' -- "$S" test --json specs
expect_run "test --json: nothing ran is a failure" 1 '"code": "no_tests"' '^$' -- "$S" test --json --filter nomatch specs
finish
