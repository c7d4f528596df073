--- The queue of ready tasks: `sidecar run queue` (which tasks can run now, and why the others
--- wait) and `sidecar run start-ready` (run them N at a time until none is ready).
---
--- A task is ready when its status is "ready" and every task it depends on is "done". As runs
--- end, tasks that depended on them become ready and start too. Each run is a `sidecar run`
--- process of its own, so runs share nothing but the store.
local agent_budget = require("sidecar.agent.budget")
local budget_live = require("sidecar.agent.budget_live")
local errors = require("sidecar.core.errors")
local json = require("sidecar.core.json")
local proc = require("sidecar.core.proc")

local M = {}

local STDERR_TAIL = 8192
local GOOD = { review = true, completed = true }

---{ready = {task...}, blocked = {{task, reasons = {...}}...}}: tasks with status "ready", oldest
---first, split by whether their dependencies are done.
function M.queue(s)
  local tasks = assert(s:list_tasks({ limit = 0 }))
  local by_id = {}
  for _, t in ipairs(tasks) do
    by_id[t.task_id] = t
  end
  local ready, blocked = {}, {}
  for i = #tasks, 1, -1 do
    local t = tasks[i]
    if t.status == "ready" then
      local reasons = {}
      for _, dep in ipairs(type(t.dependencies) == "table" and t.dependencies or {}) do
        local d = by_id[dep]
        if not d then
          reasons[#reasons + 1] = ("depends on %s, which does not exist"):format(dep)
        elseif d.status ~= "done" then
          reasons[#reasons + 1] = ("waits for %s (%s)"):format(dep, d.status)
        end
      end
      if #reasons == 0 then
        ready[#ready + 1] = t
      else
        blocked[#blocked + 1] = { task = t, reasons = reasons }
      end
    end
  end
  return { ready = ready, blocked = blocked }
end

-- The number of a run id ("R-0012" -> 12), 0 for none.
local function run_number(id)
  return tonumber(type(id) == "string" and id:match("^R%-(%d+)$") or nil) or 0
end

-- What one `sidecar run T --json` child reported: its steps, or a failure from its stderr.
local function child_outcome(s, task_id, since, r)
  local ok, env = json.try_decode(r.stdout or "")
  local steps = ok and type(env) == "table" and type(env.data) == "table" and env.data.steps or nil
  local last = type(steps) == "table" and steps[#steps]
  if not last then
    -- No answer (stopped by `run kill`, say): the task's run started here, as the store has it.
    local latest = (s:list_runs({ task_id = task_id, limit = 1 }) or {})[1]
    last = latest and run_number(latest.run_id) > run_number(since) and latest or nil
  end
  if last then
    return { task_id = task_id, run_id = last.run_id, status = last.status, ok = GOOD[last.status] == true,
      duration_ms = last.duration_ms, reason = last.failure_reason or (last.blockers and last.blockers[1]) }
  end
  local err = ok and errors.messages(env)[1]
  local said = err or require("sidecar.core.text").last_line(r.stderr) or ("exit " .. tostring(r.code)) -- linear
  return { task_id = task_id, ok = false, status = "failed", reason = said }
end

-- Under a command budget (o.budget, sidecar.agent.budget): the --budget-* arguments of the next
-- run (the limits the user set) and the environment saying what the runs ended so far spent
-- (SIDECAR_BUDGET_SPENT) and the group of runs sharing it (SIDECAR_BUDGET_GROUP); or nil and why
-- none may start. Runs going at once count what the others spent as they go.
local function budget_args(s, o, outcomes)
  local b = o.budget
  if not (b and b.command) then
    return {}
  end
  local ended = {}
  for _, outcome in ipairs(outcomes) do
    ended[#ended + 1] = outcome.run_id and s:get_run(outcome.run_id) or nil
  end
  local spent = agent_budget.spent_of(ended)
  local ok, why = agent_budget.may_start({ command = b.command, allow_unknown = b.allow_unknown }, { command = spent })
  if not ok then
    return nil, why
  end
  -- The limit the user set, and what was spent before (the run's record says both).
  local args = {}
  if b.command.tokens then
    args[#args + 1], args[#args + 2] = "--budget-tokens", tostring(b.command.tokens)
  end
  if b.command.usd then
    args[#args + 1], args[#args + 2] = "--budget-usd", ("%.17g"):format(b.command.usd)
  end
  args[#args + 1] = b.allow_unknown and "--budget-allow-unknown" or nil
  local env = b.group and budget_live.group_env(b.group) or {} -- its runs share the limit as they go
  env[agent_budget.SPENT_VARIABLE] = ("%d %.17g"):format(spent.tokens, spent.usd)
  return args, env
end

---Runs every ready task, `jobs` at a time, starting tasks as they become ready, until none is
---ready and none is running. o: jobs, runner, dry_run, budget (sidecar.agent.budget's: its
---command limit is shared by the runs, each started with what is left; once none is, the ready
---tasks left are not started, each an outcome with status "not_started" and the figures), and
---on_progress(event, state, detail), told
---"started" (detail: the task), "waiting" (about once a second while runs go on), "ended" (detail:
---the outcome) and "finished"; state is {done, running, failed}. Returns the list of outcomes
---{task_id, run_id, status, ok, duration_ms, reason} in the order they ended.
function M.start_ready(s, o)
  local jobs = o.jobs
  local argv0 = proc.executable()
  local started, running, outcomes = {}, {}, {}
  local state = { done = 0, running = 0, failed = 0 }
  local progress = o.on_progress or function() end
  local function launch(task)
    local extra, why = budget_args(s, o, outcomes)
    local spent_env = extra and why or nil -- (on success: the spending before, for the run's record)
    if not extra then
      started[task.task_id] = true
      outcomes[#outcomes + 1] = { task_id = task.task_id, ok = false, status = "not_started", reason = why }
      state.failed = state.failed + 1
      progress("ended", state, outcomes[#outcomes])
      return
    end
    local argv = { argv0, "run", task.task_id, "--json", "--root", s.root, table.unpack(extra) }
    if o.runner then
      argv[#argv + 1] = "--runner"
      argv[#argv + 1] = o.runner
    end
    if o.dry_run then
      argv[#argv + 1] = "--dry-run"
    end
    started[task.task_id] = true
    local before = (s:list_runs({ task_id = task.task_id, limit = 1 }) or {})[1]
    -- Each `sidecar run` owns its run and its agent: it dies with this process, as an agent does
    -- (SIGKILL), and the next read ends its run (stdlib/sidecar/run/reconcile.lua).
    running[#running + 1] = { task_id = task.task_id, since = before and before.run_id, handle = proc.spawn(argv,
      { stdout = true, stderr = { collect = true }, max_output = STDERR_TAIL, name = "run " .. task.task_id,
        parent_death = "kill", env = spent_env }) }
    progress("started", state, task)
  end
  while true do
    -- Dry runs finish no task, so each ready task is run once; real runs may free dependents.
    for _, task in ipairs(M.queue(s).ready) do
      if #running >= jobs then
        break
      end
      if not started[task.task_id] then
        launch(task)
      end
    end
    state.running = #running
    if #running == 0 then
      break
    end
    progress("waiting", state)
    local handles = {}
    for i, r in ipairs(running) do
      handles[i] = r.handle
    end
    local finished, i = proc.wait_any(handles, 1000)
    if finished then
      local entry = table.remove(running, i)
      local outcome = child_outcome(s, entry.task_id, entry.since, finished:wait())
      outcomes[#outcomes + 1] = outcome
      if outcome.ok or outcome.status == "dry_run" then
        state.done = state.done + 1
      else
        state.failed = state.failed + 1
      end
      progress("ended", state, outcome)
    end
  end
  progress("finished", state)
  return outcomes
end

return M
