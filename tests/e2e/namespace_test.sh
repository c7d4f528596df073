#!/usr/bin/env bash
# End-to-end: nothing of Sidecar's shadows a user's own module. Every module of ours is named
# sidecar.<group>.<name>, so a script's require("config") (or json, test, inspect) finds the
# user's file beside it, in `-e`, in a script and in the REPL; the REPL binds the public modules
# to globals of their short names. Usage: namespace_test.sh path/to/sidecar
set -u
S=$1
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

mine=$work/mine
mkdir -p "$mine"
for m in config json test inspect errors proc; do
  printf 'return "mine:%s"\n' "$m" >"$mine/$m.lua"
done
cd "$mine"

for m in config json test inspect; do
  expect_run "-e: require(\"$m\") is the user's $m.lua" 0 "^mine:$m\t\./$m\.lua\n\$" '^$' \
    -- "$S" -e "print(require('$m'))"
done

cat >"$mine/script.lua" <<'EOF'
print(require("config"), require("json"), require("errors"), (require("proc")))
EOF
expect_run "a script's requires find the user's modules" 0 '^mine:config\tmine:json\tmine:errors\tmine:proc\n$' '^$' \
  -- "$S" script script.lua

expect_run "Sidecar's own modules are sidecar.*: the preload holds nothing else of ours" 0 '^none\n$' '^$' \
  -- "$S" -e 'local odd = {}
    for name in pairs(package.preload) do
      if not name:match("^sidecar%.") and name ~= "sidecar" then odd[#odd + 1] = name end
    end
    table.sort(odd)
    print(#odd == 0 and "none" or table.concat(odd, " "))'

expect_run "require('sidecar') gives the public modules by short name" 0 '^\[1,"a"\]\ntrue\n$' '^$' \
  -- "$S" -e 'local sidecar = require("sidecar")
    print(sidecar.json.encode({1, "a"}))
    print(sidecar.proc == require("sidecar.core.proc"))'

stdin_text=$'json.encode({x = 1})\ntype(proc.run), type(inspect), type(merge.combine)\nrequire("json")\n' \
  expect_run "the REPL binds the public modules to globals; require finds the user's" 0 \
  '^"\{\\"x\\":1\}"\n"function"\t"(table|function)"\t"function"\n"mine:json"\t"\./json\.lua"\n$' '^$' \
  -- "$S" repl

finish
