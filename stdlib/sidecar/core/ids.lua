--- Random ids, for names that must not collide: a claude session, a sandbox's private folder.
---
---   local ids = require("sidecar.core.ids")
---   ids.uuid() --> "3f2c9a4e-…"
local M = {}

---A random (version 4) UUID.
---@return string
function M.uuid()
  local f = assert(io.open("/dev/urandom", "rb"))
  local b = { f:read(16):byte(1, 16) }
  f:close()
  b[7] = (b[7] & 0x0f) | 0x40
  b[9] = (b[9] & 0x3f) | 0x80
  local hex = ("%02x"):rep(16):format(table.unpack(b))
  return ("%s-%s-%s-%s-%s"):format(hex:sub(1, 8), hex:sub(9, 12), hex:sub(13, 16), hex:sub(17, 20), hex:sub(21, 32))
end

return M
