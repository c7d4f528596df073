--- A preset's agent steps as Slurm jobs (`sidecar preset run P --executor slurm`, or `executor =
--- "slurm"` in .agent/config.lua). The readers of one ctx:agents batch become ONE job array
--- (`--array=0-K%throttle`: the config's slurm.array_throttle, else the preset's -j), a lone
--- ctx:agent reader one batch job. Each step's run is recorded ahead, here (`queued`, executor
--- slurm): its prompt (prompt.md) and its job (preset_job.json: runner, settings, gates, budget)
--- go into the run's folder on the shared `.agent` folder, never on a command line. On the node,
--- `sidecar run --worker R-…` (the job's one step, as for any Slurm run) opens a scratch store
--- (stdlib/sidecar/executor/node.lua) and runs the step exactly as a local preset worker does
--- (stdlib/sidecar/preset/worker.lua); it writes only the run's folder and the records' copies.
--- This side waits through the Slurm executor's reconcile (squeue, then scontrol/sacct; the copies
--- imported when newer) and hands the preset the same record a local step gives.
---
--- Writers (a sandbox that is not read-only) stay on this machine: they hold the work tree's
--- writer lock, run one at a time anyway, and commit in the preset's worktree under that lock.
--- An error or Ctrl-C while a batch runs cancels its jobs (scancel) and ends each of its runs
--- before the error goes on: no run is left active, no lock held.
local clock = require("sidecar.host.time")
local errors = require("sidecar.core.errors")
local json = require("sidecar.core.json")
local proc = require("sidecar.core.proc")
local run_processes = require("sidecar.run.processes")
local run_reconcile = require("sidecar.run.reconcile")
local run_record = require("sidecar.run.record")
local slurm = require("sidecar.executor.slurm_client")
local slurm_runs = require("sidecar.executor.slurm_runs")
local slurm_settings = require("sidecar.executor.slurm_settings")
local slurm_submit = require("sidecar.executor.slurm_submit")
local store = require("sidecar.core.store")

local M = {}

local POLL_MS = 500
M.TELL_EVERY_MS = 30000 -- how often a batch that waits says so
local CANCEL_WAIT_MS = 30000 -- for Slurm to end cancelled jobs (SIGTERM, KillWait, SIGKILL)

local function now_ms()
  return clock.monotonic_ns() // 1000000
end

---The job a step's worker reads on the node (the prompt travels in prompt.md beside it).
---@param p {r: table, st: table}  a pending step of Ctx:agents (its route and settings)
---@param where {repo: string, gates: boolean}
---@param task_id string
---@param budget table|nil  preset_budget.job's
---@return table
function M.job(p, where, task_id, budget)
  return { repo = slurm_submit.absolute(where.repo), runner = p.r.runner, settings = p.st, task_id = task_id,
    gates = where.gates, budget = budget }
end

---The record a step's run starts with, here: queued, run by Slurm, with the step's fields.
---@param p {o: table, r: table, st: table}
---@param task_id string
---@return table
function M.record(p, task_id)
  local run = { task_id = task_id, runner_type = p.r.runner, model = p.r.model, sandbox = p.r.sandbox,
    agent_role = p.o.role, status = "queued", executor = "slurm" }
  for k, v in pairs(p.st.record or {}) do
    run[k] = v
  end
  return run
end

-- Records the run of each reader ahead, with its prompt and job in its folder. The budget is
-- checked for every step first: one it cannot cover raises before any run is recorded.
local function record_steps(ctx, steps, where)
  local s, jobs = ctx.s, {}
  for k, p in ipairs(steps) do
    local budget, refused = where.budget_of(p.r.runner)
    if refused then
      errors.raise("budget_exceeded", refused)
    end
    jobs[k] = M.job(p, where, ctx.task.task_id, budget)
  end
  for k, p in ipairs(steps) do
    local run = assert(run_record.create(s, M.record(p, ctx.task.task_id), { { "prompt.md", p.o.prompt },
      { slurm_submit.PRESET_JOB_FILE, json.encode(jobs[k]) } }))
    run.prompt_path = "runs/" .. run.run_id .. "/prompt.md"
    run.process_mark = run_processes.new_mark(run.run_id) -- the job's processes carry it
    assert(run_record.save(s, run))
    p.run_id, p.run = run.run_id, run
    ctx:progress("%s: %s as a Slurm job", ctx:step_label(p.o, p.r), run.run_id)
  end
end

-- Submits one recorded run as a batch job, holding its lock until the record names the job (the
-- worker waits for it). Returns true, or nil and why (the run then recorded failed); a Ctrl-C
-- while sbatch runs is recorded (interrupted) and goes on up.
local function submit_one(s, settings, run)
  local lock = run_reconcile.try_lock(s, run.run_id)
  local ok, fields, why = pcall(slurm_submit.launcher(settings).launch, s, run)
  local interrupted = not ok and errors.is_interrupt(fields)
  local fresh = assert(s:get_run(run.run_id))
  if ok and fields then
    for k, v in pairs(fields) do
      fresh[k] = v
    end
  else
    why = ok and why or interrupted and (proc.interrupted_reason() .. " while its job was being submitted")
      or tostring(fields)
    fresh.status, fresh.failure_reason = interrupted and "interrupted" or "failed", why
  end
  if store.ACTIVE[fresh.status] then
    assert(run_record.save(s, fresh))
  else
    run_record.finish(s, fresh)
  end
  if lock then
    lock:release()
  end
  if interrupted then
    error(fields, 0)
  end
  return ok and fields ~= nil, why
end

local Batch = {}
Batch.__index = Batch

---Takes the readers out of `pending` (a Ctx:agents batch's steps),
---records their runs and submits them: one job array, or one job for a lone reader. A writer stays
---in `pending`, for this machine. Returns the batch (Batch:wait, Batch:cancel; an empty one, which
---waits for nothing, without readers).
---@param ctx table  the preset's ctx
---@param pending table[]  {i, o, r, st} each
---@param where {repo: string, gates: boolean, budget_of: fun(runner: string): table|nil, string|nil}  the batch's
---tree, whether the workers weigh gates, and each step's budget (the preset's: preset_budget.job)
function M.submit(ctx, pending, where)
  local steps = {}
  for k = #pending, 1, -1 do
    if pending[k].r.sandbox == "read-only" then
      table.insert(steps, 1, table.remove(pending, k))
    end
  end
  local batch = setmetatable({ ctx = ctx, steps = steps }, Batch)
  if #steps == 0 then
    return batch
  end
  local s = ctx:store()
  local settings = assert(slurm_settings.check(ctx.cfg))
  local ok, err = pcall(function()
    record_steps(ctx, steps, where)
    local runs = {}
    for k, p in ipairs(steps) do
      runs[k] = p.run
    end
    local submitted, why
    if #runs == 1 then
      submitted, why = submit_one(s, settings, runs[1])
    else
      submitted, why = require("sidecar.executor.slurm_array").submit_wave(s, settings, runs,
        settings.array_throttle or ctx.jobs)
    end
    local first = s:get_run(runs[1].run_id)
    batch.job_id = submitted and (first.slurm.array_job_id or first.slurm.job_id) or nil
    if submitted then
      ctx:progress("%d agent%s submitted as Slurm %s %s", #runs, #runs == 1 and "" or "s",
        #runs == 1 and "job" or "job array", batch.job_id)
    else
      s:set_task_status(ctx.task.task_id, ctx.task.status) -- a failed submission set it ready
      ctx.task = s:get_task(ctx.task.task_id) or ctx.task
      ctx:progress("the Slurm job could not be submitted: %s", tostring(why))
    end
  end)
  if not ok then -- interrupted while recording or submitting: nothing of it goes on
    batch:cancel()
    error(err, 0)
  end
  return batch
end

---Waits for every step's run to end and hands each to `finish(p, {record = <the run record>})`, in
---the order they end (a local worker's is {run_id} or {why}: stdlib/sidecar/preset/worker_pool.lua).
---@param finish fun(p: table, res: table)
function Batch:wait(finish)
  local s = self.ctx.s
  local left = {}
  for _, p in ipairs(self.steps) do
    left[#left + 1] = p
  end
  local told = now_ms()
  while #left > 0 do
    local ids = {}
    for k, p in ipairs(left) do
      ids[k] = p.run_id
    end
    slurm_runs.prefetch_named(s, ids) -- one squeue for the whole batch
    for k = #left, 1, -1 do
      local p = left[k]
      local run = assert(s:get_run(p.run_id))
      run = store.ACTIVE[run.status] and slurm_runs.reconcile(s, run) or run
      if not store.ACTIVE[run.status] then
        table.remove(left, k)
        finish(p, { record = run })
      end
    end
    if #left > 0 and now_ms() - told >= M.TELL_EVERY_MS then
      told = now_ms()
      self:tell_waiting(left)
    end
    if #left > 0 then
      clock.sleep_ms(POLL_MS)
    end
  end
end

-- Says what the batch still waits for, every TELL_EVERY_MS: the jobs' states, or that Slurm
-- cannot be asked (its commands fail: the wait goes on, and Ctrl-C cancels the jobs).
function Batch:tell_waiting(left)
  local run = self.ctx.s:get_run(left[1].run_id)
  local job_id = run and type(run.slurm) == "table" and run.slurm.job_id
  local job, why = nil, "the job has no id yet"
  if job_id then
    job, why = slurm.job_state(job_id)
  end
  if job then
    self.ctx:progress("waiting for %d Slurm job%s (%s: %s)", #left, #left == 1 and "" or "s", job_id, job.slurm)
  else
    self.ctx:progress("Slurm cannot be asked about job %s (%s): still waiting for %d agent%s; Ctrl-C cancels them",
      tostring(job_id), tostring(why), #left, #left == 1 and "" or "s")
  end
end

---Cancels what is left of the batch (scancel), waits for Slurm to end it, and ends each run still
---active (interrupted, saying so). Never raises.
function Batch:cancel()
  local s = self.ctx.s
  if #self.steps == 0 then
    return
  end
  local why = "the preset run was stopped (Ctrl-C or an error) and cancelled its Slurm jobs"
  pcall(function()
    -- The jobs as the records name them (an array's id cancels all its tasks): a batch stopped
    -- while it was being submitted has no job id of its own yet.
    local cancelled = {}
    for _, p in ipairs(self.steps) do
      local run = p.run_id and s:get_run(p.run_id)
      local f = run and type(run.slurm) == "table" and run.slurm or {}
      local id = f.array_job_id or f.job_id
      if id and not cancelled[id] then
        cancelled[id] = true
        slurm.cancel(id)
      end
    end
    local deadline = now_ms() + CANCEL_WAIT_MS
    for _, p in ipairs(self.steps) do
      local run = p.run_id and s:get_run(p.run_id)
      if run and store.ACTIVE[run.status] then
        local job_id = type(run.slurm) == "table" and run.slurm.job_id
        local job = job_id and slurm.job_state(job_id)
        while job and not job.ended and now_ms() < deadline do
          clock.sleep_ms(100)
          job = slurm.job_state(job_id)
        end
        if job_id then
          run = slurm_runs.reconcile(s, run, why)
        end
        if store.ACTIVE[run.status] then -- never submitted, or Slurm could not be asked
          run.status, run.failure_reason = "interrupted", why
          run_record.settle(s, run)
        end
      end
    end
  end)
end

---The node's side (`sidecar run --worker R-…` of a preset step): runs the step recorded in the
---run's folder, on the worker's store `s` (a scratch one), with `execute` (the caller's: the
---preset worker's, stdlib/sidecar/preset/worker.lua, as it runs a step locally). Returns the run
---record, or nil and why (the run then recorded failed).
function M.work(s, cfg, run_id, execute)
  local run = s:get_run(run_id)
  if not run or run.status ~= "queued" then
    return nil, ("run %s is not a queued preset step (status %s)"):format(run_id, tostring(run and run.status))
  end
  local dir = assert(s:run_dir(run_id))
  local job_text, prompt = dir:read(slurm_submit.PRESET_JOB_FILE), dir:read("prompt.md")
  dir:close()
  local ok, job = json.try_decode(job_text or "")
  local record, why
  if not (ok and type(job) == "table" and type(job.settings) == "table" and prompt) then
    why = ("run %s: its job (%s) or its prompt is missing or unreadable"):format(run_id, slurm_submit.PRESET_JOB_FILE)
  else
    job.prompt, job.run_id = prompt, run_id
    record, why = execute(s, cfg, job)
  end
  if not record then
    run = s:get_run(run_id) or run
    if store.ACTIVE[run.status] then
      run.status, run.failure_reason = "failed", why
      run_record.finish(s, run)
    end
    return nil, why
  end
  return record
end

return M
