--- The runs by state, as the board of `sidecar ui` shows them (docs/api.md): five columns, each
--- counted and listed a page at a time from the store's indexes, however many runs it holds.
---
---   needs_you  waiting on a person: stuck or waiting for input (a running run's attention), a
---              question or a blocker not yet decided (blocked, pending), a budget stop, an outcome
---              unknown
---   running    queued, preparing, running (nobody needed)
---   review     finished and waiting for review, oldest first (the queue)
---   failed     failed, interrupted, or blocked by a person's decision
---   done       approved (completed), dry runs, a preset's read-only steps (reported to it)
---
--- Filters (each optional): runner, status, task, preset, text (in the run id, task id or summary).
--- Each column's page is newest first (review: oldest first) and `cursor` is the last run id of the
--- page before. A card: {run_id, task_id, task_title, runner, model, status, reason, created_at,
--- completed_at, duration_ms, tokens, cost_usd, preset, attention}; a figure nobody reported is
--- absent, never a zero.
---
---   local r = run_board.board({ root = root, runner = "claude", limit = 20 })
---   -- r.data.columns[i]: {name, label, count, runs = {card...}, next (a cursor, or null)}
local json = require("sidecar.core.json")
local result = require("sidecar.service.result")
local store = require("sidecar.core.store")

local M = {}

M.LIMIT, M.MAX_LIMIT = 20, 200
-- Running runs read to find those that need someone (stuck or waiting: only an agent at work is);
-- a machine runs far fewer at once (max_agents).
M.NEEDING_MAX = 1000
local UNDECIDED = { "", "pending" }
local ACTIVE = { "queued", "preparing", "running" }

-- Each column: its parts (store queries, merged by run number); `needing`: the running runs that
-- need someone are added (needs_you) or left out (running).
M.COLUMNS = {
  { name = "needs_you", label = "Needs you",
    parts = { { statuses = { "blocked", "budget_exceeded", "outcome_unknown" }, review_states = UNDECIDED } },
    needing = "add" },
  { name = "running", label = "Running", parts = { { statuses = ACTIVE } }, needing = "leave out" },
  { name = "review", label = "Review", parts = { { statuses = { "review" }, review_states = UNDECIDED } },
    oldest_first = true },
  { name = "failed", label = "Blocked or failed",
    parts = { { statuses = { "failed", "interrupted" } }, { statuses = { "blocked" }, review_states = { "blocked" } } } },
  -- A preset's read-only step is reported to the preset, not waiting for a decision.
  { name = "done", label = "Done",
    parts = { { statuses = { "completed", "dry_run" } }, { statuses = { "review" }, review_states = { "reported" } } } },
}
local KNOWN_STATUS = {}
for _, st in ipairs(store.RUN_STATUSES) do
  KNOWN_STATUS[st] = true
end

local function present(v)
  return v ~= nil and v ~= json.null and v ~= ""
end

-- The filters of a request as store query keys (status: kept for the parts, see `narrowed`).
local function filters_of(o)
  return { runner = present(o.runner) and o.runner or nil, preset = present(o.preset) and o.preset or nil,
    task_id = present(o.task) and o.task or nil, text = present(o.q) and o.q or nil }
end

-- A part's query with the filters, narrowed to the asked status (nil: the part has none of it).
local function narrowed(part, f, status)
  local statuses = part.statuses
  if status then
    local found = false
    for _, st in ipairs(statuses) do
      found = found or st == status
    end
    if not found then
      return nil
    end
    statuses = { status }
  end
  return { statuses = statuses, review_states = part.review_states, runner = f.runner, preset = f.preset,
    task_id = f.task_id, text = f.text }
end

local function needs_someone(run)
  return type(run.attention) == "table" and present(run.attention.state)
end

-- What a card says of why a run is where it is.
local function reason_of(run)
  if needs_someone(run) then
    return run.attention.state == "stuck" and "stuck" or "waiting for input"
  end
  local blockers = type(run.blockers) == "table" and run.blockers or {}
  if run.status == "blocked" and present(blockers[#blockers]) then
    return tostring(blockers[#blockers])
  end
  return present(run.failure_reason) and tostring(run.failure_reason) or nil
end

local function tokens_of(run)
  local u = type(run.usage) == "table" and run.usage or {}
  if math.type(u.total) == "integer" then
    return u.total
  end
  return (math.type(u.input) == "integer" and math.type(u.output) == "integer") and u.input + u.output or nil
end

-- A card (a run's facts for the board), the task's title from `titles` (read once a task).
local function card(s, run, titles)
  local id = run.task_id
  if present(id) and titles[id] == nil then
    local task = s:get_task(id)
    titles[id] = task and task.title or false
  end
  return { run_id = run.run_id, task_id = present(id) and id or nil, task_title = present(id) and titles[id] or nil,
    runner = run.runner_type, model = present(run.model) and run.model or nil, status = run.status,
    reason = reason_of(run), created_at = run.created_at, completed_at = present(run.completed_at) and run.completed_at or nil,
    duration_ms = math.type(run.duration_ms) == "integer" and run.duration_ms or nil, tokens = tokens_of(run),
    cost_usd = type(run.cost_usd) == "number" and run.cost_usd or nil, preset = present(run.preset) and run.preset or nil,
    attention = needs_someone(run) and run.attention.state or nil }
end

local function number_of(run_id)
  return tonumber(run_id:match("(%d+)$"))
end

-- The running runs matching the filters that need someone (stuck, waiting for input), newest first.
local function needing(s, f, status)
  if status and status ~= "running" then
    return {}
  end
  local q = narrowed({ statuses = { "running" } }, f, nil)
  q.limit = M.NEEDING_MAX
  local list, message, code = s:list_runs(q)
  if not list then
    return nil, message, code
  end
  local out = {}
  for _, run in ipairs(list) do
    if needs_someone(run) then
      out[#out + 1] = run
    end
  end
  return out
end

-- One column's page: its runs past `cursor`, in its order, at most `limit` (one more looked for, to
-- say whether there is a next page), and its count.
local function column_page(s, col, f, status, cursor, limit, needy)
  local runs, count = {}, 0
  local newest = not col.oldest_first
  local bound = cursor and number_of(cursor)
  local leave = {}
  for _, run in ipairs(col.needing == "leave out" and needy or {}) do
    leave[run.run_id] = true
  end
  for _, part in ipairs(col.parts) do
    local q = narrowed(part, f, status)
    if q then
      local n, message, code = s:count_runs(q)
      if not n then
        return nil, message, code
      end
      count = count + n
      q.limit, q.oldest_first = limit + 1 + #needy, col.oldest_first -- room for those left out
      q[newest and "before" or "after"] = cursor
      local list
      list, message, code = s:list_runs(q)
      if not list then
        return nil, message, code
      end
      for _, run in ipairs(list) do
        if not leave[run.run_id] then
          runs[#runs + 1] = run
        end
      end
    end
  end
  if col.needing == "leave out" then
    count = count - #needy
  elseif col.needing == "add" then
    count = count + #needy
    for _, run in ipairs(needy) do
      if not bound or number_of(run.run_id) < bound then
        runs[#runs + 1] = run
      end
    end
  end
  table.sort(runs, function(a, b)
    local x, y = number_of(a.run_id), number_of(b.run_id)
    return newest and x > y or (not newest and x < y)
  end)
  local more = #runs > limit
  for i = #runs, limit + 1, -1 do
    runs[i] = nil
  end
  return runs, count, more
end

---The board: o {root?, runner?, status?, task?, preset?, q? (text), column? (only that column), cursor?
---(a run id: the page after it), limit? (cards a column, default 20, at most 200)}. Returns a
---result whose data is {columns = {{name, label, count, runs, next}...}, filters}.
---@param o table
---@return table result
function M.board(o)
  local limit = math.min(math.max(math.tointeger(o.limit) or M.LIMIT, 1), M.MAX_LIMIT)
  if present(o.cursor) and not tostring(o.cursor):match("^R%-%d+$") then
    return result.fail(("cursor %s: not a run id (R-0001)"):format(tostring(o.cursor)))
  elseif present(o.cursor) and not present(o.column) then
    return result.fail("cursor: give the column it pages too (each column has its own order)")
  end
  local status = present(o.status) and o.status or nil
  if status and not KNOWN_STATUS[status] then
    return result.fail(("status %s: not a run status (%s)"):format(status, table.concat(store.RUN_STATUSES, ", ")))
  end
  local s <close>, message = require("sidecar.service.store").open(o)
  if not s then
    return result.fail(message)
  end
  local f = filters_of(o)
  local needy, why, code = needing(s, f, status)
  if not needy then
    return result.fail(why, code)
  end
  local titles, columns = {}, {}
  for _, col in ipairs(M.COLUMNS) do
    if not present(o.column) or o.column == col.name then
      local runs, count, more = column_page(s, col, f, status, present(o.cursor) and o.cursor or nil, limit, needy)
      if not runs then
        return result.fail(count, more)
      end
      local cards = {}
      for i, run in ipairs(runs) do
        cards[i] = card(s, run, titles)
      end
      columns[#columns + 1] = { name = col.name, label = col.label, count = count, runs = json.array(cards),
        next = more and cards[#cards].run_id or json.null }
    end
  end
  if #columns == 0 then
    return result.fail(("column %s: no such column (needs_you, running, review, failed, done)"):format(tostring(o.column)))
  end
  return result.ok({ columns = json.array(columns), limit = limit,
    filters = { runner = f.runner, status = status, task = f.task_id, preset = f.preset, q = f.text } })
end

return M
