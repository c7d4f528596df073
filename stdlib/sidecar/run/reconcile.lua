--- Whether the process that owns a run still lives, and what is done when it does not.
---
--- Every run records its owner: the process that executes it (`owner_pid`, `owner_start`: its
--- start time tells it from a later process that reuses the pid), a background run also its
--- worker (`worker_pid`, `worker_start`). The owner holds an exclusive lock on
--- `runs/R-…/worker.lock` (flock, host.lock) while it runs the agent: a background worker from
--- before it marks the run running until after it has written the run's end (and its task's),
--- a foreground `sidecar run` from before its agent starts until the run is finished (validation
--- included: stdlib/sidecar/run/owner.lua, stdlib/sidecar/task/runs.lua). The kernel drops the lock when
--- the owner ends, however it ends (kill -9 included). The lock is opened close-on-exec, so the
--- agent and its children never hold it: were it inherited, an agent that outlived its dead owner
--- would keep the run looking alive for as long as the agent ran, the very case to notice. Until
--- it has exec'd (or exited), though, a child the owner started holds a copy; and a killed owner
--- holds the lock until the kernel has let it die, which a busy machine can delay: a lock held
--- while the recorded owner is gone or doomed (exiting, or a SIGKILL pending) is waited for
--- (M.take_lock), never taken for an owner at work, and a doomed owner counts as gone.
---
--- A run is dead when it is still active in the store (queued, preparing, running), its lock can
--- be taken (or no owner's lock is there to be held: the lock file missing, or planted by the agent,
--- as a link or as a file of its own that a stranger holds), and its owner is gone: for a
--- foreground run the recorded owner process is no longer the one that started at the recorded
--- time (an owner that has not taken the lock yet, between recording the run and starting its
--- agent, is alive); for a background run the worker's lock is free and its recorded worker
--- process gone (a queued run whose worker is still starting excepted). A dead run is ended
--- outcome_unknown with the reason (failed when its agent never started: nothing ran), what is
--- left of its processes is killed (stdlib/sidecar/run/processes.lua) and its task is ready again,
--- a preset's step's excepted (a run whose owner died while finishing it, after its agent, says
--- validation did not complete). This
--- module judges the runs of this machine; sidecar.executor.reconcile is what readers call: it asks
--- another executor (Slurm) for its runs, and settles a task its dead owner left running.
---
---   local lock = run_reconcile.claim(s, "R-0007")        -- the worker, first thing
---   run, ended_here = run_reconcile.end_if_dead(s, run)   -- a local run whose owner is gone
local clock = require("sidecar.host.time")
local coop = require("sidecar.core.coop")
local errors = require("sidecar.core.errors")
local procinfo = require("sidecar.host.procinfo")
local run_processes = require("sidecar.run.processes")
local run_record = require("sidecar.run.record")
local store = require("sidecar.core.store")

local M = {}

M.ACTIVE = store.ACTIVE
M.LOCK_FILE = "worker.lock"
M.AGENT_FILE = run_processes.AGENT_FILE
M.MARK_VARIABLE = run_processes.MARK_VARIABLE
-- A queued run with no worker recorded yet is its `sidecar run --background` at work; after this
-- long that command has died between recording the run and starting its worker.
M.START_GRACE_S = 30
M.CLAIM_WAIT_MS = 10000 -- a reconciler holds the lock for milliseconds; a second worker, for good
-- How long a reader waits for a run's lock held while the process that should hold it is gone or
-- dying (see take_lock): the holder is a process on its way out, which lets go when it is gone.
M.HANDOVER_WAIT_MS = 5000

local function now_ms()
  return clock.monotonic_ns() // 1000000
end

-- The run's lock, tried once: the lock, or nil, message, code. It is opened through the store's
-- folder, one component at a time, never through a link, so a link swapped in for the run's folder
-- (or its lock file) by an agent at work in the repository cannot send it elsewhere; the look
-- first gives a link already planted there its own message (ESYMLINK). A lock file that is a link,
-- a hard link, a folder or no regular file was put there by someone else: the message says what to do.
local PLANTED = { ESYMLINK = true, EHARDLINK = true, EISDIR = true, EINVAL = true }
local function try_run_lock(s, run_id)
  local _, planted, code = store.run_path(s.root, run_id, M.LOCK_FILE)
  if code then
    return nil, planted, code
  end
  local lock, why
  lock, why, code = s.dir:lock("runs/" .. run_id .. "/" .. M.LOCK_FILE)
  if not lock and PLANTED[code] then
    why = tostring(why) .. "; remove it (Sidecar makes a run's lock file itself)"
  end
  return lock, why, code
end

local ended = run_processes.ended

---The processes left of a run (run_processes.find).
function M.processes(s, run, opts)
  return run_processes.find(s, run, opts)
end

---Ends every process of a run (run_processes.stop); returns how many there were, and the list.
---@param s table
---@param run table
---@param grace_ms integer  0: SIGKILL at once
---@param opts? {owner: boolean?}
---@return integer count
---@return table[] processes
function M.stop_processes(s, run, grace_ms, opts)
  return run_processes.stop(s, run, grace_ms, opts)
end

---Tries the run's lock once: the lock object, or nil, message, code ("EWOULDBLOCK": held).
---@param s table
---@param run_id string
function M.try_lock(s, run_id)
  return try_run_lock(s, run_id)
end

---The owner's side: takes the run's lock and keeps it (the returned lock object must stay
---referenced) until released. Waits up to M.CLAIM_WAIT_MS while someone else holds it (a
---reconciler holds it for milliseconds). Returns the lock, or nil, message, code ("busy" when
---another process keeps the run).
---@param s table  the store
---@param run_id string
function M.claim(s, run_id)
  local deadline = now_ms() + M.CLAIM_WAIT_MS
  while true do
    local lock, why, code = try_run_lock(s, run_id)
    if lock then
      return lock
    elseif code ~= "EWOULDBLOCK" then
      return nil, why, code
    elseif now_ms() >= deadline then
      return nil, ("run %s is already being run by another worker (%s/runs/%s/%s stayed locked for %d ms)"):format(
        run_id, s.root, run_id, M.LOCK_FILE, M.CLAIM_WAIT_MS), "busy"
    end
    coop.sleep(5) -- a preset's other runs in its pool go on meanwhile
  end
end

---The process that owns a run as recorded ({pid, start}: the foreground owner, else the
---background worker), or nil when the record names none (a run recorded by an older Sidecar).
---@param run table
---@return table|nil
function M.owner(run)
  local pid, start = math.tointeger(run.owner_pid), math.tointeger(run.owner_start)
  if run.background == true or not pid then
    pid, start = math.tointeger(run.worker_pid), math.tointeger(run.worker_start)
  end
  return pid and { pid = pid, start = start } or nil
end

-- The process that should be the one holding a run's lock: its owner as recorded, else, for a
-- background run whose worker is not recorded yet, the command that started it (it holds the
-- lock while it starts the worker). nil when the record names neither.
local function holder(run)
  local owner = M.owner(run)
  if owner then
    return owner
  end
  local starter = math.tointeger(run.starter_pid)
  if run.background == true and starter then
    return { pid = starter, start = math.tointeger(run.starter_start) }
  end
end

---A reader's try for a run's lock (lock, or nil, message, code as try_lock). The lock is held by
---a process other than the one recorded when that one is gone or dying: a child it started that
---has not exec'd yet (or exited) holds a copy of the descriptor until it does, and a killed owner
---keeps it until the kernel has let it die (a SIGKILL pending, a write to finish, a busy machine).
---Neither is at work on the run, and either lets go within moments: then the lock is waited for,
---up to M.HANDOVER_WAIT_MS, instead of taking the run for alive and leaving it active. Still held
---after that, it is held by a stranger (a process of the agent that swapped the lock file for one
---of its own and holds that): nil, message, "ESTALE", and the run is judged by its owner's process.
---@param s table
---@param run table
function M.take_lock(s, run)
  local lock, why, code = try_run_lock(s, run.run_id)
  if lock or code ~= "EWOULDBLOCK" then
    return lock, why, code
  end
  local who = holder(run)
  if not who or run_processes.same(who.pid, who.start) then
    return lock, why, code -- its owner (or a reconciler while the owner lives): at work
  end
  local deadline = now_ms() + M.HANDOVER_WAIT_MS
  repeat
    clock.sleep_ms(5)
    lock, why, code = try_run_lock(s, run.run_id)
  until lock or code ~= "EWOULDBLOCK" or now_ms() >= deadline
  if code == "EWOULDBLOCK" then
    return nil, ("%s stayed locked for %d ms after the process that should hold it (pid %d) was gone"):format(
      (tostring(why):gsub(" is locked by another process$", "")), M.HANDOVER_WAIT_MS, who.pid), "ESTALE"
  end
  return lock, why, code
end

---Whether a run's owner may still be at work: its lock is held (by the owner: see take_lock), or
---the recorded owner process still runs (the same process: its start time is the recorded one).
---A run with no recorded owner counts as alive: nothing tells otherwise.
---@param s table
---@param run table
---@return boolean
function M.owner_alive(s, run)
  local lock, _, code = M.take_lock(s, run)
  if lock then
    lock:release()
  elseif code == "EWOULDBLOCK" then
    return true
  end
  local owner = M.owner(run)
  if not owner then
    return true
  end
  return run_processes.same(owner.pid, owner.start)
end

-- created_at (store.now()'s format) of a record made `seconds` ago.
local function ago(seconds)
  return os.date("!%Y-%m-%dT%H:%M:%SZ", os.time() - seconds)
end

-- Whether a run made at `created_at` is still within the grace a starting owner gets. A time
-- Sidecar did not write (garbage, or one in the future, as a copy may carry) gets none.
local function in_grace(created_at)
  if type(created_at) ~= "string" or not created_at:match("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ$")
      or created_at > ago(-60) then
    return false
  end
  return created_at >= ago(M.START_GRACE_S)
end

-- Whether a queued run's worker may still be on its way to its lock: the recorded worker process
-- still runs (the same process: its start time is the recorded one), or, before the worker is
-- recorded, the starting command is within its grace.
local function starting(run)
  local pid = math.tointeger(run.worker_pid)
  if not pid then
    local starter = math.tointeger(run.starter_pid)
    if starter then
      return run_processes.same(starter, math.tointeger(run.starter_start))
    end
    return in_grace(run.created_at)
  end
  local p = procinfo.get(pid)
  if ended(p) then
    return false
  elseif run.worker_start ~= nil then
    return run_processes.same(pid, math.tointeger(run.worker_start))
  end
  return in_grace(run.created_at) -- a record without the start time: a grace
end

-- "; 2 processes of the run left behind, killed", or "".
local function left_text(killed)
  return killed > 0 and ("; %d process%s of the run left behind, killed"):format(killed, killed == 1 and "" or "es")
    or ""
end

-- The reason recorded for a foreground run whose owner is gone.
local function foreground_reason(run, killed)
  local owner = M.owner(run)
  if not owner then
    return ("no process runs it: the record names no owner (it was imported from a copy, or made by an older "
      .. "Sidecar) and %s was free%s; what its agent did is unknown: replay or block the run"):format(
      "runs/" .. run.run_id .. "/" .. M.LOCK_FILE, left_text(killed))
  end
  local who = ("the sidecar process that ran it (pid %d)"):format(owner.pid)
  if run.status ~= "running" then
    return ("%s ended while the run was %s, before its agent started (%s was free and the process gone)%s: "
      .. "nothing ran; run the task again"):format(who, run.status, "runs/" .. run.run_id .. "/" .. M.LOCK_FILE,
      left_text(killed))
  end
  return ("%s died without recording an end (killed, or it crashed: %s was free and the process gone%s): what the "
    .. "agent did is unknown; see runs/%s (stderr.log, the agent's output) and the work tree, then replay or block "
    .. "the run"):format(who, "runs/" .. run.run_id .. "/" .. M.LOCK_FILE, left_text(killed), run.run_id)
end

-- The reason recorded for a run whose owner died after its agent ended, while the run was being
-- finished (stdlib/sidecar/task/finish.lua).
local function finishing_reason(run, killed)
  local owner = M.owner(run)
  return ("the sidecar process that ran it (pid %d) died after its agent ended %s, while the run was being "
    .. "finished (its worktree's result, validation)%s: validation did not complete; see runs/%s, then replay or "
    .. "block the run"):format(owner and owner.pid or 0, tostring(run.outcome), left_text(killed), run.run_id)
end

-- The reason recorded for a run whose worker is gone.
local function reason(run, killed)
  if run.phase == "finishing" then
    return finishing_reason(run, killed)
  elseif run.background ~= true then
    return foreground_reason(run, killed)
  end
  local pid = math.tointeger(run.worker_pid)
  local lock = "runs/" .. run.run_id .. "/" .. M.LOCK_FILE
  local left = left_text(killed)
  if not pid and run.starter_pid then
    return ("the command that started this background run (pid %d) ended before it started a worker%s: "
      .. "nothing ran; run the task again"):format(math.tointeger(run.starter_pid), left)
  elseif not pid then
    return ("the command that started this background run ended before it started a worker (no worker "
      .. "recorded %d s after the run was created)%s: nothing ran; run the task again"):format(M.START_GRACE_S, left)
  elseif run.status == "queued" then
    return ("the background worker (pid %d) ended before it started the run (the process is gone and %s was "
      .. "never locked)%s: nothing ran; see runs/%s/worker.log, then run the task again"):format(pid, lock, left,
      run.run_id)
  end
  return ("the background worker (pid %d) died without recording an end (%s was free while the run was %s%s): "
    .. "what the agent did is unknown; see runs/%s/worker.log and the work tree, then replay or block the run")
    :format(pid, lock, run.status, left, run.run_id)
end

-- Ends an active run whose owner is gone: failed when its agent never started (nothing ran), else
-- outcome_unknown; a run.finished event for `run tail`; its task ready to run again (run_record.settle).
local function end_run(s, run, killed)
  run.failure_reason = reason(run, killed)
  local never_started = run.status == "queued" or (run.background ~= true and run.status == "preparing")
  run.status = never_started and "failed" or "outcome_unknown"
  require("sidecar.run.stuck").settle(run)
  run_record.settle(s, run)
end

-- Whether reconcile can judge the run: it is active.
local function judged(run)
  return type(run) == "table" and M.ACTIVE[run.status] ~= nil
end

-- Whether an active run (read under its lock, or with none to be held) is dead: its owner is
-- gone. A foreground run that names no owner (imported from a copy, or made by an older Sidecar)
-- and holds no lock has nobody running it, once past the grace a starting owner gets.
local function dead(run)
  if run.background == true then
    -- The lock says the worker is gone; its process, when recorded, must agree: an agent that
    -- swapped the lock file for a fresh one would otherwise have a live run taken for dead.
    local worker = math.tointeger(run.worker_pid)
    local worker_start = math.tointeger(run.worker_start)
    if worker and worker_start and run_processes.same(worker, worker_start) then
      return false
    end
    return not (run.status == "queued" and starting(run))
  end
  local owner = M.owner(run)
  if not owner then
    return not in_grace(run.created_at)
  end
  return not run_processes.same(owner.pid, owner.start)
end

---A run this machine runs (executor local), ended here when its owner is gone (see the header):
---when it is active, its lock can be taken (or no owner's lock is there) and its owner has ended,
---what is left of its processes is killed, it is ended (outcome_unknown with the reason, or failed
---when its agent never started) and its task set ready (a preset's step's excepted). A run whose
---owner is still starting is left alone, and so is a run another executor runs
---(sidecar.executor.reconcile asks that one).
---Returns the run as it is now, whether it was ended here, and why not when ending it failed (the
---store busy or unwritable: the next read tries again). What a dead owner left (its worktree, its
---sandbox's folder) is for sidecar.executor.reconcile to sweep.
---@param s table  the store
---@param run table  a run record
---@return table run
---@return boolean ended
---@return string? why
function M.end_if_dead(s, run)
  if not judged(run) or (run.executor ~= nil and run.executor ~= "local") then
    return run, false
  end
  local lock <close>, _, code = M.take_lock(s, run)
  if code == "EWOULDBLOCK" then
    return run, false -- the owner holds it (or another command is reconciling it right now)
  end
  -- Any other failure (the folder missing; a link, hard link, folder or FIFO planted there; a lock
  -- file of the agent's own held by a stranger, ESTALE) means no owner's lock is there to be held:
  -- whether the owner lives is then its process's to say. Holding the lock, nothing else writes
  -- the run (an owner still starting waits for it); without it, two readers may both end a dead
  -- run, the second rewriting the same end.
  local fresh = s:get_run(run.run_id) or run
  if not (judged(fresh) and dead(fresh)) then
    return fresh, false
  end
  local ok, err = errors.keep_interrupt(pcall(end_run, s, fresh, M.stop_processes(s, fresh, 0)))
  if not ok then
    return fresh, false, tostring(err)
  end
  return fresh, true
end

return M
