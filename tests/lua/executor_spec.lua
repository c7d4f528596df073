-- Executors (stdlib/sidecar/executor): the choice and the `slurm` settings with errors naming the
-- key, sbatch's arguments, and Slurm's job states as squeue, scontrol and sacct print them (fake
-- client commands, so every state and every fallback is exercised without a cluster).
local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local executor = require("sidecar.executor")
local slurm = require("sidecar.executor.slurm_client")
local slurm_settings = require("sidecar.executor.slurm_settings")

local function cfg(t)
  return setmetatable(t or {}, { __index = { executor = "local", slurm = {} } })
end

describe("executor choice", function()
  it("is local by default, the config's, or the flag's", function()
    expect(executor.choose(cfg())):equals("local")
    expect(executor.choose(cfg({ executor = "slurm" }))):equals("slurm")
    expect(executor.choose(cfg({ executor = "slurm" }), "local")):equals("local")
  end)
  it("names a bad executor and where it came from", function()
    local name, why = executor.choose(cfg(), "slrum")
    expect(name):is_nil()
    expect(why):equals("--executor 'slrum': not an executor (one of: local, slurm)")
    name, why = executor.choose(cfg({ executor = "k8s" }))
    expect(why):contains("executor in .agent/config.lua 'k8s'")
  end)
  it("checks each slurm setting and names the key", function()
    local bad = {
      { { mem = "lots" }, 'slurm.mem = "lots" in .agent/config.lua: expected a Slurm memory size' },
      { { time = "1 hour" }, 'slurm.time = "1 hour"' },
      { { cpus = 0 }, "slurm.cpus = 0" },
      { { cpus = 1.5 }, "slurm.cpus = 1.5" },
      { { partition = "a b" }, 'slurm.partition = "a b"' },
      { { account = "x;rm -rf /" }, "slurm.account" },
      { { array_throttle = -1 }, "slurm.array_throttle = -1" },
      { { sbatch_args = { "qos=short" } }, 'slurm.sbatch_args[1] in .agent/config.lua: expected an sbatch option' },
    }
    for _, case in ipairs(bad) do
      local name, why = executor.choose(cfg({ slurm = case[1] }), "slurm")
      expect(name):is_nil()
      expect(why):contains(case[2])
    end
    local ok = slurm_settings.check(cfg({ slurm = { partition = "gpu", time = "1-02:00:00", cpus = 4, mem = "16G",
      sbatch_args = { "--qos=short" } } }))
    expect(ok.cpus):equals(4)
  end)
end)

describe("executors by name", function()
  it("gives each executor's module, local by default, and names an unknown one", function()
    expect(executor.of().name):equals("local")
    expect(executor.of("local").remote):equals(false)
    local e = executor.of("slurm")
    expect(e.name):equals("slurm")
    expect(e.remote):equals(true)
    local none, why = executor.of("k8s")
    expect(none):is_nil()
    expect(why):equals("'k8s': not an executor (one of: local, slurm)")
  end)
  it("has every name of NAMES, a remote one with the parts a remote run needs", function()
    for _, name in ipairs(executor.NAMES) do
      local e = executor.of(name)
      expect(e.name):equals(name)
      expect(type(e.where)):equals("function")
      if e.remote then
        for _, part in ipairs({ "launcher", "reconcile", "kill" }) do
          expect(type(e[part])):equals("function")
        end
      end
    end
  end)
  it("says where a run runs", function()
    expect(executor.of("local").where({ worker_pid = 42 })):equals("in the background (pid 42)")
    expect(executor.of("slurm").where({ slurm = { job_id = "7_1" } })):equals("as Slurm job 7_1")
  end)
  it("refuses a run of an executor this Sidecar does not know", function()
    local run = { run_id = "R-0009", executor = "nomad" }
    local same, ended, why = executor.reconcile(nil, run)
    expect(same):equals(run)
    expect(ended):equals(false)
    expect(why):equals("run R-0009 names executor 'nomad', which this Sidecar does not know")
    local none, kill_why, code = executor.kill(nil, run)
    expect(none):is_nil()
    expect(kill_why):contains("which this Sidecar does not know")
    expect(code):equals("bad_state")
  end)
end)

describe("sbatch arguments", function()
  it("carry each setting, the extra options last, and never the prompt", function()
    local argv = slurm.sbatch_args({ partition = "gpu", time = "30", cpus = 2, mem = "4G", account = "lab",
      sbatch_args = { "--qos=short" } }, { name = "sidecar-R-0001", output = "/s/runs/R-0001/worker.log", chdir = "/s" })
    expect(table.concat(argv, " ")):equals("sbatch --parsable --job-name=sidecar-R-0001 "
      .. "--output=/s/runs/R-0001/worker.log --chdir=/s --partition=gpu --time=30 --cpus-per-task=2 --mem=4G "
      .. "--account=lab --qos=short")
  end)
end)

-- Fake squeue, scontrol and sacct printing what `lines` says for each. A test may make them
-- more than once: every folder made is removed after it.
local made = {}
local function fakes(lines)
  local dir = os.tmpname()
  made[#made + 1] = dir
  os.remove(dir)
  os.execute("mkdir -p '" .. dir .. "'")
  for name, text in pairs(lines) do
    local f = assert(io.open(dir .. "/" .. name, "w"))
    f:write("#!/bin/sh\n", text, "\n")
    f:close()
    os.execute("chmod +x '" .. dir .. "/" .. name .. "'")
  end
  slurm.bin_dir = dir
  slurm.forget()
end
test.after_each(function()
  slurm.bin_dir = nil
  for _, dir in ipairs(made) do
    os.execute("rm -rf '" .. dir .. "'")
  end
  made = {}
end)

-- What squeue says of a job it no longer knows (Slurm 22.05).
local FORGOTTEN = "echo 'slurm_load_jobs error: Invalid job id specified' >&2; exit 1"

describe("Slurm job states", function()
  it("map each state squeue prints while Slurm has the job", function()
    for raw, want in pairs({ PENDING = "pending", RUNNING = "running", CONFIGURING = "pending",
      SUSPENDED = "running" }) do
      fakes({ squeue = "echo '7|" .. raw .. "|Priority'" })
      local job = slurm.job_state("7")
      expect(job.state):equals(want)
      expect(job.ended):is_false()
      expect(job.source):equals("squeue")
    end
  end)
  it("ask scontrol for an ended job squeue no longer lists, with its reason and exit code", function()
    for raw, want in pairs({ COMPLETED = "completed", FAILED = "failed", TIMEOUT = "timeout", CANCELLED = "cancelled",
      NODE_FAIL = "node_failure", OUT_OF_MEMORY = "out_of_memory", BOOT_FAIL = "node_failure" }) do
      fakes({ squeue = "echo 'slurm_load_jobs error: Invalid job id specified' >&2; exit 1",
        scontrol = "echo 'JobId=7 JobName=x UserId=root(0) JobState=" .. raw
          .. " Reason=NonZeroExitCode Dependency=(null) Requeue=1 ExitCode=0:9'" })
      local job = slurm.job_state("7")
      expect(job.state):equals(want)
      expect(job.slurm):equals(raw)
      expect(job.ended):is_true()
      expect(job.reason):equals("NonZeroExitCode")
      expect(job.exit_code):equals("0:9")
    end
  end)
  it("ask sacct when scontrol has forgotten the job too, and read 'CANCELLED by 0'", function()
    fakes({ squeue = FORGOTTEN, scontrol = "echo 'slurm_load_jobs error: Invalid job id specified' >&2; exit 1",
      sacct = "echo 'CANCELLED by 0|0:15'" })
    local job = slurm.job_state("7")
    expect(job.state):equals("cancelled")
    expect(job.source):equals("sacct")
    expect(job.exit_code):equals("0:15")
  end)
  it("never end a job because Slurm cannot be asked (squeue failing otherwise)", function()
    fakes({ squeue = "echo 'squeue: error: Unable to contact slurm controller (connect failure)' >&2; exit 1",
      scontrol = "exit 1", sacct = "exit 1" })
    local job, why = slurm.job_state("7")
    expect(job):is_nil()
    expect(why):equals("squeue failed: squeue: error: Unable to contact slurm controller (connect failure)")
  end)
  it("say so when Slurm knows nothing of the job (no accounting)", function()
    fakes({ squeue = FORGOTTEN, scontrol = "exit 1", sacct = "echo 'Slurm accounting storage is disabled' >&2; exit 1" })
    local job = slurm.job_state("7")
    expect(job.state):equals("unknown")
    expect(job.ended):is_true()
    expect(job.reason):contains("Slurm no longer knows job 7")
  end)
  it("ask squeue once of many jobs, ended ones included", function()
    fakes({ squeue = "echo \"$@\" >>\"$(dirname \"$0\")/asked\"; echo '8|RUNNING|None'; echo '9|COMPLETED|None'" })
    slurm.prefetch({ "8", "9", "10" })
    expect(slurm.job_state("8").state):equals("running")
    expect(slurm.job_state("9").state):equals("completed")
    local f = assert(io.open(made[#made] .. "/asked"))
    expect(f:read("a")):equals("-h -t all -r -j 8,9,10 -o %i|%T|%r\n")
    f:close()
  end)
  it("never take garbage for a state", function()
    fakes({ squeue = "printf '\\033[31mweird\\n'", scontrol = "printf 'JobState=\\377\\n'", sacct = "exit 1" })
    local job = slurm.job_state("7")
    expect(job.state):equals("unknown")
  end)
  it("report a client command that cannot run as data", function()
    slurm.bin_dir = "/nonexistent/slurm/bin"
    slurm.forget()
    local job, why = slurm.job_state("7")
    expect(job):is_nil()
    expect(why):contains("squeue could not run")
    local id, sbatch_why = slurm.submit({ "sbatch", "--parsable" }, "#!/bin/sh\n")
    expect(id):is_nil()
    expect(sbatch_why):contains("sbatch could not run")
  end)
  it("take sbatch's job id, or its message when it refuses", function()
    fakes({ sbatch = "cat >/dev/null; echo '42;cluster'" })
    expect(slurm.submit({ "sbatch", "--parsable" }, "#!/bin/sh\n")):equals("42")
    fakes({ sbatch = "echo 'sbatch: error: invalid partition specified: nope' >&2; exit 1" })
    local id, why = slurm.submit({ "sbatch", "--parsable" }, "#!/bin/sh\n")
    expect(id):is_nil()
    expect(why):contains("invalid partition specified: nope")
  end)
end)
