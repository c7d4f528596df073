--- The preset's side of its pool of workers (the pool itself: sidecar.preset.worker's serve): one
--- Sidecar process, started for a batch of ctx:agents, that makes itself ready once (the config
--- read, the modules and libgit2 loaded) and forks a worker per job, rather than a new Sidecar
--- started, loaded and made ready for each agent. A job's result is its run's id, or why it has
--- none (a worker that ended without one, by a signal say, or the pool ended first).
---
---   local pool <close> = worker_pool.open(root, repo)
---   local k = pool:submit(job)               -- what sidecar.preset.worker.execute takes
---   for _, r in ipairs(pool:wait(1000)) do   -- {k, run_id} | {k, why}
---
--- Stopping the pool's process (an interrupt, `close` before the end) stops its workers: they are
--- in its process group, and each gets SIGTERM when the pool ends (proc.fork).
local json = require("sidecar.core.json")
local proc = require("sidecar.core.proc")
local run_events = require("sidecar.core.run_events")
local worker = require("sidecar.preset.worker")

local M = {}

local Pool = {}
Pool.__index = Pool

-- One line of the pool: an event of a job's run (published again here: sidecar.preset.worker's
-- FORWARD), a job's result, or a worker's end (which fails a job it left without one).
local function on_line(self, line)
  local ok, msg = json.try_decode(line)
  if not (ok and type(msg) == "table" and math.type(msg.k) == "integer") or self.done[msg.k] ~= false then
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
  self.done[msg.k] = true
  self.ready[#self.ready + 1] = { k = msg.k, run_id = type(msg.run_id) == "string" and msg.run_id or nil,
    why = type(why) == "string" and why or nil }
end

---Starts the pool of the store folder `root` and repository `repo`.
---@param root string
---@param repo string
function M.open(root, repo)
  local self = setmetatable({ done = {}, ready = {}, n = 0 }, Pool)
  self.handle = proc.spawn({ proc.executable(), "-e", "os.exit(require('sidecar.preset.worker').serve())" },
    { stdin = true, stdout = { on_line = function(line) on_line(self, line) end },
      stderr = { collect = true }, max_output = 8192, name = "preset workers",
      kill_grace_ms = worker.WIND_DOWN_MS + 5000 }) -- its workers record their runs
  self.handle:write(json.encode({ root = root, repo = repo }) .. "\n")
  return self
end

---Hands `job` to a new worker; returns its number.
---@param job table
---@return integer k
function Pool:submit(job)
  self.n = self.n + 1
  job.k = self.n
  self.done[job.k] = false
  self.handle:write(worker.job_line(job) .. "\n") -- refused once the pool has ended: wait says why
  return job.k
end

---The jobs that ended since the last call, waiting up to `ms` for one: each {k, run_id} or {k, why}.
---Once the pool's process has ended, every job it left without a result fails, saying so.
---@param ms integer
---@return table[]
function Pool:wait(ms)
  if #self.ready == 0 and self.handle:running() then
    proc.poll(ms)
  end
  if not self.handle:running() then
    local res = self.handle:wait()
    local last = require("sidecar.core.text").last_line(res.stderr) -- linear (stdlib/sidecar/core/text.lua)
    for k, done in pairs(self.done) do
      if not done then
        self.done[k] = true
        self.ready[#self.ready + 1] = { k = k, why = "the preset's workers ended: " .. (last or ("exit "
          .. tostring(res.code or res.signal_name))) }
      end
    end
  end
  local ready = self.ready
  self.ready = {}
  return ready
end

---Ends the pool once every job has its result: no job comes after this, and its process ends
---with its last worker (waited for, within `ms`; stopped after it).
---@param ms integer
function Pool:finish(ms)
  self.handle:write(nil)
  self.handle:wait(ms)
  self.handle:close()
end

---Stops the pool's process and its workers, if they still run (`<close>`).
function Pool:close()
  self.handle:close()
end
Pool.__close = Pool.close

return M
