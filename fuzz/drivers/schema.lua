--- Fuzz driver: an agent's structured answer read and checked as the fixtures in tests/fixtures/schema
--- are: the JSON one (sidecar.core.json_extract, checked by sidecar.preset.schema against the findings
--- format and the other two) and the markdown formats (sidecar.formats.precommit and
--- .personalization parse, against their own spec). Reading and checking any answer never raises:
--- a missing or wrong value is a list of problems, which schema.format_problems and schema.reprompt put in words.
local common = require("fuzz.common")
local json = require("sidecar.core.json")
local json_extract = require("sidecar.core.json_extract")
local personalization = require("sidecar.formats.personalization")
local precommit = require("sidecar.formats.precommit")
local schema = require("sidecar.preset.schema")

local FORMATS = { precommit = precommit, personalization = personalization }
local SPECS = { schema.formats.findings, precommit.SPEC, personalization.SPEC }

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
  local value, where = json_extract.extract(text)
  if value == nil then
    if type(where) ~= "string" then
      common.fail("extract found nothing without saying why")
    end
  else
    for i, spec in ipairs(SPECS) do
      checked(value, spec, "json answer, spec " .. i)
    end
    schema.describe(value)
    if value ~= json.null and type(value) ~= "table" and type(value) ~= "string" and type(value) ~= "number"
        and type(value) ~= "boolean" then
      common.fail("extract returned a %s", type(value))
    end
  end
  for _, name in ipairs({ "precommit", "personalization" }) do
    local report = FORMATS[name].parse(text)
    if type(report) ~= "table" then
      common.fail("%s.parse returned a %s", name, type(report))
    end
    checked(report, FORMATS[name].SPEC, name)
  end
end
