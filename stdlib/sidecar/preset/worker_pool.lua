--- The preset's side of its pool of workers (the pool itself: sidecar.preset.worker's serve): one
--- Sidecar process, started for a batch of ctx:agents, that makes itself ready once (the config
--- read, the modules and libgit2 loaded) and runs each job as a task of its own, rather than a new
--- Sidecar started, loaded and made ready for each agent. A wide batch gets a few such processes
--- (M.processes_for: one per M.JOBS_PER_PROCESS jobs, at most one per core), each job going to the
--- one with the fewest running: a process's own work for its runs (their records, their sandboxes'
--- plans) is on one core, and the agents start no quicker than it does it. A job's result is its
--- run's id, or why it has none (a process that ended without one, by a signal say, or the pool
--- ended first).
---
---   local pool <close> = worker_pool.open(root, repo, n)  -- n: processes (default 1)
---   local k = pool:submit(job)               -- what sidecar.preset.worker.execute takes
---   for _, r in ipairs(pool:wait(1000)) do   -- {k, run_id} | {k, why}
---
--- Stopping the pool (an interrupt, `close` before the end) stops its processes, all at once, and
--- their runs; each also ends with the preset (SIGTERM at its death: proc.spawn's parent_death).
local json = require("sidecar.core.json")
local proc = require("sidecar.core.proc")
local run_events = require("sidecar.core.run_events")
local worker = require("sidecar.preset.worker")

local M = {}

local Pool = {}
Pool.__index = Pool

-- One line of the pool's process `p`: an event of a job's run (published again here:
-- sidecar.preset.worker's FORWARD), a job's result, or a worker's end (which fails a job it left
-- without one). A line about a job of another process is not this one's to say.
local function on_line(self, p, line)
  local ok, msg = json.try_decode(line)
  if not (ok and type(msg) == "table" and math.type(msg.k) == "integer") or self.done[msg.k] ~= false
    or not p.jobs[msg.k] then
    return
  end
  if type(msg.event) == "table" then
    local e = msg.event
    if worker.FORWARD[e.kind] and type(e.run_id) == "string" and type(e.fields) == "table" then
      run_events.publish({ run_id = e.run_id, seq = math.tointeger(e.seq) or 0, kind = e.kind, fields = e.fields })
    end
    return
  end
  local why = msg.why
  if not msg.run_id and not why then
    why = ("its worker ended (%s) without recording a run"):format(msg.signal and ("signal " .. msg.signal)
      or ("exit " .. tostring(msg.exit)))
  end
  self.done[msg.k], p.jobs[msg.k], p.running = true, nil, p.running - 1
  self.ready[#self.ready + 1] = { k = msg.k, run_id = type(msg.run_id) == "string" and msg.run_id or nil,
    why = type(why) == "string" and why or nil }
end

M.JOBS_PER_PROCESS = 16 -- a process per this many jobs at once: a batch of 32 gets two

---How many processes a batch of `width` jobs at once gets: one per M.JOBS_PER_PROCESS, at least one,
---at most one per core this process may use (sidecar.core.machine.cores).
---@param width integer
---@return integer
function M.processes_for(width)
  local cores = require("sidecar.core.machine").cores()
  return math.max(1, math.min(cores, width // M.JOBS_PER_PROCESS))
end

-- Starts one process of the pool.
local function start_process(self, root, repo)
  local p = { jobs = {}, running = 0 } -- jobs: those without a result yet; ended: seen ended
  p.handle = proc.spawn({ proc.executable(), "-e", "os.exit(require('sidecar.preset.worker').serve())" },
    { stdin = true, stdout = { on_line = function(line) on_line(self, p, line) end },
      stderr = { collect = true }, max_output = 8192, name = "preset workers",
      kill_grace_ms = worker.WIND_DOWN_MS + 5000 }) -- its tasks record their runs
  p.handle:write(json.encode({ root = root, repo = repo }) .. "\n")
  return p
end

---Starts the pool of the store folder `root` and repository `repo`: `n` processes (default 1).
---@param root string
---@param repo string
---@param n? integer
function M.open(root, repo, n)
  local self = setmetatable({ done = {}, ready = {}, n = 0, processes = {} }, Pool)
  for i = 1, math.max(1, n or 1) do
    self.processes[i] = start_process(self, root, repo)
  end
  return self
end

---Hands `job` to the pool's process with the fewest jobs running, of those still running (the
---first of them: one that died since the last wait gets none); returns its number.
---@param job table
---@return integer k
function Pool:submit(job)
  self.n = self.n + 1
  job.k = self.n
  self.done[job.k] = false
  local p
  for _, q in ipairs(self.processes) do
    if not q.ended and q.handle:running() and (not p or q.running < p.running) then
      p = q
    end
  end
  p = p or self.processes[1] -- every one has ended: wait fails the job, saying why
  p.jobs[job.k], p.running = true, p.running + 1
  p.handle:write(worker.job_line(job) .. "\n") -- refused once that process has ended: wait says why
  return job.k
end

-- Fails every job the ended process `p` left without a result, with its last words.
local function ended(self, p)
  p.ended = true
  local res = p.handle:wait()
  local last = require("sidecar.core.text").last_line(res.stderr) -- linear (stdlib/sidecar/core/text.lua)
  for k in pairs(p.jobs) do
    if not self.done[k] then
      self.done[k] = true
      self.ready[#self.ready + 1] = { k = k, why = "the preset's workers ended: " .. (last or ("exit "
        .. tostring(res.code or res.signal_name))) }
    end
  end
  p.jobs, p.running = {}, 0
end

---The jobs that ended since the last call, waiting up to `ms` for one: each {k, run_id} or {k, why}.
---Once a process of the pool has ended, every job it left without a result fails, saying so.
---@param ms integer
---@return table[]
function Pool:wait(ms)
  local any_running = false
  for _, p in ipairs(self.processes) do
    any_running = any_running or p.handle:running()
  end
  if #self.ready == 0 and any_running then
    proc.poll(ms)
  end
  for _, p in ipairs(self.processes) do
    if (next(p.jobs) or not p.ended) and not p.handle:running() then
      ended(self, p)
    end
  end
  local ready = self.ready
  self.ready = {}
  return ready
end

---Ends the pool once every job has its result: no job comes after this, and each of its processes
---ends with its last run (waited for, within `ms` in all; stopped after it).
---@param ms integer
function Pool:finish(ms)
  for _, p in ipairs(self.processes) do
    p.handle:write(nil)
  end
  local clock = require("sidecar.host.time")
  local deadline = clock.monotonic_ns() + ms * 1000000
  for _, p in ipairs(self.processes) do
    p.handle:wait(math.max(0, (deadline - clock.monotonic_ns()) // 1000000))
  end
  self:close()
end

---Stops the pool's processes and their runs, if they still run (`<close>`): all of them asked at
---once (SIGTERM, then SIGKILL after their grace), then each waited for.
function Pool:close()
  for _, p in ipairs(self.processes) do
    p.handle:kill()
  end
  for _, p in ipairs(self.processes) do
    p.handle:close()
  end
end
Pool.__close = Pool.close

return M
