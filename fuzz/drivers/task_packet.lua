--- Fuzz driver: task packets (stdlib/sidecar/task/packet.lua) as `task import` reads them. Decoding any
--- text returns a packet or nil and a message (never raises); a packet that checked encodes, and
--- decode(encode(p)) is p again, encoding to the same text; the checks done on a stored packet
--- (secret inputs, validation entries) take any checked packet.
local common = require("fuzz.common")
local task_packet = require("sidecar.task.packet")

local function bad_packet(message, problems)
  if type(message) ~= "string" or message == "" then
    common.fail("decode failed without a message")
  end
  if problems ~= nil then
    if type(problems) ~= "table" or #problems == 0 then
      common.fail("decode failed with an empty list of problems")
    end
    for _, p in ipairs(problems) do
      if type(p.path) ~= "string" or type(p.message) ~= "string" then
        common.fail("a problem without a path or message")
      end
    end
    task_packet.format_errors(problems)
  end
end

return function(text)
  local packet, message, problems = task_packet.decode(text, "fuzz.json")
  if not packet then
    bad_packet(message, problems)
    return
  end
  local encoded, why = task_packet.encode(packet)
  if not encoded then
    common.fail("a checked packet does not encode: %s", why)
  end
  local again, why_again = task_packet.decode(encoded, "encoded")
  if not again then
    common.fail("an encoded packet does not decode: %s", why_again)
  end
  common.same(packet, again, "decode(encode(p)) vs p")
  if task_packet.encode(again) ~= encoded then
    common.fail("encoding a packet is not canonical")
  end
  local refused = task_packet.refused_inputs(packet)
  if refused ~= nil and type(refused) ~= "string" then
    common.fail("refused_inputs returned a %s", type(refused))
  end
  if type(task_packet.validation_entries(packet)) ~= "table" then
    common.fail("validation_entries is not a list")
  end
end
