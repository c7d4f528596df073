--- `sidecar usage --budgets`: what was spent against each budget of `.agent/config.lua`
--- (per_day: today, UTC; per_task: each task's runs; per_run: the largest run), and the runs a
--- budget stopped, with their figures (stdlib/sidecar/agent/budget.lua).
local agent_budget = require("sidecar.agent.budget")
local config = require("sidecar.core.config")
local json = require("sidecar.core.json")
local out = require("sidecar.cli.output")

local M = {}

local EXIT_OK, EXIT_FAILURE = 0, 1

-- A figure against its limit, for people: "3333 tokens of 2000 (167%)", "3333 tokens (no limit)".
local function against(kind, spent, limit)
  local text = kind == "usd" and ("$%.4f"):format(spent) or ("%d tokens"):format(spent)
  if not limit then
    return text .. " (no limit)"
  end
  local shown = kind == "usd" and ("$%.4f"):format(limit) or tostring(limit)
  return ("%s of %s (%d%%)%s"):format(text, shown, math.floor(spent * 100 / limit + 0.5),
    spent >= limit and " EXCEEDED" or "")
end

-- {tokens, usd, unknown, runs} and its limit as JSON: figures, the limit (null for none), exceeded.
local function scope_json(spent, limit)
  limit = limit or {}
  return { tokens = spent.tokens, usd = spent.usd, unknown_runs = spent.unknown, runs = spent.runs,
    limit = { tokens = limit.tokens or json.null, usd = limit.usd or json.null },
    exceeded = (limit.tokens and spent.tokens >= limit.tokens) or (limit.usd and spent.usd >= limit.usd) or false }
end

-- Every figure the report shows: {per_day, per_task[], largest, stopped[]}; nil, message.
local function gather(s)
  local day_rows, message = s:usage({ group_by = "", since = agent_budget.today() })
  if not day_rows then
    return nil, message
  end
  local task_rows
  task_rows, message = s:usage({ group_by = "task" })
  if not task_rows then
    return nil, message
  end
  local runs = s:list_runs({ limit = 0 }) or {}
  local largest
  for _, r in ipairs(runs) do
    local total = type(r.usage) == "table" and math.type(r.usage.total) == "integer" and r.usage.total
    if total and (not largest or total > largest.tokens) then
      largest = { run_id = r.run_id, tokens = total, usd = type(r.cost_usd) == "number" and r.cost_usd or 0 }
    end
  end
  local report = { per_day = agent_budget.spent_of_row(day_rows[1]), per_task = {}, largest = largest, stopped = {} }
  for _, row in ipairs(task_rows) do
    local spent = agent_budget.spent_of_row(row)
    spent.task_id = row.group
    report.per_task[#report.per_task + 1] = spent
  end
  for _, r in ipairs(s:list_runs({ status = "budget_exceeded", limit = 0 }) or {}) do
    report.stopped[#report.stopped + 1] = { run_id = r.run_id, task_id = r.task_id or json.null,
      budget_exceeded = r.budget_exceeded or json.null, failure_reason = r.failure_reason or json.null }
  end
  return report
end

local function print_report(r, cfg)
  local b = cfg.budgets
  print(("Budgets (%s):"):format(cfg.path and ".agent/config.lua budgets" or "no config budgets"))
  -- Tokens always; dollars where a limit or a reported cost makes them worth a line.
  local function lines(label, spent, limit)
    for _, kind in ipairs(agent_budget.KINDS) do
      if kind == "tokens" or spent.usd > 0 or (limit and limit.usd) then
        print(("  %s %s"):format(label, against(kind, spent[kind], limit and limit[kind])))
      end
    end
  end
  lines("per_day   today (UTC) ", r.per_day, b.per_day)
  for _, t in ipairs(r.per_task) do
    lines(("per_task  %-12s"):format(t.task_id), t, b.per_task)
  end
  if r.largest then
    print(("  per_run   largest: %-3s %s"):format(r.largest.run_id,
      against("tokens", r.largest.tokens, b.per_run and b.per_run.tokens)))
  end
  if r.per_day.unknown > 0 then
    print(("  %d run(s) today reported no usage: unknown, never estimated"):format(r.per_day.unknown))
  end
  print(#r.stopped == 0 and "No run was stopped by a budget." or "Runs stopped by a budget:")
  for _, x in ipairs(r.stopped) do
    print(("  %s %s: %s"):format(x.run_id, x.task_id ~= json.null and x.task_id or "-",
      x.failure_reason ~= json.null and x.failure_reason or "budget exceeded"))
  end
end

---`sidecar usage --budgets` on the open store `s`. Returns the exit status.
function M.show(o, s)
  local cfg, message = config.load(s.root)
  if not cfg then
    return out.fail(o, "usage", message, EXIT_FAILURE)
  end
  local r
  r, message = gather(s)
  if not r then
    return out.fail(o, "usage", message, EXIT_FAILURE)
  end
  if not o.json then
    print_report(r, cfg)
    return EXIT_OK
  end
  local b = cfg.budgets
  local tasks = {}
  for i, t in ipairs(r.per_task) do
    tasks[i] = scope_json(t, b.per_task)
    tasks[i].task_id = t.task_id
  end
  out.envelope("usage", true, { budgets = {
    per_day = scope_json(r.per_day, b.per_day), per_task = json.array(tasks),
    per_run = { limit = { tokens = b.per_run and b.per_run.tokens or json.null, usd = b.per_run and b.per_run.usd
      or json.null }, largest = r.largest or json.null },
    allow_unknown = b.allow_unknown, stopped = json.array(r.stopped) } }, {}, o.version)
  return EXIT_OK
end

return M
