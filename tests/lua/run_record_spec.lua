local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local files = require("sidecar.core.files")
local json = require("sidecar.core.json")
local run_events = require("sidecar.core.run_events")
local run_record = require("sidecar.run.record")
local store = require("sidecar.core.store")

local function open_store()
  local s = assert(store.open(test.temp_dir() .. "/.agent", { create = true }))
  local task = assert(s:create_task({ title = "t", status = "running" }))
  return s, task
end

local function read(path)
  return assert(files.read(path))
end

describe("sidecar.run.record", function()
  it("takes a run through its steps: created, saved, held, decided", function()
    local s <close>, task = open_store()
    local run = assert(run_record.create(s, { task_id = task.task_id, runner_type = "codex", status = "queued" }))
    run.status, run.command = "running", "codex exec"
    assert(run_record.save(s, run))
    run.status = "review"
    assert(run_record.hold(s, run, { { "output.md", "done\n" } }))
    local held = assert(s:get_run(run.run_id))
    expect(held.status):equals("running")
    expect(held.phase):equals("finishing")
    expect(held.outcome):equals("review")
    expect(read(s.root .. "/runs/" .. run.run_id .. "/output.md")):equals("done\n")
    run.status, run.outcome = run.outcome, nil
    assert(run_record.finish(s, run))
    local ended = assert(s:get_run(run.run_id))
    expect(ended.status):equals("review")
    expect(ended.phase):is_nil()
    expect(ended.completed_at):exists()
    run.status = "completed"
    assert(run_record.decide(s, run))
    expect(assert(s:get_run(run.run_id)).status):equals("completed")
  end)

  it("refuses a step that does not fit the run's status, as a programming error", function()
    local s <close>, task = open_store()
    expect(function() run_record.create(s, { task_id = task.task_id, runner_type = "codex", status = "review" }) end)
      :raises("a run is not created review")
    local run = assert(run_record.create(s, { task_id = task.task_id, runner_type = "codex", status = "running" }))
    expect(function() run_record.finish(s, run) end):raises("is running, not an end")
    expect(function() run_record.settle(s, run) end):raises("is running, not an end")
    expect(function() run_record.decide(s, run) end):raises("is running, not an end")
    expect(assert(s:get_run(run.run_id)).status):equals("running") -- nothing written
  end)

  it("never makes an ended run active again: the store refuses it, the run stays as it ended", function()
    local s <close>, task = open_store()
    local run = assert(run_record.create(s, { task_id = task.task_id, runner_type = "codex", status = "queued" }))
    run.status, run.failure_reason = "interrupted", "stopped by sidecar run kill"
    run_record.settle(s, run)
    local stale = assert(s:get_run(run.run_id))
    stale.status = "preparing" -- a worker that read the run before it was killed
    local ok, message, code = run_record.save(s, stale)
    expect(ok):is_nil()
    expect(code):equals("EENDED")
    expect(message):contains("has ended (interrupted): it is not made preparing again")
    local now = assert(s:get_run(run.run_id))
    expect(now.status):equals("interrupted")
    expect(now.failure_reason):equals("stopped by sidecar run kill")
    local copy = json.decode(read(s.root .. "/runs/" .. run.run_id .. "/run.json"))
    expect(copy.status):equals("interrupted")
  end)

  it("settles a run nobody else will end: reconciled, a run.finished event on the bus, its task ready", function()
    local s <close>, task = open_store()
    local run = assert(run_record.create(s, { task_id = task.task_id, runner_type = "codex", status = "running" }))
    local got = {}
    local sub <close> = run_events.subscribe(function(e) got[#got + 1] = e end, { run_id = run.run_id })
    run.status, run.failure_reason = "outcome_unknown", "its owner is gone"
    run_record.settle(s, run)
    local ended = assert(s:get_run(run.run_id))
    expect(ended.status):equals("outcome_unknown")
    expect(ended.reconciled_at):equals(ended.completed_at)
    expect(#got):equals(1)
    expect(got[1].kind):equals("run.finished")
    expect(got[1].fields.status):equals("outcome_unknown")
    expect(got[1].fields.reason):equals("its owner is gone")
    expect(assert(s:get_task(task.task_id)).status):equals("ready")
  end)
end)
