local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect

local errors = require("sidecar.core.errors")
local json = require("sidecar.core.json")

-- Where-prefix this file gives for `line`.
local function at(line)
  return "errors_spec.lua:" .. line .. ": "
end

-- Ends with the where-prefix of `line` (short_src may carry a directory before the name).
local function where_matches(where, line)
  expect(where):matches("errors_spec%.lua:" .. line .. ": $")
end

-- The helpers below assign before returning: `return errors.new(...)` would be a tail call,
-- and a tail call's frame is gone, so level 1 would name the caller's line instead.

describe("errors.new", function()
  it("builds a table with code, message and context fields", function()
    local e = errors.new("bad_input", "it broke", { line = 3, path = "$.a" })
    expect(e.code):equals("bad_input")
    expect(e.message):equals("it broke")
    expect(e.line):equals(3)
    expect(e.path):equals("$.a")
  end)

  it("copies context fields rather than keeping the context table", function()
    local context = { n = 1 }
    local e = errors.new("c", "m", context)
    context.n = 2
    expect(e.n):equals(1)
    expect(e):not_equals(context)
  end)

  it("accepts no context", function()
    local e = errors.new("c", "m")
    expect(e.code):equals("c")
    expect(e.message):equals("m")
  end)

  it("at level 1 (the default) names the line that calls new", function()
    local function make() local e = errors.new("c", "m"); return e end
    local line = debug.getinfo(make, "S").linedefined
    where_matches(make().where, line)
    local function make1() local e = errors.new("c", "m", nil, 1); return e end
    where_matches(make1().where, debug.getinfo(make1, "S").linedefined)
  end)

  it("at level 2 names the line that called the function calling new", function()
    local function make() local e = errors.new("c", "m", nil, 2); return e end
    local e = make(); local line = debug.getinfo(1, "l").currentline
    where_matches(e.where, line)
  end)

  it("at level 0 has no position", function()
    local e = errors.new("c", "plain", nil, 0)
    expect(e.where):is_nil()
    expect(tostring(e)):equals("plain")
  end)

  it("prints as where .. message", function()
    local function make() local e = errors.new("c", "it broke"); return e end
    local line = debug.getinfo(make, "S").linedefined
    local text = tostring(make())
    expect(text):matches(at(line):gsub("%.", "%%.") .. "it broke$")
  end)

  it("prints a message that is not a string through tostring", function()
    expect(tostring(errors.new("c", 42, nil, 0))):equals("42")
  end)

  it("is named sidecar.error", function()
    expect(getmetatable(errors.new("c", "m")).__name):equals("sidecar.error")
  end)
end)

describe("errors.raise", function()
  it("raises the error table itself, not a string", function()
    local ok, err = pcall(errors.raise, "c", "boom", { path = "$" })
    expect(ok):is_false()
    expect(type(err)):equals("table")
    expect(err.code):equals("c")
    expect(err.message):equals("boom")
    expect(err.path):equals("$")
  end)

  it("at level 1 names the line that calls raise", function()
    local function fail() errors.raise("c", "boom") end
    local line = debug.getinfo(fail, "S").linedefined
    local ok, err = pcall(fail)
    expect(ok):is_false()
    where_matches(err.where, line)
    -- error() adds no second position: the string form is exactly where .. message
    expect(tostring(err)):equals(err.where .. "boom")
  end)

  it("at level 2 names the line that called the function calling raise", function()
    local function check(v) if not v then errors.raise("c", "v is required", nil, 2) end end
    local function caller() check(nil); return true end
    local line = debug.getinfo(caller, "S").linedefined
    local ok, err = pcall(caller)
    expect(ok):is_false()
    where_matches(err.where, line)
  end)

  it("at level 0 raises an error without position", function()
    local ok, err = pcall(errors.raise, "c", "boom", nil, 0)
    expect(ok):is_false()
    expect(tostring(err)):equals("boom")
  end)

  it("is what json.decode raises, pointing at its caller", function()
    local function bad() local v = json.decode("{"); return v end
    local line = debug.getinfo(bad, "S").linedefined
    local ok, err = pcall(bad)
    expect(ok):is_false()
    expect(errors.is(err, "json_decode")):is_true()
    where_matches(err.where, line)
  end)
end)

describe("errors.is", function()
  it("recognises stdlib errors, optionally of a code", function()
    local e = errors.new("json_decode", "m")
    expect(errors.is(e)):is_true()
    expect(errors.is(e, "json_decode")):is_true()
    expect(errors.is(e, "other")):is_false()
  end)

  it("rejects everything else", function()
    expect(errors.is("json_decode")):is_false()
    expect(errors.is(nil)):is_false()
    expect(errors.is({ code = "c", message = "m" })):is_false()
    expect(errors.is({ code = "c", message = "m" }, "c")):is_false()
    expect(errors.is(setmetatable({}, { __name = "sidecar.error" }))):is_false()
  end)

  it("recognises raised errors caught by pcall", function()
    local ok, err = pcall(errors.raise, "c", "m")
    expect(ok):is_false()
    expect(errors.is(err, "c")):is_true()
  end)
end)

describe("errors.messages", function()
  it("reads an envelope's errors, text or {message}, in order", function()
    expect(errors.messages({ ok = false, errors = { "plain", { code = "usage", message = "bad flag" } } }))
      :equals({ "plain", "bad flag" })
  end)
  it("gives no messages for anything that is not an envelope with errors", function()
    expect(errors.messages({ ok = true, data = {} })):equals({})
    expect(errors.messages({ errors = "not a list" })):equals({})
    expect(errors.messages("text")):equals({})
    expect(errors.messages(nil)):equals({})
  end)
end)
