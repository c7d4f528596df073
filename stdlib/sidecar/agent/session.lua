--- Sessions that continue (see stdlib/sidecar/agent/run.lua): the checks of a `resume` option, and a
--- continued run's own usage and cost when its CLI reports figures for the whole session.
local agent_events = require("sidecar.agent.events")
local errors = require("sidecar.core.errors")
local json = require("sidecar.core.json")
local runners = require("sidecar.agent.runners")
local telemetry = require("sidecar.core.telemetry")

local M = {}

local USD_DIGITS = 1e12 -- a cost difference is rounded to 1e-12 USD (no float noise)
local USAGE_FIELD = {}
for _, k in ipairs(telemetry.USAGE_FIELDS) do
  USAGE_FIELD[k] = true
end

local function bad_resume(message)
  errors.raise("bad_option", "agent_run.execute: `resume`" .. message, nil, 5) -- blames execute's caller
end

-- resume = {session_id, usage?, cost_usd?, run_id?}: a session id and the previous run's reports.
---Checks agent_run.execute's `resume` option; raises a bad_option error naming what is wrong.
function M.check_resume(o)
  local r = o.resume
  if type(r) ~= "table" then
    bad_resume(" must be a table {session_id, usage?, cost_usd?, run_id?}")
  end
  if type(r.session_id) ~= "string" or r.session_id == "" then
    bad_resume(".session_id must be a non-empty string")
  end
  if o.session_id ~= nil then
    bad_resume(" continues a session: a new `session_id` cannot be given with it")
  end
  if r.usage ~= nil and r.usage ~= json.null then
    if type(r.usage) ~= "table" then
      bad_resume(".usage must be a usage table (the previous run's usage_reported)")
    end
    for k, v in pairs(r.usage) do
      if not USAGE_FIELD[k] or (v ~= json.null and not agent_events.count(v)) then
        bad_resume((".usage.%s: expected one of %s with a whole number >= 0 or json.null"):format(
          tostring(k), table.concat(telemetry.USAGE_FIELDS, ", ")))
      end
    end
  end
  local cost = r.cost_usd
  if cost ~= nil and cost ~= json.null and not (type(cost) == "number" and cost >= 0 and cost < math.huge) then
    bad_resume(".cost_usd must be a number of US dollars >= 0")
  end
  if r.run_id ~= nil and type(r.run_id) ~= "string" then
    bad_resume(".run_id must be a string")
  end
end

local function known(v)
  return v ~= nil and v ~= json.null
end

-- This run's usage from a report covering the whole session: now - before, field by field.
local function usage_share(now, before, warnings)
  before = known(before) and before or {}
  local share = telemetry.delta(now, before)
  local missing = {}
  for _, k in ipairs(telemetry.USAGE_FIELDS) do
    if known(now[k]) and not known(share[k]) then
      if known(before[k]) then
        warnings[#warnings + 1] = ("usage.%s: the session reports %d, less than the %d reported before this run; " ..
          "this run's share is unknown"):format(k, now[k], before[k])
      else
        missing[#missing + 1] = k
      end
    end
  end
  if #missing > 0 then
    warnings[#warnings + 1] = ("usage (%s): the session reports totals and the run it continues reported none; " ..
      "this run's share is unknown"):format(table.concat(missing, ", "))
  end
  return share
end

-- This run's cost from the session's total: now - before, rounded to 1e-12 USD.
local function cost_share(now, before, warnings)
  if not known(before) then
    warnings[#warnings + 1] = "cost: the session reports its total and the run it continues reported none; " ..
      "this run's cost is unknown"
    return nil
  elseif now < before then
    warnings[#warnings + 1] = ("cost: the session reports %.6f USD, less than the %.6f USD reported before this " ..
      "run; this run's cost is unknown"):format(now, before)
    return nil
  end
  return math.floor((now - before) * USD_DIGITS + 0.5) / USD_DIGITS
end

-- This run's own usage and cost. A resumed session may report figures for the whole session (the
-- summary's `cumulative` says which when its source does, else the dialect's): then the previous
-- run's report is subtracted.
function M.own_share(summary, dialect, resume, warnings)
  local usage, cost = summary.usage, summary.cost_usd
  local cumulative = resume and (summary.cumulative or dialect.cumulative) or {}
  if cumulative.usage then
    usage = usage_share(usage, resume.usage, warnings)
  end
  if cumulative.cost and cost ~= nil then
    cost = cost_share(cost, resume.cost_usd, warnings)
  end
  return usage, cost
end

---The `resume` option continuing the session of an earlier run record, or nil, why and a code
---("not_continuable") when that run cannot be continued (it was ephemeral, or has no session).
---Continue it with the same runner (record.runner_type).
---@param record table  a run record (agent_run.execute's result, or one read from the store)
---@return table|nil resume, string? message, string? code
function M.continuation(record)
  if type(record) ~= "table" then
    errors.raise("bad_option", "agent_run.continuation: expected a run record", nil, 2)
  end
  local id = tostring(record.run_id)
  local spec = runners.get(record.runner_type)
  if not (spec and spec.can_resume) then
    return nil, ("run %s ran with %s, which cannot continue a session"):format(id, tostring(record.runner_type)),
      "not_continuable"
  elseif record.ephemeral ~= false then
    return nil, ("run %s was ephemeral: its CLI kept no session to continue (run it with ephemeral = false)"):format(id),
      "not_continuable"
  elseif type(record.session_id) ~= "string" then
    return nil, ("run %s has no session id (its CLI never reported one)"):format(id), "not_continuable"
  end
  return {
    session_id = record.session_id, run_id = record.run_id,
    usage = known(record.usage_reported) and record.usage_reported or nil,
    cost_usd = known(record.cost_reported_usd) and record.cost_reported_usd or nil,
  }
end

return M
