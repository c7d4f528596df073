local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect

-- Nested suites: each test writes small spec files and runs them with test.run_files, capturing
-- the printed text through a fake writer. run_files resets the module's collected suite; the
-- outer run holds its own reference to the suite it is walking, so this is safe inside an `it`
-- (the "re-entrancy" tests below check that).

local HEADER = 'local test = require("sidecar.dev.test")\nlocal describe, it, expect = test.describe, test.it, test.expect\n'

-- A writer like io.stdout that keeps what is written.
local function writer()
  local chunks = {}
  local out = {}
  function out:write(...)
    for i = 1, select("#", ...) do
      chunks[#chunks + 1] = tostring((select(i, ...)))
    end
    return self
  end
  function out:flush()
    return self
  end
  function out.text()
    return table.concat(chunks)
  end
  return out
end

-- Writes `source` to a temporary file and returns its path.
local function spec_file(source)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(source)
  f:close()
  return path
end

-- Runs the given spec sources (HEADER prepended unless raw) and returns counts, text and paths.
local function run(sources, opts, raw)
  if type(sources) == "string" then
    sources = { sources }
  end
  local paths = {}
  for i, source in ipairs(sources) do
    paths[i] = spec_file(raw and source or (HEADER .. source))
  end
  local out = writer()
  opts = opts or {}
  opts.out = out
  local counts = test.run_files(paths, opts)
  for _, path in ipairs(paths) do
    os.remove(path)
  end
  return counts, out.text(), paths
end

-- Line of `needle` in HEADER .. source (as a spec file reports it).
local function line_of(source, needle)
  local text = HEADER .. source
  local line = 1
  for l in (text .. "\n"):gmatch("(.-)\n") do
    if l:find(needle, 1, true) then
      return line
    end
    line = line + 1
  end
  error("not found: " .. needle)
end

-- The message of a failing matcher call (fails the test when the call passes).
local function failure_of(fn)
  local ok, err = pcall(fn)
  expect(ok):is_false()
  return tostring(err)
end

describe("test.run_files", function()
  it("counts passed, failed and skipped tests and prints the summary", function()
    local counts, text = run([[
describe("s", function()
  it("one", function() expect(1):equals(1) end)
  it("two", function() expect("a"):matches("^a$") end)
  it("three", function() expect(1):equals(2) end)
  test.pending("four")
end)
]])
    expect(counts):equals({ passed = 2, failed = 1, skipped = 1 })
    expect(text):contains("FAIL s > three\n")
    expect(text:sub(-#"2 passed, 1 failed, 1 skipped\n")):equals("2 passed, 1 failed, 1 skipped\n")
  end)

  it("removes what each spec file made under a temporary name once its tests ran", function()
    local counts = run([[
it("makes", function()
  local dir = test.temp_dir()
  test.write(dir .. "/a/b.txt", "x")
  local name = os.tmpname()
  test.write(name, "y")
  _G.TAKEN = { dir, name }
  expect(io.open(dir .. "/a/b.txt")):exists()
end)
]])
    expect(counts.passed):equals(1)
    local taken = _G.TAKEN
    _G.TAKEN = nil
    expect(#taken):equals(2)
    expect(require("sidecar.host.paths").lstat(taken[1])):is_nil()
    expect(require("sidecar.host.paths").lstat(taken[2])):is_nil()
    -- this file's own names stay until it has run
    local mine = os.tmpname()
    expect(require("sidecar.host.paths").lstat(mine)):exists()
  end)

  it("leaves skipped out of the summary when there are none", function()
    local counts, text = run('it("ok", function() expect(true):is_true() end)\n')
    expect(counts):equals({ passed = 1, failed = 0, skipped = 0 })
    expect(text):equals("1 passed, 0 failed\n")
  end)

  it("shows a failing equals with the path, both values and the spec line", function()
    local source = [[
describe("tables", function()
  it("differ", function()
    expect({ a = { 1, 2 } }):equals({ a = { 1, 3 } })
  end)
end)
]]
    local counts, text, paths = run(source)
    expect(counts.failed):equals(1)
    expect(text):contains("FAIL tables > differ\n")
    expect(text):contains("values differ at .a[2]: expected 3, got 2")
    expect(text):contains("expected: { a = { 1, 3 } }")
    expect(text):contains("actual:   { a = { 1, 2 } }")
    local where = paths[1]:match("[^/]+$") .. ":" .. line_of(source, "expect({ a = ")
    expect(text):contains(where .. ": values differ")
  end)

  it("shows an unexpected error with its message and a traceback", function()
    local source = 'it("breaks", function()\n  error("kaboom")\nend)\n'
    local counts, text, paths = run(source)
    expect(counts):equals({ passed = 0, failed = 1, skipped = 0 })
    expect(text):contains("FAIL breaks\n")
    expect(text):contains(paths[1]:match("[^/]+$") .. ":" .. line_of(source, "kaboom") .. ": kaboom")
    expect(text):contains("stack traceback:")
  end)

  it("shows a non-string error value through tostring", function()
    local counts, text = run([[
it("structured", function()
  error(setmetatable({}, { __tostring = function() return "custom error text" end }))
end)
]])
    expect(counts.failed):equals(1)
    expect(text):contains("custom error text")
  end)

  it("joins nested describe names with ' > '", function()
    local counts, text = run([[
describe("a", function()
  describe("b", function()
    describe("c", function()
      it("leaf", function() expect(1):equals(1) end)
    end)
  end)
  it("top", function() expect(1):equals(1) end)
end)
]], { verbose = true })
    expect(counts.passed):equals(2)
    expect(text):contains("ok   a > b > c > leaf\n")
    expect(text):contains("ok   a > top\n")
  end)

  it("runs only the tests whose full name contains the filter, counting no others", function()
    local source = [[
describe("math", function()
  it("adds", function() expect(1 + 1):equals(2) end)
  it("breaks", function() error("should not run") end)
  test.pending("adds later")
end)
it("other adds", function() error("should not run either") end)
]]
    local counts, text = run(source, { filter = "math > adds" })
    expect(counts):equals({ passed = 1, failed = 0, skipped = 1 })
    expect(text):equals("1 passed, 0 failed, 1 skipped\n")
    -- plain text, not a pattern
    counts = run(source, { filter = "math > ad." })
    expect(counts):equals({ passed = 0, failed = 0, skipped = 0 })
  end)

  it("counts pending tests as skipped and lists them when verbose", function()
    local counts, text = run('describe("g", function() test.pending("todo") end)\n', { verbose = true })
    expect(counts):equals({ passed = 0, failed = 0, skipped = 1 })
    expect(text):contains("skip g > todo\n")
    expect(text):contains("0 passed, 0 failed, 1 skipped\n")
  end)

  it("reports a spec file with a syntax error as a failure while loading", function()
    local counts, text, paths = run("local x = = 1\n", nil, true)
    expect(counts):equals({ passed = 0, failed = 1, skipped = 0 })
    expect(text):contains("FAIL " .. paths[1] .. " (while loading)")
    expect(text):contains("unexpected symbol")
  end)

  it("reports a file that raises while loading, and still runs the tests it declared", function()
    local counts, text, paths = run('it("declared first", function() end)\nerror("top-level boom")\n')
    expect(counts):equals({ passed = 1, failed = 1, skipped = 0 })
    expect(text):contains("FAIL " .. paths[1] .. " (while loading)")
    expect(text):contains("top-level boom")
  end)

  it("reports an error inside a describe body as a failure of that group", function()
    local counts, text = run([[
describe("group", function()
  it("before the error", function() expect(true):is_true() end)
  error("describe broke")
  it("never declared", function() end)
end)
describe("next group", function()
  it("still runs", function() end)
end)
]])
    expect(counts):equals({ passed = 2, failed = 1, skipped = 0 })
    expect(text):contains("FAIL group > (describe block)")
    expect(text):contains("describe broke")
  end)

  it("runs several files, adding up their counts, each file's tests once", function()
    local counts, text = run({
      'it("a1", function() end)\nit("a2", function() end)\n',
      'it("b1", function() error("b1 fails") end)\n',
      'test.pending("c1")\n',
    }, { verbose = true })
    expect(counts):equals({ passed = 2, failed = 1, skipped = 1 })
    local _, a1_count = text:gsub("ok   a1\n", "")
    expect(a1_count):equals(1)
  end)

  it("returns the counts table", function()
    local counts = run('it("x", function() end)\n')
    expect(counts.passed):has_type("integer")
    expect(counts.failed):has_type("integer")
    expect(counts.skipped):has_type("integer")
  end)
end)

describe("hooks", function()
  -- The nested specs log into this global (they run in the same Lua state).
  local LOG = "__test_framework_spec_log"

  it("run before_each outer first and after_each inner first, even when the test fails", function()
    _G[LOG] = {}
    local counts = run([[
local log = __test_framework_spec_log
describe("outer", function()
  test.before_each(function() log[#log + 1] = "before outer" end)
  test.after_each(function() log[#log + 1] = "after outer" end)
  describe("inner", function()
    test.before_each(function() log[#log + 1] = "before inner" end)
    test.after_each(function() log[#log + 1] = "after inner" end)
    it("fails", function() log[#log + 1] = "body"; error("boom") end)
  end)
  it("outer only", function() log[#log + 1] = "body 2" end)
end)
]])
    local log = _G[LOG]
    _G[LOG] = nil
    expect(counts):equals({ passed = 1, failed = 1, skipped = 0 })
    expect(log):equals({
      "before outer", "before inner", "body", "after inner", "after outer",
      "before outer", "body 2", "after outer",
    })
  end)

  it("skip the body when before_each fails, and still run after_each", function()
    _G[LOG] = {}
    local counts, text = run([[
local log = __test_framework_spec_log
test.before_each(function() error("setup broke") end)
test.after_each(function() log[#log + 1] = "after" end)
it("guarded", function() log[#log + 1] = "body" end)
]])
    local log = _G[LOG]
    _G[LOG] = nil
    expect(counts.failed):equals(1)
    expect(log):equals({ "after" })
    expect(text):contains("before_each: ")
    expect(text):contains("setup broke")
  end)

  it("fail the test when after_each fails", function()
    local counts, text = run([[
test.after_each(function() error("teardown broke") end)
it("body passes", function() end)
]])
    expect(counts):equals({ passed = 0, failed = 1, skipped = 0 })
    expect(text):contains("after_each: ")
    expect(text):contains("teardown broke")
  end)
end)

describe("re-entrancy", function()
  it("runs a nested suite inside a test", function()
    local counts = run('it("inner", function() expect(1):equals(1) end)\n')
    expect(counts):equals({ passed = 1, failed = 0, skipped = 0 })
  end)

  it("lets a nested suite itself run a suite and then its own remaining tests", function()
    -- middle spec: runs an inner file from inside a test, then has two more tests of its own
    local inner = spec_file(HEADER .. 'it("innermost", function() end)\nit("innermost 2", function() error("x") end)\n')
    local counts, text = run(([[
local sink = { write = function(self) return self end, flush = function(self) return self end }
local inner_counts
describe("middle", function()
  it("runs inner", function()
    inner_counts = test.run_files({ %q }, { out = sink })
    expect(inner_counts.passed):equals(1)
    expect(inner_counts.failed):equals(1)
  end)
  it("after inner", function() expect(inner_counts):exists() end)
end)
it("last of middle", function() end)
]]):format(inner), { verbose = true })
    os.remove(inner)
    expect(counts):equals({ passed = 3, failed = 0, skipped = 0 })
    expect(text):contains("ok   middle > after inner\n")
    expect(text):contains("ok   last of middle\n")
  end)
end)

describe("matchers", function()
  it("report the spec line of the failing expect", function()
    local function bad() expect(1):equals(2) end
    local line = debug.getinfo(bad, "S").linedefined
    expect(failure_of(bad)):matches("test_framework_spec%.lua:" .. line .. ": expected 2, got 1$")
  end)

  it("equals compares tables deeply and ignores metatables", function()
    expect({ a = { 1, { b = "x" } } }):equals({ a = { 1, { b = "x" } } })
    expect(setmetatable({ 1 }, {})):equals({ 1 })
    expect(failure_of(function() expect({ 1, 2 }):equals({ 1 }) end)):contains("values differ at [2]")
    expect(failure_of(function() expect({ 1 }):equals({ 1, 2 }) end)):contains("values differ at [2]")
    expect(failure_of(function() expect("1"):equals(1) end)):contains('expected 1, got "1"')
  end)

  it("equals distinguishes integer 2 from float 2.0", function()
    expect(2):equals(2)
    expect(2.0):equals(2.0)
    expect(failure_of(function() expect(2):equals(2.0) end)):contains("expected 2.0, got 2")
    expect(failure_of(function() expect(2.0):equals(2) end)):contains("expected 2, got 2.0")
  end)

  it("equals distinguishes integer from float inside tables too", function()
    local ok = pcall(function() expect({ 2 }):equals({ 2.0 }) end)
    expect(ok):is_false()
    ok = pcall(function() expect({ a = { n = 1.0 } }):equals({ a = { n = 1 } }) end)
    expect(ok):is_false()
  end)

  it("not_equals is the opposite of equals", function()
    expect({ 1 }):not_equals({ 2 })
    expect(failure_of(function() expect({ 1 }):not_equals({ 1 }) end)):contains("expected a value other than { 1 }")
    -- equals says 2 and 2.0 differ, so not_equals must accept them
    expect(pcall(function() expect(2):not_equals(2.0) end)):is_true()
  end)

  it("is checks identity", function()
    local t = {}
    expect(t):is(t)
    expect(failure_of(function() expect({}):is({}) end)):contains("expected the very value")
  end)

  it("is_true, is_false, is_nil and exists are strict", function()
    expect(true):is_true()
    expect(false):is_false()
    expect(nil):is_nil()
    expect(false):exists()
    expect(failure_of(function() expect(1):is_true() end)):contains("expected true, got 1")
    expect(failure_of(function() expect(nil):is_false() end)):contains("expected false, got nil")
    expect(failure_of(function() expect(false):is_nil() end)):contains("expected nil, got false")
    expect(failure_of(function() expect(nil):exists() end)):contains("expected a value, got nil")
  end)

  it("has_type knows integer and float", function()
    expect(1):has_type("integer")
    expect(1):has_type("number")
    expect(1.0):has_type("float")
    expect({}):has_type("table")
    expect(failure_of(function() expect(1.0):has_type("integer") end)):contains("got float 1.0")
  end)

  it("matches uses Lua patterns", function()
    expect("abc123"):matches("^%a+%d+$")
    expect(failure_of(function() expect("abc"):matches("^%d") end)):contains("expected a string matching")
    expect(failure_of(function() expect(12):matches("1") end)):contains("got 12")
  end)

  it("contains finds plain substrings, not patterns", function()
    expect("a.c"):contains(".")
    expect("100%"):contains("%")
    expect("f(x)"):contains("(x")
    expect(failure_of(function() expect("abc"):contains(".") end)):contains('expected "abc" to contain "."')
  end)

  it("contains finds deeply equal elements of tables", function()
    expect({ 1, "two", { 3 } }):contains("two")
    expect({ 1, "two", { 3 } }):contains({ 3 })
    expect({ k = { a = 1 } }):contains({ a = 1 })
    expect(failure_of(function() expect({ 1, 2 }):contains(3) end)):contains("to contain 3")
    expect(failure_of(function() expect({ "abc" }):contains("b") end)):contains("to contain")
  end)

  it("near compares within a tolerance", function()
    expect(0.1 + 0.2):near(0.3)
    expect(10.5):near(10, 0.5)
    expect(failure_of(function() expect(10.6):near(10, 0.5) end)):contains("expected 10 within 0.5, got 10.6")
    expect(failure_of(function() expect(1.001):near(1) end)):contains("within 1e-09")
    expect(failure_of(function() expect("1"):near(1) end)):contains('got "1"')
  end)

  it("raises returns the error value", function()
    local value = { code = "x" }
    expect(expect(function() error(value) end):raises()):is(value)
    local err = expect(function() error("plain text", 0) end):raises("plain")
    expect(err):equals("plain text")
  end)

  it("raises matches its substring plainly", function()
    expect(function() error("a.b(c)", 0) end):raises("a.b(c")
    expect(failure_of(function() expect(function() error("abc", 0) end):raises("a.c") end))
      :contains('expected an error containing "a.c", got "abc"')
  end)

  it("raises fails when nothing is raised or no function is given", function()
    expect(failure_of(function() expect(function() end):raises() end)):contains("expected an error, but none was raised")
    expect(failure_of(function() expect(function() end):raises("x") end))
      :contains('expected an error containing "x", but none was raised')
    expect(failure_of(function() expect(1):raises() end)):contains("raises() needs a function")
  end)

  it("chain on success", function()
    expect(5):exists():has_type("integer"):equals(5):near(5)
    expect("abc"):matches("b"):contains("c"):not_equals("x")
  end)
end)
