--- The Slurm executor: a run's worker as a batch job on a cluster whose nodes share the `.agent`
--- folder (docs/scale.md). Its parts live beside it: the client commands (slurm_client.lua), one
--- run as a job (slurm_runs.lua), `run start-ready` as job arrays (slurm_array.lua), a preset's
--- readers as one array (slurm_preset.lua), reactions (slurm_react.lua), the doctor's probe
--- (slurm_doctor.lua) and the config's `slurm` section (slurm_settings.lua).
local slurm_array = require("sidecar.executor.slurm_array")
local slurm_doctor = require("sidecar.executor.slurm_doctor")
local slurm_preset = require("sidecar.executor.slurm_preset")
local slurm_react = require("sidecar.executor.slurm_react")
local slurm_runs = require("sidecar.executor.slurm_runs")
local slurm_settings = require("sidecar.executor.slurm_settings")
local slurm_submit = require("sidecar.executor.slurm_submit")

local M = {
  name = "slurm",
  remote = true,
  check = slurm_settings.check,
  reconcile = slurm_runs.reconcile, -- (s, run) -> run, ended_here, why?: as Slurm and the run's folder say
  kill = slurm_runs.kill, -- (s, run) -> run | nil, why, code: scancel
  prefetch = slurm_runs.prefetch, -- (runs): one squeue for all of them
  start_ready = slurm_array.start_ready, -- (s, cfg, o): `run start-ready` as job arrays, wave by wave
  submit_readers = slurm_preset.submit, -- (ctx, pending, where): a preset batch's readers as one array
  fix_run = slurm_react.fix_run, -- (s, run): the fix run the reactions submitted when `run` ended
  doctor = slurm_doctor.check, -- (root, cfg) -> checks, ok: `sidecar doctor --executor slurm`
}

---Where the run runs, for "R-0001 runs …" and "submitted …".
---@param run table
function M.where(run)
  return "as Slurm job " .. tostring(type(run.slurm) == "table" and run.slurm.job_id)
end

---The launcher background.start records and starts a run with: an sbatch of its worker.
---@param cfg table  a config whose `slurm` section M.check accepted
function M.launcher(cfg)
  return slurm_submit.launcher(assert(slurm_settings.check(cfg)))
end

return M
