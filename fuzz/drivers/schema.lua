--- Fuzz driver: an agent's structured answer read and checked (stdlib/sidecar/preset/schema.lua) as the fixtures
--- in tests/fixtures/schema are: the JSON one (extract_json, against the findings format and the
--- other two) and the markdown formats (parse_markdown, against their own). Reading and checking
--- any answer never raises: a missing or wrong value is a list of problems, which format and
--- re-prompt.
local common = require("fuzz.common")
local json = require("sidecar.core.json")
local schema = require("sidecar.preset.schema")

local SPECS = { schema.formats.findings, schema.formats.precommit, schema.formats.personalization }

local function checked(value, spec, what)
  local ok, problems = schema.check(value, spec)
  if ok then
    return
  end
  if type(problems) ~= "table" or #problems == 0 then
    common.fail("%s: check failed without problems", what)
  end
  schema.reprompt(problems, "json")
end

return function(text)
  local value, where = schema.extract_json(text)
  if value == nil then
    if type(where) ~= "string" then
      common.fail("extract_json found nothing without saying why")
    end
  else
    for i, spec in ipairs(SPECS) do
      checked(value, spec, "json answer, spec " .. i)
    end
    schema.describe(value)
    if value ~= json.null and type(value) ~= "table" and type(value) ~= "string" and type(value) ~= "number"
        and type(value) ~= "boolean" then
      common.fail("extract_json returned a %s", type(value))
    end
  end
  for _, format in ipairs({ "precommit", "personalization" }) do
    local report = schema.parse_markdown(text, format)
    if type(report) ~= "table" then
      common.fail("parse_markdown(%s) returned a %s", format, type(report))
    end
    checked(report, schema.formats[format], format)
  end
end
