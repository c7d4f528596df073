--- What a run's record says, gathered for every surface: `sidecar run show --json`'s data (the
--- record, its lineage and its validation steps), a run's duration, its count of changed files.
--- sidecar.cli.run_view renders the same as text.
---
---   local data, message, code = run_data.show(s, "R-0001")   -- code "not_found" for no such run
local json = require("sidecar.core.json")
local run_lineage = require("sidecar.service.run_lineage")

local M = {}

-- Seconds since the epoch of "2026-01-02T03:04:05Z" (fractions ignored), or nil.
local function epoch(iso)
  if type(iso) ~= "string" then
    return nil
  end
  local y, mo, d, h, mi, s = iso:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)T(%d%d):(%d%d):(%d%d)")
  if not y then
    return nil
  end
  y, mo = tonumber(y), tonumber(mo)
  -- Days from civil (Howard Hinnant's algorithm): no time zone involved.
  y = mo <= 2 and y - 1 or y
  local era = y // 400
  local yoe = y - era * 400
  local doy = (153 * (mo + (mo > 2 and -3 or 9)) + 2) // 5 + tonumber(d) - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  local days = era * 146097 + doe - 719468
  return days * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(s)
end

---Seconds since the epoch of a record's UTC time ("2026-01-02T03:04:05Z"), or nil.
M.epoch = epoch

---A run's duration in ms: duration_ms, else completed_at - started_at, else nil.
---@param run table
---@return integer|nil
function M.duration_ms(run)
  if math.type(run.duration_ms) then
    return run.duration_ms
  end
  local a, b = epoch(run.started_at), epoch(run.completed_at)
  return a and b and b >= a and (b - a) * 1000 or nil
end

---How many files a run changed, or nil when the record does not say.
---@param run table
function M.files_count(run)
  return type(run.changed_files) == "table" and #run.changed_files or nil
end

---A run's validation results: validation[] of the record, else the store's table.
---@param s table  an open store
---@param run table
function M.validation_of(s, run)
  if type(run.validation) == "table" and #run.validation > 0 then
    return run.validation
  end
  return s:validation(run.run_id) or {}
end

---The run (a record, or an id looked up) and its lineage (sidecar.service.run_lineage.of); nil,
---message, code ("not_found" for no such run) when either cannot be read. A bad argument raises,
---naming the caller.
---@param s table  an open store
---@param run table|string  a run record or id
function M.resolve(s, run)
  if type(s) ~= "table" then
    error("run_data: expected a store, got " .. type(s), 3)
  elseif type(run) ~= "table" and type(run) ~= "string" then
    error("run_data: run must be a record or a run id, got " .. type(run), 3)
  end
  local r, message, code = run, nil, nil
  if type(run) == "string" then
    r, message, code = s:get_run(run)
    if not r then
      return nil, code == "ENOENT" and ("no run %s (see sidecar run list)"):format(run) or message,
        code == "ENOENT" and "not_found" or code
    end
  end
  local l
  l, message, code = run_lineage.of(s, r)
  if not l then
    return nil, message, code
  end
  return r, l
end

---The data of `sidecar run show --json`: a copy of the record with `lineage` {replay_of (run id
---or null), replayed_as [ids], answer_of (run id or null), answered_by [ids], pipeline_steps [{run_id, pipeline_step, pipeline_total, runner_type,
---agent_role, status, duration_ms, changed_files (a count or null)}]} and `validation` (the steps).
---@param s table  an open store
---@param run table|string  a run record or id
---@return table|nil data, string? message, string? code
function M.show(s, run)
  local r, l, code = M.resolve(s, run)
  if not r then
    return nil, l, code
  end
  local data = json.object({})
  for k, v in pairs(r) do
    data[k] = v
  end
  local steps = {}
  for i, step in ipairs(l.steps) do
    steps[i] = { run_id = step.run_id, pipeline_step = step.pipeline_step or json.null,
      pipeline_total = step.pipeline_total or json.null, runner_type = step.runner_type or json.null,
      agent_role = step.agent_role or json.null, status = step.status or json.null,
      duration_ms = M.duration_ms(step) or json.null, changed_files = M.files_count(step) or json.null }
  end
  data.lineage = { replay_of = l.replay_of or json.null, replayed_as = json.array(l.replayed_as),
    answer_of = l.answer_of or json.null, answered_by = json.array(l.answered_by), pipeline_steps = json.array(steps) }
  data.validation = json.array(M.validation_of(s, r))
  return data
end

return M
