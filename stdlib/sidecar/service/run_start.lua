--- Starting a task's run, and replaying one, as data (sidecar.service.result). `sidecar run` and
--- `run replay` render it (and follow a run another executor runs in the foreground); `sidecar ui`
--- and `sidecar mcp` answer with it.
---
---   local r = run_start.start({ root = root, task = "T-0001", runner = "codex", background = true })
---   -- r.data: {run_id, status, worker_pid, executor, slurm_job_id}  (started in the background)
---   local r = run_start.start({ root = root, task = "T-0001", dry_run = true })
---   -- r.data: {steps, pipeline_id, stopped_after, budget}; r.ok: every step went well
local executor = require("sidecar.executor")
local json = require("sidecar.core.json")
local replay = require("sidecar.task.replay")
local result = require("sidecar.service.result")
local runs = require("sidecar.task.runs")
local runs_service = require("sidecar.service.runs")
local service_store = require("sidecar.service.store")
local task_packet = require("sidecar.task.packet")

local M = {}

-- A run's end that counts as done well.
local GOOD = runs.GOOD

---The data of a run started in the background: {run_id, status, worker_pid, executor,
---slurm_job_id}. The result also carries `run`, its record.
---@param run table
function M.started(run)
  local r = result.ok({ run_id = run.run_id, status = run.status, worker_pid = run.worker_pid,
    executor = run.executor or "local", slurm_job_id = type(run.slurm) == "table" and run.slurm.job_id or nil })
  r.run = run
  return r
end

---The result of runs that ended here (sidecar.task.runs.run_task's, or a replay's): data {steps,
---pipeline_id, stopped_after, budget}, ok when every step ended well and no budget stopped one.
---The result also carries `steps`.
---@param done table  {steps, pipeline_id?, stopped_after?, budget?}
function M.ended(done)
  local all_good = not done.budget -- a step the budget could not cover was not started
  for _, r in ipairs(done.steps) do
    all_good = all_good and GOOD[r.status] == true
  end
  local r = { ok = all_good, status = all_good and 0 or 1, warnings = {}, steps = done.steps,
    errors = done.budget and { { code = "failed", message = done.budget } } or {},
    data = { steps = json.array(done.steps), pipeline_id = done.pipeline_id or json.null,
      stopped_after = done.stopped_after or json.null, budget = done.budget } }
  return r
end

-- --continue: the session of the task's last run that kept one goes into `extra.resume`, and its
-- runner into `st`; a failed result when it cannot be continued.
local function continuation(o, s, task, st, extra)
  local prev
  for _, r in ipairs(s:list_runs({ task_id = task.task_id, limit = 0 }) or {}) do
    if not prev and r.session_id and r.session_id ~= json.null and r.ephemeral == false and not r.dry_run then
      prev = r
    end
  end
  if not prev then
    return result.fail(("task %s has no run with a kept session to continue (first-pass runs are ephemeral: run "
      .. "it once with --keep-session)"):format(task.task_id))
  end
  if o.runner and o.runner ~= prev.runner_type then
    return result.fail(("--continue resumes %s's session of run %s: it cannot change the runner to %s"):format(
      prev.runner_type, prev.run_id, o.runner), "usage")
  end
  local why
  extra.resume, why = require("sidecar.agent.run").continuation(prev)
  if not extra.resume then
    return result.fail(why)
  end
  st.runners = { prev.runner_type }
end

-- The checks of M.prepare once the store is open: the task, its settings, the continuation and the
-- executor. A failed result, or nil with `p` filled in.
local function ready(o, p)
  local s = p.s
  p.task = s:get_task(o.task)
  if not p.task then
    return result.fail(("no task %s (see sidecar task list)"):format(o.task))
  end
  -- A task stored before a rule refused its inputs (or imported by an older Sidecar) stops here.
  local refused = task_packet.refused_inputs(p.task)
  local why
  p.st, why = runs.settings(p.cfg, p.task, o)
  if refused then
    return result.fail(("task %s: %s"):format(p.task.task_id, refused))
  end
  if not p.st then
    return result.fail(why, "usage")
  end
  p.extra = { keep_session = o.keep_session }
  local bad = o.continue and continuation(o, s, p.task, p.st, p.extra)
  if bad then
    return bad
  end
  if o.continue and #p.st.runners > 1 then
    return result.fail("--background and --continue run one runner: give --runner one name", "usage")
  end
  p.executor, why = executor.choose(p.cfg, o.executor)
  if not p.executor then
    return result.fail(why, "usage")
  end
  if (o.background or p.executor ~= "local") and #p.st.runners > 1 then
    return result.fail("--background, --continue and --executor slurm run one runner: give --runner one name",
      "usage")
  end
end

---Checks and readies a run of o.task (o: the run's options, as `sidecar run` takes them; o.on_progress
---gets its progress lines). Returns {s (the store, open: the caller closes it), cfg, task, st, extra,
---executor}, or nil and a failed result (the store closed).
---@param o table
function M.prepare(o)
  if not task_packet.is_task_id(o.task or "") then
    return nil, result.fail(o.task and ("'%s' is not a task id (task ids look like T-0001)"):format(o.task)
      or "give a task id (T-0001)", "usage")
  end
  if o.notify and not o.background then
    return nil, result.fail("--notify tells you when a background run ends: give --background too", "usage")
  end
  local s, cfg = service_store.open_runs(o)
  if not s then
    return nil, result.fail(cfg)
  end
  local p = { s = s, cfg = cfg }
  local ok, bad = pcall(ready, o, p)
  if not ok or bad then
    s:close()
    if not ok then
      error(bad, 0)
    end
    return nil, bad
  end
  return p
end

---Starts the prepared run's worker on its executor (M.prepare's `p`; the store stays open).
---@param p table
function M.start_background(p)
  p.st.runner = p.st.runners[1]
  local run, message = executor.start(p.executor, p.s, p.cfg, p.task, p.st, p.extra)
  return run and M.started(run) or result.fail(message)
end

---Runs the prepared run here and now, on the local executor (M.prepare's `p`; the store stays open).
---@param p table
function M.run_here(p)
  local done, message = runs.run_task(p.s, p.cfg, p.task, p.st, p.extra)
  return done and M.ended(done) or result.fail(message)
end

---Starts a task's run: in the background with o.background (on any executor), else here and now
---(the local executor only: a run another executor runs in the foreground is followed by `sidecar
---run`).
---@param o table  the run's options, as `sidecar run` takes them
function M.start(o)
  local p, bad = M.prepare(o)
  if not p then
    return bad
  end
  local ok, r = pcall(function()
    if o.background then
      return M.start_background(p)
    elseif p.executor ~= "local" then
      return result.fail(("a run on executor %s is followed by `sidecar run`: start it in the background here"):format(
        p.executor), "usage")
    end
    return M.run_here(p)
  end)
  p.s:close()
  if not ok then
    error(r, 0)
  end
  return r
end

---Replays run o.id (o: as `sidecar run replay` takes them): in the background with o.background
---(not for a dry run), else here and now.
---@param o table
function M.replay(o)
  return runs_service.with_run(o, function(s, cfg)
    local done, message, code = replay.replay(s, cfg, o.id, o)
    if not done then
      return result.fail(message, code == "usage" and "usage" or nil)
    end
    if o.background and not o.dry_run then
      return M.started(done.steps[1])
    end
    return M.ended(done)
  end)
end

return M
