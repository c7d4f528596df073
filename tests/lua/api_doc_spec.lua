local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local api_doc = require("sidecar.dev.api_doc")

local SOURCE = [[
--- A module.
---
---   local m = require("m")
local M = {}

---Adds.
---@param a integer  the first
---@param opts? {x?: integer, y: string}  options, which
---continue here
---@return integer sum, string? why
function M.add(a, opts)
end

local function hidden() end

function M._private() end

---@class Thing  a thing
---@field name string  its name
---@field run fun(ctx: table): string[]  what it runs

function Thing:go(x,
    y)
end

M.alias = other.fn
M.CONST = 3
---A documented value.
M.DOC = {}
---@param text string
M.encode = host.encode
return M
]]

describe("api_doc.parse", function()
  local parsed = api_doc.parse(SOURCE)
  local by = {}
  for _, item in ipairs(parsed.items) do
    by[item.name] = item
  end

  it("reads the head comment", function()
    expect(parsed.head[1]):equals("A module.")
    expect(parsed.head[3]):equals("  local m = require(\"m\")")
  end)

  it("reads a function's text, params (bracketed types, continued lines) and returns", function()
    local add = by.add
    expect(add.kind):equals("function")
    expect(add.args):equals("a, opts")
    expect(add.doc.text[1]):equals("Adds.")
    expect(add.doc.tags[2].type):equals("{x?: integer, y: string}")
    expect(add.doc.tags[2].text):equals("options, which continue here")
    expect(add.doc.tags[3].type):equals("integer")
    expect(add.doc.tags[3].text):equals("sum, string? why")
  end)

  it("leaves out local and _private functions and undocumented constants", function()
    expect(by.hidden):is_nil()
    expect(by._private):is_nil()
    expect(by.CONST):is_nil()
  end)

  it("reads classes, methods across lines, aliases, documented values and functions", function()
    expect(by.Thing.kind):equals("class")
    expect(by.Thing.doc.tags[3].type):equals("fun(ctx: table): string[]")
    expect(by.go.owner):equals("Thing")
    expect(by.go.args):equals("x, y")
    expect(by.alias.kind):equals("value")
    expect(by.DOC.kind):equals("value")
    expect(by.encode.kind):equals("function")
    expect(by.encode.args):equals("text")
  end)
end)
