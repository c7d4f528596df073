local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect

local inspect = require("sidecar.dev.inspect")
local json = require("sidecar.core.json")

-- Reads inspect's output back as Lua (the module promises it can be pasted back).
local function read_back(text)
  return assert(load("return " .. text))()
end

describe("inspect scalars", function()
  it("quotes strings with Lua escapes", function()
    expect(inspect.inspect("hello")):equals('"hello"')
    expect(inspect.inspect('say "hi"')):equals('"say \\"hi\\""')
    expect(inspect.inspect("a\\b")):equals('"a\\\\b"')
    expect(inspect.inspect("a\nb\tc\rd")):equals('"a\\nb\\tc\\rd"')
  end)

  it("writes other control characters as three-digit decimal escapes", function()
    expect(inspect.inspect("\0")):equals('"\\000"')
    expect(inspect.inspect("a\1b")):equals('"a\\001b"')
    expect(inspect.inspect("\27[0m")):equals('"\\027[0m"')
    expect(inspect.inspect("\127")):equals('"\\127"')
    -- three digits, so a following digit is not swallowed by the escape
    expect(inspect.inspect("\0" .. "1")):equals('"\\0001"')
  end)

  it("renders every byte so that it reads back as the same string", function()
    local bytes = {}
    for b = 0, 255 do
      bytes[#bytes + 1] = string.char(b)
    end
    local s = table.concat(bytes)
    expect(read_back(inspect.inspect(s))):equals(s)
  end)

  it("writes integers plainly", function()
    expect(inspect.inspect(42)):equals("42")
    expect(inspect.inspect(-7)):equals("-7")
    expect(inspect.inspect(0)):equals("0")
    expect(inspect.inspect(math.maxinteger)):equals("9223372036854775807")
  end)

  it("writes math.mininteger so that it reads back as an integer", function()
    -- "-9223372036854775808" would read back as a float: 9223372036854775808 overflows first
    local back = read_back(inspect.inspect(math.mininteger))
    expect(math.type(back)):equals("integer")
    expect(back == math.mininteger):is_true()
  end)

  it("always shows a fraction or exponent on floats", function()
    expect(inspect.inspect(2.0)):equals("2.0")
    expect(inspect.inspect(0.1)):equals("0.1")
    expect(inspect.inspect(-1.5)):equals("-1.5")
    expect(inspect.inspect(-0.0)):equals("-0.0")
    expect(inspect.inspect(1e100)):equals("1e+100")
    expect(inspect.inspect(2 ^ 53)):equals("9007199254740992.0")
  end)

  it("uses the shortest float text that reads back exactly", function()
    expect(inspect.inspect(1 / 3)):equals("0.3333333333333333")
    for _, f in ipairs({ 0.1, 1 / 3, 2.0, -0.0, 1e-300, 5e-324, 123456.789, 2 ^ 63 }) do
      local back = read_back(inspect.inspect(f))
      expect(math.type(back)):equals("float")
      expect(back == f):is_true()
    end
  end)

  it("names NaN and the infinities", function()
    expect(inspect.inspect(0 / 0)):equals("0/0")
    expect(inspect.inspect(math.huge)):equals("math.huge")
    expect(inspect.inspect(-math.huge)):equals("-math.huge")
  end)

  it("writes booleans, nil, functions and json.null", function()
    expect(inspect.inspect(true)):equals("true")
    expect(inspect.inspect(false)):equals("false")
    expect(inspect.inspect(nil)):equals("nil")
    expect(inspect.inspect(print)):matches("^function: ")
    expect(inspect.inspect(json.null)):equals("json.null")
  end)
end)

describe("inspect tables", function()
  it("writes a sequence on one line", function()
    expect(inspect.inspect({ 1, 2, 3 })):equals("{ 1, 2, 3 }")
    expect(inspect.inspect({ "a", true, 1.5 })):equals('{ "a", true, 1.5 }')
    expect(inspect.inspect({})):equals("{}")
  end)

  it("sorts keys, bare identifiers and bracketed others", function()
    expect(inspect.inspect({ b = 1, a = 2 })):equals("{ a = 2, b = 1 }")
    expect(inspect.inspect({ ["a b"] = 1 })):equals('{ ["a b"] = 1 }')
    expect(inspect.inspect({ [1.5] = true })):equals("{ [1.5] = true }")
    expect(inspect.inspect({ ["1x"] = 1 })):equals('{ ["1x"] = 1 }')
    -- keywords are not identifiers; byte order puts uppercase and _ first
    expect(inspect.inspect({ ["end"] = 1, _x = 2, B = 3, a = 4 })):equals('{ B = 3, _x = 2, a = 4, ["end"] = 1 }')
  end)

  it("orders keys numbers first, then strings, then booleans", function()
    expect(inspect.inspect({ [true] = 1, [false] = 2, [10] = 2, [3] = 1, s = 1 }))
      :equals("{ [3] = 1, [10] = 2, s = 1, [false] = 2, [true] = 1 }")
  end)

  it("writes the sequence part first, then the other keys", function()
    expect(inspect.inspect({ 1, 2, x = 1, y = {} })):equals("{ 1, 2, x = 1, y = {} }")
    expect(inspect.inspect({ "a", [5] = "e", k = "v" })):equals('{ "a", [5] = "e", k = "v" }')
  end)

  it("renders output that reads back as an equal table", function()
    local value = { 1, 2.5, "three", nested = { a = { "x" }, ["b c"] = false }, [10] = -1 }
    expect(read_back(inspect.inspect(value))):equals(value)
  end)
end)

describe("inspect layout", function()
  it("keeps a table on one line up to exactly width columns", function()
    expect(inspect.inspect({ 1, 2, 3 }, { width = 11 })):equals("{ 1, 2, 3 }")
    expect(inspect.inspect({ 1, 2, 3 }, { width = 10 })):equals("{\n  1,\n  2,\n  3\n}")
  end)

  it("breaks only the tables that do not fit", function()
    expect(inspect.inspect({ alpha = { 1, 2, 3 }, beta = "hello world" }, { width = 30 }))
      :equals('{\n  alpha = { 1, 2, 3 },\n  beta = "hello world"\n}')
    expect(inspect.inspect({ list = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 } }, { width = 20 }))
      :equals("{\n  list = {\n    1,\n    2,\n    3,\n    4,\n    5,\n    6,\n    7,\n    8,\n    9,\n    10\n  }\n}")
  end)

  it("uses the indent option", function()
    expect(inspect.inspect({ "x", n = 1 }, { indent = "    ", width = 5 })):equals('{\n    "x",\n    n = 1\n}')
  end)

  it("keeps every line within width when the table can be broken", function()
    -- "  alpha = { 1, 2, 3 }," is 22 columns: the key in front counts too
    local text = inspect.inspect({ alpha = { 1, 2, 3 }, b = 1 }, { width = 16 })
    for line in text:gmatch("[^\n]+") do
      expect(#line <= 16 and "fits" or ("too wide: " .. line)):equals("fits")
    end
  end)

  it("writes a long sequence on one line under the default width of 80", function()
    local t = {}
    for i = 1, 20 do
      t[i] = i
    end
    local one_line = inspect.inspect(t)
    expect(one_line:find("\n", 1, true)):is_nil()
    for i = 21, 40 do
      t[i] = i
    end
    expect(inspect.inspect(t)):contains("\n")
  end)
end)

describe("inspect depth, cycles and sharing", function()
  it("renders tables below the depth limit as {...}", function()
    expect(inspect.inspect({ a = { b = { c = 1 } } }, { depth = 2 })):equals("{ a = { b = {...} } }")
    expect(inspect.inspect({ a = { 1 } }, { depth = 1 })):equals("{ a = {...} }")
    expect(inspect.inspect({ 1 }, { depth = 0 })):equals("{...}")
  end)

  it("defaults to a depth of 8", function()
    local t = { 0 }
    for _ = 1, 9 do
      t = { t }
    end
    -- ten levels: eight shown, the ninth elided
    expect(inspect.inspect(t)):equals(string.rep("{ ", 8) .. "{...}" .. string.rep(" }", 8))
  end)

  it("marks a table inside itself as <cycle>", function()
    local t = {}
    t.self = t
    expect(inspect.inspect(t)):equals("{ self = <cycle> }")
    local a, b = {}, {}
    a.b, b.a = b, a
    expect(inspect.inspect(a)):equals("{ b = { a = <cycle> } }")
  end)

  it("renders a shared table in full each time it appears", function()
    local s = { 1 }
    expect(inspect.inspect({ s, s })):equals("{ { 1 }, { 1 } }")
    expect(inspect.inspect({ x = s, y = { s } })):equals("{ x = { 1 }, y = { { 1 } } }")
  end)
end)

describe("inspect and JSON values", function()
  it("shows empty JSON arrays and objects by their marks", function()
    expect(inspect.inspect(json.array())):equals("json.array()")
    expect(inspect.inspect(json.object())):equals("json.object()")
    expect(inspect.inspect(json.decode('{"a":[],"b":{},"c":null}')))
      :equals("{ a = json.array(), b = json.object(), c = json.null }")
  end)

  it("shows non-empty JSON containers as plain tables", function()
    expect(inspect.inspect(json.decode("[1,2]"))):equals("{ 1, 2 }")
    expect(inspect.inspect(json.decode('{"k":"v"}'))):equals('{ k = "v" }')
  end)
end)

describe("inspect as a function", function()
  it("can be called directly, with or without options", function()
    expect(inspect({ 1 })):equals("{ 1 }")
    expect(inspect("x")):equals('"x"')
    expect(inspect({ a = { 1 } }, { depth = 1 })):equals("{ a = {...} }")
    expect(inspect({ 1, 2, 3 }, { width = 10 })):equals(inspect.inspect({ 1, 2, 3 }, { width = 10 }))
  end)
end)
