--- `sidecar usage --budgets`: what was spent against each budget of `.agent/config.lua`, as
--- stdlib/sidecar/service/usage_budgets.lua reports it, printed for people or as JSON.
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

-- The report (usage_budgets.of_store's `budgets`) for people.
local function print_report(r, cfg)
  print(("Budgets (%s):"):format(cfg.path and ".agent/config.lua budgets" or "no config budgets"))
  local function limit_of(scope)
    return { tokens = scope.limit.tokens ~= json.null and scope.limit.tokens or nil,
      usd = scope.limit.usd ~= json.null and scope.limit.usd or nil }
  end
  -- Tokens always; dollars where a limit or a reported cost makes them worth a line.
  local function lines(label, scope)
    local limit = limit_of(scope)
    for _, kind in ipairs(agent_budget.KINDS) do
      if kind == "tokens" or scope.usd > 0 or limit.usd then
        print(("  %s %s"):format(label, against(kind, scope[kind], limit[kind])))
      end
    end
  end
  lines("per_day   today (UTC) ", r.per_day)
  for _, t in ipairs(r.per_task) do
    lines(("per_task  %-12s"):format(t.task_id), t)
  end
  if r.per_run.largest ~= json.null then
    print(("  per_run   largest: %-3s %s"):format(r.per_run.largest.run_id,
      against("tokens", r.per_run.largest.tokens, limit_of(r.per_run).tokens)))
  end
  if r.per_day.unknown_runs > 0 then
    print(("  %d run(s) today reported no usage: unknown, never estimated"):format(r.per_day.unknown_runs))
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
  local data
  data, message = require("sidecar.service.usage_budgets").of_store(s, cfg)
  if not data then
    return out.fail(o, "usage", message, EXIT_FAILURE)
  end
  if o.json then
    out.envelope("usage", true, data, {}, o.version)
  else
    print_report(data.budgets, cfg)
  end
  return EXIT_OK
end

return M
