--- Executors: where a run's worker runs. `local` (the default) starts it as a detached process on
--- this machine (stdlib/sidecar/task/background.lua); `slurm` submits it as a batch job
--- (stdlib/sidecar/executor/slurm.lua). Everything above the executor (prompts, gates,
--- validation, review, lineage, usage) is the same code: the worker runs the run either way.
---
--- An executor is a module `sidecar.executor.<name>` (M.of gives it), a table:
---   name                          its name in the record (`run.executor`; absent: local)
---   remote                        true when its worker runs elsewhere than this machine's processes
---   where(run) -> text            "in the background (pid 123)", "as Slurm job 45"
--- and, as it needs them:
---   check(cfg) -> settings | nil, why         its section of the config, checked
---   launcher(cfg) -> {name, launch(s, run) -> fields | nil, why}   starts a recorded run's worker
---                                             (absent: background.start's own, a local process)
---   reconcile(s, run) -> run, ended_here, why?   a remote run as it is now (reads its state there)
---   kill(s, run) -> run | nil, why, code      stops a remote run
---   prefetch(runs)                            asks once of all its active runs (before reconcile)
---   start_ready(s, cfg, o) -> outcomes        `run start-ready` its own way (job arrays)
---   submit_readers(ctx, pending, where) -> batch   a preset batch's read-only steps its own way (where:
---                                             {repo, gates, budget_of(runner)}, the preset's budget per step)
---   fix_run(s, run) -> run | nil              the fix run the config's reactions started when `run` ended
---   doctor(root, cfg) -> checks, ok           `sidecar doctor --executor <name>`'s ({name, ok, detail} each)
--- docs/scale.md says what another engine (Kubernetes Jobs, a cloud batch service) needs to be one.
local background = require("sidecar.task.background")

local M = {}

M.NAMES = { "local", "slurm" }

-- Each executor's module, loaded when first asked for (Slurm's parts load only for a Slurm run).
local LOAD = {
  ["local"] = function()
    return require("sidecar.executor.local")
  end,
  slurm = function()
    return require("sidecar.executor.slurm")
  end,
}

---The executor named `name` (nil: local), or nil and why.
---@param name string|nil
---@return table|nil executor, string? why
function M.of(name)
  local load = LOAD[name or "local"]
  if not load then
    return nil, ("'%s': not an executor (one of: %s)"):format(tostring(name), table.concat(M.NAMES, ", "))
  end
  return load()
end

---The executor a command uses: its --executor, else the config's `executor`, else local, its
---settings checked. Returns the name, or nil and what is wrong.
---@param cfg table
---@param flag string|nil
function M.choose(cfg, flag)
  local name = flag or rawget(cfg, "executor") or cfg.executor or "local"
  local e, why = M.of(name)
  if not e then
    return nil, ("%s %s"):format(flag and "--executor" or "executor in .agent/config.lua", why)
  end
  if e.check then
    local ok, bad = e.check(cfg)
    if not ok then
      return nil, bad
    end
  end
  return name
end

---Records a queued run and starts its worker on executor `name` (as background.start).
function M.start(name, s, cfg, task, st, extra)
  local e = assert(M.of(name))
  return background.start(s, cfg, task, st, extra, e.launcher and e.launcher(cfg))
end

-- The executor of a run whose worker runs elsewhere, or nil and why not.
local function remote_of(run)
  local e = M.of(run.executor)
  if not (e and e.remote) then
    return nil, ("run %s names executor '%s', which this Sidecar does not know"):format(run.run_id,
      tostring(run.executor))
  end
  return e
end

---The reconcile of a run another executor runs (sidecar.executor.reconcile calls it).
function M.reconcile(s, run)
  local e, why = remote_of(run)
  if not e then
    return run, false, why
  end
  return e.reconcile(s, run)
end

---Asks each executor once of all the active runs it runs (before reconcile goes through them).
function M.prefetch(s)
  local by_name = {}
  for _, status in ipairs({ "queued", "preparing", "running" }) do
    for _, run in ipairs(s:list_runs({ status = status, limit = 0 }) or {}) do
      if run.executor and run.executor ~= "local" then
        by_name[run.executor] = by_name[run.executor] or {}
        table.insert(by_name[run.executor], run)
      end
    end
  end
  for name, runs in pairs(by_name) do
    local e = M.of(name)
    if e and e.prefetch then
      e.prefetch(runs)
    end
  end
end

---Stops a run another executor runs (sidecar.executor.run_control.kill calls it).
function M.kill(s, run)
  local e, why = remote_of(run)
  if not e then
    return nil, why, "bad_state"
  end
  return e.kill(s, run)
end

return M
