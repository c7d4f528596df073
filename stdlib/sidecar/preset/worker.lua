--- The agent runs of a preset's ctx:agents, each in a process of its own: a pool (M.serve) that
--- made itself ready once forks a worker per job ({root, repo, runner, settings, prompt, task_id,
--- run_id?, gates?, reported?, budget?}: budget the step's (stdlib/sidecar/preset/budget.lua);
--- run_id a run recorded ahead, as a writer's is; gates true: weigh the run's gates here, with
--- config's policy and the preset's task, else the preset weighs them after its batch; reported:
--- the agent run's option of that name). The preset's side: stdlib/sidecar/preset/worker_pool.lua.
--- A step run as a Slurm job runs M.execute on the node (stdlib/sidecar/executor/slurm_preset.lua).
local json = require("sidecar.core.json")

local M = {}

---Runs `job` (as main's, root aside) on the open store `s` with config `cfg`: the run record
---(its output in output.md), or nil and why.
---@param s table
---@param cfg table
---@param job table
function M.execute(s, cfg, job)
  local runs = require("sidecar.task.runs")
  local opts = runs.agent_options(cfg, job.runner, job.settings)
  opts.store, opts.repo, opts.prompt, opts.task_id, opts.agent_role, opts.record = s, job.repo, job.prompt,
      job.task_id, job.settings.agent_role, job.settings.record
  opts.run_id, opts.reported = job.run_id, job.reported
  if job.gates then
    opts.gates, opts.task = cfg.gates, s:get_task(job.task_id)
  end
  local why
  opts.budget, why = require("sidecar.preset.budget").worker_meter(s, job)
  if job.budget and not opts.budget then
    return nil, why
  end
  local record, message = require("sidecar.agent.run").execute(opts)
  if record then
    record.output = nil -- the preset reads output.md
  end
  return record, message
end

---`job` as a line of the pool's input (JSON). A prompt that is not UTF-8 (one quoting a Latin-1
---file) cannot be JSON as it is: it goes as hex, which the worker turns back, so the run gets its
---prompt byte for byte.
---@param job table
---@return string
function M.job_line(job)
  local prompt = job.prompt
  if type(prompt) ~= "string" or require("sidecar.host.text").valid_utf8(prompt) then
    return json.encode(job)
  end
  local copy = {}
  for k, v in pairs(job) do
    copy[k] = v
  end
  copy.prompt, copy.prompt_hex = nil, (prompt:gsub(".", function(c) return ("%02x"):format(c:byte()) end))
  return json.encode(copy)
end

-- The job of a line of the pool's input (M.job_line's).
local function job_of(line)
  local job = json.decode(line)
  if type(job.prompt_hex) == "string" then
    job.prompt = job.prompt_hex:gsub("%x%x", function(h) return string.char(tonumber(h, 16)) end)
    job.prompt_hex = nil
  end
  return job
end

---The events of a worker's run the preset's process publishes again, on its own run event bus:
---for its progress lines (sidecar.service.run_progress: an agent waiting for a slot, or taking
---none, and the sandbox chosen), and each run's start and end (an embedder's on_event, the UI).
M.FORWARD = { ["agent_slot.waiting"] = true, ["agent_slot.none"] = true, ["sandbox.chosen"] = true,
  ["run.started"] = true, ["run.finished"] = true }

---What a pool loads before its first fork: the modules an agent run needs (those it requires only
---when it gets there too: each worker would load them again).
M.PRELOAD = { "sidecar.agent.run", "sidecar.task.runs", "sidecar.preset.budget", "sidecar.run.sandbox",
  "sidecar.run.gates", "sidecar.run.git_refs", "sidecar.run.outside", "sidecar.agent.run_result",
  "sidecar.agent.run_sandbox", "sidecar.agent.run_start", "sidecar.agent.watch", "sidecar.run.record",
  "sidecar.agent.hooks", "sidecar.run.stuck", "sidecar.core.user_locks" }

-- The result line of a job (stdlib/sidecar/preset/worker_pool.lua reads them): one write of at
-- most PIPE_BUF bytes, so the lines of workers writing side by side never mix.
local MAX_WHY = 600

-- Writes `line`, a line of the pool's output, at once.
local function say(out, line)
  out:write(json.encode(line), "\n")
  out:flush()
end

M.FORWARD_TEXT_BYTES = 300 -- of each string field forwarded: every line stays within PIPE_BUF

-- An event's fields as the pool's line carries them: its strings clipped and no argv (run.started's
-- command), so that the line is one write that never mixes with another worker's.
local function forwarded(fields)
  local out = {}
  for k, v in pairs(fields) do
    if k ~= "command" and type(v) ~= "table" then
      out[k] = type(v) == "string" and require("sidecar.core.text").clip(v, M.FORWARD_TEXT_BYTES) or v
    end
  end
  return out
end

-- In a forked worker (proc.fork's function: the worker ends when it returns, whatever happens):
-- runs `job` with the pool's store folder and config and writes its result line on `out`; the
-- worker's exit code.
local function run_child(job, root, cfg, out)
  -- the run's progress lines are the preset's to show: their events go up with the job's number
  local forward <close> = require("sidecar.core.run_events").subscribe(function(e)
    if M.FORWARD[e.kind] then
      say(out, { k = job.k, event = { run_id = e.run_id, seq = e.seq, kind = e.kind, fields = forwarded(e.fields) } })
    end
  end)
  local ok, record, message = pcall(function()
    local f = assert(io.open("/dev/urandom", "rb"))
    math.randomseed(string.unpack("<i8", f:read(8))) -- not the pool's: each worker's own
    f:close()
    require("sidecar.run.otel").join(job.trace) -- its run nests under the preset's span
    local s = assert(require("sidecar.core.store").open(root))
    local record, message = M.execute(s, cfg, job)
    s:close()
    return record, message
  end)
  local line = { k = job.k, run_id = ok and record and record.run_id or nil }
  if not line.run_id then
    line.why = tostring(ok and (message or "the worker failed") or record):sub(1, MAX_WHY)
  end
  pcall(function()
    line.why = line.why and require("sidecar.host.text").repair_utf8(line.why)
    out:setvbuf("full", 16384)
    say(out, line)
  end)
  return line.run_id and 0 or 1
end

-- Writes the pool's line for the workers of `children` ({[pid] = k}) that have ended.
local function reap(proc, children, out)
  local pids = {}
  for pid in pairs(children) do
    pids[#pids + 1] = pid
  end
  for _, ended in ipairs(proc.reap(pids)) do
    say(out, { k = children[ended.pid], exit = ended.code, signal = ended.signal })
    children[ended.pid] = nil
  end
  return next(children) ~= nil
end

---What a pool does before its first fork (everything its workers share): the config read once,
---the modules loaded, libgit2 loaded and started, the OS sandbox's kind chosen, the repository
---searched for secret files. `head`: {root (the store folder), repo}. Returns the config; raises
---when it cannot be read. (bench/fan_out.sh times runs after it, as the pool runs them.)
---@param head {root: string, repo: string}
---@return table cfg
function M.make_ready(head)
  local cfg, why = require("sidecar.core.config").load(head.root)
  if not cfg then
    error(why, 0)
  end
  require("sidecar.agent.runners").register_config(cfg)
  require("sidecar.run.otel").remember(head.root, cfg)
  require("sidecar.run.sandbox_folder").sweep_once(true) -- the preset swept before it started its workers
  for _, name in ipairs(M.PRELOAD) do
    require(name)
  end
  local repo = require("sidecar.core.git").open(head.repo)
  if repo then
    repo:close()
  end
  -- bubblewrap tried here once, not by every worker (on a machine where it has not worked yet)
  local sandbox = require("sidecar.run.sandbox")
  local settings = sandbox.settings(sandbox.isolation_of(cfg), nil, {})
  if settings and settings.sandbox ~= "off" then
    pcall(require("sidecar.run.sandbox_host").choose, settings.sandbox)
    -- the repository searched for secret files once: each worker's sandbox reads again only the
    -- folders that changed since (a search that fails here is only each worker's to make whole)
    local top = require("sidecar.run.worktree_git").top(head.repo)
    if top then
      pcall(sandbox.warm, top.top, head.root)
    end
  end
  collectgarbage()
  return cfg
end

-- Forks a worker for each job line, and writes each worker's end, until the input ends and every
-- worker has ended.
local function fork_jobs(pool)
  local proc, open = require("sidecar.host.proc"), true
  while true do
    local line, why = nil, "closed"
    if open then
      line, why = pool.input:read(100)
    end
    if line then
      local job = job_of(line)
      pool.task_id = pool.task_id or job.task_id
      local pid, failed = proc.fork(function()
        return run_child(job, pool.head.root, pool.cfg, pool.out)
      end)
      if pid then
        pool.children[pid] = job.k
      else
        say(pool.out, { k = job.k, why = failed })
      end
    elseif why ~= "timeout" then
      assert(why == "eof" or why == "closed", "the preset's workers: their input failed: " .. tostring(why))
      open = false
    end
    local running = reap(proc, pool.children, pool.out)
    if not open and not running then
      return
    elseif not open then
      require("sidecar.host.time").sleep_ms(20)
    end
  end
end

M.WIND_DOWN_MS = 15000 -- after an interrupt, how long the workers have to record their runs

-- After an interrupt: the workers end first, each recording its run. They got the same signal
-- (they are in the pool's process group), unless the preset died: its death ends only the pool
-- (proc.spawn's parent_death), which passes SIGTERM on. Past WIND_DOWN_MS, SIGKILL. Whether the
-- preset died.
local function wind_down(pool)
  local proc, time = require("sidecar.host.proc"), require("sidecar.host.time")
  local orphaned = require("sidecar.host.procinfo").self().ppid ~= pool.parent
  local deadline = time.monotonic_ns() + M.WIND_DOWN_MS * 1000000
  for pid in pairs(orphaned and pool.children or {}) do
    proc.signal(pid, "TERM")
  end
  while next(pool.children) do
    if time.monotonic_ns() > deadline then
      for pid in pairs(pool.children) do
        proc.signal(pid, "KILL")
      end
    end
    pcall(reap, proc, pool.children, pool.out) -- a further interrupt changes nothing now
    pcall(time.sleep_ms, 20)
  end
  -- (a preset that got SIGTERM, then SIGKILL while its workers wound down: died all the same)
  return orphaned or require("sidecar.host.procinfo").self().ppid ~= pool.parent
end

-- The preset died first (SIGKILL, a crash): nothing else tells its end, so the pool does, as the
-- preset would have (sidecar.run.notify's preset_ended: told once, should both tell it).
local function tell_orphaned(pool)
  local s = pool.task_id and require("sidecar.core.store").open(pool.head.root)
  if not s then
    return
  end
  local first = (s:list_runs({ task_id = pool.task_id, oldest_first = true, limit = 1 }) or {})[1]
  require("sidecar.run.notify").preset_ended(s, { name = first and first.preset or "?", task_id = pool.task_id,
    status = "interrupted", reason = "its process ended before its runs did (killed)" })
  s:close()
end

-- Says on stderr, in one line, why the pool ends early (the preset tells its steps the last line
-- of it); the exit code.
local function said(what, err)
  local text = type(err) == "table" and tostring(err.message) or tostring(err)
  io.stderr:write("the preset's workers ", what, ": ", (text:gsub("\n", " ")), "\n")
  return require("sidecar.core.errors").is_interrupt(err) and 130 or 1
end

---A preset's pool of workers (stdlib/sidecar/preset/worker_pool.lua): the first line on stdin
---names the store's folder and the repository ({root, repo}); this process reads the config
---once, loads what a run needs (modules, libgit2) and then forks one worker per job line
---(`k` and what M.execute takes), which writes {k, run_id} or {k, why} on stdout and ends. Each
---worker's end is written too ({k, exit} or {k, signal}). Ends when stdin does and every worker
---has ended; interrupted, once every worker has ended (wind_down). Returns the exit code.
function M.serve()
  local stdio = require("sidecar.host.stdio")
  local pool = { out = assert(stdio.claim_stdout()), input = stdio.lines(0, 64 * 1024 * 1024), children = {},
    parent = require("sidecar.host.procinfo").self().ppid }
  local ready, why = pcall(function()
    pool.head = json.decode(assert(pool.input:read()))
    pool.cfg = M.make_ready(pool.head)
  end)
  if not ready then
    return said("could not start", why)
  end
  local ok, err = pcall(fork_jobs, pool)
  if not ok then
    if wind_down(pool) then
      pcall(tell_orphaned, pool)
    end
    return said("stopped", err)
  end
  return 0
end

return M
