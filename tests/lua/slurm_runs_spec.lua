-- Slurm runs on the submitting side (stdlib/sidecar/executor/slurm_runs.lua), with fake Slurm
-- client commands: the worker's copies imported only when whole and newer, the store never written
-- while the job runs, and a job that ended without the worker's record ended with Slurm's reason.
local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local json = require("sidecar.core.json")
local slurm = require("sidecar.executor.slurm")
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
end)
