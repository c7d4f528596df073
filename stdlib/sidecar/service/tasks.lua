--- The task commands' work, as data (sidecar.service.result): the list, and a new task.
--- `sidecar task list|create` render it as text or `--json`; `sidecar ui` and `sidecar mcp` answer
--- with it.
---
---   local r = tasks.list({ root = root, status = "ready" })  -- r.data: the task records
local config = require("sidecar.core.config")
local json = require("sidecar.core.json")
local result = require("sidecar.service.result")
local service_store = require("sidecar.service.store")
local store = require("sidecar.core.store")
local task_packet = require("sidecar.task.packet")
local trust = require("sidecar.core.trust")

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
  require("sidecar.executor.reconcile").reconcile_active(s) -- a run or task whose owner died is ended first
  local tasks
  tasks, message = s:list_tasks({ status = o.status, limit = 0 })
  s:close()
  return tasks and result.ok(json.array(tasks)) or result.fail(message)
end

---Records a task this user made through Sidecar as theirs: its validation commands may then run
---after its runs (trust records them as they are, sidecar.core.trust). A task an agent made inside
---its run is not: its commands wait for `sidecar trust`. Returns a warning for people when they are
---not recorded, else nil.
---@param s table  the open store
---@param task table  the task's record
---@return string|nil
function M.trust_own(s, task)
  local run_id = trust.inside_run()
  if run_id and trust.validation_hash(task) and not trust.everything() then
    return ("%s: its validation commands are not recorded as trusted: %s"):format(task.task_id,
      trust.refusal_inside_run(run_id, "recording them as yours"))
  end
  local ok, why = trust.record_validation(config.owner(s.root), { task })
  if not ok and not trust.everything() then
    return ("%s: could not record its validation commands as trusted (%s); they run after `sidecar trust`"):format(
      task.task_id, tostring(why))
  end
end

-- The ids of `ids` that name no task of the store.
local function missing_tasks(s, ids)
  local missing = {}
  for _, id in ipairs(ids or {}) do
    if not s:get_task(id) then
      missing[#missing + 1] = id
    end
  end
  return missing
end

---Creates a task from the command line's fields (o.title, summary, goal, type, priority, status,
---validate_cmds, read, avoid, depends_on, tags, done_when, agent_role, runner). Every field came from
---a flag: each problem is a "usage" failure naming its flag. The result's data is the task's record.
---@param o table
function M.create(o)
  -- Refused before anything is checked or written, as prepare refuses --input, by the built-in
  -- rules and the config's.
  local applied, why = service_store.apply_config(o)
  if not applied then
    return result.fail(why)
  end
  local refused = require("sidecar.core.secrets").refuse_inputs(o.read, "--read")
  if refused then
    return result.fail(refused)
  end
  local packet, problems = task_packet.new({ title = o.title, summary = o.summary, goal = o.goal, type = o.type,
    priority = o.priority, status = o.status, validation = o.validate_cmds, files_to_read = o.read,
    files_to_avoid = o.avoid, dependencies = o.depends_on, tags = o.tags, definition_of_done = o.done_when })
  if not packet then
    return result.fail(task_packet.format_errors(problems), "usage")
  end
  if o.agent_role or o.runner then
    packet.tracking = { assigned_agent_role = o.agent_role, assigned_runner = o.runner,
      assignment_reason = "task create", assigned_at = store.now() }
    local checked, bad = task_packet.check(packet)
    if not checked then
      return result.fail((task_packet.format_errors(bad):gsub("tracking%.assigned_agent_role", "--agent-role")
        :gsub("tracking%.assigned_runner", "--runner")), "usage")
    end
  end
  local s, message = service_store.open(o)
  if not s then
    return result.fail(message)
  end
  local missing = missing_tasks(s, packet.dependencies)
  if #missing > 0 then
    s:close()
    return result.fail(("--depends-on: no task %s (see sidecar task list)"):format(table.concat(missing, ", ")))
  end
  local task, code
  task, message, code = s:create_task(packet)
  local warning = task and M.trust_own(s, task)
  s:close()
  if not task then
    return result.fail(message .. (code and (" (" .. code .. ")") or ""))
  end
  return result.ok(task, { warning })
end

return M
