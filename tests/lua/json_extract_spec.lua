local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local json = require("sidecar.core.json")
local json_extract = require("sidecar.core.json_extract")
local schema = require("sidecar.preset.schema")

local answers = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "../fixtures/schema/answers.lua")
local fixture = answers.fixture

describe("json_extract.extract", function()
  local function extract(text)
    return { json_extract.extract(text) }
  end

  it("takes the whole text when it is JSON", function()
    expect(extract('  {"a": 1}\n')):equals({ { a = 1 }, "text" })
    expect(extract("[1, 2]")):equals({ { 1, 2 }, "text" })
    expect(extract("false")):equals({ false, "text" })
    expect(json_extract.extract("null")):is(json.null)
  end)

  it("takes a ```json block out of the prose around it", function()
    expect(extract('Here is my review.\n\n```json\n{"ok": true}\n```\n\nThanks!')):equals({ { ok = true }, "json block" })
    expect(extract('Done:\r\n```JSON\r\n{"ok": true}\r\n```\r\n')):equals({ { ok = true }, "json block" })
    expect(extract('- item\n  ```json\n  {"nested": 1}\n  ```\n')):equals({ { nested = 1 }, "json block" })
  end)

  it("takes the last of two ```json blocks", function()
    local value, where = json_extract.extract(fixture("messy_answer.md"))
    expect(where):equals("json block")
    expect(#value.findings):equals(2)
    expect(value.findings[1].line):equals(42)
    expect(value.findings[2].line):is(json.null)
    expect(schema.check(value, schema.formats.findings)):is_true()
  end)

  it("answers the decode error when the last ```json block is broken", function()
    local value, why = json_extract.extract('```json\n{"a": 1}\n```\nfixed:\n```json\n{"a": 1,}\n```')
    expect(value):is_nil()
    expect(why):matches("^the last ```json block is not valid JSON: invalid JSON at line 1")
  end)

  it("falls back to the last fenced block that decodes, then to a span", function()
    expect(extract("```\n[1]\n```\n```sh\nmake test\n```")):equals({ { 1 }, "block" })
    expect(extract("~~~\n{\"t\": 1}\n~~~")):equals({ { t = 1 }, "block" })
    expect(extract('My answer is {"a": {"b": [1, "}"]}} as requested.')):equals({ { a = { b = { 1, "}" } } }, "span" })
    expect(extract('See [the docs] and {"x": 1}; footnote [1].')):equals({ { x = 1 }, "span" })
    expect(extract('Prose with { an unclosed brace, then [{"k": "v"}] here.')):equals({ { { k = "v" } }, "span" })
    expect(extract("```\nnot json\n```\nbut {\"late\": true}")):equals({ { late = true }, "span" })
  end)

  it("says why when there is no JSON", function()
    expect(extract("I could not finish the review.")):equals({ nil,
      "no JSON found: the answer is not JSON and has no ```json block, fenced block or {...} / [...] that is valid JSON" })
    expect(extract("  \n")):equals({ nil, "the answer is empty" })
    expect(extract(("[x"):rep(5000))[1]):is_nil()
    expect(function() json_extract.extract(nil) end):raises("json_extract.extract: expected a string, got nil")
  end)

  -- json.try_decode (what extract decodes with), counted: the calls and the bytes handed to it
  -- while `f` runs.
  local function decoding(f)
    local real, calls, bytes = json.try_decode, 0, 0
    json.try_decode = function(text, ...)
      calls, bytes = calls + 1, bytes + #text
      return real(text, ...)
    end
    local ok, err = pcall(f)
    json.try_decode = real
    assert(ok, err)
    return calls, bytes
  end

  it("decodes at most twice the text (and 64 KiB) when nested spans each fail at their very end", function()
    local text = ("["):rep(150) .. ("1,"):rep(100000) .. "x" .. ("]"):rep(150) -- 200 KB
    local result
    local _, bytes = decoding(function() result = extract(text) end)
    expect(result[1]):is_nil()
    expect(result[2]):contains("the span search gave up on part of the answer")
    expect(bytes <= 3 * #text + 65536):is_true() -- the whole text once, then at most 2 x + 64 KiB of spans
    -- A span past the budget is passed over whole: a valid one after it is still found.
    local after = ("["):rep(3) .. ("1,"):rep(100000) .. "x" .. ("]"):rep(3) .. ' {"a": 1}'
    expect(extract(after)):equals({ { a = 1 }, "span" })
    expect(extract(("[x] "):rep(10) .. '{"a": 1}')):equals({ { a = 1 }, "span" }) -- and never stops a short one
    expect(extract("[x] [y]")[2]:find("gave up", 1, true)):is_nil()
  end)

  it("decodes no blank fenced block: a flood of empty fences adds no decode of its own", function()
    local result
    local calls = decoding(function() result = extract(("```\n"):rep(2000) .. '{"a": 1}') end)
    expect(result):equals({ { a = 1 }, "span" })
    expect(calls):equals(2) -- the whole text, then the span
  end)
end)
