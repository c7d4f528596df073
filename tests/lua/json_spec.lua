local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect

local json = require("sidecar.core.json")
local errors = require("sidecar.core.errors")

-- Decode then encode: the text a document becomes after a trip through Lua.
local function round_trip(text, opts)
  return json.encode(json.decode(text), opts)
end

-- nil for valid UTF-8, else where it breaks (so a failure shows the byte).
local function utf8_problem(s)
  local n, bad = utf8.len(s)
  if n then
    return nil
  end
  return ("invalid UTF-8 at byte %d of %d"):format(bad, #s)
end

-- The error a function raises (the test fails when it raises none).
local function error_of(fn) return expect(fn):raises() end

describe("json.null", function()
  it("is the value json.decode gives for null", function()
    expect(json.decode("null")):is(json.null)
    expect(json.decode("[null]")[1]):is(json.null)
    expect(json.decode('{"a":null}').a):is(json.null)
  end)

  it("is a unique userdata that prints as json.null", function()
    expect(type(json.null)):equals("userdata")
    expect(tostring(json.null)):equals("json.null")
  end)

  it("is shared by every require of host.json", function()
    expect(require("sidecar.host.json").null):is(json.null)
  end)

  it("cannot have its metatable replaced", function()
    expect(getmetatable(json.null)):equals("json.null is read-only")
  end)

  it("encodes as null, alone and inside containers", function()
    expect(json.encode(json.null)):equals("null")
    expect(json.encode({ 1, json.null, 3 })):equals("[1,null,3]")
    expect(json.encode({ a = json.null })):equals('{"a":null}')
  end)

  it("keeps object members whose value is null", function()
    local obj = json.decode('{"a":null,"b":1}')
    expect(obj.a):is(json.null)
    expect(json.encode(obj)):equals('{"a":null,"b":1}')
  end)
end)

describe("json round trip", function()
  it("keeps nested empty arrays and objects apart", function()
    local text = '{"a":[],"b":{},"c":[{}],"d":null}'
    expect(round_trip(text)):equals(text)
  end)

  it("reproduces nested documents exactly", function()
    local docs = {
      "[]",
      "{}",
      "[[]]",
      "[{}]",
      '{"a":{"b":{"c":[]}}}',
      '[1,-2,3.5,"x",true,false,null,[],{}]',
      '{"list":[{"id":1,"tags":[]},{"id":2,"tags":["a","b"]}],"meta":{"count":2,"next":null}}',
      '[[[[[[1]]]]],{"x":[{"y":[{"z":{}}]}]}]',
      '{"e":"caf\u{e9} \u{2713}","esc":"a\\"b\\\\c\\n"}',
    }
    for _, text in ipairs(docs) do
      expect(round_trip(text)):equals(text)
    end
  end)

  it("accepts whitespace around tokens and writes compact text", function()
    expect(round_trip(' {\n\t"b" : [ 1 , 2 ] ,\r\n "a" : { } } ')):equals('{"a":{},"b":[1,2]}')
  end)

  it("marks decoded containers so a mutated decode still has its shape", function()
    local arr, obj = json.decode("[]"), json.decode("{}")
    expect(json.is_array(arr)):is_true()
    expect(json.is_object(obj)):is_true()
    arr[1] = "x"
    obj.k = 1
    expect(json.encode(arr)):equals('["x"]')
    expect(json.encode(obj)):equals('{"k":1}')
  end)

  it("encodes scalars at the top level", function()
    expect(json.encode(true)):equals("true")
    expect(json.encode(false)):equals("false")
    expect(json.encode("x")):equals('"x"')
    expect(json.encode(nil)):equals("null")
    expect(json.decode("true")):is_true()
    expect(json.decode(' "x" ')):equals("x")
  end)

  it("keeps the last value of a duplicate key", function()
    expect(json.decode('{"a":1,"a":2}').a):equals(2)
    expect(json.encode(json.decode('{"a":1,"b":0,"a":[3]}'))):equals('{"a":[3],"b":0}')
  end)
end)

describe("json numbers", function()
  it("keeps integers as integers", function()
    local v = json.decode("2")
    expect(math.type(v)):equals("integer")
    expect(json.encode(v)):equals("2")
    expect(json.encode(2)):equals("2")
    expect(json.encode(-17)):equals("-17")
    -- inside containers too (checked by math.type, not by equals)
    local arr = json.decode("[1,2.0]")
    expect(math.type(arr[1])):equals("integer")
    expect(math.type(arr[2])):equals("float")
  end)

  it("keeps floats as floats, 2.0 written as 2.0", function()
    local v = json.decode("2.0")
    expect(math.type(v)):equals("float")
    expect(v):equals(2.0)
    expect(json.encode(v)):equals("2.0")
    expect(json.encode(2.0)):equals("2.0")
    expect(round_trip("[2.0,2]")):equals("[2.0,2]")
  end)

  it("reads exponents as floats", function()
    expect(math.type(json.decode("1e2"))):equals("float")
    expect(json.decode("1E2")):equals(100.0)
    expect(json.decode("-2.5e-3")):equals(-0.0025)
  end)

  it("writes the shortest text that reads back as the same float", function()
    expect(json.encode(0.1)):equals("0.1")
    expect(json.encode(-1.5)):equals("-1.5")
    expect(json.encode(1e300)):equals("1e+300")
    expect(json.encode(2 ^ 53)):equals("9007199254740992.0")
    for _, f in ipairs({ 0.1, 1 / 3, 1e-7, 5e-324, 1.7976931348623157e308, 123456789.125, -2 ^ 60 }) do
      local back = json.decode(json.encode(f))
      expect(math.type(back)):equals("float")
      expect(back == f):is_true()
    end
  end)

  it("keeps the sign of -0.0", function()
    expect(json.encode(-0.0)):equals("-0.0")
    local v = json.decode("-0.0")
    expect(math.type(v)):equals("float")
    expect(1 / v):equals(-math.huge)
    expect(round_trip("[-0.0,0.0]")):equals("[-0.0,0.0]")
  end)

  it("holds the int64 extremes exactly", function()
    local max, min = json.decode("9223372036854775807"), json.decode("-9223372036854775808")
    expect(max):equals(math.maxinteger)
    expect(min):equals(math.mininteger)
    expect(math.type(max)):equals("integer")
    expect(math.type(min)):equals("integer")
    expect(json.encode(math.maxinteger)):equals("9223372036854775807")
    expect(json.encode(math.mininteger)):equals("-9223372036854775808")
    expect(round_trip("[9223372036854775807,-9223372036854775808]"))
      :equals("[9223372036854775807,-9223372036854775808]")
  end)

  it("turns integers beyond int64 into the nearest float", function()
    local above = json.decode("9223372036854775808")
    expect(math.type(above)):equals("float")
    expect(above):equals(2.0 ^ 63)
    local below = json.decode("-9223372036854775809")
    expect(math.type(below)):equals("float")
    expect(below):equals(-(2.0 ^ 63))
    -- beyond uint64 as well
    local huge = json.decode("18446744073709551616")
    expect(math.type(huge)):equals("float")
    expect(huge):equals(2.0 ^ 64)
  end)

  it("refuses NaN and infinities, naming the path", function()
    expect(function() json.encode(0 / 0) end):raises("cannot encode NaN at $")
    expect(function() json.encode(math.huge) end):raises("cannot encode infinity at $")
    expect(function() json.encode(-math.huge) end):raises("cannot encode infinity at $")
    expect(function() json.encode({ x = { 1, 0 / 0 } }) end):raises("NaN at $.x[2]")
  end)

  it("reports a number too large for a float as a decode error, in its own words", function()
    local err = error_of(function() json.decode("[1e400]") end)
    expect(errors.is(err, "json_decode")):is_true()
    expect(err.line):equals(1)
    expect(err.message):contains("number overflow")
    -- the decoder strips nlohmann's "[json.exception...]" prefix from its other messages
    local stripped = err.message:gsub("%[json%.exception[^%]]*%] ?", "")
    expect(err.message):equals(stripped)
  end)
end)

describe("json objects", function()
  it("writes keys in byte order", function()
    expect(json.encode({ b = 1, a = 2, ab = 3, B = 4, ["\u{e9}"] = 5, z = 6, ["1"] = 7, _ = 8 }))
      :equals('{"1":7,"B":4,"_":8,"a":2,"ab":3,"b":1,"z":6,"\u{e9}":5}')
  end)

  it("sorts decoded objects on encode", function()
    expect(round_trip('{"z":1,"a":{"y":2,"b":3},"M":4}')):equals('{"M":4,"a":{"b":3,"y":2},"z":1}')
  end)

  it("writes an unmarked empty table as {}", function()
    expect(json.encode({})):equals("{}")
    expect(json.encode({ list = {} })):equals('{"list":{}}')
  end)
end)

describe("json.array and json.object", function()
  it("mark explicit empties", function()
    expect(json.encode(json.array())):equals("[]")
    expect(json.encode(json.object())):equals("{}")
    expect(json.encode({ a = json.array(), o = json.object() })):equals('{"a":[],"o":{}}')
  end)

  it("mark and return the table given", function()
    local t = { 1, 2 }
    expect(json.array(t)):is(t)
    expect(json.is_array(t)):is_true()
    expect(json.encode(t)):equals("[1,2]")
    local o = { a = 1 }
    expect(json.object(o)):is(o)
    expect(json.is_object(o)):is_true()
    expect(json.encode(o)):equals('{"a":1}')
  end)

  it("are recognised by is_array / is_object and nothing else", function()
    expect(json.is_array(json.decode("[1]"))):is_true()
    expect(json.is_object(json.decode("[1]"))):is_false()
    expect(json.is_object(json.decode('{"a":1}'))):is_true()
    expect(json.is_array(json.decode('{"a":1}'))):is_false()
    expect(json.is_array({ 1, 2 })):is_false()
    expect(json.is_object({})):is_false()
    expect(json.is_array("[]")):is_false()
    expect(json.is_object(nil)):is_false()
    expect(json.is_array(json.null)):is_false()
  end)

  it("refuse contents that contradict the mark", function()
    expect(function() json.encode(json.array({ a = 1 })) end):raises('array (json.array) has string key "a" at $')
    expect(function() json.encode(json.object({ 1 })) end):raises("object (json.object) has integer keys")
    expect(function() json.encode({ x = json.array({ 1, nil, 3 }) }) end):raises("sparse array")
  end)
end)

describe("json.encode errors", function()
  it("names the path of a mixed table", function()
    local err = error_of(function() json.encode({ a = { 1, x = 2 } }) end)
    expect(err):contains("mixed table")
    expect(err):contains("at $.a")
  end)

  it("names the path of a sparse array and hints at json.null", function()
    local err = error_of(function() json.encode({ a = { 1, nil, 3 } }) end)
    expect(err):contains("sparse array")
    expect(err):contains("use json.null for holes")
    expect(err):contains("at $.a")
  end)

  it("detects cycles", function()
    local t = {}
    t.x = { t }
    local err = error_of(function() json.encode(t) end)
    expect(err):contains("cycle")
    expect(err):contains("$.x[1]")
  end)

  it("writes a table shared without a cycle once per use", function()
    local shared = { 1 }
    expect(json.encode({ a = shared, b = shared })):equals('{"a":[1],"b":[1]}')
  end)

  it("names the path of values JSON cannot hold, with 1-based indices", function()
    expect(function() json.encode({ a = { 1, 2, { b = print } } }) end)
      :raises("cannot encode a function value at $.a[3].b")
    expect(function() json.encode({ co = coroutine.create(print) }) end)
      :raises("cannot encode a thread value at $.co")
    expect(function() json.encode({ io.stdout }) end):raises("cannot encode a userdata value at $[1]")
    expect(function() json.encode({ ["a b"] = { print } }) end):raises('at $["a b"][1]')
  end)

  it("refuses keys that are not strings or positive integers", function()
    expect(function() json.encode({ [true] = 1 }) end):raises("table key of type boolean")
    expect(function() json.encode({ [1.5] = 1 }) end):raises("table key of type float")
    expect(function() json.encode({ [0] = 1 }) end):raises("table key of type integer (below 1)")
    expect(function() json.encode({ [{}] = 1 }) end):raises("table key of type table")
    expect(function() json.encode({ a = { [false] = 1 } }) end):raises("at $.a")
  end)

  it("refuses invalid UTF-8 in strings and keys", function()
    expect(function() json.encode("x\xffy") end):raises("invalid UTF-8 in string (byte 2) at $")
    expect(function() json.encode({ a = { "ok", "\xc3" } }) end):raises("invalid UTF-8 in string (byte 1) at $.a[2]")
    local err = error_of(function() json.encode({ ["k\xff"] = 1 }) end)
    expect(err):contains("invalid UTF-8")
    -- the message must not carry the broken bytes itself
    expect(utf8_problem(err)):is_nil()
  end)

  it("keeps error messages valid UTF-8 however long the path", function()
    -- a key of 600 two-byte characters makes the message longer than 1 KiB
    for _, prefix in ipairs({ "x", "xx" }) do
      local key = prefix .. string.rep("\u{e9}", 600)
      local err = error_of(function() json.encode({ [key] = print }) end)
      expect(err):contains("cannot encode a function value")
      expect(utf8_problem(err)):is_nil()
    end
  end)

  it("points at the caller's line", function()
    local function bad() local s = json.encode({ print }); return s end
    local line = debug.getinfo(bad, "S").linedefined
    local err = error_of(bad)
    expect(err):matches("json_spec%.lua:" .. line .. ": json%.encode: ")
  end)

  it("refuses nesting deeper than json.max_depth", function()
    local function nested(levels)
      local root = {}
      local t = root
      for _ = 2, levels do
        t[1] = {}
        t = t[1]
      end
      return root
    end
    expect(#json.encode(nested(1000))):equals(2000)
    expect(function() json.encode(nested(1001)) end):raises("nesting deeper than 1000")
  end)

  it("checks the indent option", function()
    expect(function() json.encode({}, { indent = 17 }) end):raises("indent must be 0..16")
    expect(function() json.encode({}, { indent = -1 }) end):raises("indent must be 0..16")
    expect(function() json.encode({}, "2") end):raises()
  end)
end)

describe("json.encode indent", function()
  it("writes one element per line, empties stay short", function()
    expect(json.encode({ b = { 1, 2 }, a = {} }, { indent = 2 }))
      :equals('{\n  "a": {},\n  "b": [\n    1,\n    2\n  ]\n}')
  end)

  it("indents nested objects in arrays", function()
    local value = { a = { json.object({ x = json.array() }), 2.5 }, z = json.null }
    expect(json.encode(value, { indent = 2 }))
      :equals('{\n  "a": [\n    {\n      "x": []\n    },\n    2.5\n  ],\n  "z": null\n}')
    expect(json.encode({ 1 }, { indent = 4 })):equals("[\n    1\n]")
  end)

  it("is compact with indent 0 and round trips through decode", function()
    local text = '{"a":[1,{"b":null}],"c":"d"}'
    expect(json.encode(json.decode(text), { indent = 0 })):equals(text)
    expect(json.encode(json.decode(round_trip(text, { indent = 3 })))):equals(text)
  end)
end)

describe("json strings", function()
  it("escapes quotes, backslashes and control characters", function()
    expect(json.encode('q"b\\c')):equals('"q\\"b\\\\c"')
    expect(json.encode("\1\n\t\r\b\f\31")):equals('"\\u0001\\n\\t\\r\\b\\f\\u001f"')
    expect(json.encode("a\0b")):equals('"a\\u0000b"')
  end)

  it("round trips every escaped character", function()
    local s = 'q"b\\c\1d\ne\tf\r\b\f\0g\127'
    expect(json.decode(json.encode(s))):equals(s)
    expect(json.decode('"\\/"')):equals("/")
    local nul = json.decode('"a\\u0000b"')
    expect(#nul):equals(3)
    expect(json.encode(nul)):equals('"a\\u0000b"')
  end)

  it("passes unicode through unescaped", function()
    local s = "caf\u{e9} \u{2713} \u{1F600}"
    expect(json.encode(s)):equals('"' .. s .. '"')
    expect(json.decode('"' .. s .. '"')):equals(s)
  end)

  it("decodes \\u escapes and surrogate pairs to UTF-8", function()
    expect(json.decode('"\\u00e9"')):equals("\u{e9}")
    expect(json.decode('"\\u00E9"')):equals("\xc3\xa9")
    expect(json.decode('"\\ud83d\\ude00"')):equals("\u{1F600}")
    expect(json.decode('"\\ud83d\\ude00"')):equals("\xf0\x9f\x98\x80")
    expect(json.encode(json.decode('"\\u2713"'))):equals('"\u{2713}"')
  end)

  it("refuses a lone surrogate", function()
    local err = error_of(function() json.decode('"\\ud83d"') end)
    expect(errors.is(err, "json_decode")):is_true()
    expect(err.message):contains("surrogate")
  end)
end)

describe("json.decode errors", function()
  it("raises a json_decode error with line and column", function()
    local err = error_of(function() json.decode('{\n  "a": 1,\n  "b": x\n}') end)
    expect(errors.is(err, "json_decode")):is_true()
    expect(err.code):equals("json_decode")
    expect(err.line):equals(3)
    expect(err.column):equals(8) -- the x
    expect(tostring(err)):contains("line 3, column 8")
  end)

  it("points at the offending token on other lines and columns", function()
    local err = error_of(function() json.decode("[1,\n 2,\n\t]") end)
    expect({ err.line, err.column }):equals({ 3, 2 })
    err = error_of(function() json.decode('{"a" 1}') end)
    expect({ err.line, err.column }):equals({ 1, 6 })
    err = error_of(function() json.decode("[1,]") end)
    expect({ err.line, err.column }):equals({ 1, 4 })
  end)

  it("refuses empty input", function()
    local err = error_of(function() json.decode("") end)
    expect({ err.line, err.column }):equals({ 1, 1 })
    expect(err.message):contains("unexpected end of input")
  end)

  it("refuses trailing garbage", function()
    local err = error_of(function() json.decode("[1] x") end)
    expect(errors.is(err, "json_decode")):is_true()
    expect({ err.line, err.column }):equals({ 1, 5 })
    expect(function() json.decode("{} {}") end):raises("invalid JSON")
  end)

  it("refuses trailing garbage after a NUL byte", function()
    -- a Lua string may hold "\0"; it is not the end of the text
    expect(function() json.decode("[1]\0 garbage") end):raises("invalid JSON")
    expect(function() json.decode('{"a":1}\0{"b":2}') end):raises("invalid JSON")
  end)

  it("points at the caller's line", function()
    local function bad() local v = json.decode("[x"); return v end
    local line = debug.getinfo(bad, "S").linedefined
    local err = error_of(bad)
    expect(tostring(err)):matches("^[^\n]*json_spec%.lua:" .. line .. ": invalid JSON at line 1, column 2")
  end)

  it("refuses arguments that are not strings", function()
    expect(function() json.decode(5) end):raises("json.decode: expected a string, got number")
    expect(function() json.decode(nil) end):raises("expected a string, got nil")
    expect(function() json.decode({}) end):raises("got table")
  end)

  it("reports invalid UTF-8 with its position, in a valid UTF-8 message", function()
    local cases = {
      { '["a\xffb"]', 1, 4 },
      { '{"k\xff":1}', 1, 4 },
      { '"\xc3"', 1, 3 },
      { "\xff", 1, 1 },
      { "[1,\n2,\n\xe2\x82]", 3, 1 },
    }
    for _, case in ipairs(cases) do
      local err = error_of(function() json.decode(case[1]) end)
      expect(errors.is(err, "json_decode")):is_true()
      expect({ err.line, err.column }):equals({ case[2], case[3] })
      expect(utf8_problem(err.message)):is_nil()
      expect(utf8_problem(tostring(err))):is_nil()
    end
  end)
end)

describe("json nesting limit", function()
  it("is 1000 levels", function()
    expect(json.max_depth):equals(1000)
  end)

  it("decodes exactly 1000 levels", function()
    local text = string.rep("[", 1000) .. string.rep("]", 1000)
    expect(round_trip(text)):equals(text)
    local objects = string.rep('{"a":', 999) .. "[]" .. string.rep("}", 999)
    expect(round_trip(objects)):equals(objects)
  end)

  it("refuses 1001 levels at the bracket that goes too deep", function()
    local err = error_of(function() json.decode(string.rep("[", 1001) .. string.rep("]", 1001)) end)
    expect(err.message):contains("nesting deeper than 1000 levels")
    expect({ err.line, err.column }):equals({ 1, 1001 })
    err = error_of(function() json.decode(string.rep('{"a":', 1001) .. "1" .. string.rep("}", 1001)) end)
    expect(err.message):contains("nesting deeper than 1000 levels")
    expect(err.column):equals(5001)
  end)

  it("raises (does not crash) on 100 000 levels", function()
    local err = error_of(function() json.decode(string.rep("[", 100000)) end)
    expect(errors.is(err, "json_decode")):is_true()
    expect(tostring(err)):contains("nesting deeper than 1000 levels")
    err = error_of(function() json.decode(string.rep('{"k":[', 50000)) end)
    expect(tostring(err)):contains("nesting deeper than 1000 levels")
  end)
end)

describe("json at scale", function()
  it("round trips a ~100 MB document exactly", function()
    -- Records are encoded one by one (so the text is canonical: sorted keys, compact) and joined
    -- into one array; decoding and re-encoding it must give back the very same bytes.
    local pad = string.rep("lorem ipsum dolor sit amet ", 12)
    local parts, size, n = {}, 0, 0
    while size < 100 * 1024 * 1024 do
      n = n + 1
      local rec = json.encode({
        id = n, score = n / 8, neg = -n, ok = n % 2 == 0, none = json.null,
        name = 'record "' .. n .. '"\n\tcaf\u{e9} \u{2713} \u{1F600}', text = pad,
        tags = { "a", "b", tostring(n) }, empty_a = json.array(), empty_o = json.object(),
        nested = { depth = { { x = 1.5, y = n, big = math.maxinteger } } },
      })
      parts[n] = rec
      size = size + #rec + 1
    end
    local text = "[" .. table.concat(parts, ",") .. "]"
    parts = nil
    expect(#text > 100 * 1024 * 1024):is_true()

    local value = json.decode(text)
    expect(#value):equals(n)
    expect(value[n].id):equals(n)
    expect(math.type(value[n].score)):equals("float")
    local again = json.encode(value)
    value = nil
    -- compare by equality, not equals(): a failure would print 100 MB
    expect(#again):equals(#text)
    expect(again == text):is_true()
    again, text = nil, nil
    collectgarbage()
  end)
end)

describe("json.shape", function()
  it("tells arrays, objects, empty and mixed tables apart, by mark first, then by keys", function()
    expect(json.shape(json.array({}))):equals("array")
    expect(json.shape(json.object({}))):equals("object")
    expect(json.shape({})):equals("empty")
    expect(json.shape({ 1, 2, 3 })):equals("array")
    expect(json.shape({ a = 1, b = 2 })):equals("object")
    expect(json.shape({ 1, nil, 3 })):equals("mixed")
    expect(json.shape({ 1, a = 2 })):equals("mixed")
    expect(json.shape({ [2] = "x" })):equals("mixed")
    expect(json.shape(json.decode("[1, 2]"))):equals("array")
    expect(json.shape(json.decode("{}"))):equals("object")
  end)
end)

describe("json.try_decode", function()
  it("gives true and the value, or false and a json_decode error", function()
    local ok, v = json.try_decode('{"a": [1, 2]}')
    expect(ok):is_true()
    expect(v.a[2]):equals(2)
    local bad, e = json.try_decode('{"a": ')
    expect(bad):is_false()
    expect(e.code):equals("json_decode")
    expect(e.line):equals(1)
    local none, e2 = json.try_decode(nil)
    expect(none):is_false()
    expect(e2.message):equals("json.decode: expected a string, got nil")
  end)

  it("never swallows an interruption that lands in it, as pcall(json.decode) would", function()
    -- The engine interrupts with a hook that raises "interrupted!" at the next call (lua/engine.cpp);
    -- here it lands as the decoder itself is called.
    local decoder = require("sidecar.host.json").decode
    local function interrupted(f)
      debug.sethook(function()
        if debug.getinfo(2, "f").func == decoder then
          debug.sethook()
          error("interrupted!")
        end
      end, "c")
      local ok, err = pcall(f)
      debug.sethook()
      return ok, err
    end
    local ok, err = interrupted(function() return json.try_decode("[1]") end)
    expect(ok):is_false()
    expect(tostring(err)):contains("interrupted!")
    -- what the callers did before: the interruption became a decode failure, and the caller went on
    local swallowed = interrupted(function() return (pcall(json.decode, "[1]")) end)
    expect(swallowed):is_true()
  end)
end)

describe("json.empty_as_arrays", function()
  it("writes the empty tables of data as lists at any depth, keeping a marked object and a cycle", function()
    local data = { findings = {}, nested = { { runs = {} } }, counts = json.object(), full = { a = 1 } }
    data.self = data
    expect(rawequal(json.empty_as_arrays(data), data)):is_true()
    data.self = nil
    expect(json.encode(data)):equals('{"counts":{},"findings":[],"full":{"a":1},"nested":[{"runs":[]}]}')
    expect(json.empty_as_arrays(nil)):is_nil()
    expect(json.encode(json.empty_as_arrays({}))):equals("[]")
  end)
end)
