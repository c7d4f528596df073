--- Slurm's client commands as Sidecar needs them: a batch job submitted (sbatch), its state asked
--- (squeue while Slurm schedules it; `scontrol show job` for a finished job it still remembers,
--- MinJobAge, 5 minutes by default; `sacct` after that, when the cluster keeps accounting), and
--- cancelled (scancel). Nothing here knows runs: stdlib/sidecar/executor/slurm_runs.lua does.
---
--- A job's state as Slurm names it maps to one of Sidecar's words (M.STATES): pending, running,
--- completed, failed, timeout, cancelled, node_failure, out_of_memory; `ended` says whether Slurm
--- is done with the job.
local errors = require("sidecar.core.errors")
local proc = require("sidecar.core.proc")
local text = require("sidecar.core.text")

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

---`text` quoted for /bin/sh (the batch scripts Sidecar writes).
function M.shell_quote(text)
  return "'" .. text:gsub("'", "'\\''") .. "'"
end

---The folder of Slurm's client commands; nil: found on PATH (a spec points it at fakes).
M.bin_dir = nil

-- Runs a client command: the result, or nil and why (a command that is not installed, say). A
-- Ctrl-C while it runs goes on up: a wait that asks squeue every second would lose it otherwise.
local function run(argv, opts)
  if M.bin_dir and argv[1] ~= "sh" then
    argv = { M.bin_dir .. "/" .. argv[1], table.unpack(argv, 2) }
  end
  local ok, r = errors.keep_interrupt(pcall(proc.run, argv, { timeout_ms = (opts and opts.timeout_ms) or 60000,
    stdin = opts and opts.stdin, cwd = opts and opts.cwd }))
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

-- What one squeue of several jobs said, for a moment: job id -> {state, reason, at}.
local seen = {}
local SEEN_FOR_MS = 1000

local function now_ms()
  return require("sidecar.host.time").monotonic_ns() // 1000000
end

-- Asks squeue of jobs (ids: a list), the ended ones it still holds included (-t all), an array's
-- tasks one by one (-r: "123_4"); fills `seen`.
-- Returns true, or nil and why.
local function ask_squeue(ids)
  local r, why = run({ "squeue", "-h", "-t", "all", "-r", "-j", table.concat(ids, ","), "-o", "%i|%T|%r" })
  if not r then
    return nil, why
  end
  -- squeue fails too for a job it no longer knows ("Invalid job id specified"): that is an answer.
  -- Any other failure (the controller cannot be reached) is not: a job is not ended for it.
  if r.code ~= 0 and not (r.stderr or ""):find("Invalid job id", 1, true) then
    return nil, ("squeue failed: %s"):format(text.last_line(r.stderr) or ("exit code " .. tostring(r.code)))
  end
  local at = now_ms()
  for _, id in ipairs(ids) do
    seen[id] = { at = at } -- not listed: squeue has let go of it (or never had it)
  end
  for line in (r.stdout or ""):gmatch("[^\n]+") do
    local id, state, reason = line:match("^([%d_]+)|([^|]*)|(.*)$")
    if id then
      seen[id] = { state = state_name(state), reason = reason, at = at }
    end
  end
  return true
end

---Forgets what squeue said (the next job_state asks again).
function M.forget()
  seen = {}
end

---Asks Slurm of many jobs at once (one squeue), so that job_state of each of them within the next
---second asks nothing more (`run list` of many Slurm runs).
---@param ids string[]
function M.prefetch(ids)
  if #ids > 0 then
    ask_squeue(ids)
  end
end

-- The job as squeue sees it: {state, reason}, false when squeue no longer knows it, nil, why on
-- failure.
local function from_squeue(job_id)
  local got = seen[job_id]
  if not (got and now_ms() - got.at < SEEN_FOR_MS) then
    local ok, why = ask_squeue({ job_id })
    if not ok then
      return nil, why
    end
    got = seen[job_id]
  end
  return got.state and { state = got.state, reason = got.reason } or false
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
  -- A job that did not complete: scontrol has its exit code (the signal that ended it).
  if not job or (M.ENDED[M.STATES[job.state] or ""] and job.state ~= "COMPLETED") then
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
