local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local json = require("sidecar.core.json")
local json_extract = require("sidecar.core.json_extract")
local schema = require("sidecar.preset.schema")

local answers = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "../fixtures/schema/answers.lua")
local fixture = answers.fixture

local SEVERITIES = { "critical", "high", "medium", "low", "info" }

local FINDINGS = {
  type = "object",
  fields = {
    findings = {
      type = "array", required = true, min_items = 1,
      items = {
        type = "object",
        fields = {
          file = { type = "string", required = true },
          line = { type = "integer", min = 1 },
          severity = { type = "string", enum = SEVERITIES, required = true },
          claim = { type = "string", non_empty = true, required = true },
        },
      },
    },
  },
}

local problems_of = answers.problems_of

describe("schema.check", function()
  it("accepts a value that matches", function()
    expect(schema.check({ findings = { { file = "a.c", line = 3, severity = "high", claim = "x" } } }, FINDINGS)):is_true()
    expect(schema.check(json.decode('{"findings": [{"file": "a.c", "severity": "info", "claim": "x"}]}'), FINDINGS))
      :is_true()
  end)

  it("collects every problem, with nested paths counted from 1", function()
    local value = { findings = {
      { file = "a.c", line = 3, severity = "high", claim = "fine" },
      { file = "b.c", line = "12", severity = "urgent", claim = "  " },
      { line = 0, severity = "low", claim = "x", extra = true },
    } }
    expect(problems_of(value, FINDINGS)):equals({
      { path = "findings[2].claim", message = 'expected a non-empty string, got "  "' },
      { path = "findings[2].line", message = 'expected an integer, got "12"' },
      { path = "findings[2].severity", message = 'expected one of critical, high, medium, low, info, got "urgent"' },
      { path = "findings[3].file", message = "required field missing" },
      { path = "findings[3].line", message = "expected an integer >= 1, got 0" },
      { path = "findings[3].extra", message = "unknown field (known: claim, file, line, severity)" },
    })
  end)

  it("checks each type and says what it got", function()
    local cases = {
      { { type = "string" }, 3, "expected a string, got 3" },
      { { type = "integer" }, 12.0, "expected an integer, got 12.0" },
      { { type = "integer" }, "7", 'expected an integer, got "7"' },
      { { type = "number" }, "1.5", 'expected a number, got "1.5"' },
      { { type = "number", min = 0, max = 1 }, 1.5, "expected a number between 0 and 1, got 1.5" },
      { { type = "integer", max = 10 }, 11, "expected an integer <= 10, got 11" },
      { { type = "boolean" }, "true", 'expected true or false, got "true"' },
      { { type = "enum", enum = { "a", "b" } }, "c", 'expected one of a, b, got "c"' },
      { { type = "enum", enum = { 1, 2 } }, 3, "expected one of 1, 2, got 3" },
      { { type = "array" }, { a = 1 }, "expected an array, got an object" },
      { { type = "array" }, json.decode("{}"), "expected an array, got an object" },
      { { type = "object" }, { 1, 2 }, "expected an object, got an array" },
      { { type = "object" }, json.decode("[]"), "expected an object, got an array" },
      { { type = "object" }, { 1, x = 2 }, "expected an object, got a table with mixed keys" },
      { { type = "string" }, json.null, "expected a string, got null" },
      { { type = "string" }, nil, "expected a string, got nothing" },
      { { type = "string", pattern = "^%u" }, "lower", 'expected a string matching ^%u, got "lower"' },
      { { type = "string", pattern = "^%u", what = "a capitalised subject" }, "lower",
        'expected a capitalised subject, got "lower"' },
      { { type = "integer" }, ("x"):rep(100), 'expected an integer, got "' .. ("x"):rep(57) .. '..."' },
      { { type = "integer" }, "two\nlines", 'expected an integer, got "two\\nlines"' },
    }
    for _, c in ipairs(cases) do
      local problems = problems_of(c[2], c[1])
      expect({ c[1].type, problems }):equals({ c[1].type, { { path = "", message = c[3] } } })
    end
  end)

  it("accepts an empty table as an empty array or object", function()
    expect(schema.check({}, { type = "array" })):is_true()
    expect(schema.check({}, { type = "object" })):is_true()
    expect(schema.check(json.decode("[]"), { type = "array" })):is_true()
  end)

  it("counts items", function()
    expect(problems_of({}, FINDINGS)):equals({ { path = "findings", message = "required field missing" } })
    expect(problems_of({ findings = {} }, FINDINGS))
      :equals({ { path = "findings", message = "expected at least 1 item, got 0" } })
    expect(problems_of({ 1, 2, 3 }, { type = "array", max_items = 2 }))
      :equals({ { path = "", message = "expected at most 2 items, got 3" } })
  end)

  it("treats null as absent on optional fields, unless the field is required", function()
    local spec = { type = "object", fields = { a = { type = "string" }, b = { type = "string", required = true } } }
    expect(problems_of(json.decode('{"a": null, "b": null}'), spec))
      :equals({ { path = "b", message = "required field is null" } })
    local nullable = { type = "array", items = { type = "integer", nullable = true } }
    expect(schema.check(json.decode("[1, null, 3]"), nullable)):is_true()
    expect(problems_of(json.decode("[1, null]"), { type = "array", items = { type = "integer" } }))
      :equals({ { path = "[2]", message = "expected an integer, got null" } })
  end)

  it("allows unknown fields only with additional = true", function()
    local spec = { type = "object", fields = { a = { type = "integer" } } }
    expect(problems_of({ a = 1, b = 2, ["odd key"] = 3 }, spec)):equals({
      { path = "b", message = "unknown field (known: a)" },
      { path = '["odd key"]', message = "unknown field (known: a)" },
    })
    spec.additional = true
    expect(schema.check({ a = 1, b = 2 }, spec)):is_true()
  end)

  it("runs a cross-field check once the value is otherwise clean", function()
    local calls = 0
    local spec = { type = "object", fields = { from = { type = "integer" }, to = { type = "integer" } },
      check = function(v)
        calls = calls + 1
        if v.to < v.from then
          return "ends before it starts", "to"
        end
      end }
    expect(problems_of({ range = { from = 5, to = 2 } }, { type = "object", fields = { range = spec } }))
      :equals({ { path = "range.to", message = "ends before it starts" } })
    expect(problems_of({ from = "5", to = 2 }, spec)):equals({ { path = "from", message = 'expected an integer, got "5"' } })
    expect(calls):equals(1)
  end)

  it("raises on a bad spec", function()
    expect(function() schema.check(1, "integer") end):raises("schema.check: spec must be a table, got string")
    expect(function() schema.check(1, { type = "int" }) end)
      :raises('schema.check: bad spec at the top: unknown type "int" (types: object, array, string, integer')
    expect(function() schema.check({ a = 1 }, { type = "object", fields = { a = { type = "enum" } } }) end)
      :raises("bad spec at a: type enum needs an `enum` list")
    expect(function() schema.check({ 1 }, { type = "array", items = {} }) end):raises("bad spec at [1]: unknown type nothing")
  end)
end)

describe("schema.format_problems", function()
  it("writes one line per problem and cuts long lists", function()
    expect(schema.format_problems({
      { path = "findings[2].severity", message = 'expected one of a, b, got "c"' },
      { path = "", message = "the answer is empty" },
    })):equals('- findings[2].severity: expected one of a, b, got "c"\n- (the whole answer): the answer is empty')
    local many = {}
    for i = 1, 25 do
      many[i] = { path = "x[" .. i .. "]", message = "bad" }
    end
    local text = schema.format_problems(many)
    expect(select(2, text:gsub("\n", ""))):equals(20)
    expect(text):contains("- x[20]: bad\n- ... and 5 more")
    expect(function() schema.format_problems("x") end):raises("expected a list of problems")
  end)
end)

describe("schema.formats.findings", function()
  it("is the reviewers' answer that merge.combine reads", function()
    local value = assert(json_extract.extract(fixture("messy_answer.md")))
    expect(schema.check(value, schema.formats.findings)):is_true()
    local merge = require("sidecar.preset.merge")
    local merged = merge.combine({ { provenance = { worker = "w1" }, findings = value.findings } })
    expect(#merged):equals(2)
    expect(merged[2].line):is_nil()
  end)
end)
