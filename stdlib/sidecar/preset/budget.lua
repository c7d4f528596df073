--- A preset's budget (`sidecar preset run --budget-tokens N`, config `budgets`): every agent step
--- of one preset run shares the command's limit, and a step the budget cannot cover is not
--- started: ctx:agent and ctx:agents give it the status `not_started` with why (the figures), the
--- steps that ran keep their results, and `sidecar preset run` reports what the preset made of
--- them with the budget stop as an error beside it (exit 1). See stdlib/sidecar/agent/budget.lua.
local agent_budget = require("sidecar.agent.budget")
local runners = require("sidecar.agent.runners")

local M = {}

-- The records of the runs this preset run made so far.
local function runs_so_far(ctx)
  local records = {}
  for _, id in ipairs(ctx.runs) do
    records[#records + 1] = ctx.s:get_run(id)
  end
  return records
end

-- What agent_budget.before_run gives for a step on `runner`: its meter, or nil and why it may not
-- start ("preset NAME: a step on RUNNER not started: " and the figures).
local function check(ctx, runner)
  local meter, why = agent_budget.before_run(ctx:store(), ctx.budget, { task_id = ctx.task.task_id,
    runs = runs_so_far(ctx), spec = runners.get(runner) })
  if not meter then
    return nil, ("preset %s: a step on %s not started: %s"):format(ctx.preset.name, runner, why)
  end
  return meter
end

---The meter of a step run in this process (agent_run.execute's `budget`): nil without a budget;
---nil and why when the step may not start.
---@return table|nil meter, string? why
function M.meter(ctx, runner)
  if not ctx.budget then
    return nil
  end
  return check(ctx, runner)
end

---For a step run by a worker process: the budget it runs under, with what this preset run has
---spent so far (`spent_before`: {tokens, usd}): nil without one; nil and why when the step may not
---start.
---@return table|nil budget, string? why
function M.job(ctx, runner)
  if not ctx.budget then
    return nil
  end
  local meter, why = check(ctx, runner)
  if not meter then
    return nil, why
  end
  local b = {}
  for k, v in pairs(ctx.budget) do
    b[k] = v
  end
  local spent = agent_budget.spent_of(runs_so_far(ctx))
  b.spent_before = { tokens = spent.tokens, usd = spent.usd }
  return b
end

---In the worker: the meter of its job's budget (nil without one), or nil and why it may not start.
function M.worker_meter(s, job)
  local b = job.budget
  if not b then
    return nil
  end
  local before = b.spent_before or {}
  return agent_budget.before_run(s, b, { task_id = job.task_id, spec = runners.get(job.runner),
    runs = { { usage = { total = before.tokens or 0 }, cost_usd = before.usd or 0 } } })
end

return M
