--- A budget kept while runs go at once: the runs of one command (a preset's ctx:agents, a fan-out
--- of `run start-ready`) share its limit, and what each has spent so far is written to its record as
--- its agent reports it, so that the others' meters see it. About once a second a running agent's
--- meter reads, from the store, what its scope has spent in all (the command's runs, the task's,
--- today's: its siblings' live figures with the ended runs'); once that crosses a limit, the agent
--- is stopped and its run recorded budget_exceeded. Every run going at the time crosses it, so each
--- is stopped within about a second: nothing starts, and nothing goes on, once the budget is spent.
---
---   local group = budget_live.group()                 -- the command's, in its budget (b.group)
---   meter:share(s, function(figures) ... end)        -- agent_run: the run's live figures, to save
---   budget_live.tick(meter)                           -- meter:stop_now(), about every 100 ms
local clock = require("sidecar.host.time")
local ids = require("sidecar.core.ids")
local store = require("sidecar.core.store")

local M = {}

M.CHECK_MS = 1000 -- how often a running agent's meter reads what its scope spent in all
M.SAVE_MS = 250 -- how often at most a run's figures so far are written to its record
M.GROUP_VARIABLE = "SIDECAR_BUDGET_GROUP" -- "ID SINCE": the group of the command that started this process

local function now_ms()
  return clock.monotonic_ns() // 1000000
end

---The runs of one command that share its budget: {id, since (when the command began, as the store
---writes times)}. A process that `run start-ready` started (SIDECAR_BUDGET_GROUP, with its
---SIDECAR_BUDGET_SPENT) is in the group of that command.
---@param from_queue boolean  whether this process was started by a command that shares its budget
function M.group(from_queue)
  local id, since = (from_queue and os.getenv(M.GROUP_VARIABLE) or ""):match("^([%w-]+) (%S+)$")
  if id then
    return { id = id, since = since }
  end
  return { id = ids.uuid(), since = store.now() }
end

---The environment that puts a process started by this command in its group.
function M.group_env(group)
  return { [M.GROUP_VARIABLE] = group.id .. " " .. group.since }
end

-- The store's question for what `scope` spent in all (nil when it has none to ask).
local function query(m, scope)
  if scope == "command" then
    return m.group and { since = m.group.since, budget_group = m.group.id }
  elseif scope == "batch" then -- the runs of one ctx:agents call: its preset's task's, since the call
    return m.task_id and m.batch_since and { task_id = m.task_id, since = m.batch_since }
  elseif scope == "per_task" then
    return m.task_id and { task_id = m.task_id }
  elseif scope == "per_day" then
    return { since = os.date("!%Y-%m-%dT00:00:00Z") }
  end
end

---What `scope` has spent in all so far ({tokens, usd}): its runs' records, this run's own as its
---meter has it now rather than as last saved; nil when that cannot be told (no group, no task, the
---store failed).
function M.spent_now(m, scope)
  local q = m.store and query(m, scope)
  local rows = q and m.store:usage(q)
  if not rows then
    return nil
  end
  local row = rows[1] or { total = { sum = 0 }, cost_usd = { sum = 0 } }
  local saved = m.saved or { tokens = 0, usd = 0 }
  return { tokens = row.total.sum - saved.tokens + (m.tokens or 0), usd = row.cost_usd.sum - saved.usd + (m.usd or 0) }
end

-- Writes the run's figures so far to its record when they changed, at most every SAVE_MS.
local function save(m, now)
  if m.changed and now - (m.saved_at or -M.SAVE_MS) >= M.SAVE_MS then
    m.changed, m.saved_at = false, now
    m.save({ tokens = m.tokens, usd = m.usd })
    m.saved = { tokens = m.tokens or 0, usd = m.usd or 0 }
  end
end

---One look of a shared meter (Meter:stop_now, about every 100 ms): its own figures saved, and
---every CHECK_MS its scopes' spending in all read; the first limit crossed sets m.exceeded
---({scope, kind, limit, spent, left_at_start, run_spent, shared = true}).
function M.tick(m)
  local now = now_ms()
  save(m, now)
  if now - (m.checked_at or -M.CHECK_MS) < M.CHECK_MS then
    return
  end
  m.checked_at = now
  for _, a in ipairs(m.allowance) do
    local all = a.scope ~= "per_run" and M.spent_now(m, a.scope)
    if all and all[a.kind] > a.limit then
      m.exceeded = { scope = a.scope, kind = a.kind, limit = a.limit, spent = all[a.kind], left_at_start = a.left,
        run_spent = m[a.kind] or 0, shared = true }
      return
    end
  end
end

return M
