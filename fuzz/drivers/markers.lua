--- Fuzz driver: output markers (stdlib/sidecar/agent/markers.lua) in an agent's answer. Any text is data: parsing
--- never raises, a text fed in pieces reads as the whole does, the status is one of five, and the
--- files claimed can be compared with a change.
local common = require("fuzz.common")
local markers = require("sidecar.agent.markers")

local STATUSES = { blocked = true, question = true, complete = true, in_progress = true, none = true }

return function(text)
  local whole = markers.parse(text)
  local p = markers.parser()
  for _, piece in ipairs(common.pieces(text)) do
    p:feed(piece)
  end
  common.same(whole, p:finish(), "markers fed in pieces vs whole")
  if not STATUSES[whole.status] then
    common.fail("status %s", tostring(whole.status))
  end
  for _, f in ipairs(whole.files_modified) do
    if type(f.path) ~= "string" or type(f.change) ~= "string" then
      common.fail("a files_modified entry without a path or change")
    end
  end
  local out = markers.check_files(whole.files_modified, { "src/a.lua", "README.md" }, "/repo")
  if #out.confirmed + #out.claimed_not_changed ~= #whole.files_modified then
    common.fail("check_files lost a claimed file")
  end
end
