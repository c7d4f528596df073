-- docs/security.md's table of what an agent can read, write, reach, leave and use is the one the
-- hostile tests check: each row names in its last column ("Tried by") the cases that try it, as
-- `hostile_edges: setup on the agent's script` (the test file's stem, then the case's name as the
-- test gives it to hostile_case). This spec reads the names out of tests/e2e/hostile_*_test.sh,
-- expanding what the shell would (for loops, assignments, ${x%%…}, arrays, a wrapper's "$1" from
-- its calls), and fails on a name no test has, on a test file no row names, and on a missing or
-- empty table. A test file that records no hostile_case (hostile_bytes) is named by its checks
-- (the first argument of eq and expect_run). In a name of the table, `*` stands for any text and
-- must match at least one case. SIDECAR_SECURITY_REPORT=1 prints every case and whether a row
-- names it.
local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local paths = require("sidecar.host.paths")

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local hostile_cases = dofile(here .. "hostile_cases.lua")
local ROOT = here .. "../.."
local DOC = "docs/security.md"
local KINDS = { read = true, write = true, reach = true, leave = true, use = true }
local NONE = "none yet" -- a row no hostile case tries yet
local WILD = hostile_cases.WILD
local case_names = hostile_cases.case_names

-- The hostile tests and the doc ---------------------------------------------------------------

-- A name as an anchored Lua pattern, the character `wild` standing for any text.
local function pattern_of(s, wild)
  local out = {}
  for c in s:gmatch(".") do
    out[#out + 1] = c == wild and ".+" or (c:match("[%^%$%(%)%%%.%[%]%*%+%-%?]") and "%" .. c) or c
  end
  return "^" .. table.concat(out) .. "$"
end

-- Whether `name` (of the table) is one of `cases`: equal, or matched by a case holding WILD; a
-- name with `*` must match at least one case.
local function names_a_case(name, cases)
  local star = name:find("*", 1, true)
  local want = star and pattern_of(name, "*")
  for _, c in ipairs(cases) do
    if star then
      if not c.name:find(WILD, 1, true) and c.name:match(want) then
        return true
      end
    elseif c.name == name or (c.name:find(WILD, 1, true) and name:match(pattern_of(c.name, WILD))) then
      return true
    end
  end
  return false
end

local read = require("sidecar.core.files").read

---The hostile test files: {stem = "hostile_edges", path = "tests/e2e/hostile_edges_test.sh", cases}.
local function hostile_tests(root)
  local list = {}
  for _, name in ipairs(paths.entries(root .. "/tests/e2e") or {}) do
    local stem = name:match("^(hostile_[%w_]+)_test%.sh$")
    if stem then
      local text = read(root .. "/tests/e2e/" .. name) or ""
      local cases = case_names(text, { "hostile_case" })
      local checks = #cases == 0
      if checks then -- no hostile_case: its checks are its cases
        cases = case_names(text, { "eq", "expect_run" })
      end
      list[#list + 1] = { stem = stem, path = "tests/e2e/" .. name, cases = cases, checks = checks }
    end
  end
  return list
end

-- A table row's cells, split at the `|`s outside `code`.
local function cells(line)
  local out, cur, code = {}, {}, false
  for c in line:gmatch(".") do
    if c == "`" then
      code = not code
    end
    if c == "|" and not code then
      out[#out + 1] = table.concat(cur):match("^%s*(.-)%s*$")
      cur = {}
    else
      cur[#cur + 1] = c
    end
  end
  out[#out + 1] = table.concat(cur):match("^%s*(.-)%s*$")
  table.remove(out, 1) -- before the first |
  if out[#out] == "" then
    table.remove(out)
  end
  return out
end

---The table of the doc: the first whose header starts with Kind and ends with Tried by. Returns
---{header, rows = {{line, kind, what, tried = {{stem, name}}, cells}}} or nil.
---@param doc string
local function the_table(doc)
  local lines, n = {}, 0
  for line in (doc .. "\n"):gmatch("([^\n]*)\n") do
    n = n + 1
    lines[n] = line
  end
  for k = 1, n do
    local head = lines[k]:match("^|") and cells(lines[k])
    if head and head[1] == "Kind" and head[#head] == "Tried by" then
      local t = { header = head, line = k, rows = {} }
      local j = k + 2 -- past the | --- | line
      while lines[j] and lines[j]:match("^|") do
        local c = cells(lines[j])
        local row = { line = j, kind = c[1], what = c[2], cells = c, tried_text = c[#c], tried = {} }
        for span in (row.tried_text or ""):gmatch("`([^`]*)`") do
          local stem, name = span:match("^(hostile_[%w_]+): (.+)$")
          row.tried[#row.tried + 1] = { stem = stem, name = name, text = span }
        end
        t.rows[#t.rows + 1] = row
        j = j + 1
      end
      return t
    end
  end
  return nil
end

---What is wrong with the doc's table against the hostile tests (nothing: {}), each saying where.
---@param doc string|nil  the doc's text
---@param tests table[]  hostile_tests(...)
local function problems(doc, tests)
  local out = {}
  if not doc then
    return { DOC .. ": no such file" }
  end
  local t = the_table(doc)
  if not t then
    return { DOC .. ": no table whose first column is Kind and last Tried by" }
  end
  if #t.rows == 0 then
    return { ("%s:%d: the table has no rows"):format(DOC, t.line) }
  end
  local by_stem, named = {}, {}
  for _, f in ipairs(tests) do
    by_stem[f.stem] = f
  end
  for _, row in ipairs(t.rows) do
    local where = ("%s:%d"):format(DOC, row.line)
    if #row.cells ~= #t.header then
      out[#out + 1] = ("%s: %d cells, the header has %d"):format(where, #row.cells, #t.header)
    end
    if not KINDS[row.kind or ""] then
      out[#out + 1] = ("%s: kind '%s' is none of read, write, reach, leave, use"):format(where, tostring(row.kind))
    end
    local rest = (row.tried_text or ""):gsub("`[^`]*`", ""):gsub("[,%s]", "")
    if row.tried_text ~= NONE and (rest ~= "" or #row.tried == 0) then
      out[#out + 1] = ("%s: Tried by is '%s': cases in backquotes (`hostile_<area>: <case>`), or '%s'"):format(
        where, tostring(row.tried_text), NONE)
    end
    for _, c in ipairs(row.tried) do
      local f = c.stem and by_stem[c.stem]
      if not c.stem then
        out[#out + 1] = ("%s: `%s` is not `hostile_<area>: <case>`"):format(where, c.text)
      elseif not f then
        out[#out + 1] = ("%s: no test tests/e2e/%s_test.sh, for case '%s'"):format(where, c.stem, c.name)
      elseif not names_a_case(c.name, f.cases) then
        local known = {}
        for k, kc in ipairs(f.cases) do
          known[k] = kc.name:gsub(WILD, "…")
        end
        out[#out + 1] = ("%s: no case '%s' in %s (its %s: %s)"):format(where, c.name, f.path,
          f.checks and "checks" or "cases", table.concat(known, "; "))
      else
        named[c.stem] = true
      end
    end
  end
  for _, f in ipairs(tests) do
    if #f.cases == 0 then
      out[#out + 1] = ("%s: no case found (no hostile_case, eq or expect_run call)"):format(f.path)
    elseif not named[f.stem] then
      out[#out + 1] = ("%s: no row of %s's table (line %d) names a case of it"):format(f.path, DOC, t.line)
    end
  end
  return out
end

-- The specs ------------------------------------------------------------------------------------

local function names(script, commands)
  local out = {}
  for _, c in ipairs(case_names(script, commands or { "hostile_case" })) do
    out[#out + 1] = (c.name:gsub(WILD, "*"))
  end
  table.sort(out)
  return out
end

describe("reading case names out of a hostile test", function()
  it("takes a literal name, and one built in nested for loops (a list in a variable split)", function()
    expect(names([[
hostile_case "setup on the agent's script" prevented
modes="bwrap off"
[ "${X:-}" = off ] && modes=off && echo "SKIP" # a comment's ' does not open a quote
for mode in $modes; do
  for evil in push \
    hook; do
    if [ -z "$why" ]; then hostile_case "$evil ($mode)" prevented; else hostile_case "$evil ($mode)" silent; fi
  done
done
]])):equals({ "hook (bwrap)", "hook (off)", "push (bwrap)", "push (off)", "setup on the agent's script" })
  end)

  it("follows a wrapper's $1 (and a local set from it) to its calls", function()
    expect(names([[
verdict() { if [ -z "$2" ]; then hostile_case "$1" prevented; else hostile_case "$1" silent "$2"; fi; }
hostile() {
  local evil=$1 level=${2:-workspace-write}
  hostile_case "$evil" prevented
}
for evil in read-ssh read-aws; do
  hostile "$evil"
done
hostile write-main read-only
verdict objects "$(secret_objects)"
]])):equals({ "objects", "read-aws", "read-ssh", "write-main" })
  end)

  it("expands ${x%%…}, ${x#…}, an array's elements and an associative array's keys", function()
    expect(names([[
secret=KEY-$RANDOM
for what in "ssh key through a link:$secret" "git credentials:GIT credential"; do
  hostile_case "home: ${what%%:*}" prevented
done
SEQS=(
  'conceal|\033[8m'
  'csi8|\302\233'"2J"
)
for entry in "${SEQS[@]}"; do
  name=${entry%%|*} seq=${entry#*|}
  for view in run tail; do hostile_case "$name in $view" prevented; done
done
declare -A KIND
KIND[github]="ghp_$(rnd 36)"
KIND[name-token]=$(rnd 24)
for k in "${!KIND[@]}"; do hostile_case "$k" prevented; done
]])):equals({ "conceal in run", "conceal in tail", "csi8 in run", "csi8 in tail", "github",
      "home: git credentials", "home: ssh key through a link", "name-token" })
  end)

  it("skips here-documents, and leaves what it cannot tell as any text", function()
    expect(names([[
cat >"$work/agent.sh" <<'SH'
hostile_case "inside a here-document" prevented
SH
hostile_case "a run of $(date)" prevented
]])):equals({ "a run of *" })
  end)

  it("reads checks' names where a test has no hostile_case", function()
    expect(names([[
expect_run "latin-1 answer: the run ends in review" 0 "^R" "" -- "$S" run T-0001
for d in claude codex; do eq "$d: usage" 120 "$(field)"; done
]], { "eq", "expect_run" })):equals({ "claude: usage", "codex: usage", "latin-1 answer: the run ends in review" })
  end)
end)

describe("checking the table", function()
  local tests = { { stem = "hostile_a", path = "tests/e2e/hostile_a_test.sh",
    cases = { { name = "one" }, { name = "two (bwrap)" }, { name = "home: " .. WILD } } },
    { stem = "hostile_b", path = "tests/e2e/hostile_b_test.sh", cases = { { name = "x" } } } }
  local head = "| Kind | What | Read-only run | Tried by |\n| --- | --- | --- | --- |\n"

  it("passes a table naming cases of every test", function()
    expect(problems(head .. "| read | a | hidden | `hostile_a: one`, `hostile_a: two (*)` |\n"
      .. "| leave | b | killed | `hostile_b: x`, `hostile_a: home: ssh` |\n| use | c | bounded | none yet |\n", tests))
      :equals({})
  end)

  it("names the line and the file of a case no test has, and a test no row names", function()
    expect(problems(head .. "| read | a | hidden | `hostile_a: bogus` |\n", tests)):equals({
      "docs/security.md:3: no case 'bogus' in tests/e2e/hostile_a_test.sh (its cases: one; two (bwrap); home: …)",
      "tests/e2e/hostile_a_test.sh: no row of docs/security.md's table (line 1) names a case of it",
      "tests/e2e/hostile_b_test.sh: no row of docs/security.md's table (line 1) names a case of it" })
  end)

  it("refuses a missing or empty table, an unknown kind or test, and a Tried by that names nothing", function()
    expect(problems("# Security\n", tests)):equals({ "docs/security.md: no table whose first column is Kind and last Tried by" })
    expect(problems(head, tests)):equals({ "docs/security.md:1: the table has no rows" })
    local p = problems(head .. "| see | a | hidden | `hostile_c: x`, `hostile_a: *nothing*` |\n| read | b | c | |\n",
      tests)
    expect(p[1]):equals("docs/security.md:3: kind 'see' is none of read, write, reach, leave, use")
    expect(p[2]):equals("docs/security.md:3: no test tests/e2e/hostile_c_test.sh, for case 'x'")
    expect(p[3]):matches("^docs/security%.md:3: no case '%*nothing%*' in tests/e2e/hostile_a_test%.sh")
    expect(p[4]):equals("docs/security.md:4: Tried by is '': cases in backquotes (`hostile_<area>: <case>`), or 'none yet'")
  end)
end)

describe(DOC, function()
  local tests = hostile_tests(ROOT)

  it("finds the hostile tests, and a name for each case, never wholly unknown", function()
    expect(#tests > 0):is_true()
    local unknown = {}
    for _, f in ipairs(tests) do
      for _, c in ipairs(f.cases) do
        if c.name:gsub(WILD, "") == "" then
          unknown[#unknown + 1] = ("%s:%d: a case whose name the text does not tell"):format(f.path, c.line)
        end
      end
    end
    expect(unknown):equals({})
  end)

  it("has one table of what an agent can read, write, reach, leave and use, tried by the hostile tests", function()
    local found = problems(read(ROOT .. "/" .. DOC), tests)
    if #found > 0 then -- one a line, as they are (an expectation would quote them)
      error(("%d in %s's table:\n%s"):format(#found, DOC, table.concat(found, "\n")), 0)
    end
  end)

  if os.getenv("SIDECAR_SECURITY_REPORT") then -- every case, and whether the table names it
    local t = the_table(read(ROOT .. "/" .. DOC) or "") or { rows = {} }
    for _, f in ipairs(tests) do
      for _, c in ipairs(f.cases) do
        local cited = false
        for _, row in ipairs(t.rows) do
          for _, tc in ipairs(row.tried) do
            cited = cited or (tc.stem == f.stem and names_a_case(tc.name, { c }))
          end
        end
        io.write(("%-8s %s | %s\n"):format(cited and "named" or "unnamed", f.stem, (c.name:gsub(WILD, "…"))))
      end
    end
  end
end)
