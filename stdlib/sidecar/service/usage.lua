--- `sidecar usage`'s work, as data (sidecar.service.result): the tokens and cost the runs reported,
--- grouped (by runner, model, task, status, day, run, runner_day, model_day, or none), over a span.
--- The command line renders it as a table, CSV, JSON lines or `--json`; `sidecar ui` answers with it.
---
---   local r = usage.report({ root = root, by = "model", since = "7d" })
---   -- r.data: {since, until, by, rows, total, unreadable_prepared}; r.report: the rows as summed
local json = require("sidecar.core.json")
local prepared_usage = require("sidecar.task.prepared_usage")
local result = require("sidecar.service.result")
local service_store = require("sidecar.service.store")
local store = require("sidecar.core.store")

local M = {}

local UNITS = { m = 60, h = 3600, d = 86400, w = 7 * 86400 }

---Reads --since/--until: a date (2026-11-01, midnight UTC), a UTC time (2026-11-01T09:30:00Z),
---or an age before `now` (90m, 24h, 7d, 2w). Returns ISO-8601 UTC text, or nil and a message.
function M.parse_when(text, now)
  now = now or os.time()
  local n, unit = text:match("^(%d+)([mhdw])$")
  if n then
    return os.date("!%Y-%m-%dT%H:%M:%SZ", now - tonumber(n) * UNITS[unit])
  end
  local y, mo, d = text:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)$")
  local h, mi, s = "00", "00", "00"
  if not y then
    y, mo, d, h, mi, s = text:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)T(%d%d):(%d%d):(%d%d)Z$")
  end
  if y and tonumber(mo) >= 1 and tonumber(mo) <= 12 and tonumber(d) >= 1 and tonumber(d) <= 31 and
      tonumber(h) < 24 and tonumber(mi) < 60 and tonumber(s) < 61 then
    return ("%s-%s-%sT%s:%s:%sZ"):format(y, mo, d, h, mi, s)
  end
  return nil, ("'%s' is not a time: give a date (2026-11-01), a UTC time (2026-11-01T09:30:00Z) or an age "
    .. "(90m, 24h, 7d, 2w)"):format(text)
end

---The token figures of a row, each {sum, reported (how many of its runs reported it)}.
M.FIELDS = { "input", "cached_input", "output", "reasoning_output", "total" }
---What rows may be grouped by.
M.GROUPS = { runner = true, model = true, task = true, status = true, day = true, run = true, none = true,
  runner_day = true, model_day = true }

-- The total of all rows, in the same shape.
local function sum_rows(rows)
  local t = { group = "total", is_total = true, runs = 0, cost_usd = { sum = 0, reported = 0 } }
  for _, f in ipairs(M.FIELDS) do
    t[f] = { sum = 0, reported = 0 }
  end
  for _, r in ipairs(rows) do
    t.runs = t.runs + r.runs
    for _, f in ipairs(M.FIELDS) do
      t[f].sum = t[f].sum + r[f].sum
      t[f].reported = t[f].reported + r[f].reported
    end
    t.cost_usd.sum = t.cost_usd.sum + r.cost_usd.sum
    t.cost_usd.reported = t.cost_usd.reported + r.cost_usd.reported
    if r.first_at and (not t.first_at or r.first_at < t.first_at) then t.first_at = r.first_at end
    if r.last_at and (not t.last_at or r.last_at > t.last_at) then t.last_at = r.last_at end
  end
  return t
end

---A row for --json: figures are null when no run in the row reported them.
function M.row_json(r)
  local usage, reported = {}, {}
  for _, f in ipairs(M.FIELDS) do
    usage[f] = r[f].reported > 0 and r[f].sum or json.null
    reported[f] = r[f].reported
  end
  return {
    group = r.group, runs = r.runs, usage = usage, usage_reported = reported,
    cost_usd = r.cost_usd.reported > 0 and r.cost_usd.sum or json.null, cost_reported = r.cost_usd.reported,
    first_at = r.first_at or json.null, last_at = r.last_at or json.null,
    source = r.is_total and "total" or r.prepared and "prepared" or "store",
  }
end

---The store's usage query of o.by, o.since and o.until: {group_by, since?, until?} and the grouping,
---or nil and a message naming the option that is not valid.
---@param o {by: string, since: string?, until: string?}
function M.query(o)
  local by = o.by -- "runner" unless given (cli/store_command.cpp)
  if not M.GROUPS[by] then
    return nil, "--by " .. tostring(by) .. ": expected runner, model, task, status, day, run, runner_day, model_day or none"
  end
  local q = { group_by = by == "none" and "" or by }
  for _, key in ipairs({ "since", "until" }) do
    if o[key] then
      local when, message = M.parse_when(o[key])
      if not when then
        return nil, "--" .. key .. " " .. message
      end
      q[key] = when
    end
  end
  return q, by
end

---The usage of the store's runs and of its prepared folders (.agent/sidecars): data {since, until,
---by, rows (each M.row_json; none with by = "none"), total, unreadable_prepared}, and `report`
---{query, by, rows, total, unreadable}: the rows as summed, for the command line's other formats.
---@param o {root: string?, by: string, since: string?, until: string?}
function M.report(o)
  local q, by = M.query(o)
  if not q then
    return result.fail(by, "usage")
  end
  local root = service_store.root(o)
  local s, message = store.open(root)
  if not s then
    return result.fail(service_store.hint(o, message))
  end
  local rows
  rows, message = s:usage(q)
  s:close()
  if not rows then
    return result.fail(message)
  end
  local prepared_rows, unreadable = prepared_usage.rows(root, q)
  for _, r in ipairs(prepared_rows) do
    rows[#rows + 1] = r
  end
  local total = sum_rows(rows)
  local list = {}
  for i, r in ipairs(by == "none" and {} or rows) do
    list[i] = M.row_json(r)
  end
  local r = result.ok({ since = q.since or json.null, ["until"] = q["until"] or json.null, by = by,
    rows = json.array(list), total = M.row_json(total), unreadable_prepared = json.array(unreadable) })
  r.report = { query = q, by = by, rows = rows, total = total, unreadable = unreadable }
  return r
end

return M
