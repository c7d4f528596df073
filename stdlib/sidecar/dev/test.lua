--- A small spec framework for Lua tests, run by `sidecar test`.
---
---   local test = require("sidecar.dev.test")
---   local describe, it, expect = test.describe, test.it, test.expect
---   describe("json", function()
---     it("keeps floats", function()
---       expect(json.encode(2.0)):equals("2.0")
---     end)
---   end)
---
--- A failed expectation names the spec line and shows both values (and, for tables, the first
--- path where they differ). Any other error in a test fails it with a traceback.
local inspect = require("sidecar.dev.inspect")
local paths = require("sidecar.host.paths")

local M = {}

-- The suite being collected: a tree of groups, each {name, tests, before, after, parent}.
local root, current

local function new_group(name, parent)
  return { name = name, parent = parent, items = {}, before = {}, after = {} }
end

local function reset()
  root = new_group(nil, nil)
  current = root
end
reset()

---Groups tests under a name; groups nest.
---@param name string
---@param body fun()
function M.describe(name, body)
  local group = new_group(name, current)
  table.insert(current.items, group)
  current = group
  local ok, err = xpcall(body, debug.traceback)
  current = group.parent
  if not ok then
    -- An error while collecting is reported as a failing test in that group.
    table.insert(group.items, { name = "(describe block)", load_error = err })
  end
end

---Declares a test.
---@param name string
---@param body fun()
function M.it(name, body)
  table.insert(current.items, { name = name, body = body })
end

---Declares a test that is not written yet (counted as skipped).
---@param name string
function M.pending(name)
  table.insert(current.items, { name = name, pending = true })
end

---Runs `fn` before each test of the current group (and its nested groups).
---@param fn fun()
function M.before_each(fn)
  table.insert(current.before, fn)
end

---Runs `fn` after each test of the current group, even when the test fails.
---@param fn fun()
function M.after_each(fn)
  table.insert(current.after, fn)
end

---A new empty folder of the test's own (its real path, links resolved), under the system's
---temporary folder; removed, with what is in it, once the spec file's tests ran (run_files).
---@return string
function M.temp_dir()
  local dir = os.tmpname()
  os.remove(dir)
  assert(paths.make_dirs(dir))
  return assert(paths.real(dir))
end

---Writes `text` into the file `path` (made, or replaced), byte for byte, making the folders it
---lies in; raises when it cannot.
---@param path string
---@param text string
function M.write(path, text)
  local dir = path:match("^(.*)/[^/]+$")
  if dir and dir ~= "" then
    assert(paths.make_dirs(dir))
  end
  local f = assert(io.open(path, "wb"))
  assert(f:write(text))
  assert(f:close())
end

-- Expectations ------------------------------------------------------------------------------

local Failure = {}
Failure.__index = Failure
Failure.__tostring = function(f)
  return f.message
end

local function fail(message)
  -- Level 3: fail <- the matcher <- the spec line that called it.
  local info = debug.getinfo(3, "Sl")
  local where = info and info.currentline > 0 and (info.short_src .. ":" .. info.currentline .. ": ") or ""
  error(setmetatable({ message = where .. message }, Failure), 0)
end

local function show(v)
  return inspect.inspect(v, { width = 100 })
end

local function key_text(k)
  if type(k) == "string" and k:match("^[%a_][%w_]*$") then
    return "." .. k
  end
  return "[" .. show(k) .. "]"
end

-- First place where a and b differ, as a list of keys ({} for the values themselves), or nil when
-- they are deeply equal. Numbers must also agree in kind: 2 and 2.0 differ. Metatables are ignored.
local function difference(a, b, seen)
  if type(a) == "number" and type(b) == "number" then
    return (a ~= b or math.type(a) ~= math.type(b)) and {} or nil
  end
  if rawequal(a, b) then
    return nil
  end
  if type(a) ~= "table" or type(b) ~= "table" then
    return {}
  end
  seen[a] = seen[a] or {}
  if seen[a][b] then
    return nil
  end
  seen[a][b] = true
  for k, v in pairs(a) do
    local d = difference(v, rawget(b, k), seen)
    if d then
      table.insert(d, 1, k)
      return d
    end
  end
  for k in pairs(b) do
    if rawget(a, k) == nil then
      return { k }
    end
  end
  return nil
end

local function same(a, b)
  return difference(a, b, {}) == nil
end

local function path_text(keys)
  local parts = {}
  for i, k in ipairs(keys) do
    parts[i] = key_text(k)
  end
  return table.concat(parts)
end

local function lookup(v, keys)
  for _, k in ipairs(keys) do
    if type(v) ~= "table" then
      return nil
    end
    v = rawget(v, k)
  end
  return v
end

local Expect = {}
Expect.__index = Expect

---Wraps a value in an expectation.
---@param actual any
function M.expect(actual)
  return setmetatable({ actual = actual }, Expect)
end

---Deep equality (tables by content; integer 2 and float 2.0 are not equal).
function Expect:equals(expected)
  local a = self.actual
  local keys = difference(a, expected, {})
  if keys == nil then
    return self
  end
  if #keys == 0 then
    fail("expected " .. show(expected) .. ", got " .. show(a))
  end
  fail(("values differ at %s: expected %s, got %s\n  expected: %s\n  actual:   %s"):format(
    path_text(keys), show(lookup(expected, keys)), show(lookup(a, keys)), show(expected), show(a)))
end

---Inequality, the opposite of equals.
function Expect:not_equals(unexpected)
  if same(self.actual, unexpected) then
    fail("expected a value other than " .. show(unexpected))
  end
  return self
end

---Identity (rawequal).
function Expect:is(expected)
  if not rawequal(self.actual, expected) then
    fail("expected the very value " .. show(expected) .. ", got " .. show(self.actual))
  end
  return self
end

function Expect:is_true()
  if self.actual ~= true then
    fail("expected true, got " .. show(self.actual))
  end
  return self
end

function Expect:is_false()
  if self.actual ~= false then
    fail("expected false, got " .. show(self.actual))
  end
  return self
end

function Expect:is_nil()
  if self.actual ~= nil then
    fail("expected nil, got " .. show(self.actual))
  end
  return self
end

function Expect:exists()
  if self.actual == nil then
    fail("expected a value, got nil")
  end
  return self
end

---type() or, for numbers, "integer"/"float" as math.type().
function Expect:has_type(name)
  local t = type(self.actual)
  if t ~= name and not (t == "number" and math.type(self.actual) == name) then
    fail(("expected a %s, got %s %s"):format(name, t == "number" and math.type(self.actual) or t, show(self.actual)))
  end
  return self
end

---Lua pattern match on a string.
function Expect:matches(pattern)
  if type(self.actual) ~= "string" or not self.actual:find(pattern) then
    fail(("expected a string matching %s, got %s"):format(show(pattern), show(self.actual)))
  end
  return self
end

---Plain substring of a string, or an element (deeply equal) of a table.
function Expect:contains(needle)
  local a = self.actual
  if type(a) == "string" and type(needle) == "string" then
    if a:find(needle, 1, true) then
      return self
    end
  elseif type(a) == "table" then
    for _, v in pairs(a) do
      if same(v, needle) then
        return self
      end
    end
  end
  fail(("expected %s to contain %s"):format(show(a), show(needle)))
end

---Numbers within `tolerance` (default 1e-9).
function Expect:near(expected, tolerance)
  tolerance = tolerance or 1e-9
  if type(self.actual) ~= "number" or math.abs(self.actual - expected) > tolerance then
    fail(("expected %s within %s, got %s"):format(show(expected), show(tolerance), show(self.actual)))
  end
  return self
end

---The wrapped function must raise; when `substring` is given, the error's text must contain it.
---Returns the error value for further checks.
function Expect:raises(substring)
  if type(self.actual) ~= "function" then
    fail("raises() needs a function, got " .. show(self.actual))
  end
  local ok, err = pcall(self.actual)
  if ok then
    fail("expected an error" .. (substring and (" containing " .. show(substring)) or "") .. ", but none was raised")
  end
  if substring and not tostring(err):find(substring, 1, true) then
    fail(("expected an error containing %s, got %s"):format(show(substring), show(tostring(err))))
  end
  return err
end

-- Running -----------------------------------------------------------------------------------

local function full_name(group, name)
  local parts = { name }
  while group and group.name do
    table.insert(parts, 1, group.name)
    group = group.parent
  end
  return table.concat(parts, " > ")
end

local function hooks(group, field)
  local list = {}
  local chain = {}
  while group do
    table.insert(chain, 1, group)
    group = group.parent
  end
  for _, g in ipairs(chain) do
    for _, fn in ipairs(g[field]) do
      list[#list + 1] = fn
    end
  end
  return list
end

local function run_test(group, item)
  if item.load_error then
    return false, item.load_error
  end
  local failure
  local function handler(err)
    if getmetatable(err) == Failure then
      return err.message
    end
    return debug.traceback(tostring(err), 2)
  end
  for _, fn in ipairs(hooks(group, "before")) do
    local ok, err = xpcall(fn, handler)
    if not ok then
      failure = failure or ("before_each: " .. err)
    end
  end
  if not failure then
    local ok, err = xpcall(item.body, handler)
    if not ok then
      failure = err
    end
  end
  local after = hooks(group, "after")
  for i = #after, 1, -1 do
    local ok, err = xpcall(after[i], handler)
    if not ok then
      failure = failure or ("after_each: " .. err)
    end
  end
  return failure == nil, failure
end

local function run_group(group, opts, counts, out)
  for _, item in ipairs(group.items) do
    if item.items then
      run_group(item, opts, counts, out)
    else
      local name = full_name(group, item.name)
      if opts.filter and not name:find(opts.filter, 1, true) then
        -- filtered out: not counted
      elseif item.pending then
        counts.skipped = counts.skipped + 1
        if opts.verbose then
          out:write("skip ", name, "\n")
        end
      else
        local ok, failure = run_test(group, item)
        if ok then
          counts.passed = counts.passed + 1
          if opts.verbose then
            out:write("ok   ", name, "\n")
          end
        else
          counts.failed = counts.failed + 1
          out:write("FAIL ", name, "\n    ", (failure:gsub("\n", "\n    ")), "\n")
          if opts.failures then
            opts.failures[#opts.failures + 1] = { name = name, message = failure }
          end
        end
      end
    end
  end
end

---Runs spec files and prints each failure and the summary line "N passed, N failed". What a spec
---file made under a name of os.tmpname (M.temp_dir's folders too) is removed once its tests ran.
---@param files string[]
---@param opts? {filter?: string, verbose?: boolean, out?: file*, failures?: table}  failures: a list each
---  failure is added to as {name, message}
---@return {passed: integer, failed: integer, skipped: integer}
function M.run_files(files, opts)
  opts = opts or {}
  local out = opts.out or io.stdout
  local counts = { passed = 0, failed = 0, skipped = 0 }
  local tmpname, taken = os.tmpname, {}
  os.tmpname = function() -- each name a spec file takes (M.temp_dir's too) is removed after it
    local name = tmpname()
    taken[#taken + 1] = name
    return name
  end
  for _, path in ipairs(files) do
    reset()
    local chunk, load_err = loadfile(path)
    local ok, err = false, load_err
    if chunk then
      ok, err = xpcall(chunk, debug.traceback)
    end
    if not ok then
      counts.failed = counts.failed + 1
      out:write("FAIL ", path, " (while loading)\n    ", (tostring(err):gsub("\n", "\n    ")), "\n")
      if opts.failures then
        opts.failures[#opts.failures + 1] = { name = path .. " (while loading)", message = tostring(err) }
      end
    end
    if opts.verbose then
      out:write("# ", path, "\n")
    end
    run_group(root, opts, counts, out)
    for _, name in ipairs(taken) do
      paths.remove_tree(name) -- a link goes, never what it leads to
    end
    taken = {}
  end
  os.tmpname = tmpname
  reset()
  local line = ("%d passed, %d failed"):format(counts.passed, counts.failed)
  if counts.skipped > 0 then
    line = line .. (", %d skipped"):format(counts.skipped)
  end
  out:write(line, "\n")
  out:flush()
  return counts
end

return M
