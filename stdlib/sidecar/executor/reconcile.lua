--- A run as it is now, whoever runs it, and every active run and running task settled: what each
--- reader calls before it shows or waits (`run list`, `run show`, `wait`, `tail`, the board, MCP).
--- A run of this machine whose owner is gone is ended by sidecar.run.reconcile; a run another
--- executor runs (a Slurm job) is asked of that executor (sidecar.executor); a task left `running`
--- by an owner that died after its run ended (during validation, say) is settled from that run, as
--- the owner would have (sidecar.task.runs); a preset's task, only once the preset's process is gone
--- (before its first step too), blocked then and the preset's end told.
---
---   run = reconcile.reconcile(s, run)     -- one run (and its task, when the run was ended here)
---   reconcile.reconcile_active(s)         -- every active run and running task
local errors = require("sidecar.core.errors")
local executor = require("sidecar.executor")
local run_processes = require("sidecar.run.processes")
local run_reconcile = require("sidecar.run.reconcile")
local runs = require("sidecar.task.runs")

local M = {}

-- Why a preset's task is blocked, its end unknown, when its process was found gone.
M.PRESET_GONE = "its process ended before the preset did"

local ACTIVE_STATUSES = { "queued", "preparing", "running" }

-- What runs that ended without their owner left: their worktrees (removed or recovered) and the
-- private folders of sandboxes whose owner was killed before it could remove them (an owner killed
-- while its run was active is found here, so no command lists /tmp otherwise). Loaded only then:
-- a reader that ends nothing (every `run list`) does not load the worktree and sandbox modules.
local function sweep(s)
  errors.keep_interrupt(pcall(function() require("sidecar.run.worktree_result").sweep(s) end))
  errors.keep_interrupt(pcall(function() require("sidecar.run.sandbox_folder").sweep() end))
end

-- One run, nothing swept: the run as it is now, whether it was ended here, why not when it failed.
local function reconcile_one(s, run)
  if type(run) == "table" and run_reconcile.ACTIVE[run.status] and run.executor ~= nil and run.executor ~= "local" then
    return executor.reconcile(s, run)
  end
  return run_reconcile.end_if_dead(s, run)
end

-- Whether the task of `latest`, its last run (ended), has an owner that may still be at work on it:
-- the run's owner (validating, say), or for a preset's step the preset's own process (between two
-- steps, their workers gone), which runs here whatever ran the step (a Slurm job's owner is on
-- another machine). Any other run with no owner recorded counts as owned: nothing tells otherwise.
local function task_owned(s, latest)
  local preset = run_processes.preset_of(latest)
  if not preset then
    return not run_reconcile.owner(latest) or run_reconcile.owner_alive(s, latest)
  end
  local here = (latest.executor or "local") == "local" and run_reconcile.owner(latest)
  return run_processes.same(preset.pid, preset.start) or (here and run_reconcile.owner_alive(s, latest)) or false
end

-- A preset's task left running by its preset's process, gone (killed) before the preset ended:
-- blocked, saying so (never ready, which would give it to `run queue` to run), and the preset's end
-- told, once whoever tells it (notify.preset_ended): nothing else tells one killed between steps.
local function block_orphaned(s, task, name)
  task.status = "blocked"
  task.blockers = type(task.blockers) == "table" and task.blockers or {}
  task.blockers[#task.blockers + 1] = ("preset %s: %s"):format(name or "?", M.PRESET_GONE)
  assert(s:update_task(task))
  require("sidecar.run.notify").preset_ended(s, { name = name or "?", task_id = task.task_id,
    status = "outcome_unknown", reason = M.PRESET_GONE })
end

-- Whether nothing may be at work on `task` any more: its last run `latest` has ended, no run of it
-- is active (a preset's workers still recording their steps) and no owner is left (task_owned);
-- with no run, the preset that made it is gone (killed before its first step). A task with no run
-- and no preset tells nothing: left as it is.
local function abandoned(s, task, latest)
  if not latest then
    local preset = run_processes.preset_of(task)
    return preset ~= nil and not run_processes.same(preset.pid, preset.start)
  end
  return not task_owned(s, latest)
    and not (s:list_runs({ task_id = task.task_id, statuses = ACTIVE_STATUSES, limit = 1 }) or {})[1]
end

-- Settles a task left running (or queued) by an owner that died after its last run ended: as
-- that run's owner would have (runs.settle_task), or ready when the run says nothing about it; a
-- preset's, once its preset's process is gone (block_orphaned), before its first step too.
-- Returns whether it was settled.
local function reconcile_task(s, task)
  local latest = (s:list_runs({ task_id = task.task_id, limit = 1 }) or {})[1]
  if not abandoned(s, task, latest) then
    return false -- an active run is reconcile_one's
  end
  local fresh = s:get_task(task.task_id)
  if not fresh or (fresh.status ~= "running" and fresh.status ~= "queued") then
    return false
  end
  if run_processes.preset_of(latest or fresh) then
    block_orphaned(s, fresh, (latest or fresh).preset)
  elseif not runs.settle_task(s, task.task_id, latest) then
    s:set_task_status(task.task_id, "ready")
  end
  return true
end

-- The task of `run`, ended here, settled as reconcile_active would (a preset's step found dead by
-- `run show`, its preset gone too: its task blocked now, not at the next list).
local function reconcile_task_of(s, run)
  local task = type(run) == "table" and type(run.task_id) == "string" and s:get_task(run.task_id)
  if task and (task.status == "running" or task.status == "queued") then
    errors.keep_interrupt(pcall(reconcile_task, s, task))
  end
end

---The run as it is now: ended here when its owner is gone (a local run), or as its executor says;
---what dead owners left is swept, and its task settled, when it was ended here. Returns the run
---and whether it was ended here.
---@param s table  the store
---@param run table  a run record
---@return table run
---@return boolean ended
function M.reconcile(s, run)
  local fresh, ended_here = reconcile_one(s, run)
  if ended_here then
    sweep(s)
    reconcile_task_of(s, fresh)
  end
  return fresh, ended_here
end

---M.reconcile for every active run of the store, then every task still `running` or `queued`
---whose last run has ended and whose owner is gone is settled from that run. Returns how many
---runs and tasks were ended.
---@param s table
---@return integer
function M.reconcile_active(s)
  local count = 0
  -- Slurm asked once of all its runs, not once per run
  errors.keep_interrupt(pcall(executor.prefetch, s))
  -- One run or task that cannot be settled now (its record unwritable, say) never keeps the
  -- others, nor the command that reads them: it is tried again by the next read. A Ctrl-C goes on up.
  for _, status in ipairs(ACTIVE_STATUSES) do
    for _, run in ipairs(s:list_runs({ status = status, limit = 0 }) or {}) do
      local ok, _, ended_here = errors.keep_interrupt(pcall(reconcile_one, s, run))
      count = count + ((ok and ended_here) and 1 or 0)
    end
  end
  if count > 0 then
    sweep(s)
  end
  for _, status in ipairs({ "running", "queued" }) do
    for _, task in ipairs(s:list_tasks({ status = status, limit = 0 }) or {}) do
      local ok, settled = errors.keep_interrupt(pcall(reconcile_task, s, task))
      count = count + ((ok and settled) and 1 or 0)
    end
  end
  return count
end

return M
