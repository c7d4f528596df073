--- One run submitted as a Slurm job: a batch job whose one step is `sidecar run --worker R-…` (the
--- worker background runs use) on a compute node; the prompt and settings travel in the run's
--- folder, which must be on a file system the nodes share (the job's script only names the run).
--- A preset's read-only step is such a job too, its step described in the run's folder
--- (M.PRESET_JOB_FILE: stdlib/sidecar/executor/slurm_preset.lua). What this side reads of a job
--- once submitted is stdlib/sidecar/executor/slurm_runs.lua's.
local clock = require("sidecar.host.time")
local files = require("sidecar.core.files")
local json = require("sidecar.core.json")
local proc = require("sidecar.core.proc")
local run_reconcile = require("sidecar.run.reconcile")
local slurm = require("sidecar.executor.slurm_client")

local M = {}

---The file in a run's folder that makes it a preset's step (what the node runs).
M.PRESET_JOB_FILE = "preset_job.json"

local function now_ms()
  return clock.monotonic_ns() // 1000000
end

local quoted = slurm.shell_quote

-- The absolute form of a path (the job runs in another working directory, on another machine).
local function absolute(path)
  if path:sub(1, 1) ~= "/" then
    path = (os.getenv("PWD") or ".") .. "/" .. path
  end
  path = path:gsub("/%./", "/"):gsub("/%.$", ""):gsub("//+", "/")
  return path
end

M.absolute = absolute

---The batch script of a run: only names it; the worker reads the rest from the run's folder.
function M.script(root, run)
  return table.concat({ "#!/bin/sh",
    "# Sidecar run " .. run.run_id .. " (the Slurm executor): the worker reads the run from its folder.",
    "export " .. run_reconcile.MARK_VARIABLE .. "=" .. quoted(run.process_mark or ""),
    quoted(proc.executable()) .. " run --worker " .. run.run_id .. " --root " .. quoted(root),
    "status=$?",
    "# A worker killed outright leaves its scratch database (stdlib/sidecar/executor/node.lua).",
    'rm -f "${TMPDIR:-/tmp}/sidecar-' .. run.run_id .. '-$SLURM_JOB_ID.db" "${TMPDIR:-/tmp}/sidecar-' .. run.run_id
      .. '-$SLURM_JOB_ID.db-"*',
    "exit $status", "" }, "\n")
end

---A launcher for stdlib/sidecar/task/background.lua: submits the run as a batch job under
---`settings` (the config's validated `slurm` section). The record gets `slurm = {job_id, ...}`.
function M.launcher(settings)
  return { name = "slurm", launch = function(s, run)
    local root = absolute(s.root)
    local dir = assert(s:run_dir(run.run_id))
    local script = M.script(root, run)
    dir:write("slurm.sh", script)
    dir:close()
    local argv = slurm.sbatch_args(settings, { name = "sidecar-" .. run.run_id,
      output = root .. "/runs/" .. run.run_id .. "/worker.log", chdir = root:match("^(.*)/[^/]+$") or "/" })
    local t0 = now_ms()
    local job_id, why = slurm.submit(argv, script)
    if not job_id then
      return nil, "the Slurm job could not be submitted: " .. why
    end
    return { slurm = { job_id = job_id, submitted_ms = now_ms() - t0, partition = settings.partition or json.null } }
  end }
end

---Whether the run at `root` is a preset's step (its folder holds M.PRESET_JOB_FILE).
---@param root string
---@param run_id string
function M.is_preset_step(root, run_id)
  return files.exists(("%s/runs/%s/%s"):format(root, run_id, M.PRESET_JOB_FILE))
end

return M
