--- Opening the store of a run command from the command line: the service's (sidecar.service.store),
--- saying why when it cannot.
---
---   local s, cfg = cli_root.open_runs(o, "run list") -- nil and the exit status, having said why
local out = require("sidecar.cli.output")
local service_store = require("sidecar.service.store")

local M = {}

---The store and config for a run command (sidecar.task.runs.open), or nil and the exit status
---after saying why.
---@param o table  the command's options
---@param command string  its name, for the message
function M.open_runs(o, command)
  local s, cfg = service_store.open_runs(o)
  if not s then
    return nil, out.fail(o, command, cfg)
  end
  return s, cfg
end

return M
