-- help() of the REPL (stdlib/sidecar/dev/help.lua): the public API's reference compiled into the
-- binary (docs/lua-api.md), by module, by "module.function" and by the function or module itself.
local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local help = require("sidecar.dev.help")
local json = require("sidecar.core.json")
local merge = require("sidecar.preset.merge")
local sidecar = require("sidecar")

describe("help", function()
  it("lists every public module with the first sentence of its description", function()
    local text = help.text()
    for short in pairs(sidecar.public) do
      expect(text):contains("\n  " .. short .. " ")
    end
    expect(text):contains("\n  json_extract    The JSON value in an agent's answer")
  end)

  it("gives a function's documentation by its name or by the function itself", function()
    local by_name = help.text("merge.combine")
    expect(by_name:sub(1, 30)):equals("`merge.combine(lists, opts)`\n\n")
    expect(by_name):contains("returns `table[]` merged")
    expect(help.text(merge.combine)):equals(by_name)
    expect(help.text(json.decode)):contains("Decodes JSON text.")
    expect(help.text("Dir:write")):contains("`Dir:write(path, text, durability)`")
  end)

  it("gives a module's description and its functions by its name or its table", function()
    local text = help.text("merge")
    expect(text:sub(1, 27)):equals("merge: sidecar.preset.merge")
    expect(text):contains("\nFunctions:\n")
    expect(text):contains("\n  merge.combine")
    expect(help.text(merge)):equals(text)
  end)

  it("says so when there is nothing under a name", function()
    expect({ help.text("merge.nope") }):equals({ nil,
      "help: nothing is documented as \"merge.nope\" (help() lists the modules; help(\"merge\") a module's functions)" })
    local none, why = help.text(print)
    expect(none):is_nil()
    expect(why):contains("it is not one of the public API's")
  end)
end)
