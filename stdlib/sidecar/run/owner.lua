--- The owner's side of a run: the process that executes its agent (agent_run.execute) records
--- itself in the run, holds the run's lock while the agent runs, gives the agent the run's mark,
--- adopts the agent's orphans (a child subreaper), and once the agent has exited ends whatever of
--- it is left and records it. The reader's side, which notices an owner that died, is
--- stdlib/sidecar/run/reconcile.lua; how a run's processes are found and ended, stdlib/sidecar/run/processes.lua.
---
---   local owner <close>, why = run_owner.own(s, record) -- after the run is in the store; nil, why,
---   if not owner then return fail(why) end              -- code when it is not this process's to take
---   owner:prepare(env)                                  -- the agent's environment: the mark
---   owner:spawned(pid)                                  -- agent_process.json
---   local left = owner:sweep()                          -- after the agent exited: killed, reaped
---   run_owner.apply(record, left)                       -- record.escapees, a blocker
---
--- What survives its agent is never a clean result: a process of the agent still running
--- SETTLE_MS after the agent exited (in its group, or one that left it with setsid(), or an
--- orphan adopted by this process) is killed, and the run records it (`escapees`: pid, command,
--- how it was found, whether it had left the agent's session) with a blocker, so a run that
--- would have been `review` is `blocked`. The wait lets a CLI's own helpers finish what they were
--- doing (codex leaves a login shell taking a snapshot of the environment behind when a run
--- ends within a second); it costs nothing when nothing is left.
local clock = require("sidecar.host.time")
local coop = require("sidecar.core.coop")
local json = require("sidecar.core.json")
local proc = require("sidecar.core.proc")
local run_processes = require("sidecar.run.processes")
local procinfo = run_processes.host -- host.procinfo
local run_reconcile = require("sidecar.run.reconcile")
local run_record = require("sidecar.run.record")
local text = require("sidecar.core.text")

local M = {}

M.GRACE_MS = 2000 -- for what outlived the agent: SIGTERM, this long, then SIGKILL
M.SETTLE_MS = 5000 -- how long what is left of the agent may take to end by itself
M.CGROUPS = true -- a cgroup v2 for each run where one can be made (tests turn it off)
local SHOWN = 3 -- escapees named in the blocker before "and N more"
local COMMAND_CHARS = 80

local me -- {pid, start} of this process, read once
-- Guards whose agent may leave orphans to this process: it is a child subreaper while one is open,
-- and no longer after (a long-lived process, a script or the REPL, would gather zombies otherwise).
local adopting = 0

---This process as an owner: {pid, start}, or nil without /proc.
---@return table|nil
function M.self()
  if me == nil then
    local p = procinfo.self()
    me = p and { pid = p.pid, start = p.start } or false
  end
  return me or nil
end

---Records this process as the owner of a run record (owner_pid, owner_start), before the record
---is stored: a run is never in the store without its owner. A run among others of one process
---(a task of sidecar.core.coop: a preset's pool) records `owner_shared`: `run kill` then asks it
---to stop alone (M.STOP_FILE) rather than signal the process. Returns the record.
---@param record table
---@return table
function M.stamp(record)
  local self = M.self()
  if self then
    record.owner_pid, record.owner_start = self.pid, self.start
    record.owner_shared = coop.task() and true or nil
  end
  return record
end

M.STOP_FILE = "stop-request" -- in the run's folder: `run kill`'s request to a shared owner

-- The path of run `run_id`'s stop request in the store folder `root`.
local function stop_path(root, run_id)
  return ("%s/runs/%s/%s"):format(root, run_id, M.STOP_FILE)
end

---Asks the shared owner (owner_shared) of run `run_id` to stop that run alone: `by` (who asks:
---"sidecar run kill, pid 4242") is written in the run's folder, where the owner looks while the
---run is active (stdlib/sidecar/preset/worker.lua). Returns true, or nil and why.
---@param root string  the store folder
---@param run_id string
---@param by string
---@return boolean|nil ok, string? why
function M.ask_to_stop(root, run_id, by)
  local path = stop_path(root, run_id)
  local f, why = io.open(path .. ".new", "wb")
  if not f then
    return nil, why
  end
  local ok, err = f:write(by)
  f:close()
  if ok then
    ok, err = os.rename(path .. ".new", path)
  end
  return ok and true or nil, err
end

---Who asked run `run_id` to stop (M.ask_to_stop's `by`), or nil when nobody did.
---@param root string  the store folder
---@param run_id string
---@return string|nil
function M.stop_asked(root, run_id)
  local f = io.open(stop_path(root, run_id), "rb")
  if not f then
    return nil
  end
  local by = f:read(200) or ""
  f:close()
  -- the reason a record and a terminal show: one line, shown harmlessly, whoever wrote the file
  return (text.visible(by):gsub("%c", " "))
end

local Guard = {}
Guard.__index = Guard

---Begins owning a stored run: takes its lock (a background worker holds it already), and gives it
---a mark when it has none. Returns a to-be-closed guard; closed by an error while the run is still
---active in the store, it stops what is left of the run and records it (interrupted, or
---outcome_unknown with the error); closed in any case, it releases the lock. A run this process
---cannot take is nil, message, code: "busy" (another process runs it), or the lock's failure
---("ESYMLINK": a link planted in place of the run's folder or lock file).
---@param s table  the store
---@param record table  the run record (run_id; background, process_mark when set)
---@return table|nil guard, string? message, string? code
function M.own(s, record)
  local g = setmetatable({ s = s, run_id = record.run_id }, Guard)
  if record.background ~= true then
    -- The lock file lives in the run's folder, which a run recorded with copy_later may not have
    -- yet. A reconciler holds the lock for milliseconds at most; a run someone else holds is not
    -- this process's to run.
    local dir = s:run_dir(record.run_id)
    if dir then
      dir:close()
    end
    local lock, why, code = run_reconcile.claim(s, record.run_id)
    if not lock then
      return nil, ("cannot take run %s: %s"):format(record.run_id, tostring(why)), code
    end
    g.lock = lock
  end
  record.process_mark = type(record.process_mark) == "string" and record.process_mark
    or run_processes.new_mark(record.run_id)
  g.mark = record.process_mark
  return g
end

---Prepares the agent's start, right before it: the run's mark in its environment table (every
---process of the agent inherits it); this process a child subreaper while the guard is open, so
---orphans of the agent come to it; and, where one can be made, a cgroup v2 of the run's own that the agent
---starts in (host/process/run_cgroup.hpp: armed only around the agent's spawn, Guard:arm and
---Guard:disarm, since whatever this process spawns while it is armed starts there, another run's
---too in a preset's pool). Call Guard:spawned after the spawn, whether it worked or not.
---@param env table
function Guard:prepare(env)
  env[run_processes.MARK_VARIABLE] = self.mark
  if not self.adopting then
    self.adopting = true
    adopting = adopting + 1
    if adopting == 1 then
      procinfo.subreaper(true)
    end
  end
  local cgroup = M.CGROUPS and procinfo.cgroup_create("sidecar-" .. self.mark)
  if cgroup and procinfo.cgroup_arm(cgroup) then -- one a spawn can start in
    self.cgroup = cgroup
  elseif cgroup then
    procinfo.cgroup_remove(cgroup)
  end
  procinfo.cgroup_disarm()
  -- The mark and cgroup on disk before the agent exists: were this process killed before it
  -- records the agent, a reader still finds what the agent started (run_processes.find).
  run_processes.record_agent(self.s, self.run_id, nil, self.cgroup, self.mark)
end

---Arms the run's cgroup for the agent's spawn, right before it: nothing that may give way to
---another run of this process (sidecar.core.coop) comes between this and Guard:disarm.
function Guard:arm()
  if self.cgroup and not procinfo.cgroup_arm(self.cgroup) then -- gone meanwhile: the agent starts without
    procinfo.cgroup_remove(self.cgroup)
    self.cgroup = nil
  end
end

---Right after the agent's spawn: whatever this process starts next stays where it is.
function Guard:disarm()
  procinfo.cgroup_disarm()
end

---Records the agent's process (agent_process.json: its group, session, start, cgroup) right after
---it started; nil when it did not start.
---@param pid integer|nil
function Guard:spawned(pid)
  procinfo.cgroup_disarm()
  if not pid then
    if self.cgroup then
      procinfo.cgroup_remove(self.cgroup)
    end
    return
  end
  self.agent_pid = pid
  run_processes.record_agent(self.s, self.run_id, pid, self.cgroup, self.mark)
end

---After the agent exited: waits up to `settle_ms` for what is left of it to end by itself, then
---ends every process of the run still alive (its mark, its group, the orphans this process
---adopted), reaps those that were this process's children, and returns them: {pid, command,
---found_by, left_session}.
---@param grace_ms? integer  default M.GRACE_MS
---@param settle_ms? integer  default M.SETTLE_MS
---@param contained? boolean  the agent was the first process of a PID namespace and ended by itself (run_processes.find)
---@return table[]
function Guard:sweep(grace_ms, settle_ms, contained)
  if not self.agent_pid then
    return {}
  end
  local run = { run_id = self.run_id, process_mark = self.mark }
  local deadline = clock.monotonic_ns() // 1000000 + (settle_ms or M.SETTLE_MS)
  local how = { owner = true, contained = contained }
  local left = run_processes.find(self.s, run, how)
  while #left > 0 and clock.monotonic_ns() // 1000000 < deadline do
    coop.sleep(20) -- a preset's other runs in its pool go on meanwhile (sidecar.core.coop)
    left = run_processes.find(self.s, run, how)
  end
  how.found = left
  local _, list = run_processes.stop(self.s, run, grace_ms or M.GRACE_MS, how)
  local out = {}
  for i, p in ipairs(list) do
    out[i] = { pid = p.pid, command = p.command or "", found_by = p.how, left_session = p.sid ~= self.agent_pid }
  end
  return out
end

local function close(self, err)
  procinfo.cgroup_disarm()
  if err ~= nil and not self.closed then
    pcall(function()
      local run = self.s:get_run(self.run_id)
      if run and run_reconcile.ACTIVE[run.status] then
        -- The agent itself too, if the error left it running (a child this process started).
        run_processes.stop(self.s, run, M.GRACE_MS)
        local text = tostring(type(err) == "table" and (err.message or err[1]) or err)
        local interrupted = text:find("interrupted!", 1, true) ~= nil
        local finishing = run.phase == "finishing" and (" after its agent ended %s, while the run was being finished "
          .. "(validation did not complete)"):format(tostring(run.outcome)) or ""
        run.status = interrupted and "interrupted" or "outcome_unknown"
        run.failure_reason = interrupted and (proc.interrupted_reason() .. finishing) or
          ("Sidecar failed while running the agent or recording the run%s: %s"):format(finishing,
            text:match("^[^\n]*"))
        run_record.finish(self.s, run)
        -- its end in the run's events too, as every run's (`run tail -f`, an embedder's on_event)
        require("sidecar.core.telemetry").run_event(self.s, run.run_id, "run.finished",
          { status = run.status, reason = run.failure_reason })
      end
    end)
  end
  self.closed = true
  if self.adopting then
    self.adopting = false
    adopting = adopting - 1
    if adopting == 0 and procinfo.subreaper(false) then
      -- Adopted orphans that ended after the sweep are this process's zombies until reaped here.
      -- Only orphans that came from another session (an agent's): a zombie of this session is a
      -- child of this process's own (io.popen's), which its owner reaps.
      local me = procinfo.self()
      for _, p in ipairs(me and procinfo.children(me.pid) or {}) do
        if p.state == "Z" and p.sid ~= me.sid then
          procinfo.reap(p.pid) -- refused for a child the process loop started: it reaps its own
        end
      end
    end
  end
  run_processes.remove_cgroup(self.cgroup) -- emptied by the sweep; killed and removed here otherwise
  self.cgroup = nil
  if self.lock then
    self.lock:release()
    self.lock = nil
  end
end
Guard.__close = close

---Releases the run's lock (the same as closing the guard without an error).
function Guard:release()
  close(self, nil)
end

-- "1234 sleep 300 (left its session)" for the blocker.
local function shown(e)
  local command = #e.command > COMMAND_CHARS and (e.command:sub(1, COMMAND_CHARS - 3) .. "...") or e.command
  return ("%d %s%s"):format(e.pid, command ~= "" and command or "?", e.left_session and " (left its session)" or "")
end

---Records what outlived the agent, or a validation step (Guard:sweep's list), in the run record:
---`escapees` (each entry with `during`: "the agent" or "validation"), and a text naming them: a
---blocker when one had left the agent's session (a review becomes blocked), else a warning.
---Nothing when the list is empty.
---@param record table
---@param escapees table[]
---@param during? string  what they outlived: "the agent" (default) or "validation"
function M.apply(record, escapees, during)
  if #escapees == 0 then
    return
  end
  during = during or "the agent"
  local names, left = {}, 0
  local all = type(record.escapees) == "table" and record.escapees or json.array({})
  for i, e in ipairs(escapees) do
    if i <= SHOWN then
      names[#names + 1] = shown(e)
    end
    left = left + (e.left_session and 1 or 0)
    e.during = during
    all[#all + 1] = e
  end
  if #escapees > SHOWN then
    names[#names + 1] = ("and %d more"):format(#escapees - SHOWN)
  end
  record.escapees = all
  local text = ("%d process%s of %s outlived it and %s killed%s: %s; see escapees in run.json"):format(
    #escapees, #escapees == 1 and "" or "es", during, #escapees == 1 and "was" or "were",
    left > 0 and (" (%d had left the agent's session with setsid)"):format(left) or "", table.concat(names, "; "))
  -- A process that left the agent's session hid from it on purpose: the run is blocked. One still in
  -- the agent's session was only slow to end (codex's login-shell snapshot under load, say): killed,
  -- and a warning.
  local list = left > 0 and "blockers" or "warnings"
  local texts = type(record[list]) == "table" and record[list] or json.array({})
  texts[#texts + 1] = text
  record[list] = texts
  if left > 0 and record.status == "review" then
    record.status = "blocked"
  end
end

return M
