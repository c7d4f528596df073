-- Revisions of the store's records and their JSON copies: `store check` tells stale copies from
-- copies ahead of the store and from conflicts and repairs what it can, `store rebuild` never puts
-- an older record in place of a newer one, and the copies a crash cut off are written by the next
-- process that opens the store.
local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local json = require("sidecar.core.json")
local store = require("sidecar.core.store")
local store_copy = require("sidecar.core.store_copy")
local store_repair = require("sidecar.task.repair")

local root
test.before_each(function()
  root = os.tmpname()
  os.remove(root)
  root = root .. "/.agent"
end)
test.after_each(function()
  os.execute("rm -rf '" .. root:gsub("/%.agent$", "") .. "'")
end)

local function read(path)
  local f = assert(io.open(path))
  local text = f:read("a")
  f:close()
  return text
end

local write = test.write

local function copy_of(id)
  return json.decode(read(root .. "/" .. store_copy.path(id:sub(1, 1) == "T" and "task" or "run", id)))
end

local function write_copy(id, record)
  write(root .. "/runs/" .. id .. "/run.json", json.encode(record, { indent = 2 }) .. "\n")
end

local function problems_of(report)
  local out = {}
  for _, p in ipairs(report.problems) do
    out[#out + 1] = p.id .. " " .. p.problem .. (p.repaired and " repaired" or "")
  end
  return out
end

-- A run that went from running to completed with its result: two revisions, both copied.
local function finished_run()
  local s <close> = assert(store.open(root, { create = true }))
  local run = assert(s:create_run({ status = "running", runner_type = "codex" }))
  local running = json.decode(json.encode(run))
  run.status, run.summary, run.completed_at = "completed", "the answer", store.now()
  assert(s:update_run(run))
  return running, run
end

describe("store revisions", function()
  it("number every write of a record, in the store and in its copy", function()
    local running, done = finished_run()
    expect(running.revision):equals(1)
    expect(done.revision):equals(2)
    expect(copy_of("R-0001").revision):equals(2)
    local s <close> = assert(store.open(root))
    expect(s:get_run("R-0001").revision):equals(2)
    local task = assert(s:create_task({ title = "t", revision = 9 })) -- a new record starts at 1
    expect(task.revision):equals(1)
    assert(s:set_task_status(task.task_id, "ready"))
    expect(copy_of("T-0001").revision):equals(2)
    expect(#s.db:pending()):equals(0) -- every copy written, nothing owed
  end)

  it("store a record changed before its delayed copy (copy_later) first, so the copy is never ahead", function()
    local s <close> = assert(store.open(root, { create = true }))
    local same = assert(s:create_run({ status = "running" }, nil, { copy_later = true }))
    expect(#s.db:pending()):equals(1)
    assert(s:write_copy("run", same.run_id, same))
    expect(copy_of(same.run_id).revision):equals(1)
    local changed = assert(s:create_run({ status = "running" }, nil, { copy_later = true }))
    changed.prompt_path = "runs/R-0002/prompt.md"
    assert(s:write_copy("run", changed.run_id, changed, { { "prompt.md", "the prompt" } }))
    expect(changed.revision):equals(2)
    expect(s:get_run("R-0002").prompt_path):equals("runs/R-0002/prompt.md")
    expect(copy_of("R-0002")):equals(s:get_run("R-0002"))
    expect(#s.db:pending()):equals(0)
    expect(assert(store_repair.check(root)).ok):is_true()
  end)
end)

describe("store check", function()
  it("rewrites a stale copy from the store: the finished run stays finished", function()
    local running = finished_run()
    write_copy("R-0001", running) -- the copy of revision 1, as a crash of an older Sidecar left it
    local report = assert(store_repair.check(root))
    expect(problems_of(report)):equals({ "R-0001 stale_copy" })
    expect(report.problems[1].detail):equals("revision 1, older than the store's 2")
    expect(report.ok):is_false()
    report = assert(store_repair.check(root, { repair = true }))
    expect(problems_of(report)):equals({ "R-0001 stale_copy repaired" })
    expect(report.ok):is_true()
    expect(copy_of("R-0001").status):equals("completed")
    expect(#assert(store_repair.check(root)).problems):equals(0)
  end)

  it("imports a copy ahead of the store, and one the store lacks with its events", function()
    local _, done = finished_run()
    done.status, done.revision = "failed", 3 -- a write the store lost (a power cut, say)
    write_copy("R-0001", done)
    write_copy("R-0005", { run_id = "R-0005", status = "review", revision = 2 })
    write(root .. "/runs/R-0005/events.jsonl", '{"fields":{},"kind":"run.started","seq":1,"ts":"2026-01-01T00:00:00Z"}\n')
    local report = assert(store_repair.check(root, { repair = true }))
    expect(problems_of(report)):equals({ "R-0001 copy_ahead repaired", "R-0005 copy_ahead repaired" })
    expect(report.counts.copy_ahead):equals(2)
    local s <close> = assert(store.open(root))
    expect(s:get_run("R-0001").status):equals("failed")
    expect(s:get_run("R-0001").revision):equals(3)
    expect(s:get_run("R-0005").status):equals("review")
    expect(#s:events("R-0005")):equals(1)
    expect(assert(store.open(root)):create_run({}).run_id):equals("R-0006") -- past the imported id
    expect(assert(store_repair.check(root)).ok):is_true()
  end)

  it("reports a conflict and leaves both sides to the user, then settles the one kept", function()
    local _, done = finished_run()
    local edited = json.decode(json.encode(done))
    edited.summary = "edited by hand"
    write_copy("R-0001", edited)
    local report = assert(store_repair.check(root, { repair = true }))
    expect(problems_of(report)):equals({ "R-0001 conflict" })
    expect(report.problems[1].detail):equals("revision 2 in both, but they differ on: summary")
    expect(report.needs_user):equals(1)
    expect(report.ok):is_false()
    expect(copy_of("R-0001").summary):equals("edited by hand") -- untouched
    -- Keeping the copy: its revision goes above the store's, and check imports it.
    edited.revision = 3
    write_copy("R-0001", edited)
    report = assert(store_repair.check(root, { repair = true }))
    expect(problems_of(report)):equals({ "R-0001 copy_ahead repaired" })
    local s <close> = assert(store.open(root))
    expect(s:get_run("R-0001").summary):equals("edited by hand")
  end)

  it("calls a copy that is not a record a conflict, and a differing copy from before revisions stale", function()
    finished_run()
    write(root .. "/runs/R-0001/run.json", "{broken")
    local s = assert(store.open(root))
    assert(s.db:import("run", "R-0002", '{"run_id":"R-0002","status":"completed"}')) -- an older Sidecar's
    s:close()
    write_copy("R-0002", { run_id = "R-0002", status = "running" })
    local report = assert(store_repair.check(root, { repair = true }))
    expect(problems_of(report)):equals({ "R-0001 conflict", "R-0002 stale_copy repaired" })
    expect(report.problems[1].detail):contains("not valid JSON")
    expect(copy_of("R-0002")):equals({ run_id = "R-0002", status = "completed" })
  end)

  it("never imports a copy ahead that is no record, nor one that takes a finished run back to running", function()
    local _, done = finished_run()
    write_copy("R-0002", { revision = 99, status = "bogus", run_id = "R-0002" })
    write_copy("R-0003", { revision = 100, status = "running" }) -- names no run
    write_copy("R-0004", { revision = "7", status = "completed", run_id = "R-0004" })
    local back = json.decode(json.encode(done))
    back.revision, back.status = 9, "running"
    write_copy("R-0001", back)
    local report = assert(store_repair.check(root, { repair = true }))
    expect(problems_of(report)):equals({ "R-0001 conflict", "R-0002 conflict", "R-0003 conflict", "R-0004 conflict" })
    expect(report.problems[1].detail):contains("would take the run back from completed to running")
    expect(report.problems[2].detail):contains('its status "bogus" is not a run status')
    expect(report.problems[3].detail):contains("it has no run_id")
    expect(report.problems[4].detail):contains('its revision "7" is not a whole number')
    local s <close> = assert(store.open(root))
    expect(s:get_run("R-0001").status):equals("completed")
    expect(s:get_run("R-0002")):is_nil()
    -- rebuild leaves a copy that is no record for the user too, never overwriting the edit
    local edited = '{"run_id": "R-0001", "status": "completed", "revision": "99"}'
    write(root .. "/runs/R-0001/run.json", edited)
    local rebuilt = assert(store_repair.rebuild(root))
    expect(rebuilt.copies_written):equals({})
    expect(read(root .. "/runs/R-0001/run.json")):equals(edited)
  end)

  it("removes the temporary file a killed writer left, not one whose writer lives", function()
    finished_run()
    write(root .. "/runs/R-0001/.run.json.tmp-999999999-0", "{half")
    local me = require("sidecar.host.procinfo").self().pid
    write(root .. "/tasks/.T-0001.json.tmp-" .. me .. "-3", "{being written")
    local report = assert(store_repair.check(root, { repair = true }))
    expect(problems_of(report)):equals({ "R-0001 leftover_temp repaired" })
    expect(io.open(root .. "/runs/R-0001/.run.json.tmp-999999999-0")):is_nil()
    expect(read(root .. "/tasks/.T-0001.json.tmp-" .. me .. "-3")):equals("{being written")
  end)

  it("finishes a decision a crash cut short: the task moved, decision.md written", function()
    local review = require("sidecar.task.review")
    local s = assert(store.open(root, { create = true }))
    local task = assert(s:create_task({ title = "t", status = "review" }))
    local run = assert(s:create_run({ task_id = task.task_id, status = "review", review_state = "pending" }))
    -- Killed right after the decision was saved: the run says what it still owed.
    run.status, run.review_state, run.reviewed_by, run.reviewed_at = "completed", "approved", "ann", store.now()
    run.review_decision, run.review_note = "accept", "looks right"
    run.decision_todo = { task_status = "done", task_blockers = json.array({}) }
    assert(s:update_run(run))
    s:close()
    local report = assert(store_repair.check(root, { repair = false }))
    expect(problems_of(report)):equals({ "R-0001 unfinished_decision" })
    expect(report.ok):is_false()
    report = assert(store_repair.check(root, { repair = true }))
    expect(problems_of(report)):equals({ "R-0001 unfinished_decision repaired" })
    expect(report.ok):is_true()
    s = assert(store.open(root))
    expect(s:get_task(task.task_id).status):equals("done")
    expect(s:get_run("R-0001").decision_todo):is_nil()
    expect(read(root .. "/runs/R-0001/decision.md")):contains("looks right")
    -- The same decision again finishes one cut short as well, and refuses one that is whole.
    run = s:get_run("R-0001")
    run.decision_todo = { task_status = "done", task_blockers = json.array({}) }
    assert(s:update_run(run))
    assert(s:set_task_status(task.task_id, "review"))
    expect(review.approve(s, "R-0001").decision_todo):is_nil()
    expect(s:get_task(task.task_id).status):equals("done")
    local again, why = review.approve(s, "R-0001")
    expect(again):is_nil()
    expect(why):contains("already approved")
    s:close()
  end)
end)

describe("store rebuild", function()
  it("never replaces a newer record with an older copy: the finished run stays finished", function()
    local running = finished_run()
    write_copy("R-0001", running)
    local report = assert(store_repair.rebuild(root))
    expect(report.kept):equals({ "R-0001" })
    expect(report.copies_written):equals({ "R-0001" })
    expect(#report.problems):equals(0)
    local s <close> = assert(store.open(root))
    local run = s:get_run("R-0001")
    expect(run.status):equals("completed")
    expect(run.summary):equals("the answer")
    expect(copy_of("R-0001").status):equals("completed")
    expect(assert(store_repair.check(root)).ok):is_true()
  end)

  it("takes a newer copy, and rebuilds from the copies alone when the database is gone", function()
    local _, done = finished_run()
    done.status, done.revision = "failed", 3
    write_copy("R-0001", done)
    expect(assert(store_repair.rebuild(root)).kept):equals({})
    expect(assert(store.open(root)):get_run("R-0001").status):equals("failed")
    for _, suffix in ipairs({ "", "-wal", "-shm" }) do
      os.remove(root .. "/" .. store.DB_NAME .. suffix)
    end
    local report = assert(store_repair.rebuild(root))
    expect(report.runs):equals(1)
    local s <close> = assert(store.open(root))
    expect(s:get_run("R-0001").revision):equals(3)
    expect(assert(store_repair.check(root)).ok):is_true()
  end)
end)

describe("after a crash", function()
  it("the next open writes the copies a crash cut off, and store check is then clean", function()
    local _, done = finished_run()
    local s = assert(store.open(root))
    -- Killed between the store's write and its copy's: the lower layer alone is what ran.
    done.status, done.revision = "blocked", 3
    expect(s.db:update_run("R-0001", { status = "blocked" }, json.encode(done))):equals(3)
    assert(s.db:create_run({ status = "queued" }, function(id) return json.encode({ run_id = id }) end))
    assert(s:create_run({ status = "preparing" }, nil, { copy_later = true })) -- and its copy never came
    s:close()
    expect(copy_of("R-0001").status):equals("completed")
    -- Without settling, check sees what the crash left: all of it repairable.
    local report = assert(store_repair.check(root, { repair = false }))
    expect(problems_of(report)):equals({ "R-0001 stale_copy", "R-0002 missing_copy", "R-0003 missing_copy" })
    expect(report.needs_user):equals(0)

    local again <close> = assert(store.open(root)) -- the next command, whichever it is
    expect(again.settled.written):equals({ "R-0001", "R-0002", "R-0003" })
    expect(again.settled.failed):equals({})
    expect(#again.db:pending()):equals(0)
    expect(copy_of("R-0001").status):equals("blocked")
    expect(copy_of("R-0002").revision):equals(1)
    report = assert(store_repair.check(root, { repair = true }))
    expect(report.ok):is_true()
    expect(#report.problems):equals(0)
    expect(report.settled):equals({})
  end)

  it("store check itself settles when it is the first to open, and says so", function()
    finished_run()
    local s = assert(store.open(root))
    local run = s:get_run("R-0001")
    run.revision = 3
    assert(s.db:update_run("R-0001", { status = "completed" }, json.encode(run)))
    s:close()
    local report = assert(store_repair.check(root, { repair = true }))
    expect(report.settled):equals({ "R-0001" })
    expect(#report.problems):equals(0)
    expect(report.ok):is_true()
    expect(copy_of("R-0001").revision):equals(3)
  end)

  it("leaves a copy that is already as new as the store, clearing only the mark", function()
    finished_run()
    local s = assert(store.open(root))
    local run = s:get_run("R-0001")
    run.revision = 3
    assert(s.db:update_run("R-0001", { status = "completed" }, json.encode(run)))
    write_copy("R-0001", run) -- the copy landed; only the clearing was cut off
    s:close()
    local again <close> = assert(store.open(root))
    expect(again.settled.written):equals({})
    expect(#again.db:pending()):equals(0)
  end)
end)
