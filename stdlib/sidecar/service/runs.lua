--- The run commands' work that reads, as data (sidecar.service.result): the list, one run, the
--- review queue and a run's events. `sidecar run list|show|review|tail` render it as text or
--- `--json`; `sidecar ui` and `sidecar mcp` answer with it.
---
---   local r = runs.list({ root = root, status = "review", limit = 50 })  -- r.data: the records
---   local r = runs.show({ root = root, id = "R-0001" })                  -- r.data: run_data.show's
local json = require("sidecar.core.json")
local result = require("sidecar.service.result")
local review = require("sidecar.task.review")
local run_background = require("sidecar.task.background")
local run_data = require("sidecar.service.run_data")
local service_store = require("sidecar.service.store")
local store = require("sidecar.core.store")

local M = {}

---A failed result when `id` is not a run id: "usage" (nil when it is one).
---@param id string|nil
function M.check_id(id)
  if id == nil then -- an empty argument (`run show ""`): the parser leaves it out
    return result.fail("give a run id (R-0001)", "usage")
  end
  if not tostring(id):match("^R%-%d+$") then
    return result.fail(("'%s' is not a run id (run ids look like R-0001)"):format(id), "usage")
  end
end

-- Calls fn(s) -> result with the store of `o` open and its dead owners' runs ended first.
local function with_store(o, fn)
  local s, message = service_store.open_runs(o)
  if not s then
    return result.fail(message)
  end
  local ok, r = pcall(fn, s)
  s:close()
  if not ok then
    error(r, 0)
  end
  return r
end

---The runs, newest first: o.task, o.status (one of store.RUN_STATUSES), o.limit (0: all).
---@param o {root: string?, task: string?, status: string?, limit: integer}
function M.list(o)
  if o.limit < 0 then
    return result.fail(("--limit '%d': expected a whole number (0: all)"):format(o.limit), "usage")
  end
  if o.status then
    local known = false
    for _, st in ipairs(store.RUN_STATUSES) do
      known = known or st == o.status
    end
    if not known then
      return result.fail(("unknown status '%s' (statuses: %s)"):format(o.status, table.concat(store.RUN_STATUSES,
        ", ")), "usage")
    end
  end
  return with_store(o, function(s)
    run_background.reconcile_active(s) -- a run whose owner died (worker or foreground) is ended first
    local list, message = s:list_runs({ task_id = o.task, status = o.status, limit = o.limit })
    return list and result.ok(json.array(list)) or result.fail(message)
  end)
end

---One run: its record, lineage and validation (sidecar.service.run_data.show).
---@param o {root: string?, id: string}
function M.show(o)
  local bad = M.check_id(o.id)
  if bad then
    return bad
  end
  return with_store(o, function(s)
    run_background.reconcile(s, s:get_run(o.id))
    local data, message, code = run_data.show(s, o.id)
    return data and result.ok(data) or result.fail(message, code)
  end)
end

---The runs waiting for a decision, oldest first: each {run, task_title, why}.
---@param o {root: string?}
function M.review(o)
  return with_store(o, function(s)
    run_background.reconcile_active(s) -- a run whose owner died waits for a decision too
    local items, message = review.queue(s)
    if not items then
      return result.fail(message)
    end
    local data = {}
    for i, item in ipairs(items) do
      data[i] = { run = item.run, task_title = item.task_title or json.null, why = item.why }
    end
    return result.ok(json.array(data))
  end)
end

---A run's events (its events.jsonl): {run_id, status, events}; those so far, or with o.follow all
---of them, once the run has ended.
---@param o {root: string?, id: string, follow: boolean?}
function M.events(o)
  local bad = M.check_id(o.id)
  if bad then
    return bad
  end
  return with_store(o, function(s)
    local events = {}
    local run, message, code = run_background.tail(s, o.id, o.follow, function(line, event)
      events[#events + 1] = event or line
    end)
    if not run then
      return result.fail(message, code)
    end
    return result.ok({ run_id = o.id, status = run.status, events = json.array(events) })
  end)
end

return M
