-- Slurm runs on the submitting side (stdlib/sidecar/executor/slurm_runs.lua), with fake Slurm
-- client commands: the worker's copies imported only when whole and newer, the store never written
-- while the job runs, and a job that ended without the worker's record ended with Slurm's reason;
-- the config's reactions made when a job's end is recorded: a fix run submitted as a job of its
-- own, once however many commands saw the run active, and the loop settled as locally.
local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local json = require("sidecar.core.json")
local slurm = require("sidecar.executor.slurm_client")
local slurm_runs = require("sidecar.executor.slurm_runs")
local store = require("sidecar.core.store")

local root, s, bin
test.before_each(function()
  root = os.tmpname()
  os.remove(root)
  bin = root .. "/bin"
  os.execute("mkdir -p '" .. bin .. "'")
  root = root .. "/.agent"
  s = assert(store.open(root, { create = true }))
  slurm.bin_dir = bin
end)
test.after_each(function()
  s:close()
  slurm.bin_dir = nil
  os.execute("rm -rf '" .. root:gsub("/%.agent$", "") .. "'")
end)

-- The fake client commands, each a shell body.
local function fakes(lines)
  for name, text in pairs(lines) do
    local f = assert(io.open(bin .. "/" .. name, "w"))
    f:write("#!/bin/sh\n", text, "\n")
    f:close()
    os.execute("chmod +x '" .. bin .. "/" .. name .. "'")
  end
  slurm.forget()
end

-- A queued Slurm run of a new task, as the submitting side records it.
local function slurm_run()
  local task = assert(s:create_task({ title = "t", status = "queued" }))
  local run = assert(s:create_run({ task_id = task.task_id, status = "queued", background = true,
    executor = "slurm" }))
  run.slurm = { job_id = "5" }
  assert(s:update_run(run))
  return run
end

-- Writes the run's copy as the worker would: the record one revision ahead, with `changes`.
local function worker_writes(run, changes)
  local record = assert(s:get_run(run.run_id))
  for k, v in pairs(changes) do
    record[k] = v
  end
  record.revision = record.revision + 1
  local f = assert(io.open(root .. "/runs/" .. run.run_id .. "/run.json", "w"))
  f:write(json.encode(record))
  f:close()
end

local ENDED = "echo 'JobId=5 JobState=%s Reason=%s ExitCode=%s'"

describe("a Slurm run read on the submitting side", function()
  it("imports the worker's newer copy while the job runs, and writes nothing of its own", function()
    local run = slurm_run()
    fakes({ squeue = "echo '5|RUNNING|None'" })
    worker_writes(run, { status = "running" })
    local now = slurm_runs.reconcile(s, assert(s:get_run(run.run_id)))
    expect(now.status):equals("running")
    expect(now.slurm.state):is_nil()
    expect(now.revision):equals(run.revision + 1) -- the worker's revision: this side wrote nothing
  end)
  it("ignores a copy that is not JSON, and ends the run when the job ends", function()
    local run = slurm_run()
    local f = assert(io.open(root .. "/runs/" .. run.run_id .. "/run.json", "w"))
    f:write("{\"run_id\": \"R-0001\", \27[31m garbage")
    f:close()
    fakes({ squeue = "echo '5|RUNNING|None'" })
    expect(slurm_runs.reconcile(s, run).status):equals("queued")
    fakes({ squeue = "exit 0", scontrol = ENDED:format("FAILED", "NonZeroExitCode", "1:0") })
    local now = slurm_runs.reconcile(s, assert(s:get_run(run.run_id)))
    expect(now.status):equals("failed") -- the worker never started it: nothing ran
    expect(now.failure_reason):contains("Slurm job 5 ended FAILED (NonZeroExitCode), exit code 1:0")
    expect(now.failure_reason):contains("nothing ran")
    expect(now.slurm.state):equals("failed")
    expect(s:get_task(run.task_id).status):equals("ready")
  end)
  it("records outcome_unknown with Slurm's state when a running job's node failed", function()
    local run = slurm_run()
    worker_writes(run, { status = "running" })
    fakes({ squeue = "exit 0", scontrol = ENDED:format("NODE_FAIL", "NodeDown", "0:0") })
    local now = slurm_runs.reconcile(s, run)
    expect(now.status):equals("outcome_unknown")
    expect(now.slurm.state):equals("node_failure")
    expect(now.failure_reason):contains("Slurm job 5 ended NODE_FAIL (NodeDown)")
  end)
  it("keeps the worker's end, adding Slurm's when the job did not complete", function()
    local run = slurm_run()
    worker_writes(run, { status = "interrupted", failure_reason = "stopped by SIGTERM" })
    fakes({ squeue = "echo '5|TIMEOUT|TimeLimit'", scontrol = ENDED:format("TIMEOUT", "TimeLimit", "0:15") })
    local now = slurm_runs.reconcile(s, run)
    expect(now.status):equals("interrupted")
    expect(now.slurm.state):equals("timeout")
    expect(now.failure_reason):equals("Slurm job 5 ended TIMEOUT (TimeLimit), exit code 0:15; stopped by SIGTERM")
  end)
  it("leaves a run alone while squeue cannot be asked", function()
    local run = slurm_run()
    slurm.bin_dir = "/nonexistent"
    slurm.forget()
    local now, ended_here, why = slurm_runs.reconcile(s, run)
    expect(now.status):equals("queued")
    expect(ended_here):is_false()
    expect(why):contains("squeue could not run")
  end)

  -- A foreground Slurm run's command follows it by asking squeue every second: a Ctrl-C landing
  -- while squeue runs was taken for squeue's failure, so the job was never cancelled.
  it("passes on a Ctrl-C that lands while a Slurm command runs, from one run's read and from run list", function()
    local run = slurm_run()
    local proc = require("sidecar.core.proc")
    local real_run = proc.run
    local asked = 0
    proc.run = function()
      asked = asked + 1
      error("interrupted! stopped 1 child process", 0) -- what a wait raises on Ctrl-C (lua/proc.cpp)
    end
    slurm.forget()
    local ok, err = pcall(slurm_runs.reconcile, s, run)
    slurm.forget()
    local listed, list_err = pcall(require("sidecar.executor.reconcile").reconcile_active, s)
    proc.run = real_run
    expect(ok):is_false()
    expect(err):equals("interrupted! stopped 1 child process")
    expect(listed):is_false()
    expect(list_err):equals("interrupted! stopped 1 child process")
    expect(asked):equals(2) -- one squeue each, then nothing more
    expect(assert(s:get_run(run.run_id)).status):equals("queued")
  end)
end)

-- The config's reactions (stdlib/sidecar/executor/slurm_react.lua): made here when a job's end is
-- recorded. The config fixes failed validation; every job has ended; sbatch counts its jobs (ids
-- 7, 8, ...).
local function reacting()
  local f = assert(io.open(root .. "/config.lua", "w"))
  f:write('return { reactions = { validation_failed = { action = "fix", retries = 2 } } }\n')
  f:close()
  fakes({ squeue = "exit 0", scontrol = "echo \"JobId=$3 JobState=COMPLETED Reason=None ExitCode=0:0\"",
    sbatch = ("cat >/dev/null; echo x >>'%s/jobs'; echo $((6 + $(wc -l <'%s/jobs')))"):format(bin, bin) })
end

local function jobs_submitted()
  local f = io.open(bin .. "/jobs")
  local text = f and f:read("a") or ""
  if f then
    f:close()
  end
  return select(2, text:gsub("\n", ""))
end

-- A run as `run --executor slurm` records it (its settings and prompt), its job 5; `parent`: its
-- parent run's id.
local function task_run(task_id, parent)
  local run = assert(s:create_run({ task_id = task_id, status = "queued", background = true, executor = "slurm",
    parent_run_id = parent, launch = { runner = "fake", sandbox = "workspace-write", timeout_ms = 60000,
      allow_full_auto = false } }, { { "prompt.md", "Fix the parser.\n" } }))
  run.slurm = { job_id = "5" }
  return assert(s:update_run(run))
end

-- The worker's end of a run: its status and one validation step, failing with `output` or passing.
local function ends(run, status, output)
  worker_writes(run, { status = status, validation = { { kind = "test", command = "make test", ok = output == nil,
    exit_code = output and 1 or 0, output_snippet = output or "ok" } } })
end

describe("reactions to a Slurm run, made on the submitting side", function()
  it("submit a fix run when the job's end is recorded, once for all the commands that saw it active", function()
    reacting()
    local first = task_run(assert(s:create_task({ title = "t", status = "queued" })).task_id)
    ends(first, "blocked", "FAIL parser_test")
    expect(slurm_runs.reconcile(s, first).reaction.fix_run):equals("R-0002")
    -- Two more commands that read the run while it was active record its end after the first.
    slurm_runs.reconcile(s, first)
    slurm_runs.reconcile(s, first)
    expect(jobs_submitted()):equals(1)
    expect(s:get_run("R-0003")):is_nil()
    local fix = assert(s:get_run("R-0002"))
    expect({ fix.executor, fix.slurm.job_id, fix.parent_run_id, fix.replay_reason, fix.launch.runner })
      :equals({ "slurm", "7", "R-0001", "reaction: validation failed (1 of 2)", "fake" })
    local dir = assert(s:run_dir("R-0002"))
    local prompt = dir:read("prompt.md")
    dir:close()
    expect(prompt):contains("Fix the parser.\n\n\n## Validation failed")
    expect(prompt):contains("FAIL parser_test")
  end)
  it("settle the loop when the fix run's job ends, as a local loop records it", function()
    reacting()
    local first = task_run(assert(s:create_task({ title = "t", status = "queued" })).task_id)
    ends(first, "blocked", "FAIL parser_test")
    slurm_runs.reconcile(s, first)
    local fix = assert(s:get_run("R-0002"))
    ends(fix, "review", nil)
    expect(slurm_runs.reconcile(s, fix).reaction):equals({ event = "validation_failed", action = "fix", attempt = 1,
      attempts = { "R-0001", "R-0002" }, stopped = "fixed", last = true })
    expect(s:get_run("R-0001").reaction):equals({ event = "validation_failed", action = "fix", attempt = 0,
      attempts = { "R-0001", "R-0002" }, last = false })
    expect(jobs_submitted()):equals(1)
  end)
  it("tell whoever asked that a run ended, here and once, when its chain ends", function()
    reacting()
    local told = bin .. "/told"
    local f = assert(io.open(root .. "/config.lua", "w"))
    f:write(('return { notify = { "sh", "-c", "echo $SIDECAR_RUN $SIDECAR_EVENT >>%s" }, '):format(told)
      .. 'reactions = { validation_failed = { action = "fix", retries = 2 } } }\n')
    f:close()
    local function notices()
      local t = io.open(told)
      local text = t and t:read("a") or ""
      if t then
        t:close()
      end
      return text
    end
    local first = task_run(assert(s:create_task({ title = "t", status = "queued" })).task_id)
    ends(first, "blocked", "FAIL parser_test")
    slurm_runs.reconcile(s, first)
    slurm_runs.reconcile(s, first) -- a second command that saw it active
    expect(notices()):equals("") -- a fix run follows: the chain has not ended
    local fix = assert(s:get_run("R-0002"))
    ends(fix, "review", nil)
    slurm_runs.reconcile(s, fix)
    slurm_runs.reconcile(s, fix)
    expect(notices()):equals("R-0002 ended\n")
  end)
  it("leave alone a run no reaction applies to, and a preset's step", function()
    reacting()
    local task_id = assert(s:create_task({ title = "t", status = "queued" })).task_id
    local passed = task_run(task_id)
    ends(passed, "review", nil)
    expect(slurm_runs.reconcile(s, passed).reaction):is_nil()
    local step = task_run(task_id)
    local f = assert(io.open(root .. "/runs/" .. step.run_id .. "/" .. require("sidecar.executor.slurm_submit").PRESET_JOB_FILE,
      "w"))
    f:write("{}")
    f:close()
    ends(step, "blocked", "FAIL")
    expect(slurm_runs.reconcile(s, step).reaction):is_nil()
    expect(jobs_submitted()):equals(0)
  end)
end)

describe("the worker's store on the node (executor.node)", function()
  local node = require("sidecar.executor.node")

  it("opens once the run's lock is free, seeded from the run's and its task's copies", function()
    local run = slurm_run()
    local ws, cfg = node.open(root, run.run_id)
    expect(cfg ~= nil and type(ws) == "table"):is_true()
    expect(ws:get_run(run.run_id).status):equals("queued")
    expect(ws.scratch):contains(run.run_id)
    node.close(ws)
    expect(io.open(ws.scratch)):is_nil() -- the scratch database goes with it
  end)

  it("refuses a run whose lock file is a planted link, creating nothing where it points", function()
    local run = slurm_run()
    local outside = root:gsub("/%.agent$", "") .. "/outside"
    os.execute("mkdir -p '" .. outside .. "' && ln -s '" .. outside .. "/made.lock' '" .. root .. "/runs/" ..
      run.run_id .. "/worker.lock'")
    local ws, why = node.open(root, run.run_id)
    expect(ws):is_nil()
    expect(why):contains("symbolic link")
    expect(io.open(outside .. "/made.lock")):is_nil()
  end)
end)
