-- The config's reactions for Slurm runs, made on the submitting side when it records a job's end
-- (stdlib/sidecar/executor/slurm_react.lua), with fake Slurm client commands: a fix run recorded
-- and submitted as a job of its own, exactly once however many commands saw the run active, and
-- the loop settled when that job ends, with the records a local loop leaves.
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
  local f = assert(io.open(root .. "/config.lua", "w"))
  f:write('return { reactions = { validation_failed = { action = "fix", retries = 2 } } }\n')
  f:close()
  slurm.bin_dir = bin
end)
test.after_each(function()
  s:close()
  slurm.bin_dir = nil
  os.execute("rm -rf '" .. root:gsub("/%.agent$", "") .. "'")
end)

-- The fake client commands: every job has ended (scontrol), sbatch counts its submissions and
-- gives job ids 7, 8, ...
local function fake_slurm()
  local files = {
    squeue = "exit 0",
    scontrol = "echo \"JobId=$3 JobState=COMPLETED Reason=None ExitCode=0:0\"",
    sbatch = "cat >/dev/null; echo x >>'" .. bin .. "/submitted'; echo $((6 + $(wc -l <'" .. bin .. "/submitted')))",
  }
  for name, text in pairs(files) do
    local f = assert(io.open(bin .. "/" .. name, "w"))
    f:write("#!/bin/sh\n", text, "\n")
    f:close()
    os.execute("chmod +x '" .. bin .. "/" .. name .. "'")
  end
  slurm.forget()
end

local function submitted()
  local f = io.open(bin .. "/submitted")
  local n = 0
  for _ in f and f:lines() or function() end do
    n = n + 1
  end
  if f then
    f:close()
  end
  return n
end

-- A Slurm run of task `task_id` as `run --executor slurm --background` records it (its prompt
-- included), its job 5.
local function slurm_run(task_id, fields)
  local record = { task_id = task_id, status = "queued", background = true, executor = "slurm",
    launch = { runner = "fake", sandbox = "workspace-write", timeout_ms = 60000, allow_full_auto = false } }
  for k, v in pairs(fields or {}) do
    record[k] = v
  end
  local run = assert(s:create_run(record, { { "prompt.md", "Fix the parser.\n" } }))
  run.slurm = { job_id = "5" }
  return assert(s:update_run(run))
end

-- The worker's copy of its run's end: one revision ahead, its validation failing or passing.
local function worker_ends(run, status, output)
  local record = assert(s:get_run(run.run_id))
  record.status, record.revision = status, record.revision + 1
  record.validation = { { kind = "test", command = "make test", ok = output == nil, exit_code = output and 1 or 0,
    output_snippet = output or "ok" } }
  local f = assert(io.open(root .. "/runs/" .. run.run_id .. "/run.json", "w"))
  f:write(json.encode(record))
  f:close()
end

describe("reactions to a Slurm run, on the submitting side", function()
  it("submit a fix run when the job's end is recorded, once for all the commands that saw it active", function()
    fake_slurm()
    local task = assert(s:create_task({ title = "t", status = "queued" }))
    local first = slurm_run(task.task_id)
    worker_ends(first, "blocked", "FAIL parser_test")
    local now = slurm_runs.reconcile(s, first)
    expect(now.reaction.fix_run):equals("R-0002")
    expect(now.reaction.attempts):equals({ "R-0001", "R-0002" })
    -- Two more commands that read the run while it was active record its end after the first.
    slurm_runs.reconcile(s, first)
    slurm_runs.reconcile(s, first)
    expect(submitted()):equals(1)
    expect(s:get_run("R-0003")):is_nil()
    local fix = assert(s:get_run("R-0002"))
    expect(fix.executor):equals("slurm")
    expect(fix.slurm.job_id):equals("7")
    expect(fix.parent_run_id):equals("R-0001")
    expect(fix.replay_reason):equals("reaction: validation failed (1 of 2)")
    expect(fix.launch.runner):equals("fake")
    local dir = assert(s:run_dir("R-0002"))
    local prompt = dir:read("prompt.md")
    dir:close()
    expect(prompt):contains("Fix the parser.\n\n\n## Validation failed")
    expect(prompt):contains("FAIL parser_test")
  end)
  it("settle the loop when the fix run's job ends, as a local loop records it", function()
    fake_slurm()
    local task = assert(s:create_task({ title = "t", status = "queued" }))
    local first = slurm_run(task.task_id)
    worker_ends(first, "blocked", "FAIL parser_test")
    slurm_runs.reconcile(s, first)
    local fix = assert(s:get_run("R-0002"))
    worker_ends(fix, "review", nil)
    local last = slurm_runs.reconcile(s, fix)
    expect(last.reaction):equals({ event = "validation_failed", action = "fix", attempt = 1,
      attempts = { "R-0001", "R-0002" }, stopped = "fixed", last = true })
    expect(s:get_run("R-0001").reaction):equals({ event = "validation_failed", action = "fix", attempt = 0,
      attempts = { "R-0001", "R-0002" }, last = false })
    expect(submitted()):equals(1)
  end)
  it("leave a run alone that no reaction applies to, and a preset's step", function()
    fake_slurm()
    local task = assert(s:create_task({ title = "t", status = "queued" }))
    local passed = slurm_run(task.task_id)
    worker_ends(passed, "review", nil)
    expect(slurm_runs.reconcile(s, passed).reaction):is_nil()
    local step = slurm_run(task.task_id)
    local f = assert(io.open(root .. "/runs/" .. step.run_id .. "/" .. require("sidecar.executor.slurm_preset").JOB_FILE,
      "w"))
    f:write("{}")
    f:close()
    worker_ends(step, "blocked", "FAIL")
    expect(slurm_runs.reconcile(s, step).reaction):is_nil()
    expect(submitted()):equals(0)
  end)
end)
