--- Fuzz driver: the JSON bridge (lua/json.cpp through stdlib/sidecar/core/json.lua). Decoding never raises
--- from host.json (failures are data: nil, message, line, column) and raises only json_decode
--- errors from json.decode; whatever decodes encodes, and encoding is canonical: decode(encode(v))
--- equals v (integer/float subtypes and array/object markers included) and encodes to the same
--- text, compact or indented.
local common = require("fuzz.common")
local errors = require("sidecar.core.errors")
local host = require("sidecar.host.json")
local json = require("sidecar.core.json")

local function failure_is_data(text, message, line, column)
  if type(message) ~= "string" or math.type(line) ~= "integer" or math.type(column) ~= "integer"
      or line < 1 or column < 1 then
    common.fail("decode failed without a message, line and column: %s", tostring(message))
  end
  local ok, err = pcall(json.decode, text)
  if ok or not errors.is(err, "json_decode") or err.line ~= line or err.column ~= column then
    common.fail("json.decode did not raise the json_decode error host.json reported: %s", tostring(err))
  end
end

return function(text)
  local value, message, line, column = host.decode(text)
  if value == nil then
    failure_is_data(text, message, line, column)
    return
  end
  local compact = json.encode(value)
  local again, why = host.decode(compact)
  if again == nil then
    common.fail("encode wrote text decode refuses: %s", why)
  end
  common.same(value, again, "decode(encode(v)) vs v")
  if json.encode(again) ~= compact then
    common.fail("encoding is not canonical: %q vs %q", json.encode(again), compact)
  end
  local indented = json.encode(value, { indent = 2 })
  local from_indented = host.decode(indented)
  if from_indented == nil or json.encode(from_indented) ~= compact then
    common.fail("the indented text reads back otherwise than the compact one")
  end
end
