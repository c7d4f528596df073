--- Whether a background run's worker still lives, and what is done when it does not.
---
--- Who runs a background run is recorded in a way that survives pid reuse: the worker holds an
--- exclusive lock on `runs/R-…/worker.lock` (flock, host.lock) from before it marks the run
--- running until after it has written the run's end. The kernel drops the lock when the worker
--- ends, however it ends (kill -9 included), so a lock that can be taken while the run is still
--- active in the store means the worker died without recording an end. The lock is opened
--- close-on-exec, so the agent and its children never hold it: were it inherited, an agent that
--- outlived its dead worker would keep the run looking alive for as long as the agent ran, the
--- very case that must be noticed.
---
--- A run's processes are found two ways, both immune to pid reuse: every process started under
--- the worker inherits the variable SIDECAR_RUN_MARK=<the run's mark> (found through
--- /proc/PID/environ, setsid() escapees included), and the agent's process group is recorded at
--- spawn (agent_process.json: pid, pgid, sid, start) and its members are taken only when they
--- are in the recorded session and started no earlier than the agent (a group id is never given
--- to a new process while a member of the group lives). Not covered: a process that both left
--- the agent's group (setsid) and cleared or rewrote its environment (`env -i`), and processes
--- Sidecar may not inspect (another user's, or made non-dumpable).
---
---   local lock = run_reconcile.claim(s, "R-0007")        -- the worker, first thing
---   run = run_reconcile.reconcile(s, run)                 -- list, show, wait, tail
---   run_reconcile.stop_processes(s, run, 2000)            -- TERM, grace, KILL
local clock = require("host.time")
local hostlock = require("host.lock")
local json = require("json")
local proc = require("proc")
local procinfo = require("host.procinfo")
local store = require("store")
local telemetry = require("telemetry")

local M = {}

M.ACTIVE = { queued = true, preparing = true, running = true }
M.LOCK_FILE = "worker.lock"
M.AGENT_FILE = "agent_process.json"
M.MARK_VARIABLE = "SIDECAR_RUN_MARK"
-- A queued run with no worker recorded yet is its `sidecar run --background` at work; after this
-- long that command has died between recording the run and starting its worker.
M.START_GRACE_S = 30
M.CLAIM_WAIT_MS = 10000 -- a reconciler holds the lock for milliseconds; a second worker, for good

local function now_ms()
  return clock.monotonic_ns() // 1000000
end

local function run_path(s, run_id, file)
  return s.root .. "/runs/" .. run_id .. "/" .. file
end

local function ended(p)
  return p == nil or p.state == "Z" or p.state == "X"
end

---A fresh mark for a run's processes (the value of SIDECAR_RUN_MARK in its worker's environment).
---@param run_id string
---@return string
function M.new_mark(run_id)
  local f = assert(io.open("/dev/urandom", "rb"))
  local bytes = f:read(8)
  f:close()
  return run_id .. "." .. ("%02x"):rep(8):format(bytes:byte(1, 8))
end

---The start time (clock ticks since boot) of process `pid`, or nil when it is gone.
---@param pid integer
---@return integer|nil
function M.start_of(pid)
  local p = procinfo.get(pid)
  return not ended(p) and p.start or nil
end

---Tries the run's lock once: the lock object, or nil, message, code ("EWOULDBLOCK": held).
---@param s table
---@param run_id string
function M.try_lock(s, run_id)
  return hostlock.try(run_path(s, run_id, M.LOCK_FILE))
end

---The worker's side: takes the run's lock and keeps it (the returned lock object must stay
---referenced) for the rest of the worker's life. Waits up to M.CLAIM_WAIT_MS while someone else
---holds it. Returns the lock, or nil, message, code ("busy" when another worker has the run).
---@param s table  the store
---@param run_id string
function M.claim(s, run_id)
  local path = run_path(s, run_id, M.LOCK_FILE)
  local deadline = now_ms() + M.CLAIM_WAIT_MS
  while true do
    local lock, why, code = hostlock.try(path)
    if lock then
      return lock
    elseif code ~= "EWOULDBLOCK" then
      return nil, why, code
    elseif now_ms() >= deadline then
      return nil, ("run %s is already being run by another worker (%s stayed locked for %d ms)"):format(run_id,
        path, M.CLAIM_WAIT_MS), "busy"
    end
    clock.sleep_ms(5)
  end
end

---Records the agent's process (its group and session, and its start time, which tell its group
---from a later one that reuses the number) in the run's folder. Called by the worker right after
---the agent starts.
---@param s table
---@param run_id string
---@param pid integer
function M.record_agent(s, run_id, pid)
  local p = procinfo.get(pid)
  local dir = assert(s:run_dir(run_id))
  -- proc.spawn makes the agent a session and group leader: its pid names both.
  dir:write_json(M.AGENT_FILE, { pid = pid, pgid = p and p.pgid or pid, sid = p and p.sid or pid,
    start = p and p.start or json.null })
  dir:close()
end

local function read_agent(s, run_id)
  local f = io.open(run_path(s, run_id, M.AGENT_FILE), "rb")
  if not f then
    return nil
  end
  local ok, a = pcall(json.decode, f:read("a"))
  f:close()
  return ok and type(a) == "table" and math.tointeger(a.pgid) and a or nil
end

---The processes left of a run: those that inherited its mark, and the members of its agent's
---group (see the header for how they are told from strangers). Never this process.
---@param s table
---@param run table
---@return table[] processes  {pid, pgid, sid, start, ...}
function M.processes(s, run)
  local me = procinfo.self()
  local found, seen = {}, { [me and me.pid or 0] = true }
  local function add(p)
    if not seen[p.pid] then
      seen[p.pid] = true
      found[#found + 1] = p
    end
  end
  if type(run.process_mark) == "string" then
    for _, p in ipairs(procinfo.with_env(M.MARK_VARIABLE .. "=" .. run.process_mark)) do
      add(p)
    end
  end
  local a = read_agent(s, run.run_id)
  local start = a and math.tointeger(a.start)
  if a and start then
    local leader = procinfo.get(a.pgid)
    -- A living leader that started at another time is a stranger that got the number later.
    if ended(leader) or leader.start == start then
      for _, p in ipairs(procinfo.group(a.pgid)) do
        if p.sid == a.sid and p.start >= start then
          add(p)
        end
      end
    end
  end
  return found
end

-- Sends `sig` to each process that is still the one found (same start time).
local function signal_all(list, sig)
  for _, p in ipairs(list) do
    local now = procinfo.get(p.pid)
    if not ended(now) and now.start == p.start then
      proc.signal(p.pid, sig)
    end
  end
end

---Ends every process of a run (M.processes): SIGTERM and up to `grace_ms` for them to go, then
---SIGSTOP, found again until no new one appears (a stopped process cannot fork), and SIGKILL.
---Returns how many processes there were.
---@param s table
---@param run table
---@param grace_ms integer  0: SIGKILL at once
---@return integer count
function M.stop_processes(s, run, grace_ms)
  local list = M.processes(s, run)
  if #list == 0 then
    return 0
  end
  local count, seen = #list, {}
  if grace_ms > 0 then
    signal_all(list, "TERM")
    local deadline = now_ms() + grace_ms
    while #list > 0 and now_ms() < deadline do
      clock.sleep_ms(20)
      list = M.processes(s, run)
    end
  end
  for _ = 1, 20 do
    local fresh = {}
    for _, p in ipairs(list) do
      if not seen[p.pid] then
        seen[p.pid] = p
        fresh[#fresh + 1] = p
      end
    end
    if #fresh == 0 then
      break
    end
    signal_all(fresh, "STOP")
    list = M.processes(s, run)
  end
  local all = {}
  for _, p in pairs(seen) do
    all[#all + 1] = p
  end
  signal_all(all, "KILL") -- a stopped process acts on SIGKILL too
  return math.max(count, #all)
end

-- created_at (store.now()'s format) of a record made `seconds` ago.
local function ago(seconds)
  return os.date("!%Y-%m-%dT%H:%M:%SZ", os.time() - seconds)
end

-- Whether a queued run's worker may still be on its way to its lock: the recorded worker process
-- still runs (the same process: its start time is the recorded one), or, before the worker is
-- recorded, the starting command is within its grace.
local function starting(run)
  local pid = math.tointeger(run.worker_pid)
  if not pid then
    return (run.created_at or "") >= ago(M.START_GRACE_S)
  end
  local p = procinfo.get(pid)
  if ended(p) then
    return false
  elseif run.worker_start ~= nil then
    return p.start == run.worker_start
  end
  return (run.created_at or "") >= ago(M.START_GRACE_S) -- a record without the start time: a grace
end

-- The reason recorded for a run whose worker is gone.
local function reason(run, killed)
  local pid = math.tointeger(run.worker_pid)
  local lock = "runs/" .. run.run_id .. "/" .. M.LOCK_FILE
  local left = killed > 0 and ("; %d process%s of the run left behind, killed"):format(killed,
    killed == 1 and "" or "es") or ""
  if not pid then
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

-- Ends an active run whose worker is gone: failed when it never started (nothing ran), else
-- outcome_unknown; a run.finished event for `run tail`; its task ready to run again.
local function end_run(s, run, killed)
  run.failure_reason = reason(run, killed)
  run.status = run.status == "queued" and "failed" or "outcome_unknown"
  run.completed_at = store.now()
  run.reconciled_at = run.completed_at
  assert(s:update_run(run))
  local dir = s:run_dir(run.run_id)
  local t = dir and telemetry.open(dir)
  if t then
    t:event("run.finished", { status = run.status, reason = run.failure_reason })
    t:close()
  end
  if dir then
    dir:close()
  end
  local task = run.task_id and s:get_task(run.task_id)
  if task and (task.status == "running" or task.status == "queued") then
    s:set_task_status(run.task_id, "ready")
  end
end

-- Removes or recovers the worktrees of runs that ended without their worker (stdlib/run_worktree.lua,
-- when this build has it).
local function sweep_worktrees(s)
  local ok, run_worktree = pcall(require, "run_worktree")
  if ok and type(run_worktree) == "table" and run_worktree.sweep then
    run_worktree.sweep(s)
  end
end

-- reconcile without the worktree sweep: the run as it is now, and whether it was ended here.
local function reconcile_one(s, run)
  if type(run) ~= "table" or not M.ACTIVE[run.status] or run.background ~= true then
    return run, false
  end
  local lock, _, code = hostlock.try(run_path(s, run.run_id, M.LOCK_FILE))
  if not lock and code ~= "ENOENT" then
    return run, false -- the worker holds it (or another command is reconciling it right now)
  end
  -- Holding the lock, nothing else writes the run: a worker still starting waits for it.
  local fresh = s:get_run(run.run_id) or run
  local ended_here = M.ACTIVE[fresh.status] and not (fresh.status == "queued" and starting(fresh))
  if ended_here then
    end_run(s, fresh, M.stop_processes(s, fresh, 0))
  end
  if lock then
    lock:release()
  end
  return fresh, ended_here
end

---Notices a background run whose worker is gone: when `run` is active (queued, preparing,
---running) and its worker's lock can be taken, kills what is left of its processes, ends it
---(outcome_unknown with the reason, or failed when the worker never started it), sets its task
---ready and sweeps crashed worktrees. A queued run whose worker is still starting is left alone.
---Returns the run as it is now, and whether it was ended here.
---@param s table  the store
---@param run table  a run record
---@return table run
---@return boolean ended
function M.reconcile(s, run)
  local fresh, ended_here = reconcile_one(s, run)
  if ended_here then
    sweep_worktrees(s)
  end
  return fresh, ended_here
end

---M.reconcile for every active background run of the store. Returns how many were ended.
---@param s table
---@return integer
function M.reconcile_active(s)
  local count = 0
  for _, status in ipairs({ "queued", "preparing", "running" }) do
    for _, run in ipairs(s:list_runs({ status = status, limit = 0 }) or {}) do
      local _, ended_here = reconcile_one(s, run)
      count = count + (ended_here and 1 or 0)
    end
  end
  if count > 0 then
    sweep_worktrees(s)
  end
  return count
end

return M
