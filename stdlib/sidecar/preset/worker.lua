--- The agent runs of a preset's ctx:agents: a pool (M.serve), a process started for a batch (a
--- wide batch gets a few: sidecar.preset.worker_pool's processes_for), makes itself ready once
--- and runs each job ({root, repo, runner, settings, prompt, task_id, run_id?, gates?, reported?,
--- budget?}: budget the step's (stdlib/sidecar/preset/budget.lua);
--- run_id a run recorded ahead, as a writer's is; gates true: weigh the run's gates here, with
--- config's policy and the preset's task, else the preset weighs them after its batch; reported:
--- the agent run's option of that name) as a task of one scheduler (sidecar.core.coop): the runs
--- go on side by side, each giving way while it waits for its agent, a slot or a step, rather
--- than in a process forked for each. A run is stopped alone by `run kill` (a stop request:
--- sidecar.run.owner's ask_to_stop); a pool process's own end (an interrupt, a crash) ends all of
--- its runs.
--- The preset's side: stdlib/sidecar/preset/worker_pool.lua. A step run as a Slurm job runs
--- M.execute on the node (stdlib/sidecar/executor/slurm_preset.lua).
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

-- The result line of a job (stdlib/sidecar/preset/worker_pool.lua reads them), of bounded size.
local MAX_WHY = 600

-- Writes `line`, a line of the pool's output, at once.
local function say(out, line)
  out:write(json.encode(line), "\n")
  out:flush()
end

M.FORWARD_TEXT_BYTES = 300 -- of each string field forwarded: every line stays short

-- An event's fields as the pool's line carries them: its strings clipped and no argv (run.started's
-- command).
local function forwarded(fields)
  local out = {}
  for k, v in pairs(fields) do
    if k ~= "command" and type(v) ~= "table" then
      out[k] = type(v) == "string" and require("sidecar.core.text").clip(v, M.FORWARD_TEXT_BYTES) or v
    end
  end
  return out
end

-- Passes a run's event up with its job's number, when the preset shows it (M.FORWARD). The job is
-- the one whose run the event names; a run's first event, published by its own code, tells which
-- run a task's job has. (An event of another run can be published inside a task, its agent's
-- output read while this task waits: it names a run already known.)
local function forward(pool, e)
  local job = pool.by_run[e.run_id]
  if not job then
    local task = require("sidecar.core.coop").task()
    job = task and task.locals.job
    if not job or (job.seen_run and e.run_id ~= nil) then
      return
    end
    if type(e.run_id) == "string" then
      job.seen_run = e.run_id -- where a stop request for it is looked for (stops_asked)
      pool.by_run[e.run_id] = job
    end
  end
  if M.FORWARD[e.kind] then
    say(pool.out, { k = job.k, event = { run_id = e.run_id, seq = e.seq, kind = e.kind, fields = forwarded(e.fields) } })
  end
end

-- Starts `job` as a task of the pool's scheduler: its run, with the pool's store folder, config
-- and store (one connection for its runs: its statements prepared once, and no two connections
-- of one process waiting on each other's locks); once it ends, however it ends, the folders its
-- copies were renamed into are fsynced, as its own store's close did, and its result line goes
-- out: {k, run_id} or {k, why}.
local function start_job(pool, job)
  local task = pool.sched:spawn(function()
    require("sidecar.core.coop").task().locals.job = job
    require("sidecar.run.otel").join(job.trace) -- its run nests under the preset's span
    pool.store = pool.store or assert(require("sidecar.core.store").open(pool.head.root))
    local ran, record, message = pcall(M.execute, pool.store, pool.cfg, job)
    pool.store:sync()
    if not ran then
      error(record, 0)
    end
    return record, message
  end, function(ok, record, message)
    pool.jobs[job] = nil
    local line = { k = job.k, run_id = ok and record and record.run_id or nil }
    if not line.run_id then
      line.why = require("sidecar.host.text").repair_utf8(tostring(ok and (message or "the run failed") or record)
        :sub(1, MAX_WHY))
    end
    say(pool.out, line)
  end)
  if not task.done then
    pool.jobs[job] = task
  end
end

M.STOP_LOOK_MS = 250 -- how often the pool looks for `run kill`'s requests to stop one of its runs

-- Stops alone each run whose stop was asked (`run kill` of it: sidecar.run.owner's ask_to_stop),
-- as an interrupt of that run's own: it stops its agent and records itself interrupted.
local function stops_asked(pool)
  local owner = require("sidecar.run.owner")
  for job, task in pairs(pool.jobs) do
    local by = job.seen_run and not task.reason and owner.stop_asked(pool.head.root, job.seen_run)
    if by then
      pool.sched:stop(task, "interrupted! (" .. by .. ")", by)
    end
  end
end

---What a pool does before its first run (everything its runs share): the config read once,
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
  -- bubblewrap tried here once, not by every run (on a machine where it has not worked yet)
  local sandbox = require("sidecar.run.sandbox")
  local settings = sandbox.settings(sandbox.isolation_of(cfg), nil, {})
  if settings and settings.sandbox ~= "off" then
    local sandbox_host = require("sidecar.run.sandbox_host")
    local keep_interrupt = require("sidecar.core.errors").keep_interrupt
    keep_interrupt(pcall(sandbox_host.choose, settings.sandbox))
    -- and the program each sandbox starts under: its check is a process run and waited for, which
    -- would hold every run up to it until the first has its answer (the runs start their agents
    -- one after another as each is ready, the pool's work for the next overlapping theirs)
    keep_interrupt(pcall(sandbox_host.init_command))
    -- the repository searched for secret files once: each run's sandbox reads again only the
    -- folders that changed since (a search that fails here is only each run's to make whole)
    local top = require("sidecar.run.worktree_git").top(head.repo)
    if top then
      keep_interrupt(pcall(sandbox.warm, top.top, head.root))
    end
  end
  collectgarbage()
  return cfg
end

-- Runs each job line as a task (start_job) until the input ends and every run has ended, looking
-- for stop requests meanwhile; an interrupt is raised once it has been passed to every run.
local function run_jobs(pool)
  local clock, open, next_look = require("sidecar.host.time"), true, 0
  while true do
    while open do
      local line, why = pool.input:read(pool.sched:count() > 0 and 0 or 100)
      if line then
        local job = job_of(line)
        pool.task_id = pool.task_id or job.task_id
        start_job(pool, job)
      elseif why == "timeout" then
        break
      else
        assert(why == "eof" or why == "closed", "the preset's workers: their input failed: " .. tostring(why))
        open = false
      end
    end
    if pool.sched:count() == 0 then
      if not open then
        return
      end
    else
      local interrupt = pool.sched:step(50)
      if interrupt then
        error(interrupt, 0)
      end
      local now = clock.monotonic_ns() // 1000000
      if now >= next_look then
        stops_asked(pool)
        next_look = now + M.STOP_LOOK_MS
      end
    end
  end
end

M.WIND_DOWN_MS = 15000 -- after an interrupt, how long the runs have to record themselves

-- After an interrupt (`err`): every run gets it where it waits, stops its agent and records
-- itself, as each would in a process of its own; a further interrupt is passed on the same way.
-- Past WIND_DOWN_MS the pool ends, and the runs left are ended by whoever reads them next (their
-- owner gone). Whether the preset died (its death ends the pool with SIGTERM: proc.spawn's
-- parent_death).
local function wind_down(pool, err)
  local procinfo, time = require("sidecar.host.procinfo"), require("sidecar.host.time")
  local deadline = time.monotonic_ns() + M.WIND_DOWN_MS * 1000000
  if pool.sched and not pool.sched:interrupted() then
    pool.sched:interrupt(err)
  end
  while pool.sched and pool.sched:count() > 0 and time.monotonic_ns() < deadline do
    pcall(pool.sched.step, pool.sched, 20)
  end
  return procinfo.self().ppid ~= pool.parent
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

-- Closes the store the pool's runs shared, once they have all ended.
local function close_store(pool)
  if pool.store then
    pool.store:close()
    pool.store = nil
  end
end

-- Says on stderr, in one line, why the pool ends early (the preset tells its steps the last line
-- of it); the exit code.
local function said(what, err)
  local text = type(err) == "table" and tostring(err.message) or tostring(err)
  io.stderr:write("the preset's workers ", what, ": ", (text:gsub("\n", " ")), "\n")
  return require("sidecar.core.errors").is_interrupt(err) and 130 or 1
end

---A preset's pool (stdlib/sidecar/preset/worker_pool.lua): the first line on stdin names the
---store's folder and the repository ({root, repo}); this process reads the config once, loads
---what a run needs (modules, libgit2), then runs each job line (`k` and what M.execute takes) as
---a task of one scheduler (sidecar.core.coop), side by side, and writes {k, run_id} or {k, why} on
---stdout as each ends. Ends when stdin does and every run has ended; interrupted, once every run
---has recorded itself (wind_down). Returns the exit code.
function M.serve()
  local stdio = require("sidecar.host.stdio")
  local pool = { out = assert(stdio.claim_stdout()), input = stdio.lines(0, 64 * 1024 * 1024), jobs = {},
    by_run = {}, parent = require("sidecar.host.procinfo").self().ppid, sched = require("sidecar.core.coop").new() }
  local ready, why = pcall(function()
    pool.head = json.decode(assert(pool.input:read()))
    pool.cfg = M.make_ready(pool.head)
  end)
  if not ready then
    return said("could not start", why)
  end
  local subscription <close> = require("sidecar.core.run_events").subscribe(function(e) forward(pool, e) end)
  local ok, err = pcall(run_jobs, pool)
  if not ok then
    if wind_down(pool, err) then
      pcall(tell_orphaned, pool)
    end
    pcall(close_store, pool)
    return said("stopped", err)
  end
  close_store(pool)
  return 0
end

return M
