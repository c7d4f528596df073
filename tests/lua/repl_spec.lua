local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect

local repl = require("sidecar.dev.repl")

describe("repl.complete", function()
  it("completes fields of global tables", function()
    local got = repl.complete("string.fo")
    expect(got):contains("string.format")
    for _, name in ipairs(got) do
      expect(name:sub(1, 9)):equals("string.fo")
    end
  end)

  it("completes global names", function()
    expect(repl.complete("pri")):contains("print")
    expect(repl.complete("pai")):equals({ "pairs" })
  end)

  it("completes methods through the metatable's __index, functions only", function()
    local class = { greet = function() end, go = function() end, name = "not a method" }
    local env = { obj = setmetatable({ own = function() end }, { __index = class }) }
    expect(repl.complete("obj:g", env)):equals({ "obj:go", "obj:greet" })
    expect(repl.complete("obj:", env)):equals({ "obj:go", "obj:greet" })
  end)

  it("completes string methods on a string value", function()
    expect(repl.complete("s:up", { s = "abc" })):equals({ "s:upper" })
  end)

  it("walks nested tables", function()
    local env = { a = { b = { cat = 1, cow = 2, dog = 3 } } }
    expect(repl.complete("a.b.c", env)):equals({ "a.b.cat", "a.b.cow" })
    expect(repl.complete("a.", env)):equals({ "a.b" })
  end)

  it("returns {} when nothing matches", function()
    expect(repl.complete("zzq_no_such_name")):equals({})
    expect(repl.complete("no_such_table.x")):equals({})
    expect(repl.complete("print.x")):equals({}) -- a function has no fields
    expect(repl.complete("string:fo")):equals({}) -- the string table has no metatable
  end)

  it("returns {} when a lookup on the way raises", function()
    local env = setmetatable({}, { __index = function() error("no lookups here") end })
    expect(repl.complete("x.y", env)):equals({})
  end)

  it("looks names up in a custom environment only", function()
    local env = { xa = 1, xb = 2, y = 3 }
    expect(repl.complete("x", env)):equals({ "xa", "xb" })
    expect(repl.complete("pri", {})):equals({})
  end)

  it("includes globals reached through the environment's __index", function()
    local env = setmetatable({ xa = 1 }, { __index = { xb = 2, xa = 3 } })
    expect(repl.complete("x", env)):equals({ "xa", "xb" })
  end)

  it("offers only identifier keys, sorted", function()
    local env = { t = { zeta = 1, alpha = 2, ["b c"] = 3, [1] = 4, _under = 5 } }
    expect(repl.complete("t.", env)):equals({ "t._under", "t.alpha", "t.zeta" })
  end)
end)

describe("repl.format_results", function()
  it("gives nil when there are no results", function()
    expect(repl.format_results(0)):is_nil()
  end)

  it("joins the inspected results with tabs", function()
    expect(repl.format_results(2, 1, "x")):equals('1\t"x"')
    expect(repl.format_results(1, { 1, a = 2.0 })):equals("{ 1, a = 2.0 }")
  end)

  it("shows nil results, trailing ones included", function()
    expect(repl.format_results(1, nil)):equals("nil")
    expect(repl.format_results(3, nil, 2, nil)):equals("nil\t2\tnil")
  end)
end)
