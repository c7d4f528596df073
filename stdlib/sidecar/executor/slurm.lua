--- Slurm's client commands as Sidecar needs them: a batch job submitted (sbatch), its state asked
--- (squeue while Slurm schedules it; `scontrol show job` for a finished job it still remembers,
--- MinJobAge, 5 minutes by default; `sacct` after that, when the cluster keeps accounting), and
--- cancelled (scancel). Nothing here knows runs: stdlib/sidecar/executor/slurm_runs.lua does.
---
--- A job's state as Slurm names it maps to one of Sidecar's words (M.STATES): pending, running,
--- completed, failed, timeout, cancelled, node_failure, out_of_memory; `ended` says whether Slurm
--- is done with the job.
local proc = require("sidecar.core.proc")

local M = {}

---Slurm's job states (squeue %T, scontrol JobState, sacct State) and what each is here.
M.STATES = {
  PENDING = "pending", CONFIGURING = "pending", REQUEUED = "pending", REQUEUE_HOLD = "pending",
  REQUEUE_FED = "pending", RESV_DEL_HOLD = "pending",
  RUNNING = "running", COMPLETING = "running", SUSPENDED = "running", RESIZING = "running",
  SIGNALING = "running", STAGE_OUT = "running", STOPPED = "running",
  COMPLETED = "completed", FAILED = "failed", BOOT_FAIL = "node_failure", DEADLINE = "timeout",
  TIMEOUT = "timeout", CANCELLED = "cancelled", PREEMPTED = "cancelled", REVOKED = "cancelled",
  SPECIAL_EXIT = "failed", NODE_FAIL = "node_failure", OUT_OF_MEMORY = "out_of_memory",
}
---The states after which Slurm runs nothing more of a job.
M.ENDED = { completed = true, failed = true, timeout = true, cancelled = true, node_failure = true,
  out_of_memory = true }

-- Runs a client command: the result, or nil and why (a command that is not installed, say).
local function run(argv, opts)
  local ok, r = pcall(proc.run, argv, { timeout_ms = (opts and opts.timeout_ms) or 60000,
    stdin = opts and opts.stdin, cwd = opts and opts.cwd })
  if not ok then
    local why = type(r) == "table" and r.message or tostring(r)
    return nil, ("%s could not run: %s (is Slurm's client installed? Debian: slurm-client)"):format(argv[1], why)
  end
  return r
end

local function trimmed(text)
  return ((text or ""):gsub("^%s+", ""):gsub("%s+$", ""))
end

---sbatch's arguments for Sidecar's `slurm` settings: partition, time, cpus, mem, account,
---sbatch_args (a list, added last), plus `name`, `output`, `chdir` of this job.
---@param settings table
---@param job {name: string, output: string, chdir: string, array: string?, dependency: string?}
---@return string[]
function M.sbatch_args(settings, job)
  local args = { "sbatch", "--parsable", "--job-name=" .. job.name, "--output=" .. job.output,
    "--chdir=" .. job.chdir }
  local function add(flag, value)
    if value ~= nil then
      args[#args + 1] = flag .. "=" .. tostring(value)
    end
  end
  add("--partition", settings.partition)
  add("--time", settings.time)
  add("--cpus-per-task", settings.cpus)
  add("--mem", settings.mem)
  add("--account", settings.account)
  add("--array", job.array)
  add("--dependency", job.dependency)
  for _, a in ipairs(settings.sbatch_args or {}) do
    args[#args + 1] = a
  end
  return args
end

---Submits a batch script (its text given on standard input, so nothing of it is on a command
---line). Returns the job id (text: "123", or "123" of an array), or nil and sbatch's message.
---@param argv string[]  from M.sbatch_args
---@param script string
---@param cwd string?
function M.submit(argv, script, cwd)
  local r, why = run(argv, { stdin = script, cwd = cwd })
  if not r then
    return nil, why
  end
  local id = trimmed(r.stdout):match("^(%d+)")
  if r.code ~= 0 or not id then
    return nil, ("sbatch failed (exit %s): %s"):format(tostring(r.code), trimmed(r.stderr ~= "" and r.stderr
      or r.stdout))
  end
  return id
end

-- A state word as Slurm prints it ("CANCELLED by 0", "CANCELLED+") reduced to its name.
local function state_name(text)
  return (text or ""):match("^([A-Z_]+)")
end

-- The job as squeue sees it: {state, reason}, false when squeue no longer knows it, nil, why on
-- failure.
local function from_squeue(job_id)
  local r, why = run({ "squeue", "-h", "-j", job_id, "-o", "%T|%r" })
  if not r then
    return nil, why
  end
  local line = trimmed(r.stdout):match("^[^\n]*")
  if r.code ~= 0 or line == "" then
    return false -- "Invalid job id specified": Slurm has let go of it (or never had it)
  end
  local state, reason = line:match("^([^|]*)|(.*)$")
  return { state = state_name(state), reason = reason }
end

-- The job as `scontrol show job` remembers it for a while after its end: {state, reason,
-- exit_code ("0:9": status, signal)}, or false.
local function from_scontrol(job_id)
  local r = run({ "scontrol", "-o", "show", "job", job_id })
  if not r or r.code ~= 0 then
    return false
  end
  local text = r.stdout
  local state = state_name(text:match("JobState=(%S+)"))
  if not state then
    return false
  end
  return { state = state, reason = text:match("Reason=(%S+)"), exit_code = text:match(" ExitCode=(%S+)") }
end

-- The job as accounting remembers it (sacct; nothing when the cluster keeps no accounting).
local function from_sacct(job_id)
  local r = run({ "sacct", "-n", "-P", "-X", "-j", job_id, "-o", "State,ExitCode" })
  if not r or r.code ~= 0 then
    return false
  end
  local state, exit_code = trimmed(r.stdout):match("^([^|\n]*)|([^\n]*)")
  state = state_name(state)
  return state and { state = state, exit_code = exit_code } or false
end

---A job's state: {slurm = "TIMEOUT", state = "timeout", ended = true, reason = "...", exit_code =
---"0:15", source = "squeue"|"scontrol"|"sacct"}; state "unknown" (ended) when Slurm has forgotten
---the job; nil, why when squeue cannot be asked at all.
---@param job_id string
function M.job_state(job_id)
  local job, why = from_squeue(job_id)
  local source = "squeue"
  if job == nil then
    return nil, why
  end
  -- squeue still lists a job for a moment after its end (COMPLETING): scontrol has its exit code.
  if not job or (M.ENDED[M.STATES[job.state] or ""]) then
    job, source = from_scontrol(job_id) or job, "scontrol"
  end
  if not job then
    job, source = from_sacct(job_id), "sacct"
  end
  if not job then
    return { slurm = "UNKNOWN", state = "unknown", ended = true, source = "none",
      reason = ("Slurm no longer knows job %s (it ended longer ago than MinJobAge and the cluster keeps no "
        .. "accounting)"):format(job_id) }
  end
  local state = M.STATES[job.state] or "unknown"
  return { slurm = job.state, state = state, ended = M.ENDED[state] == true or state == "unknown",
    reason = job.reason ~= "None" and job.reason or nil, exit_code = job.exit_code, source = source }
end

---Cancels a job (scancel; Slurm sends SIGTERM to its processes, SIGKILL after KillWait). Returns
---true, or nil and why.
function M.cancel(job_id)
  local r, why = run({ "scancel", job_id })
  if not r then
    return nil, why
  elseif r.code ~= 0 then
    return nil, ("scancel %s failed (exit %s): %s"):format(job_id, tostring(r.code), trimmed(r.stderr))
  end
  return true
end

---Whether each client command Sidecar uses is on PATH: {{name, path|nil}...}.
function M.clients()
  local found = {}
  for _, name in ipairs({ "sbatch", "squeue", "scontrol", "scancel", "sacct" }) do
    local r = run({ "sh", "-c", 'command -v "$0"', name })
    found[#found + 1] = { name = name, path = r and r.code == 0 and trimmed(r.stdout) or nil }
  end
  return found
end

return M
