--- Budgets: how many tokens and US dollars runs may spend, counted live from the agent's event
--- stream, and whether a next run may start at all.
---
---   local b = assert(budget.from_options(cfg.budgets, {budget_tokens = 2000}))
---   local ok, why = budget.may_start(b, spent)        -- before a step: refused with the figures
---   local m = budget.meter(budget.allowance(b, spent)) -- agent_run.execute({..., budget = m})
---   m.exceeded  -- {scope, kind, limit, spent} once the run's own spending crossed a limit
---
--- Scopes: `command` (the --budget-tokens/--budget-usd of one `sidecar run`, `preset run` or
--- `run start-ready`: all the runs it starts together), `batch` (the budget_tokens/budget_usd of
--- one ctx:agents call: the runs of that call), and config's `per_run` (each run),
--- `per_task` (every run of the task, from the store) and `per_day` (every run started today,
--- UTC, from the store). Each is {tokens = N, usd = X}, either or both.
---
--- Counting: a run's spending is what its CLI reported so far (codex: each turn.completed; claude:
--- its final result), less what a continued session had reported before. A run still going
--- (queued, preparing, running) is in flight: what it reported so far counts, and nothing about it
--- is unknown yet. A finished run whose runner reports a figure but that reported none is unknown:
--- a budget on that figure refuses the next run unless `allow_unknown` (--budget-allow-unknown,
--- config `budgets.allow_unknown = true`). A runner that reports no such figure (the command
--- runner: none; codex: no cost) cannot be counted at all: the budget refuses to start it (same
--- exception), and its finished runs are unmetered, counted apart and never held against later
--- runs.
--- A step starts only while every scope has something left: what one run will cost cannot be
--- known ahead, so a run is stopped when it crosses what was left. Runs going at once share their
--- scopes as they go (sidecar.agent.budget_live): each writes what it spent so far to its record,
--- and once the runs of a scope crossed its limit together, every one still going is stopped.
local agent_events = require("sidecar.agent.events")
local budget_live = require("sidecar.agent.budget_live")
local budget_settings = require("sidecar.core.budget_settings")
local store = require("sidecar.core.store")

local M = {}

---Checks one limit ({tokens = N, usd = X}); true, or nil and a message naming `path`. The config's
---check (sidecar.core.budget_settings), kept here where the public `budget` module has always had it.
---@param path string  where it came from ("budgets.per_run")
---@return boolean|nil ok, string? message
function M.check_limit(path, v)
  return budget_settings.check_limit(path, v)
end

M.SCOPES = { "command", "batch", "per_run", "per_task", "per_day" }
M.KINDS = { "tokens", "usd" }
-- What each event dialect reports: codex reports tokens but no cost, claude both.
local REPORTS = { codex = { tokens = true, usd = false }, claude = { tokens = true, usd = true } }
local NOUNS = { tokens = "token usage", usd = "cost" }
-- Where each scope's limit was set, for messages.
local SCOPE_NAMES = { command = { tokens = "--budget-tokens", usd = "--budget-usd" },
  batch = { tokens = "ctx:agents' budget_tokens", usd = "ctx:agents' budget_usd" },
  per_run = "config budgets.per_run", per_task = "config budgets.per_task", per_day = "config budgets.per_day, today UTC" }

-- How the limits are named in messages: the command line's flags, or a Lua function's options.
local FLAGS = { tokens = "--budget-tokens", usd = "--budget-usd" }
local OPTIONS = { tokens = "budget_tokens", usd = "budget_usd" }

-- A limit of the command line: {tokens, usd} or nil; nil, message (naming `names`' tokens and usd)
-- when one is not valid.
local function command_limit(o, names)
  local limit = {}
  if o.budget_tokens ~= nil then
    if math.type(o.budget_tokens) ~= "integer" or o.budget_tokens <= 0 then
      return nil, ("%s: expected a whole number > 0, got %s"):format(names.tokens, tostring(o.budget_tokens))
    end
    limit.tokens = o.budget_tokens
  end
  if o.budget_usd ~= nil then
    local usd = tonumber(o.budget_usd)
    if not usd or usd ~= usd or usd <= 0 or usd == math.huge then
      return nil, ("%s: expected a number of US dollars > 0 (2.5), got %s"):format(names.usd, tostring(o.budget_usd))
    end
    limit.usd = usd
  end
  return next(limit) and limit or false
end

---Why a Lua function's budget_tokens and budget_usd options are not valid (the message names
---them), or nil when they are (or absent).
---@param o table
---@return string|nil why
function M.check_options(o)
  local limit, why = command_limit(o, OPTIONS)
  return limit == nil and why or nil
end

---The budget of one command: config's `budgets` and the command line's budget_tokens,
---budget_usd (text or number) and budget_allow_unknown. Returns the budget ({command?, per_run?,
---per_task?, per_day?, allow_unknown, group}), false when there is none, or nil, message (a usage
---error). group: the runs of this command that share it as they go (sidecar.agent.budget_live).
---@param budgets table|nil  cfg.budgets
---@param o table  the command's options
---@return table|false|nil budget, string? message
function M.from_options(budgets, o)
  budgets = budgets or {}
  local b, why = {}, nil
  b.command, why = command_limit(o, FLAGS)
  if b.command == nil then
    return nil, why
  end
  b.command = b.command or nil
  for _, scope in ipairs({ "per_run", "per_task", "per_day" }) do
    b[scope] = budgets[scope] and next(budgets[scope]) and budgets[scope] or nil
  end
  b.allow_unknown = o.budget_allow_unknown == true or budgets.allow_unknown == true
  if not (b.command or b.per_run or b.per_task or b.per_day) then
    return false
  end
  b.group = budget_live.group(M.command_spent_env() ~= nil)
  return b
end

---What a run's runner reports ({tokens, usd}: booleans), from its record: the event dialect it
---ran with (`dialect`; false for none), or for a record from before that field, its runner's name
---when that is a built-in CLI.
---@param run table  a run record
function M.run_reports(run)
  local dialect = run.dialect
  if dialect == nil then
    dialect = REPORTS[run.runner_type] and run.runner_type
  end
  return M.reports(dialect or nil)
end

-- Adds one run's figure of `kind` to `spent`: its report, or as in flight, unknown or unmetered.
local function count_run(spent, run, kind, value)
  local names = kind == "tokens" and { "unknown", "unmetered" } or { "unknown_usd", "unmetered_usd" }
  if value then
    spent[kind] = spent[kind] + value
  elseif not store.ACTIVE[run.status] then -- in flight: nothing is unknown yet
    local name = M.run_reports(run)[kind] and names[1] or names[2]
    spent[name] = spent[name] + 1
  end
end

---What spending is known of some runs (records): {tokens, usd, runs, in_flight (runs still going:
---what they reported so far counts), unknown (finished runs whose runner reports tokens that
---reported none), unknown_usd (the same for cost), unmetered and unmetered_usd (finished runs whose
---runner reports no such figure)}. A run's `usage.total` and `cost_usd`, as recorded.
function M.spent_of(runs)
  local spent = { tokens = 0, usd = 0, unknown = 0, unknown_usd = 0, unmetered = 0, unmetered_usd = 0, runs = 0,
    in_flight = 0 }
  for _, run in ipairs(runs) do
    spent.runs = spent.runs + 1
    spent.in_flight = spent.in_flight + (store.ACTIVE[run.status] and 1 or 0)
    if not run.dry_run then
      count_run(spent, run, "tokens", type(run.usage) == "table" and agent_events.count(run.usage.total))
      count_run(spent, run, "usd", type(run.cost_usd) == "number" and run.cost_usd)
    end
  end
  return spent
end

---What a store usage row ({total = {sum, reported}, cost_usd = {sum, reported}, runs}, or nil for
---none) says was spent, in M.spent_of's shape.
function M.spent_of_row(row)
  if not row then
    return M.spent_of({})
  end
  return { tokens = row.total.sum, usd = row.cost_usd.sum, unknown = row.runs - row.total.reported,
    unknown_usd = row.runs - row.cost_usd.reported, runs = row.runs }
end
local spent_of_row = M.spent_of_row

---Today's start, UTC, as the store writes times.
function M.today(now)
  return os.date("!%Y-%m-%dT00:00:00Z", now or os.time())
end

-- The records of the runs started since `since` (created_at, as the store writes times), newest
-- first, a page at a time.
local function runs_since(s, since)
  local out, before = {}, nil
  repeat
    local page, message = s:list_runs({ before = before, limit = 200 })
    if not page then
      return nil, message
    end
    for _, run in ipairs(page) do
      if (run.created_at or "") < since then
        return out
      end
      out[#out + 1] = run
    end
    before = page[#page] and page[#page].run_id
  until #page < 200
  return out
end

---What the store says was spent per scope the budget has: {per_task = spent, per_day = spent}
---(M.spent_of's shape), or nil, message. task_id: the task (per_task).
function M.store_spent(s, b, task_id, now)
  local out = {}
  if b.per_task and task_id then
    local runs, message = s:list_runs({ task_id = task_id, limit = 0 })
    if not runs then
      return nil, message
    end
    out.per_task = M.spent_of(runs)
  end
  if b.per_day then
    local runs, message = runs_since(s, M.today(now))
    if not runs then
      return nil, message
    end
    out.per_day = M.spent_of(runs)
  end
  return out
end

-- "3333 tokens" / "$0.0123"
local function figure(kind, n)
  return kind == "usd" and ("$%.4f"):format(n) or ("%d tokens"):format(n)
end

---Says what a crossed limit ({scope, kind, limit, spent}) is, with its figures.
function M.describe(x)
  local name = SCOPE_NAMES[x.scope] or x.scope
  return ("budget exceeded: %s spent, over the limit of %s (%s)"):format(figure(x.kind, x.spent),
    figure(x.kind, x.limit), type(name) == "table" and name[x.kind] or name)
end

---What a runner's event dialect reports ({tokens, usd}: booleans); nothing for none.
function M.reports(dialect)
  return REPORTS[dialect] or { tokens = false, usd = false }
end

local ALLOW_HINT = "(allow it with --budget-allow-unknown or budgets.allow_unknown = true)"

-- Refuses what cannot be counted: earlier runs of a limited scope that reported no figure of a
-- limited kind, or a runner that will not report one. nil, or why.
local function unknown_refusal(b, spent, reports)
  for _, scope in ipairs(M.SCOPES) do
    local limit, so_far = b[scope], spent[scope]
    for _, kind in ipairs((limit and so_far) and M.KINDS or {}) do
      local unknown = kind == "tokens" and so_far.unknown or (so_far.unknown_usd or 0)
      if limit[kind] and unknown > 0 then
        return ("%d run%s under the %s budget reported no %s: what %s spent is unknown %s"):format(unknown,
          unknown == 1 and "" or "s", scope, NOUNS[kind], unknown == 1 and "it" or "they", ALLOW_HINT)
      end
    end
  end
  for _, kind in ipairs(M.KINDS) do
    for _, scope in ipairs(reports and reports[kind] == false and M.SCOPES or {}) do
      if b[scope] and b[scope][kind] then
        return ("this runner reports no %s, so the %s budget cannot be kept %s"):format(NOUNS[kind], scope, ALLOW_HINT)
      end
    end
  end
end

---Whether a next run may start: true, or nil, a message with the figures and the limit crossed
---({scope, kind, limit, spent}, or nil for a refusal over unknown usage). spent: per scope, in
---M.spent_of's shape (`command`: the runs this command started; per_task, per_day: M.store_spent).
---reports: what the next run's runner reports (M.reports; nil: taken as reporting all).
function M.may_start(b, spent, reports)
  if not b then
    return true
  end
  for _, scope in ipairs(M.SCOPES) do
    local limit, so_far = b[scope], spent[scope]
    for _, kind in ipairs((limit and so_far and scope ~= "per_run") and M.KINDS or {}) do
      if limit[kind] and so_far[kind] >= limit[kind] then
        local x = { scope = scope, kind = kind, limit = limit[kind], spent = so_far[kind] }
        return nil, M.describe(x) .. ": nothing is left for another run", x
      end
    end
  end
  local why = not b.allow_unknown and unknown_refusal(b, spent, reports)
  if why then
    return nil, why
  end
  return true
end

---What one run may spend: per scope and kind, what is left ({scope, kind, limit, left, before}).
function M.allowance(b, spent)
  local list = {}
  for _, scope in ipairs(b and M.SCOPES or {}) do
    local limit, so_far = b[scope], spent[scope] or { tokens = 0, usd = 0 }
    for _, kind in ipairs(limit and M.KINDS or {}) do
      if limit[kind] then
        local before = scope == "per_run" and 0 or so_far[kind]
        list[#list + 1] = { scope = scope, kind = kind, limit = limit[kind], before = before,
          left = limit[kind] - before }
      end
    end
  end
  return list
end

-- What a continued session had reported before (the CLI reports some figures for the whole
-- session: stdlib/sidecar/agent/session.lua), so that only this run's share counts.
local function baseline_of(spec, resume)
  local dialect = spec and spec.dialect and require("sidecar.agent." .. spec.dialect)
  if not (dialect and resume) then
    return nil
  end
  local cumulative = dialect.cumulative or {}
  local usage = type(resume.usage) == "table" and resume.usage or {}
  return { tokens = cumulative.usage and agent_events.count(usage.total) or 0,
    usd = cumulative.cost and type(resume.cost_usd) == "number" and resume.cost_usd or 0 }
end

M.SPENT_VARIABLE = "SIDECAR_BUDGET_SPENT" -- "TOKENS USD": a queue's spending before this run

---What a command that started this process (run start-ready) had spent of its budget before it
---({tokens, usd}), from SIDECAR_BUDGET_SPENT; nil when none.
function M.command_spent_env()
  local tokens, usd = (os.getenv(M.SPENT_VARIABLE) or ""):match("^(%d+) ([%d.eE+-]+)$")
  if not tokens then
    return nil
  end
  return { tokens = math.tointeger(tonumber(tokens)) or 0, usd = tonumber(usd) or 0 }
end

---Before one run under a budget: a meter for it (give it to agent_run.execute as `budget`), or
---nil, a message with the figures, and the limit crossed when the run may not start. s: the
---store; o: task_id, runs (the records this command has run so far), spec (the runner's), resume.
function M.before_run(s, b, o)
  local spent, message = M.store_spent(s, b, o.task_id)
  if not spent then
    return nil, message
  end
  spent.command = M.spent_of(o.runs or {})
  spent.batch = b.batch and M.spent_of(o.batch_runs or {}) or nil
  -- A run that `run start-ready` started: what the command's other runs had spent before it.
  local before = o.command_spent or M.command_spent_env()
  spent.command.tokens = spent.command.tokens + (before and before.tokens or 0)
  spent.command.usd = spent.command.usd + (before and before.usd or 0)
  local ok, why, crossed = M.may_start(b, spent, o.spec and M.reports(o.spec.dialect))
  if not ok then
    return nil, why, crossed
  end
  local m = M.meter(M.allowance(b, spent), baseline_of(o.spec, o.resume))
  m.group, m.task_id, m.batch_since = b.group, o.task_id, b.batch_since
  return m
end

local Meter = {}
Meter.__index = Meter
-- The events that come with an agent's final result (claude's `result`, the only one with its
-- cost): nothing is left to stop after them. (codex's turn_completed ends a turn; more may follow.)
local FINAL = { result = true }
Meter.__name = "sidecar.budget_meter"

---A meter for one run: give it to agent_run.execute as `budget`. It reads each event's reported
---usage and cost (cumulative within a run) less `baseline` ({tokens, usd}: a continued session's
---earlier report) and sets `exceeded` at the first allowance crossed.
---@param allowance table  M.allowance's list
---@param baseline table|nil
function M.meter(allowance, baseline)
  baseline = baseline or {}
  return setmetatable({ allowance = allowance, tokens = nil, usd = nil, exceeded = nil,
    base_tokens = baseline.tokens or 0, base_usd = baseline.usd or 0 }, Meter)
end

---Takes one parsed event (kind, fields) as agent_run's on_event gets it.
function Meter:observe(kind, fields)
  if type(fields) ~= "table" then
    return
  end
  local total = type(fields.usage) == "table" and agent_events.count(fields.usage.total)
  if total then
    self.tokens = math.max(0, total - self.base_tokens)
  end
  if type(fields.cost_usd) == "number" and fields.cost_usd == fields.cost_usd then
    self.usd = math.max(0, fields.cost_usd - self.base_usd)
  end
  self.changed = self.changed or total ~= nil or fields.cost_usd ~= nil
  for _, a in ipairs(self.exceeded and {} or self.allowance) do
    local own = self[a.kind]
    if own and own > a.left then
      -- limit and spent are the scope's: what the user set and what it has spent in all, this run
      -- included; left_at_start and run_spent are this run's share. A figure that came with the
      -- agent's final result (claude's cost) crossed nothing the agent could still be stopped in.
      self.exceeded = { scope = a.scope, kind = a.kind, limit = a.limit, spent = a.before + own,
        left_at_start = a.left, run_spent = own, at_final = FINAL[kind] == true }
      return
    end
  end
end

---Shares the run's budget with the runs going beside it (sidecar.agent.budget_live): its figures
---so far go to `save` ({tokens, usd}: the run's owner writes them to its record) as they come, and
---stop_now also reads what the budget's scopes spent in all from `s`, the run's store.
---@param s table  the store
---@param save fun(figures: table)
function Meter:share(s, save)
  self.store, self.save = s, save
end

---Whether the run must be stopped now.
function Meter:stop_now()
  if self.store and not self.exceeded then
    budget_live.tick(self)
  end
  return self.exceeded ~= nil
end

---Marks an ended run's record when its meter crossed a limit: status `budget_exceeded`, the
---figures in `budget_exceeded` ({scope, kind, limit (as the user set it), spent (by the scope in
---all), left_at_start, run_spent (this run's), stopped}) and failure_reason saying them. stopped: whether the agent was stopped for it (agent_watch's r.stopped), rather than
---having ended by itself with its last report.
function Meter:apply(record, stopped)
  local x = self.exceeded
  if x then
    stopped = stopped == true and not x.at_final -- the same however soon the agent exited after it
    record.status = "budget_exceeded"
    record.budget_exceeded = { scope = x.scope, kind = x.kind, limit = x.limit, spent = x.spent,
      left_at_start = x.left_at_start, run_spent = x.run_spent, stopped = stopped }
    record.failure_reason = M.describe(x) .. (x.shared and ", with the runs going beside it" or "")
      .. (stopped and "; the agent was stopped" or "; the agent had ended with that report")
  end
  return record
end

return M
