--- What was spent against each budget of `.agent/config.lua` (per_day: today, UTC; per_task: each
--- task's runs; per_run: the largest run), and the runs a budget stopped, with their figures
--- (stdlib/sidecar/agent/budget.lua): `sidecar usage --budgets` prints it, the usage page of
--- `sidecar ui` draws it as bars against their limits.
---
---   local data = assert(usage_budgets.of_store(s, cfg))
---   -- data.budgets: {per_day, per_task[], per_run = {limit, largest}, allow_unknown, stopped[]}
local agent_budget = require("sidecar.agent.budget")
local json = require("sidecar.core.json")
local result = require("sidecar.service.result")

local M = {}

-- {tokens, usd, unknown_runs, runs, limit = {tokens, usd} (null for none), exceeded}.
local function scope_json(spent, limit)
  limit = limit or {}
  return { tokens = spent.tokens, usd = spent.usd, unknown_runs = spent.unknown, runs = spent.runs,
    limit = { tokens = limit.tokens or json.null, usd = limit.usd or json.null },
    exceeded = (limit.tokens and spent.tokens >= limit.tokens) or (limit.usd and spent.usd >= limit.usd) or false }
end

-- The largest run by tokens: {run_id, tokens, usd}, or nil.
local function largest_run(s)
  local largest
  for _, r in ipairs(s:list_runs({ limit = 0 }) or {}) do
    local total = type(r.usage) == "table" and math.type(r.usage.total) == "integer" and r.usage.total
    if total and (not largest or total > largest.tokens) then
      largest = { run_id = r.run_id, tokens = total, usd = type(r.cost_usd) == "number" and r.cost_usd or 0 }
    end
  end
  return largest
end

---The budgets' report of the open store `s` under config `cfg`: {budgets = {per_day, per_task,
---per_run, allow_unknown, stopped}}, or nil and the message.
---@param s table
---@param cfg table
---@return table|nil data, string? message
function M.of_store(s, cfg)
  local b = cfg.budgets
  local day_rows, message = s:usage({ group_by = "", since = agent_budget.today() })
  if not day_rows then
    return nil, message
  end
  local task_rows
  task_rows, message = s:usage({ group_by = "task" })
  if not task_rows then
    return nil, message
  end
  local tasks, stopped = {}, {}
  for i, row in ipairs(task_rows) do
    tasks[i] = scope_json(agent_budget.spent_of_row(row), b.per_task)
    tasks[i].task_id = row.group
  end
  for _, r in ipairs(s:list_runs({ status = "budget_exceeded", limit = 0 }) or {}) do
    stopped[#stopped + 1] = { run_id = r.run_id, task_id = r.task_id or json.null,
      budget_exceeded = r.budget_exceeded or json.null, failure_reason = r.failure_reason or json.null }
  end
  return { budgets = { per_day = scope_json(agent_budget.spent_of_row(day_rows[1]), b.per_day),
    per_task = json.array(tasks),
    per_run = { limit = { tokens = b.per_run and b.per_run.tokens or json.null, usd = b.per_run and b.per_run.usd
      or json.null }, largest = largest_run(s) or json.null },
    allow_unknown = b.allow_unknown, stopped = json.array(stopped) } }
end

---One run's budgets, for its page: {run_id, per_run = {tokens, usd, unknown_runs (1 when its runner
---reports tokens and it ended with none; a runner that reports none is not unknown), runs, limit,
---exceeded}, per_task =
---{task_id, tokens, usd, unknown_runs, runs, limit, exceeded} (its task's runs so far; null for a
---run of no task)}. The task's spend comes from the store's index of runs by task, never from
---every run. nil and the message (code "not_found") when there is no such run.
---@param s table
---@param cfg table
---@param run_id string
---@return table|nil data, string? message, string? code
function M.of_run(s, cfg, run_id)
  local run = s:get_run(run_id)
  if not run then
    return nil, ("no run %s"):format(run_id), "not_found"
  end
  local b = cfg.budgets
  local own = agent_budget.spent_of({ run }) -- unknown: its runner reports tokens, it reported none
  local per_task = json.null
  if type(run.task_id) == "string" and run.task_id ~= "" then
    local rows, message = s:usage({ group_by = "", task_id = run.task_id })
    if not rows then
      return nil, message
    end
    per_task = scope_json(agent_budget.spent_of_row(rows[1]), b.per_task)
    per_task.task_id = run.task_id
  end
  return { run_id = run_id, per_run = scope_json(own, b.per_run), per_task = per_task }
end

---The budgets of run `o.id` (`o.root`), as a result.
---@param o table
---@return table result
function M.run_report(o)
  return require("sidecar.service.store").with_runs(o, function(s, cfg)
    local data, message, code = M.of_run(s, cfg, o.id)
    return data and result.ok(data) or result.fail(message, code)
  end)
end

---The report for a request (`o.root`), as a result.
---@param o table
---@return table result
function M.report(o)
  return require("sidecar.service.store").with_runs(o, function(s, cfg)
    local data, message = M.of_store(s, cfg)
    return data and result.ok(data) or result.fail(message)
  end)
end

return M
