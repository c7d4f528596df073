--- A run's start in the store, before its agent (stdlib/sidecar/agent/run.lua): its record put in
--- the store, its folder made and the run taken by this process (stdlib/sidecar/run/owner.lua); a
--- run that cannot be is ended `failed` there, before anything of it runs.
local run_owner = require("sidecar.run.owner")
local run_record = require("sidecar.run.record")

local M = {}

-- What a run already in the store may be when an agent starts on it: recorded ahead by a
-- background start or a preset (queued), or by `sidecar run` (preparing).
local STARTABLE = { queued = true, preparing = true }

-- A run that cannot start (its folder cannot be made: a symbolic link planted in its place, a
-- full disk; or its lock cannot be taken) ends `failed` with the reason, in the store alone (its
-- copy, logs and events would go in that folder), before any agent starts; someone else's ("busy":
-- another process runs it) is left to them, untouched. Returns nil, the message and code.
local function not_started(s, o, record, reason, code)
  if code ~= "busy" then
    record.status, record.failure_reason = "failed", reason
    run_record.finish(s, record)
  end
  local message = ("run %s %s: %s"):format(record.run_id, code == "busy" and "not started" or "failed", reason)
  return nil, message, code
end

-- The run's folder and this process's guard of the run (run_owner.own: its lock while the agent
-- runs, and an error leaving it active recorded), none when the caller's (o.owner) stands instead:
-- {record, dir, own}, or nil, message, code (not_started).
local function take(s, o, record)
  local dir, why, code = s:run_dir(record.run_id)
  if not dir then
    return not_started(s, o, record, "its folder cannot be made: " .. tostring(why), code)
  end
  if o.owner then
    return { record = record, dir = dir }
  end
  local own
  own, why, code = run_owner.own(s, record)
  if not own then
    dir:close()
    return not_started(s, o, record, why, code)
  end
  return { record = record, dir = dir, own = own }
end

-- The run `run_id` already in the store, `fresh`'s fields over its own; nil, message, code when it
-- is not there or not a run to start (one that runs or ended is never written over).
local function recorded(s, fresh, run_id)
  local existing, message, code = s:get_run(run_id)
  if not existing then
    return nil, message, code
  elseif not STARTABLE[existing.status] then
    return nil, ("run %s is %s, not a run to start"):format(run_id, tostring(existing.status)), "bad_state"
  end
  for k, v in pairs(fresh) do
    existing[k] = v
  end
  return existing
end

---Starts a run in the store: a new one from the record `fresh`, or the run `o.run_id` already
---there (queued by a background start or a preset, or preparing), its fields kept unless `fresh`
---sets them. A run already there is taken (its lock) before anything of it is written, so a run
---another process holds is left as it was. Returns {record, dir (its folder), own (this process's
---guard of the run; none when o.owner stands instead, who then finishes the run)}; or nil,
---message, code, the run recorded `failed` when it is in the store and could not start.
---@param s table  the store
---@param o sidecar.AgentRunOptions  agent_run.execute's (run_id, owner, store: read, never written)
---@param fresh table  the record the run starts with
function M.start(s, o, fresh)
  if not o.run_id then
    local ok, message, code = run_record.create(s, fresh, nil, { copy_later = true })
    if not ok then
      return nil, message, code
    end
    return take(s, o, fresh)
  end
  local record, message, code = recorded(s, fresh, o.run_id)
  if not record then
    return nil, message, code
  end
  local started
  started, message, code = take(s, o, record)
  if not started then
    return nil, message, code
  end
  local before = record.revision
  local saved, failure, failure_code = run_record.save(s, record)
  local held = not saved and record.revision ~= before and s:get_run(o.run_id)
  if saved or (held and held.revision == record.revision) then
    return started -- in the store; a copy not written (a full disk) is written again at the run's end
  end
  started.dir:close()
  if started.own then
    started.own:release()
  end
  return nil, ("run %s not started: %s"):format(o.run_id, tostring(failure)), failure_code
end

return M
