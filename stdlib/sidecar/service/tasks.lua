--- The task commands' work that reads, as data (sidecar.service.result). `sidecar task list`
--- renders it as text or `--json`; `sidecar ui` answers with it.
---
---   local r = tasks.list({ root = root, status = "ready" })  -- r.data: the task records
local json = require("sidecar.core.json")
local result = require("sidecar.service.result")
local service_store = require("sidecar.service.store")
local task_packet = require("sidecar.task.packet")

local M = {}

---A failed result ("usage") when `status` is given and is not a task status; nil otherwise.
---@param status string|nil
function M.check_status(status)
  if status == nil then
    return nil
  end
  for _, known in ipairs(task_packet.STATUSES) do
    if known == status then
      return nil
    end
  end
  return result.fail(("unknown status '%s' (statuses: %s)"):format(status, table.concat(task_packet.STATUSES,
    ", ")), "usage")
end

---The tasks, each record as the store keeps it: o.status filters.
---@param o {root: string?, status: string?}
function M.list(o)
  local bad = M.check_status(o.status)
  if bad then
    return bad
  end
  local s, message = service_store.open(o)
  if not s then
    return result.fail(message)
  end
  require("sidecar.run.reconcile").reconcile_active(s) -- a run or task whose owner died is ended first
  local tasks
  tasks, message = s:list_tasks({ status = o.status, limit = 0 })
  s:close()
  return tasks and result.ok(json.array(tasks)) or result.fail(message)
end

return M
