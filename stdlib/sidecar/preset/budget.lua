--- A preset's budget (`sidecar preset run --budget-tokens N`, config `budgets`): every agent step
--- of one preset run shares the command's limit, and a step the budget cannot cover is not
--- started: ctx:agent and ctx:agents give it the status `not_started` with why (the figures), the
--- steps that ran keep their results, and `sidecar preset run` reports what the preset made of
--- them with the budget stop as an error beside it (exit 1). See stdlib/sidecar/agent/budget.lua.
local agent_budget = require("sidecar.agent.budget")
local budget_live = require("sidecar.agent.budget_live")
local errors = require("sidecar.core.errors")
local option_keys = require("sidecar.core.option_keys")
local runners = require("sidecar.agent.runners")
local store = require("sidecar.core.store")

local M = {}

-- The records of the runs this preset run made so far (from its `first`th on).
local function runs_so_far(ctx, first)
  local records = {}
  for i = first or 1, #ctx.runs do
    records[#records + 1] = ctx.s:get_run(ctx.runs[i])
  end
  return records
end

-- What agent_budget.before_run gives for a step on `runner`: its meter, or nil and why it may not
-- start ("preset NAME: a step on RUNNER not started: " and the figures).
local function check(ctx, runner)
  local meter, why = agent_budget.before_run(ctx:store(), ctx.budget, { task_id = ctx.task.task_id,
    runs = runs_so_far(ctx), spec = runners.get(runner),
    batch_runs = ctx.budget.batch and runs_so_far(ctx, ctx.budget.batch_first) })
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
  if b.batch then
    local in_batch = agent_budget.spent_of(runs_so_far(ctx, b.batch_first))
    b.batch_spent_before = { tokens = in_batch.tokens, usd = in_batch.usd }
  end
  return b
end

local BATCH_OPTIONS = { "budget_tokens", "budget_usd" }

---For ctx:agents(list, {budget_tokens = N, budget_usd = X}): the context's budget with a limit of
---this call's own (scope `batch`: the runs of this call, counted as they go), for the call's length.
---Returns a to-be-closed value that puts the context's budget back; nil when `o` sets no limit. A bad
---option raises.
function M.narrow(ctx, o)
  option_keys.check("ctx:agents", o, BATCH_OPTIONS, 3)
  if not o or (o.budget_tokens == nil and o.budget_usd == nil) then
    return nil
  end
  local bad = agent_budget.check_options(o)
  if bad then
    errors.raise("bad_option", "ctx:agents: " .. bad, nil, 3)
  end
  local own = ctx.budget
  local b = {}
  for k, v in pairs(own or {}) do
    b[k] = v
  end
  b.group = b.group or budget_live.group(false)
  b.batch = { tokens = o.budget_tokens, usd = o.budget_usd and tonumber(o.budget_usd) }
  b.batch_since, b.batch_first = store.now(), #ctx.runs + 1
  b.allow_unknown = b.allow_unknown or false
  ctx.budget = b
  return setmetatable({}, { __close = function() ctx.budget = own end })
end

---In the worker: the meter of its job's budget (nil without one), or nil and why it may not start.
function M.worker_meter(s, job)
  local b = job.budget
  if not b then
    return nil
  end
  local before, in_batch = b.spent_before or {}, b.batch_spent_before or {}
  return agent_budget.before_run(s, b, { task_id = job.task_id, spec = runners.get(job.runner),
    runs = { { usage = { total = before.tokens or 0 }, cost_usd = before.usd or 0 } },
    batch_runs = { { usage = { total = in_batch.tokens or 0 }, cost_usd = in_batch.usd or 0 } } })
end

return M
