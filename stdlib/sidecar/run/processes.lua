--- The processes of a run, found in ways that survive pid reuse, and how they are ended.
---
--- Four ways, each immune to pid reuse:
--- - the run's cgroup v2, where one could be made (host/process/run_cgroup.hpp): every process the
---   agent starts is in it, whatever it does; killed at once by cgroup.kill, then removed;
--- - the mark: every process started for the run inherits SIDECAR_RUN_MARK=<the run's mark>
---   (found through /proc/PID/environ, setsid() escapees included);
--- - the agent's group: recorded at spawn (agent_process.json: pid, pgid, sid, start); its members
---   are taken only when they are in the recorded session and started no earlier than the agent (a
---   group id is never given to a new process while a member of the group lives);
--- - adopted orphans (only in the process that ran the agent, a child subreaper: see
---   run_owner.lua): its children that it did not start itself, started after the agent, outside
---   its own session and carrying no other run's mark. This finds an escapee that both left the
---   agent's session and cleared its environment, once its parent has ended.
--- Without a cgroup, not covered: a process that left the session, cleared its environment and
--- whose parent still lives when the run is swept (once the parent is killed it is adopted and
--- found on the next pass), and processes Sidecar may not inspect (another user's, or made
--- non-dumpable).
--- Every signal goes through procinfo.signal, which reaches a pid only while it is still the
--- process found (same start time, pinned by a pidfd).
---
---   local list = run_processes.find(s, run)               -- {pid, start, how, ...}
---   local count, all = run_processes.stop(s, run, 2000)   -- TERM, grace, STOP, KILL, reap
local clock = require("sidecar.host.time")
local coop = require("sidecar.core.coop")
local json = require("sidecar.core.json")
local proc = require("sidecar.core.proc")
local hostinfo = require("sidecar.host.procinfo")

local M = {}

-- Stand-ins for what a binary built before them lacks (a developer's SIDECAR_STDLIB_DIR pointing
-- at newer Lua): they find nothing and refuse, so such a binary still runs agents.
local function refuse()
  return nil, "this sidecar binary predates it: rebuild", "ENOSYS"
end
local STAND_INS = {
  children = function() return {} end, env_value = function() end, command = function() return "" end,
  spawned = function() return false end, reap = refuse, subreaper = refuse, cgroup_create = refuse,
  cgroup_members = function() return {} end, cgroup_kill = refuse, cgroup_remove = refuse, cgroup_arm = refuse,
  cgroup_disarm = function() end, doomed = function() return false end,
  signal = function(pid, start, sig)
    local p = hostinfo.get(pid)
    if p and p.state ~= "Z" and p.start == start then
      return proc.signal(pid, sig)
    end
    return nil, ("signal to process %d: No such process"):format(pid), "ESRCH"
  end,
}
---host.procinfo, with stand-ins for what an older binary lacks.
M.host = setmetatable({}, { __index = function(_, k) return hostinfo[k] or STAND_INS[k] end })
local procinfo = M.host

M.MARK_VARIABLE = "SIDECAR_RUN_MARK"
M.AGENT_FILE = "agent_process.json"
local REAP_WAIT_MS = 2000 -- for killed children of this process to become reapable

local function now_ms()
  return clock.monotonic_ns() // 1000000
end

local function ended(p)
  return p == nil or p.state == "Z" or p.state == "X"
end
M.ended = ended

---A fresh mark for a run's processes (the value of SIDECAR_RUN_MARK in their environment).
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

---Whether process `pid` is still the one that started at `start` (nil start: any process), and
---at work: not a zombie, and not doomed either (exiting, or killed with SIGKILL and not yet dead:
---procinfo.doomed). A doomed process runs no more of its own code, but keeps what it holds (the
---run's lock) until the kernel has let it die, which a busy machine can make take a while.
---@param pid any
---@param start any
---@return boolean
function M.same(pid, start)
  pid = math.tointeger(pid)
  local p = pid and pid > 0 and procinfo.get(pid)
  return p ~= nil and not ended(p) and (math.tointeger(start) == nil or p.start == start) and not p.exiting
    and not procinfo.doomed(pid)
end

---The process that ran the preset whose step `run` is ({pid, start}: preset/context.lua records it
---in each step, a Slurm job's too, since the preset itself runs where its store is), or nil when
---`run` is no preset's step or was recorded without it. A preset's task records it too (from
---before its first step): `run` may be that task.
---@param run table  a run or task record
---@return table|nil
function M.preset_of(run)
  local pid, start = math.tointeger(run.preset_pid), math.tointeger(run.preset_start)
  if pid and start then
    return { pid = pid, start = start }
  end
end

---This process as a preset's task and steps record it (`preset_pid`, `preset_start`: M.preset_of
---reads them back), both nil when it cannot be read.
---@return integer|nil pid
---@return integer|nil start
function M.preset_self()
  local me = procinfo.self() or {}
  return me.pid, me.start
end

---Records the agent's process in the run's folder (agent_process.json): right before it starts,
---the run's mark and cgroup (pid nil), so that whatever it starts can be found even if Sidecar
---dies before it learns the agent's pid; right after, also its group and session and its start
---time, which tell its group from a later one that reuses the number.
---@param s table
---@param run_id string
---@param pid integer|nil
---@param cgroup? string  the run's cgroup v2 folder (host/process/run_cgroup.hpp)
---@param mark? string  the run's mark (SIDECAR_RUN_MARK)
function M.record_agent(s, run_id, pid, cgroup, mark)
  local p = pid and procinfo.get(pid)
  local dir = assert(s:run_dir(run_id))
  -- proc.spawn makes the agent a session and group leader: its pid names both. No fsync
  -- ("atomic"): the file is whole however Sidecar dies, and after a power loss, the one failure
  -- it does not outlive, no process it names is left to end.
  dir:write_json(M.AGENT_FILE, { pid = pid or json.null, pgid = p and p.pgid or pid or json.null,
    sid = p and p.sid or pid or json.null, start = p and p.start or json.null, cgroup = cgroup or json.null,
    mark = mark or json.null }, "atomic")
  dir:close()
end

-- What agent_process.json says ({pid?, pgid?, sid?, start?, cgroup?, mark?}), or nil.
local function agent_file(s, run_id)
  local f = io.open(s.root .. "/runs/" .. run_id .. "/" .. M.AGENT_FILE, "rb")
  if not f then
    return nil
  end
  local ok, a = json.try_decode(f:read("a"))
  f:close()
  return ok and type(a) == "table" and a or nil
end

---The agent recorded for a run (M.record_agent), or nil when none started (or none is known).
---@param s table
---@param run_id string
---@return table|nil  {pid, pgid, sid, start, cgroup, mark}
function M.agent(s, run_id)
  local a = agent_file(s, run_id)
  return a and math.tointeger(a.pgid) and a or nil
end

-- The children of this process that it adopted (see the header) since `since`.
local function adopted(me, since, mark)
  local found = {}
  for _, p in ipairs(procinfo.children(me.pid)) do
    if p.start >= since and p.sid ~= me.sid and not ended(p) and not procinfo.spawned(p.pid) then
      local theirs = procinfo.env_value(p.pid, M.MARK_VARIABLE)
      if theirs == nil or theirs == mark then
        found[#found + 1] = p
      end
    end
  end
  return found
end

---The processes left of a run: those that inherited its mark and the members of its agent's group.
---With opts.owner (this process ran the agent), also the orphans it adopted, and never a child it
---started itself (a background worker's own git carries the run's mark too). Never this process.
---With opts.contained (the agent ran, and ended by itself, as the first process of a PID namespace
---of its own: bubblewrap's), no process of the agent can be left outside its cgroup and group, and
---neither the marks of every process on the machine nor the orphans are read: the kernel ended
---every process of the namespace before its first one ended (a fan-out of agents read them all
---for each agent).
---Each is {pid, ppid, pgid, sid, start, state, how = "mark" | "group" | "orphan"}.
---@param s table
---@param run table
---@param opts? {owner: boolean?, contained: boolean?}
---@return table[]
function M.find(s, run, opts)
  local me = procinfo.self()
  local found, seen = {}, { [me and me.pid or 0] = true }
  local owner = opts and opts.owner
  local function add(p, how)
    if not seen[p.pid] and not (owner and procinfo.spawned(p.pid)) then
      seen[p.pid] = true
      p.how = how
      found[#found + 1] = p
    end
  end
  -- agent_process.json is written before the agent starts: its mark and cgroup are known even
  -- when the record has not been saved with them, or Sidecar died before it learned the pid.
  local file = agent_file(s, run.run_id) or {}
  local a = math.tointeger(file.pgid) and file or nil
  local mark = type(run.process_mark) == "string" and run.process_mark or (type(file.mark) == "string" and file.mark)
  local contained = opts and opts.contained
  if mark and not contained then
    for _, p in ipairs(procinfo.with_env(M.MARK_VARIABLE .. "=" .. mark)) do
      add(p, "mark")
    end
  end
  local start = a and math.tointeger(a.start)
  if type(file.cgroup) == "string" then
    for _, pid in ipairs(procinfo.cgroup_members(file.cgroup)) do
      local p = procinfo.get(pid)
      if p and not ended(p) then
        add(p, "cgroup")
      end
    end
  end
  if a and start then
    local leader = procinfo.get(a.pgid)
    -- A living leader that started at another time is a stranger that got the number later.
    if ended(leader) or leader.start == start then
      for _, p in ipairs(procinfo.group(a.pgid)) do
        if p.sid == a.sid and p.start >= start then
          add(p, "group")
        end
      end
    end
    if owner and me and not contained then
      for _, p in ipairs(adopted(me, start, mark)) do
        add(p, "orphan")
      end
    end
  end
  return found
end

-- Sends `sig` to each process that is still the one found (same start time).
local function signal_all(list, sig)
  for _, p in ipairs(list) do
    procinfo.signal(p.pid, p.start, sig)
  end
end

-- Waits for those of `list` that are children of this process (adopted orphans) and reaps them,
-- for at most REAP_WAIT_MS; then reaps any adopted child that has ended since `since`.
local function reap(list, since)
  local me = procinfo.self()
  if not me then
    return
  end
  local deadline = now_ms() + REAP_WAIT_MS
  for _, p in ipairs(list) do
    while true do
      local now = procinfo.get(p.pid)
      if not now or now.start ~= p.start or now.ppid ~= me.pid or procinfo.reap(p.pid) ~= false
          or now_ms() >= deadline then
        break
      end
      coop.sleep(5)
    end
  end
  for _, p in ipairs(since and procinfo.children(me.pid) or {}) do
    if p.state == "Z" and p.start >= since and p.sid ~= me.sid then
      procinfo.reap(p.pid) -- refused (nil, EPERM) for a child the process loop will reap
    end
  end
end

-- Kills whatever is still in the run's cgroup and removes it once it is empty (a killed process
-- may take a moment to leave it: tried for at most REAP_WAIT_MS).
local function remove_cgroup(path)
  if type(path) ~= "string" then
    return
  end
  procinfo.cgroup_kill(path)
  local deadline = now_ms() + REAP_WAIT_MS
  while not procinfo.cgroup_remove(path) and now_ms() < deadline do
    coop.sleep(10)
  end
end

M.remove_cgroup = remove_cgroup

---Ends every process of a run (M.find with `opts`): SIGTERM and up to `grace_ms` for them to go,
---then SIGSTOP, found again until no new one appears (a stopped process cannot fork), SIGKILL,
---and the reaping of those that were this process's children. Returns how many processes there
---were and the list of them, each with its `command` (read before it was signalled).
---@param s table
---@param run table
---@param grace_ms integer  0: SIGKILL at once
---@param opts? {owner: boolean?, found: table[]?}  found: what M.find(s, run, opts) has just returned
---@return integer count
---@return table[] processes
function M.stop(s, run, grace_ms, opts)
  local all, seen = {}, {}
  local function note(list)
    for _, p in ipairs(list) do
      if not seen[p.pid] then
        seen[p.pid] = p
        p.command = procinfo.command(p.pid)
        all[#all + 1] = p
      end
    end
    return list
  end
  local file = agent_file(s, run.run_id) or {}
  local list = note(opts and opts.found or M.find(s, run, opts))
  if #list > 0 and grace_ms > 0 then
    signal_all(list, "TERM")
    local deadline = now_ms() + grace_ms
    while #list > 0 and now_ms() < deadline do
      coop.sleep(20) -- a preset's other runs in its pool go on meanwhile (sidecar.core.coop)
      list = note(M.find(s, run, opts))
    end
  end
  local stopped = {}
  for _ = 1, 20 do
    local fresh = {}
    for _, p in ipairs(list) do
      if not stopped[p.pid] then
        stopped[p.pid] = true
        fresh[#fresh + 1] = p
      end
    end
    if #fresh == 0 then
      break
    end
    signal_all(fresh, "STOP")
    list = note(M.find(s, run, opts))
  end
  signal_all(all, "KILL") -- a stopped process acts on SIGKILL too
  reap(all, opts and opts.owner and math.tointeger(file.start))
  remove_cgroup(file.cgroup)
  return #all, all
end

return M
