--- Executors: where a run's worker runs. `local` (the default) starts it as a detached process on
--- this machine (stdlib/sidecar/task/background.lua); `slurm` submits it as a batch job
--- (stdlib/sidecar/executor/slurm_runs.lua). Everything above the executor (prompts, gates,
--- validation, review, lineage, usage) is the same code: the worker runs the run either way.
---
--- An executor is a table:
---   name                         its name in the record (`run.executor`; absent: local)
---   launcher(cfg) -> {name, launch(s, run) -> fields | nil, why}   starts a recorded run's worker
---   reconcile(s, run) -> run, ended_here, why?   the run as it is now (reads its state there)
---   kill(s, run) -> run | nil, why, code          stops it
--- docs/scale.md says what another engine (Kubernetes Jobs, a cloud batch service) needs to be one.
local background = require("sidecar.task.background")

local M = {}

M.NAMES = { "local", "slurm" }

-- What the config's `slurm` section may hold, and how each value must look.
local SLURM_CHECKS = {
  partition = { "string", "^[%w_.-]+$", "a partition's name" },
  time = { "string", "^[%d:-]+$", "a Slurm time limit: minutes, MM:SS, HH:MM:SS or D-HH:MM:SS" },
  cpus = { "number", nil, "a whole number of CPUs of at least 1" },
  mem = { "string", "^%d+[KMGT]?$", "a Slurm memory size: 4G, 500M" },
  account = { "string", "^[%w_.-]+$", "an account's name" },
  array_throttle = { "number", nil, "a whole number of at least 1" },
}

---The config's `slurm` section, checked: the settings, or nil and what is wrong with it.
---@param cfg table
function M.slurm_settings(cfg)
  local given = rawget(cfg, "slurm") or cfg.slurm or {}
  local out = {}
  for key, check in pairs(SLURM_CHECKS) do
    local v = given[key]
    if v ~= nil then
      local bad = type(v) ~= check[1] or (check[2] and not tostring(v):match(check[2]))
        or (check[1] == "number" and (math.tointeger(v) == nil or v < 1))
      if bad then
        return nil, ("slurm.%s = %s in .agent/config.lua: expected %s"):format(key,
          type(v) == "string" and ("%q"):format(v) or tostring(v), check[3])
      end
      out[key] = v
    end
  end
  local args = given.sbatch_args or {}
  for i, a in ipairs(args) do
    if type(a) ~= "string" or a:sub(1, 1) ~= "-" then
      return nil, ("slurm.sbatch_args[%d] in .agent/config.lua: expected an sbatch option such as \"--qos=short\", "
        .. "got %s"):format(i, tostring(a))
    end
  end
  out.sbatch_args = args
  return out
end

---The executor a command uses: its --executor, else the config's `executor`, else local. Returns
---the name, or nil and what is wrong.
---@param cfg table
---@param flag string|nil
function M.choose(cfg, flag)
  local name = flag or rawget(cfg, "executor") or cfg.executor or "local"
  for _, known in ipairs(M.NAMES) do
    if name == known then
      if name == "slurm" then
        local ok, why = M.slurm_settings(cfg)
        if not ok then
          return nil, why
        end
      end
      return name
    end
  end
  return nil, ("%s '%s': not an executor (one of: %s)"):format(flag and "--executor" or
    "executor in .agent/config.lua", tostring(name), table.concat(M.NAMES, ", "))
end

---Records a queued run and starts its worker on executor `name` (as background.start).
function M.start(name, s, cfg, task, st, extra)
  local launcher
  if name == "slurm" then
    launcher = require("sidecar.executor.slurm_runs").launcher(assert(M.slurm_settings(cfg)))
  end
  return background.start(s, cfg, task, st, extra, launcher)
end

---The reconcile of a run another executor runs (stdlib/sidecar/run/reconcile.lua calls it).
function M.reconcile(s, run)
  if run.executor == "slurm" then
    return require("sidecar.executor.slurm_runs").reconcile(s, run)
  end
  return run, false, ("run %s names executor '%s', which this Sidecar does not know"):format(run.run_id,
    tostring(run.executor))
end

---Asks each executor once of all the active runs it runs (before reconcile goes through them).
function M.prefetch(s)
  local ids = {}
  for _, status in ipairs({ "queued", "preparing", "running" }) do
    for _, run in ipairs(s:list_runs({ status = status, limit = 0 }) or {}) do
      if run.executor == "slurm" and type(run.slurm) == "table" and run.slurm.job_id then
        ids[#ids + 1] = run.slurm.job_id
      end
    end
  end
  require("sidecar.executor.slurm").prefetch(ids)
end

---Stops a run another executor runs (background.kill calls it).
function M.kill(s, run)
  if run.executor == "slurm" then
    return require("sidecar.executor.slurm_runs").kill(s, run)
  end
  return nil, ("run %s names executor '%s', which this Sidecar does not know"):format(run.run_id,
    tostring(run.executor)), "bad_state"
end

return M
