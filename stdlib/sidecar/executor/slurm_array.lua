--- `run start-ready -j N --executor slurm`: the ready tasks as Slurm job arrays. Each wave (the
--- tasks ready now, at most N minus those running) is recorded as queued runs and submitted as one
--- array (`--array=0-K%throttle`, throttle: the config's slurm.array_throttle, else N) whose task i
--- runs the worker of the wave's run i; a task whose dependencies end done joins the next wave.
--- Each run's record names its array task (`slurm.job_id` = "123_4", as squeue and scancel take
--- it); the rest is as for one Slurm run (stdlib/sidecar/executor/slurm_runs.lua).
local background = require("sidecar.task.background")
local clock = require("sidecar.host.time")
local proc = require("sidecar.core.proc")
local queue = require("sidecar.task.queue")
local run_reconcile = require("sidecar.run.reconcile")
local run_record = require("sidecar.run.record")
local runs = require("sidecar.task.runs")
local slurm = require("sidecar.executor.slurm_client")
local slurm_react = require("sidecar.executor.slurm_react")
local slurm_runs = require("sidecar.executor.slurm_runs")
local slurm_settings = require("sidecar.executor.slurm_settings")
local slurm_submit = require("sidecar.executor.slurm_submit")
local store = require("sidecar.core.store")

local M = {}

local GOOD = { review = true, completed = true }

local quoted = slurm.shell_quote

-- The array's script: array task i runs the worker of run_ids[i + 1].
local function array_script(root, recorded)
  local lines = { "#!/bin/sh", "# Sidecar runs as one Slurm job array: the worker of each reads its run from its folder.",
    'case "$SLURM_ARRAY_TASK_ID" in' }
  for i, run in ipairs(recorded) do
    lines[#lines + 1] = ("  %d) run=%s; mark=%s ;;"):format(i - 1, run.run_id, quoted(run.process_mark or ""))
  end
  lines[#lines + 1] = '  *) echo "no run for array task $SLURM_ARRAY_TASK_ID" >&2; exit 2 ;;'
  lines[#lines + 1] = "esac"
  lines[#lines + 1] = 'exec >>' .. quoted(root) .. '"/runs/$run/worker.log" 2>&1'
  lines[#lines + 1] = "export " .. run_reconcile.MARK_VARIABLE .. '="$mark"'
  lines[#lines + 1] = quoted(proc.executable()) .. ' run --worker "$run" --root ' .. quoted(root)
  lines[#lines + 1] = "status=$?"
  lines[#lines + 1] = 'rm -f "${TMPDIR:-/tmp}/sidecar-$run-$SLURM_JOB_ID.db" "${TMPDIR:-/tmp}/sidecar-$run-$SLURM_JOB_ID.db-"*'
  lines[#lines + 1] = "exit $status"
  return table.concat(lines, "\n") .. "\n"
end

-- Records a queued Slurm run of each task (its worker not started yet). Returns the runs, and
-- outcomes for the tasks that could not be recorded.
local function record_wave(s, cfg, tasks, o)
  local recorded, failed = {}, {}
  local later = { name = "slurm", launch = function() return {} end } -- submitted with the array
  for _, task in ipairs(tasks) do
    local st, why = runs.settings(cfg, task, { runner = o.runner })
    local run
    if st then
      st.runner = st.runners[1]
      run, why = background.start(s, cfg, task, st, {}, later)
    end
    if run then
      recorded[#recorded + 1] = run
    else
      failed[#failed + 1] = { task_id = task.task_id, ok = false, status = "failed", reason = why }
    end
  end
  return recorded, failed
end

---Submits a wave of queued runs as one array, holding each run's lock until its record names its
---array task (a worker waits for the lock, so it always reads its job id); runs it could not
---submit are recorded failed. Returns true, or nil and why. (A preset's batch uses it too:
---stdlib/sidecar/executor/slurm_preset.lua.)
local function submit_wave(s, settings, recorded, throttle)
  local root = slurm_submit.absolute(s.root)
  local locks = {}
  for i, run in ipairs(recorded) do
    locks[i] = run_reconcile.try_lock(s, run.run_id)
  end
  local argv = slurm.sbatch_args(settings, { name = "sidecar-" .. recorded[1].run_id .. "-array",
    output = "/dev/null", chdir = root:match("^(.*)/[^/]+$") or "/",
    array = ("0-%d%%%d"):format(#recorded - 1, throttle) })
  local job_id, why = slurm.submit(argv, array_script(root, recorded))
  for i, run in ipairs(recorded) do
    local fresh = assert(s:get_run(run.run_id))
    if job_id then
      fresh.slurm = { job_id = ("%s_%d"):format(job_id, i - 1), array_job_id = job_id }
    else
      fresh.status, fresh.failure_reason = "failed", "the Slurm job array could not be submitted: " .. why
      s:set_task_status(fresh.task_id, "ready")
    end
    if job_id then
      assert(run_record.save(s, fresh))
    else
      run_record.finish(s, fresh)
    end
    if locks[i] then
      locks[i]:release()
    end
  end
  return job_id ~= nil, why
end
M.submit_wave = submit_wave

-- The outcome of an ended run, as start-ready reports it.
local function outcome(run)
  return { task_id = run.task_id, run_id = run.run_id, status = run.status, ok = GOOD[run.status] == true,
    duration_ms = run.duration_ms, reason = run.failure_reason or (type(run.blockers) == "table" and run.blockers[1])
      or nil }
end

---Runs every ready task as Slurm array jobs, at most `o.jobs` at once, until none is ready and
---none runs. o: jobs, runner, on_progress (as queue.start_ready's). Returns the outcomes in the
---order the runs ended.
function M.start_ready(s, cfg, o)
  local settings = assert(slurm_settings.check(cfg))
  local throttle = settings.array_throttle or o.jobs
  local started, running, outcomes = {}, {}, {}
  local state = { done = 0, running = 0, failed = 0 }
  local progress = o.on_progress or function() end
  local function ended(r)
    outcomes[#outcomes + 1] = r
    state.done, state.failed = state.done + (r.ok and 1 or 0), state.failed + (r.ok and 0 or 1)
    progress("ended", state, r)
  end
  while true do
    local wave = {}
    for _, task in ipairs(queue.queue(s).ready) do
      if #wave + #running < o.jobs and not started[task.task_id] then
        started[task.task_id], wave[#wave + 1] = true, task
      end
    end
    if #wave > 0 then
      local recorded, failed = record_wave(s, cfg, wave, o)
      for _, r in ipairs(failed) do
        ended(r)
      end
      if #recorded > 0 then
        submit_wave(s, settings, recorded, throttle)
        for _, run in ipairs(recorded) do
          running[#running + 1] = run.run_id
          progress("started", state, s:get_task(run.task_id))
        end
      end
    end
    state.running = #running
    if #running == 0 then
      break
    end
    progress("waiting", state)
    clock.sleep_ms(500)
    slurm_runs.prefetch_named(s, running) -- one squeue for the wave
    for i = #running, 1, -1 do
      local run = assert(s:get_run(running[i]))
      run = store.ACTIVE[run.status] and slurm_runs.reconcile(s, run) or run
      local fix = not store.ACTIVE[run.status] and slurm_react.fix_run(s, run)
      if fix then -- the config's reactions made a fix run (a Slurm job of its own): its end is the task's
        running[i] = fix.run_id
      elseif not store.ACTIVE[run.status] then
        table.remove(running, i)
        ended(outcome(run))
      end
    end
  end
  progress("finished", state)
  return outcomes
end

return M
