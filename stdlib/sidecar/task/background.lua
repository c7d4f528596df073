--- Background runs: `sidecar run T-0001 --background` records the run, starts a detached
--- `sidecar run --worker R-…` that executes it (in a session of its own, so closing the terminal
--- does not end it), and returns the run id at once. `run tail`, `run wait` and `run kill` work
--- on any run through the store and the run's folder (stdlib/sidecar/executor/run_control.lua).
---
--- A worker that dies without recording an end (kill -9, a crash) is noticed by the next `run
--- list`, `run show`, `run wait` or `run tail -f` (stdlib/sidecar/run/reconcile.lua: the worker holds a
--- lock for its whole life), which ends the run and kills what is left of it; so is a foreground
--- `sidecar run` that dies.
local json = require("sidecar.core.json")
local notices = require("sidecar.task.notices")
local proc = require("sidecar.core.proc")
local run_processes = require("sidecar.run.processes")
local run_reconcile = require("sidecar.run.reconcile")
local run_record = require("sidecar.run.record")
local runs = require("sidecar.task.runs")

local M = {}

local LEFTOVER_GRACE_MS = 2000

-- The local executor's launcher: a detached worker on this machine. Returns the fields that name
-- it in the record ({worker_pid, worker_start}), or nil, why, errno.
local function launch_here(s, run)
  local log = s.root .. "/runs/" .. run.run_id .. "/worker.log"
  local started, pid = pcall(proc.detach, { proc.executable(), "run", "--worker", run.run_id, "--root", s.root },
    { cwd = runs.repo_of(s), stdout = log, stderr = log, env = { [run_reconcile.MARK_VARIABLE] = run.process_mark } })
  if not started then
    local why = type(pid) == "table" and pid.message or tostring(pid)
    return nil, "the background worker could not start: " .. why, type(pid) == "table" and pid.errno or nil
  end
  -- pid and start time together name the worker even after the pid is reused.
  return { worker_pid = pid, worker_start = run_processes.start_of(pid) }
end

---Records a queued run of `task` (its prompt compiled now, or extra.prompt as it is) and starts its
---worker. st: settings with one runner; extra: keep_session, resume, and for a replay
---parent_run_id, replay_reason. `launcher` (stdlib/sidecar/executor): {name, launch(s, run) ->
---fields for the record | nil, why, errno} starts the worker elsewhere (a Slurm job); default: a
---detached process here. Returns the run record or nil, message, code.
function M.start(s, cfg, task, st, extra, launcher)
  local text, budget = extra.prompt, nil
  if not text then
    text, budget = runs.compile(task, st)
  end
  -- The starting command is named in the record from the first write, so a reconciler can tell at
  -- once that it died before it recorded a worker (no grace period to wait out).
  local me = require("sidecar.host.procinfo").self() or {}
  local run, message, code = run_record.create(s, { task_id = task.task_id, runner_type = st.runner,
    starter_pid = me.pid, starter_start = me.start,
    agent_role = st.agent_role, model = st.model, sandbox = st.sandbox, status = "queued", background = true,
    executor = launcher and launcher.name or nil,
    prompt_tokens = budget and budget.estimated_tokens or require("sidecar.prompt.compile").estimate(text),
    prompt_budget = budget, parent_run_id = extra.parent_run_id, replay_reason = extra.replay_reason,
    launch = { runner = st.runner, agent_role = st.agent_role or json.null, model = st.model or json.null,
      effort = st.effort or json.null, search = st.search == nil and json.null or st.search, sandbox = st.sandbox,
      timeout_ms = st.timeout_ms, idle_timeout_ms = st.idle_timeout_ms,
      allow_full_auto = st.allow_full_auto or false, keep_session = extra.keep_session or false,
      resume = extra.resume or json.null, budget = st.budget or json.null, notify = st.notify or json.null,
      tty = require("sidecar.task.notices").terminal() or json.null, -- where a notice's bell rings
      pty = st.pty == true, on_stuck = st.on_stuck or json.null, -- stdlib/sidecar/agent/terminal.lua
      os_sandbox = st.os_sandbox or json.null, network = st.network or json.null, -- stdlib/sidecar/run/sandbox.lua
      parent_run_id = extra.parent_run_id or json.null, replay_reason = extra.replay_reason or json.null } },
      { { "prompt.md", text } })
  if not run then
    return nil, message, code
  end
  run.prompt_path = "runs/" .. run.run_id .. "/prompt.md"
  -- Every process of the run inherits the mark, so `run kill` and a reconciler find them all.
  run.process_mark = run_processes.new_mark(run.run_id)
  -- The run's lock is held until the worker is recorded: the worker waits for it (claim), so
  -- nothing it writes is overwritten here, and no reconciler takes this start for a dead worker.
  local lock <close> = run_reconcile.try_lock(s, run.run_id)
  s:set_task_status(task.task_id, "queued")
  local fields, why, errno = (launcher and launcher.launch or launch_here)(s, run)
  if not fields then
    run.status, run.failure_reason = "failed", why
    run_record.finish(s, run)
    s:set_task_status(task.task_id, task.status)
    return nil, run.failure_reason, errno
  end
  for k, v in pairs(fields) do
    run[k] = v
  end
  assert(run_record.save(s, run))
  return run
end

local function v(x)
  return x ~= json.null and x or nil
end

---The run settings a background run's `launch` record holds (what M.start recorded of `st`).
---@param l table  run.launch
function M.launch_settings(l)
  return { runner = l.runner, agent_role = v(l.agent_role), model = v(l.model), effort = v(l.effort),
    search = v(l.search), sandbox = l.sandbox,
    timeout_ms = l.timeout_ms, idle_timeout_ms = l.idle_timeout_ms, allow_full_auto = l.allow_full_auto,
    budget = v(l.budget), notify = v(l.notify), pty = l.pty == true or nil, on_stuck = v(l.on_stuck),
    os_sandbox = v(l.os_sandbox), network = v(l.network) }
end

-- The person who started the run is told it ended (its --notify, the config's notify,
-- notify-send), stopped runs too (`run kill`, a signal): then the worker is on its way out, so a
-- notice that fails is not another error. For a run on a Slurm node, by the submitting side,
-- where its terminal is (stdlib/sidecar/executor/slurm_react.lua).
local function notify_end(s, cfg, ended, notify, stopped)
  if not ended or s.scratch then
    return
  end
  if stopped then
    pcall(notices.run_ended, s, cfg, ended, notify)
  else
    notices.run_ended(s, cfg, ended, notify)
  end
end

---The worker's side: executes the queued run `run_id` with the settings recorded at its start,
---holding the run's lock (run_reconcile.claim) from before the run is marked running until its
---end is recorded. `on_progress(line)` is given each progress line (optional). Returns the run
---record or nil, message, code.
function M.work(s, cfg, run_id, on_progress)
  if not s:get_run(run_id) then
    return nil, ("no run %s"):format(run_id), "not_found"
  end
  local lock, why, code = run_reconcile.claim(s, run_id)
  if not lock then
    return nil, why, code
  end
  -- Read again under the lock: a reconciler may have ended the run while this worker started.
  local run = assert(s:get_run(run_id))
  if run.status ~= "queued" or type(run.launch) ~= "table" then
    lock:release()
    return nil, ("run %s is not a queued background run (status %s)"):format(run_id, tostring(run.status)), "bad_state"
  end
  if run.worker_start == nil then -- the starting command died before it recorded this worker
    local me = require("sidecar.host.procinfo").self()
    run.worker_pid, run.worker_start = me and me.pid or json.null, me and me.start or json.null
    assert(run_record.save(s, run))
  end
  local task = s:get_task(run.task_id)
  if not task then
    lock:release()
    return nil, ("run %s belongs to task %s, which no longer exists"):format(run_id, tostring(run.task_id)), "not_found"
  end
  local l = run.launch
  local st = M.launch_settings(l)
  st.on_progress = on_progress
  local dir = assert(s:run_dir(run_id))
  local text = dir:read("prompt.md")
  dir:close()
  -- (agent_run records the agent's process group itself: agent_process.json)
  local ok, result, message, err_code = pcall(runs.run_step, s, cfg, task, st, { run_id = run_id, prompt = text,
    keep_session = l.keep_session, resume = v(l.resume), parent_run_id = v(l.parent_run_id),
    replay_reason = v(l.replay_reason) })
  if not ok then
    -- Stopped (SIGTERM, Ctrl-C): the agent's group is gone; so is anything that escaped it.
    run_reconcile.stop_processes(s, s:get_run(run_id) or run, LEFTOVER_GRACE_MS)
  end
  lock:release() -- the run's end is recorded (by agent_run, even when interrupted)
  -- The config's reactions (fix runs), run by this worker after the run's own end; not by a worker
  -- on a Slurm node, whose scratch store cannot number new runs (stdlib/sidecar/executor/node.lua).
  if ok and result and not s.scratch then
    result = runs.react(s, cfg, task, st, result)
  end
  notify_end(s, cfg, ok and result or s:get_run(run_id), v(l.notify), not ok)
  if not ok then
    error(result, 0)
  end
  return result, message, err_code
end

return M
