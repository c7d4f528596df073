--- The run commands' work, as data (sidecar.service.result): the list, one run, the review queue,
--- a run's events, and the decisions on a run (approve, block, kill). `sidecar run list|show|review|
--- tail|approve|block|kill` render it as text or `--json`; `sidecar ui` and `sidecar mcp` answer with it.
---
---   local r = runs.list({ root = root, status = "review", limit = 50 })  -- r.data: the records
---   local r = runs.show({ root = root, id = "R-0001" })                  -- r.data: run_data.show's
local json = require("sidecar.core.json")
local result = require("sidecar.service.result")
local reconcile = require("sidecar.executor.reconcile")
local review = require("sidecar.task.review")
local run_control = require("sidecar.executor.run_control")
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

---Calls fn(s, cfg) -> result with the run store of `o` open, once o.id is a run id (a "usage"
---failure otherwise).
---@param o {root: string?, id: string}
---@param fn fun(s: table, cfg: table): table
function M.with_run(o, fn)
  local bad = M.check_id(o.id)
  if bad then
    return bad
  end
  return service_store.with_runs(o, fn)
end

---The runs, newest first: o.task, o.status (one of store.RUN_STATUSES), o.limit (0: all; 50 unless
---given).
---@param o {root: string?, task: string?, status: string?, limit: integer?}
function M.list(o)
  local limit = o.limit or 50
  if math.type(limit) ~= "integer" or limit < 0 then
    return result.fail(("--limit '%s': expected a whole number (0: all)"):format(tostring(limit)), "usage")
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
  return service_store.with_runs(o, function(s)
    reconcile.reconcile_active(s) -- a run whose owner died (worker or foreground) is ended first
    local list, message = s:list_runs({ task_id = o.task, status = o.status, limit = limit })
    return list and result.ok(json.array(list)) or result.fail(message)
  end)
end

---One run: its record, lineage and validation (sidecar.service.run_data.show).
---@param o {root: string?, id: string}
function M.show(o)
  return M.with_run(o, function(s)
    reconcile.reconcile(s, s:get_run(o.id))
    local data, message, code = run_data.show(s, o.id)
    return data and result.ok(data) or result.fail(message, code)
  end)
end

---The runs waiting for a decision, oldest first: each {run, task_title, why}.
---@param o {root: string?}
function M.review(o)
  return service_store.with_runs(o, function(s)
    reconcile.reconcile_active(s) -- a run whose owner died waits for a decision too
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
  return M.with_run(o, function(s)
    local events = {}
    local run, message, code = run_control.tail(s, o.id, o.follow, function(line, event)
      events[#events + 1] = event or line
    end)
    if not run then
      return result.fail(message, code)
    end
    return result.ok({ run_id = o.id, status = run.status, events = json.array(events) })
  end)
end

---Approves a run waiting for a decision: o.note, o.decision ("accept" or "partially accept"),
---o.by (who decides, when not the person at the terminal: `sidecar mcp` passes "agent:mcp").
---The result's data is the run's record.
---@param o {root: string?, id: string, note: string?, decision: string?, by: string?}
function M.approve(o)
  local bad = M.check_id(o.id) or (o.decision and o.decision ~= "accept" and o.decision ~= "partially accept"
    and result.fail("--decision is accept or \"partially accept\"", "usage"))
  if bad then
    return bad
  end
  return service_store.with_runs(o, function(s)
    local run, message = review.approve(s, o.id, { note = o.note, decision = o.decision, by = o.by })
    return run and result.ok(run) or result.fail(message)
  end)
end

---Blocks a run waiting for a decision: o.reason (what is wrong), o.decision ("reject" or
---"escalate"), o.by. The result's data is the run's record.
---@param o {root: string?, id: string, reason: string, decision: string?, by: string?}
function M.block(o)
  local bad = M.check_id(o.id)
    or (o.decision and o.decision ~= "reject" and o.decision ~= "escalate"
      and result.fail("--decision is reject or escalate", "usage"))
    or ((not o.reason or o.reason:match("^%s*$")) and result.fail("--reason must say what is wrong", "usage"))
  if bad then
    return bad
  end
  return service_store.with_runs(o, function(s)
    local run, message = review.block(s, o.id, { reason = o.reason, decision = o.decision, by = o.by })
    return run and result.ok(run) or result.fail(message)
  end)
end

---Stops a run that is going (its worker or foreground owner and its agent): the result's data is
---its record, ended.
---@param o {root: string?, id: string}
function M.kill(o)
  return M.with_run(o, function(s)
    local run, message, code = run_control.kill(s, o.id)
    return run and result.ok(run) or result.fail(message, code)
  end)
end

return M
