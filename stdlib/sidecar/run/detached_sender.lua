--- A sender started off a run's path: what it sends is queued in a file of the store, then a detached
--- `sidecar` process (its own session, reaped by nobody's wait) reads it, sends it within its own
--- time limits and retries, and removes it. Notifications (stdlib/sidecar/run/notify.lua) and
--- OpenTelemetry exports (stdlib/sidecar/run/otel.lua) go this way, so a slow or dead endpoint
--- costs a run nothing. Each sender logs its attempts in a file of its folder (M.trim_log bounds it).
---
--- A sender carries a mark of its own in SIDECAR_RUN_MARK (sidecar.run.processes' variable): never a
--- run's, so the sweep of a run still ending in this process (which adopts orphans while an agent
--- runs) does not take it for the agent's.
local json = require("sidecar.core.json")
local proc = require("sidecar.core.proc")

local M = {}

---Queues `payload` (as JSON) in `file` of the open folder `d`, then starts `argv` detached with
---`mark`. True, or false and why it could not start (its queued file removed).
---@param d table  an open artifact folder
---@param file string  relative to d
---@param payload table
---@param argv string[]
---@param mark string
---@return boolean started, string? why
function M.start(d, file, payload, argv, mark)
  local ok, why = d:write(file, json.encode(payload))
  if not ok then
    return false, why
  end
  local started, err = pcall(proc.detach, argv,
    { stdout = "/dev/null", stderr = "/dev/null", env = { SIDECAR_RUN_MARK = mark } })
  if not started then
    os.remove(d:root() .. "/" .. file)
  end
  return started, not started and (type(err) == "table" and err.message or tostring(err)) or nil
end

---Keeps a sender's log (`name` in the open folder `d`, one line an attempt) to its last `max_lines`.
---@param d table
---@param name string
---@param max_lines integer
function M.trim_log(d, name, max_lines)
  local lines = {}
  for line in (d:read(name) or ""):gmatch("[^\n]+\n") do
    lines[#lines + 1] = line
  end
  if #lines > max_lines then
    d:write(name, table.concat(lines, "", #lines - max_lines + 1))
  end
end

return M
