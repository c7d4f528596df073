--- A run's start in the store, before its agent (stdlib/sidecar/agent/run.lua): its record put in
--- the store, its folder made and the run taken by this process (stdlib/sidecar/run/owner.lua); a
--- run that cannot be is ended `failed` there, before anything of it runs.
local run_owner = require("sidecar.run.owner")
local store = require("sidecar.core.store")

local M = {}

---Puts the run's record in the store: a new run, or the run `run_id` already there (queued by a
---background start), its fields kept unless this run sets them. Returns the record.
function M.store(s, record, run_id)
  if not run_id then
    local ok, message, code = s:create_run(record, nil, { copy_later = true })
    if not ok then
      return nil, message, code
    end
    return record
  end
  local existing, message, code = s:get_run(run_id)
  if not existing then
    return nil, message, code
  end
  for k, v in pairs(record) do
    existing[k] = v
  end
  local before = existing.revision
  local saved, why, why_code = s:update_run(existing)
  local held = not saved and existing.revision ~= before and s:get_run(run_id)
  if held and held.revision == existing.revision then
    return existing -- in the store, its copy not written (a link planted at its folder): ended by M.open
  end
  return saved, why, why_code
end

-- A run that cannot start (its folder cannot be made: a symbolic link planted in its place, a
-- full disk; or its lock cannot be taken) ends `failed` with the reason, in the store alone (its
-- copy, logs and events would go in that folder), before any agent starts; someone else's ("busy":
-- another process runs it) is left to them. Returns the message and code.
local function not_started(s, o, record, reason, code)
  if code ~= "busy" then
    record.status, record.failure_reason = "failed", reason
    record.completed_at = store.now()
    s:save_run_end(record)
  end
  if not o.store then
    s:close()
  end
  return ("run %s %s: %s"):format(record.run_id, code == "busy" and "not started" or "failed", reason), code
end

---The run's folder and this process's guard of the run (run_owner.own: its lock while the agent
---runs, and an error leaving it active recorded), none when the caller's (o.owner) stands instead,
---who then finishes the run. Or nil, nil, message, code (not_started).
function M.open(s, o, record)
  local dir, why, code = s:run_dir(record.run_id)
  if not dir then
    return nil, nil, not_started(s, o, record, "its folder cannot be made: " .. tostring(why), code)
  end
  if o.owner then
    return dir, nil
  end
  local own
  own, why, code = run_owner.own(s, record)
  if not own then
    dir:close()
    return nil, nil, not_started(s, o, record, why, code)
  end
  return dir, own
end

return M
