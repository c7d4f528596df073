-- A preset's read-only steps as Slurm jobs (stdlib/sidecar/executor/slurm_preset.lua), with fake
-- Slurm client commands: each step recorded ahead with its job and prompt in its folder, a batch
-- submitted as one array (the throttle: the config's, else ctx.jobs), a lone step as one job,
-- a failed submission and a cancelled batch leaving no run active, and a node-side job that is
-- not JSON refused with the run recorded failed. (tests/e2e/slurm_preset_test.sh runs them on a
-- real cluster.)
local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local context = require("sidecar.preset.context")
local json = require("sidecar.core.json")
local proc = require("sidecar.core.proc")
local slurm = require("sidecar.executor.slurm_client")
local slurm_preset = require("sidecar.executor.slurm_preset")
local slurm_submit = require("sidecar.executor.slurm_submit")
local store = require("sidecar.core.store")

local repo, bin
local PRESET = { name = "spec-preset", summary = "a preset of this spec" }

local write = test.write

local function read(path)
  local f = io.open(path, "rb")
  if not f then
    return nil
  end
  local text = f:read("a")
  f:close()
  return text
end

-- The fake client commands, each a shell body; sbatch keeps its arguments and its script.
local function fakes(lines)
  for name, text in pairs(lines) do
    write(bin .. "/" .. name, "#!/bin/sh\n" .. text .. "\n")
    os.execute("chmod +x '" .. bin .. "/" .. name .. "'")
  end
  slurm.forget()
end

local SBATCH = 'echo "$@" >"$(dirname "$0")/sbatch.args"; cat >"$(dirname "$0")/script.sh"; echo 42'
-- Slurm has forgotten nothing: every job ended as STATE.
local function ended(state)
  return { sbatch = SBATCH, squeue = "exit 0", scancel = 'echo "$@" >>"$(dirname "$0")/scancel.args"',
    scontrol = ("echo 'JobId=42 JobState=%s Reason=None ExitCode=0:15'"):format(state) }
end

local function new_ctx(extra, o)
  write(repo .. "/.agent/config.lua", ("return { %s runners = { [\"spec-reader\"] = { command = { %q, \"-e\", "
    .. "\"io.read('a') io.write('read')\" } } } }\n"):format(extra or "", proc.executable()))
  o = o or {}
  o.repo, o.preset, o.executor = repo, PRESET, "slurm"
  return context.new(o)
end

local function readers(n)
  local list = {}
  for i = 1, n do
    list[i] = { kind = "scan", lens = "l" .. i, runner = "spec-reader", prompt = "Secret prompt " .. i }
  end
  return list
end

local function active_runs()
  local s = assert(store.open(repo .. "/.agent"))
  local n = 0
  for _, status in ipairs({ "queued", "preparing", "running" }) do
    n = n + #assert(s:list_runs({ status = status, limit = 0 }))
  end
  s:close()
  return n
end

test.before_each(function()
  repo = os.tmpname()
  os.remove(repo)
  bin = repo .. "/bin"
  assert(os.execute("mkdir -p '" .. repo .. "/.agent' '" .. bin .. "' && cd '" .. repo .. "' && git init -q -b main"))
  slurm.bin_dir = bin
end)
test.after_each(function()
  slurm.bin_dir = nil
  os.execute("rm -rf '" .. repo .. "'")
end)

describe("a preset's batch through Slurm", function()
  it("records each reader ahead and submits the batch as one array, throttled by -j", function()
    fakes(ended("COMPLETED"))
    local ctx = new_ctx(nil, { jobs = 2 })
    local rs = ctx:agents(readers(3))
    expect(read(bin .. "/sbatch.args")):contains("--array=0-2%2")
    local script = read(bin .. "/script.sh")
    expect(script:find("Secret prompt", 1, true)):is_nil()
    for i, r in ipairs(rs) do
      local run = assert(ctx.s:get_run(r.run_id))
      expect(run.executor):equals("slurm")
      expect(run.lens):equals("l" .. i)
      expect(run.slurm.job_id):equals(("42_%d"):format(i - 1))
      expect(run.slurm.array_job_id):equals("42")
      expect(script):contains(r.run_id)
      local dir = repo .. "/.agent/runs/" .. r.run_id
      expect(read(dir .. "/prompt.md")):equals("Secret prompt " .. i)
      local job = json.decode(read(dir .. "/" .. slurm_submit.PRESET_JOB_FILE))
      expect(job.runner):equals("spec-reader")
      expect(job.repo:sub(1, 1)):equals("/") -- the node runs elsewhere: an absolute path
      expect(job.prompt):is_nil()
      -- The fake job ran nothing: the run ends failed with Slurm's word for it.
      expect(r.status):equals("failed")
      expect(r.why):contains(("Slurm job 42_%d ended COMPLETED"):format(i - 1))
    end
    ctx:close()
    expect(active_runs()):equals(0)
  end)

  it("takes the config's array_throttle over -j; a lone reader is one job, not an array", function()
    fakes(ended("COMPLETED"))
    local ctx = new_ctx('slurm = { array_throttle = 1, partition = "short" },', { jobs = 8 })
    ctx:agents(readers(2))
    expect(read(bin .. "/sbatch.args")):contains("--array=0-1%1")
    expect(read(bin .. "/sbatch.args")):contains("--partition=short")
    local r = ctx:agent(readers(1)[1])
    expect(read(bin .. "/sbatch.args"):find("--array", 1, true)):is_nil()
    expect(assert(ctx.s:get_run(r.run_id)).slurm.job_id):equals("42")
    ctx:close()
  end)

  it("fails each step of a batch sbatch refuses, saying why, and keeps the preset's task running", function()
    local f = ended("COMPLETED")
    f.sbatch = "cat >/dev/null; echo 'sbatch: error: unrecognized option --bogus' >&2; exit 1"
    fakes(f)
    local ctx = new_ctx()
    local rs = ctx:agents(readers(2))
    for _, r in ipairs(rs) do
      expect(r.status):equals("failed")
      expect(r.why):contains("could not be submitted: sbatch failed (exit 1): sbatch: error: unrecognized option")
    end
    expect(ctx.s:get_task(ctx.task.task_id).status):equals("running")
    ctx:close()
    expect(active_runs()):equals(0)
  end)

  it("records a lone step interrupted when Ctrl-C lands while sbatch runs, and goes on up", function()
    fakes(ended("COMPLETED"))
    local ctx = new_ctx()
    local real_run = proc.run
    proc.run = function(argv, opts)
      if argv[1]:match("sbatch$") then
        error("interrupted! stopped 1 child process", 0) -- what a wait raises on Ctrl-C (lua/proc.cpp)
      end
      return real_run(argv, opts)
    end
    local ok, err = pcall(ctx.agents, ctx, readers(1))
    proc.run = real_run
    expect(ok):equals(false)
    expect(err):equals("interrupted! stopped 1 child process") -- not a failed submission, reported as data
    local runs = assert(ctx.s:list_runs({ limit = 0 }))
    expect(#runs):equals(1)
    expect(runs[1].status):equals("interrupted")
    expect(runs[1].failure_reason):contains("interrupted (Ctrl-C or SIGTERM) while its job was being submitted")
    ctx:close()
    expect(active_runs()):equals(0)
  end)

  it("cancels the batch's jobs on an error and leaves no run active", function()
    fakes(ended("CANCELLED"))
    local ctx = new_ctx()
    ctx.on_progress = function(line)
      if line:find("submitted as Slurm job array", 1, true) then
        error("stopped here", 0) -- as Ctrl-C would, once the array is submitted
      end
    end
    local ok, err = pcall(ctx.agents, ctx, readers(3))
    expect(ok):equals(false)
    expect(err):equals("stopped here")
    expect(read(bin .. "/scancel.args")):equals("42\n") -- the array's id: all its tasks at once
    for _, run in ipairs(assert(ctx.s:list_runs({ limit = 0 }))) do
      expect(run.status):equals("interrupted")
      expect(run.failure_reason):contains("the preset run was stopped")
    end
    ctx:close()
    expect(active_runs()):equals(0)
  end)

  it("says so while Slurm cannot be asked, and Ctrl-C then still ends every run", function()
    fakes({ sbatch = SBATCH, squeue = "echo 'squeue: error: Unable to contact slurm controller' >&2; exit 1",
      scancel = "exit 1", scontrol = "exit 1", sacct = "exit 1" })
    local ctx = new_ctx()
    local was = slurm_preset.TELL_EVERY_MS
    slurm_preset.TELL_EVERY_MS = 0
    local told
    ctx.on_progress = function(line)
      if line:find("Slurm cannot be asked", 1, true) then
        told = line
        error("interrupted", 0) -- as Ctrl-C would
      end
    end
    local ok, err = pcall(ctx.agents, ctx, readers(2))
    slurm_preset.TELL_EVERY_MS = was
    expect(ok):equals(false)
    expect(err):equals("interrupted")
    expect(told):contains("Unable to contact slurm controller")
    expect(told):contains("still waiting for 2 agents; Ctrl-C cancels them")
    for _, run in ipairs(assert(ctx.s:list_runs({ limit = 0 }))) do
      expect(run.status):equals("interrupted")
    end
    ctx:close()
    expect(active_runs()):equals(0)
  end)

  it("keeps a writer out of Slurm (it runs here)", function()
    fakes(ended("COMPLETED"))
    local ctx = new_ctx()
    local pending = { { i = 1, o = { prompt = "w" }, r = { runner = "x", sandbox = "workspace-write" }, st = {} } }
    local batch = slurm_preset.submit(ctx, pending, { repo = repo, gates = true })
    expect(#pending):equals(1)
    expect(read(bin .. "/sbatch.args")):is_nil()
    batch:wait(function() error("nothing to wait for") end)
    batch:cancel()
    ctx:close()
  end)
end)

describe("a preset step on the node", function()
  local function queued_step(job_text, prompt)
    local s = assert(store.open(repo .. "/.agent", { create = true }))
    local task = assert(s:create_task({ title = "preset x", status = "running" }))
    local files = { { slurm_submit.PRESET_JOB_FILE, job_text } }
    if prompt then
      files[2] = { "prompt.md", prompt }
    end
    local run = assert(s:create_run({ task_id = task.task_id, status = "queued", executor = "slurm" }, files))
    return s, run
  end

  for name, job_text in pairs({ ["not JSON, with escapes and invalid UTF-8"] = "{\"runner\": \27[31m\255\254",
    ["JSON without settings"] = "{\"runner\": \"codex\"}", ["a JSON string"] = "\"job\"" }) do
    it("refuses a job that is " .. name .. " and records the run failed", function()
      local s, run = queued_step(job_text, "p")
      local record, why = slurm_preset.work(s, {}, run.run_id)
      expect(record):is_nil()
      expect(why):contains(slurm_submit.PRESET_JOB_FILE .. ") or its prompt is missing or unreadable")
      local now = assert(s:get_run(run.run_id))
      expect(now.status):equals("failed")
      expect(now.failure_reason):equals(why)
      s:close()
    end)
  end

  it("refuses a step without its prompt, and a run that is not queued", function()
    local s, run = queued_step('{"settings": {}}', nil)
    expect(select(2, slurm_preset.work(s, {}, run.run_id))):contains("its prompt is missing")
    expect(select(2, slurm_preset.work(s, {}, run.run_id))):contains("is not a queued preset step (status failed)")
    expect(slurm_submit.is_preset_step(repo .. "/.agent", run.run_id)):equals(true)
    expect(slurm_submit.is_preset_step(repo .. "/.agent", "R-9999")):equals(false)
    s:close()
  end)
end)
