--- `sidecar doctor --executor slurm`: what a Slurm run needs, checked from both ends. Here: the
--- client commands and the config's `slurm` section. On a node, through a probe job submitted with
--- the same settings as a run's: the `.agent` folder is the same folder there (the job reads a
--- nonce written here, and writes one back), the sidecar binary runs there, and which agent CLIs
--- are on its PATH.
local clock = require("sidecar.host.time")
local slurm = require("sidecar.executor.slurm_client")
local slurm_settings = require("sidecar.executor.slurm_settings")

local M = {}

local PROBE_WAIT_MS = 120000

local quoted = slurm.shell_quote

-- The probe job's script: reads the nonce file, writes what it found to `answer`.
local function probe_script(nonce_path, answer_path)
  local bin = require("sidecar.core.proc").executable()
  return table.concat({ "#!/bin/sh", "# sidecar doctor --executor slurm: the probe job",
    "{ echo \"node=$(hostname)\"",
    "  echo \"nonce=$(cat " .. quoted(nonce_path) .. " 2>/dev/null)\"",
    "  echo \"sidecar=$(" .. quoted(bin) .. " --version 2>&1 | head -n 1)\"",
    "  for c in codex claude; do echo \"cli_$c=$(command -v $c)\"; done",
    "} >" .. quoted(answer_path) .. ".tmp && mv " .. quoted(answer_path) .. ".tmp " .. quoted(answer_path), "" }, "\n")
end

local function read_answer(path)
  local f = io.open(path, "rb")
  if not f then
    return nil
  end
  local answer = {}
  for line in f:lines() do
    local k, v = line:match("^([%w_]+)=(.*)$")
    if k then
      answer[k] = v
    end
  end
  f:close()
  return answer
end

-- Submits the probe and waits for it: {job_id, state, answer} or nil, why.
local function probe(root, settings)
  local nonce = ("%d-%d"):format(os.time(), math.random(1, 1 << 30))
  local nonce_path, answer_path = root .. "/slurm-probe-" .. nonce .. ".in", root .. "/slurm-probe-" .. nonce .. ".out"
  local f = assert(io.open(nonce_path, "wb"))
  f:write(nonce)
  f:close()
  local argv = slurm.sbatch_args(settings, { name = "sidecar-doctor", output = "/dev/null",
    chdir = root:match("^(.*)/[^/]+$") or "/" })
  local job_id, why = slurm.submit(argv, probe_script(nonce_path, answer_path))
  if not job_id then
    os.remove(nonce_path)
    return nil, why
  end
  local deadline, job = clock.monotonic_ns() // 1000000 + PROBE_WAIT_MS, nil
  repeat
    clock.sleep_ms(200)
    job = slurm.job_state(job_id)
  until (job and job.ended) or clock.monotonic_ns() // 1000000 >= deadline
  local answer = read_answer(answer_path)
  os.remove(nonce_path)
  os.remove(answer_path)
  if not (job and job.ended) then
    slurm.cancel(job_id)
    return { job_id = job_id, state = job and job.slurm or "?", waited = true, nonce = nonce, answer = answer }
  end
  return { job_id = job_id, state = job.slurm, nonce = nonce, answer = answer }
end

---The checks, each {name, ok, detail}, and whether all passed.
function M.check(root, cfg)
  local checks = {}
  local function add(name, ok, detail)
    checks[#checks + 1] = { name = name, ok = ok, detail = detail }
  end
  local missing = {}
  for _, c in ipairs(slurm.clients()) do
    if not c.path and c.name ~= "sacct" then
      missing[#missing + 1] = c.name
    end
  end
  add("client commands", #missing == 0, #missing == 0 and "sbatch, squeue, scontrol, scancel found"
    or ("not found: %s (Debian: slurm-client; and SLURM_CONF when slurm.conf is not in /etc/slurm)"):format(
      table.concat(missing, ", ")))
  local settings, why = slurm_settings.check(cfg)
  add("config: slurm section", settings ~= nil, settings and "valid" or why)
  if #missing > 0 or not settings then
    return checks, false
  end
  local abs = root:sub(1, 1) == "/" and root or ((os.getenv("PWD") or ".") .. "/" .. root)
  local p, submit_why = probe(abs, settings)
  add("probe job", p ~= nil and not p.waited and p.state == "COMPLETED", not p and submit_why
    or ("job %s ended %s%s"):format(p.job_id, p.state, p.waited and
      (" (still not done after %d s: cancelled; is the partition busy?)"):format(PROBE_WAIT_MS // 1000) or ""))
  local a = p and p.answer
  add("shared folder", a ~= nil and a.nonce == p.nonce, a and ("node %s reads and writes %s"):format(a.node, abs)
    or ("the probe job's answer never appeared in %s: the folder is not shared with the nodes"):format(abs))
  add("sidecar on the node", a ~= nil and (a.sidecar or ""):match("^sidecar") ~= nil,
    a and a.sidecar or "unknown (no answer)")
  add("agent CLIs on the node", a ~= nil and ((a.cli_codex or "") ~= "" or (a.cli_claude or "") ~= ""),
    a and ("codex: %s; claude: %s"):format(a.cli_codex ~= "" and a.cli_codex or "not found",
      a.cli_claude ~= "" and a.cli_claude or "not found") or "unknown (no answer)")
  local all = true
  for _, c in ipairs(checks) do
    all = all and c.ok
  end
  return checks, all
end

return M
