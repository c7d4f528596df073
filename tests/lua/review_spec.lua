local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local json = require("sidecar.core.json")
local review = require("sidecar.task.review")
local store = require("sidecar.core.store")
local store_copy = require("sidecar.core.store_copy")

local root, s
test.before_each(function()
  root = os.tmpname()
  os.remove(root)
  root = root .. "/.agent"
  s = assert(store.open(root, { create = true }))
end)
test.after_each(function()
  s:close()
  os.execute("rm -rf '" .. root:gsub("/%.agent$", "") .. "'")
end)

local function read(path)
  local f = io.open(path)
  if not f then
    return nil
  end
  local text = f:read("a")
  f:close()
  return text
end

local function copy_of(kind, id)
  return json.decode(assert(read(root .. "/" .. store_copy.path(kind, id))))
end

-- A task and one run of it in `status` (review_state pending), with extra fields.
local function seeded(status, extra)
  local task = s:get_task("T-0001") or assert(s:create_task({ title = "Fix the parser", status = "running" }))
  local record = { task_id = task.task_id, runner_type = "codex", status = status, review_state = "pending" }
  for k, v in pairs(extra or {}) do
    record[k] = v
  end
  return assert(s:create_run(record))
end

local function step(kind, command, ok, extra)
  local v = { kind = kind, command = command, ok = ok, exit_code = ok and 0 or 1, timed_out = false, duration_ms = 40 }
  for k, x in pairs(extra or {}) do
    v[k] = x
  end
  return v
end

local AUTO_ON = { review = { auto_approve_on_all_green = true } }

describe("review.approve", function()
  it("completes the run, finishes its task and writes decision.md with the copy", function()
    seeded("review", { follow_ups = json.array({ "add a test for empty input", "update the docs" }) })
    local run = assert(review.approve(s, "R-0001", { note = "Looks right.", by = "alice" }))
    expect(run.review_state):equals("approved")
    expect(run.status):equals("completed")
    expect(run.reviewed_by):equals("alice")
    expect(run.reviewed_at):matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ$")
    expect(run.review_note):equals("Looks right.")
    expect(s:get_run("R-0001")):equals(run)
    expect(copy_of("run", "R-0001")):equals(run)
    expect(s:get_task("T-0001").status):equals("done")
    expect(copy_of("task", "T-0001").status):equals("done")
    expect(read(root .. "/runs/R-0001/decision.md")):equals(table.concat({
      "# Main-Agent Decision: R-0001", "",
      "Decision: accept",
      "Decider: alice",
      "Date: " .. run.reviewed_at, "",
      "## Rationale", "",
      "Looks right.", "",
      "## Follow-Up", "",
      "- add a test for empty input",
      "- update the docs", "",
    }, "\n"))
  end)

  it("takes the decider from $USER, says when no rationale was given and allows a partial accept", function()
    seeded("review")
    local run = assert(review.approve(s, "R-0001", { decision = "partially accept" }))
    local user = os.getenv("USER")
    expect(run.reviewed_by):equals(user and user ~= "" and user or "human")
    expect(run.review_note):is_nil()
    local text = read(root .. "/runs/R-0001/decision.md")
    expect(text):contains("Decision: partially accept\n")
    expect(text):contains("## Rationale\n\n(none given)\n\n## Follow-Up\n\nNone.\n")
  end)

  it("approves over a blocker (a person overrides it) and keeps the blocker on record", function()
    seeded("blocked", { blockers = json.array({ "question: which parser?" }) })
    local run = assert(review.approve(s, "R-0001", { by = "bob" }))
    expect(run.status):equals("completed")
    expect(run.blockers):equals({ "question: which parser?" })
    expect(s:get_task("T-0001").status):equals("done")
  end)

  it("refuses unknown, unfinished, failed and already approved runs with a code", function()
    seeded("running")
    seeded("queued")
    seeded("failed")
    seeded("review")
    local run, message, code = review.approve(s, "R-0009")
    expect(run):is_nil()
    expect(message):equals("no run R-0009 (see sidecar run list)")
    expect(code):equals("not_found")
    run, message, code = review.approve(s, "R-0001")
    expect(message):equals("run R-0001 is still running: wait for it (sidecar run wait R-0001)")
    expect(code):equals("bad_state")
    _, message, code = review.approve(s, "R-0002")
    expect(message):equals("run R-0002 is still queued: wait for it (sidecar run wait R-0002)")
    expect(code):equals("bad_state")
    _, message, code = review.approve(s, "R-0003")
    expect(message):equals("run R-0003 failed: there is nothing to review; replay it (sidecar run replay R-0003)")
    expect(code):equals("bad_state")
    _, message, code = review.approve(s, "R-0004", { decision = "maybe" })
    expect(message):contains("accept or partially accept")
    expect(code):equals("bad_option")

    assert(review.approve(s, "R-0004", { by = "alice" }))
    local again = s:get_run("R-0004")
    _, message, code = review.approve(s, "R-0004")
    expect(message):equals("run R-0004 is already approved by alice at " .. again.reviewed_at)
    expect(code):equals("bad_state")
    -- Nothing was written for the refused runs.
    expect(s:get_run("R-0001").status):equals("running")
    expect(read(root .. "/runs/R-0001/decision.md")):is_nil()
  end)

  it("raises on wrong argument types", function()
    expect(function() review.approve(s, 1) end):raises("run_id must be a string")
    expect(function() review.approve(s, "R-0001", "note") end):raises("opts must be a table")
  end)
end)

describe("review.block", function()
  it("blocks the run and its task with the reason, and writes the decision", function()
    seeded("review", { blockers = json.array({ "earlier blocker" }) })
    local run = assert(review.block(s, "R-0001", { reason = "It deletes the fixtures.", by = "carol",
      decision = "escalate" }))
    expect(run.review_state):equals("blocked")
    expect(run.status):equals("blocked")
    expect(run.blockers):equals({ "earlier blocker", "It deletes the fixtures." })
    expect(run.reviewed_by):equals("carol")
    expect(run.review_note):equals("It deletes the fixtures.")
    expect(copy_of("run", "R-0001")):equals(run)
    local task = s:get_task("T-0001")
    expect(task.status):equals("blocked")
    expect(task.blockers):equals({ "It deletes the fixtures." })
    expect(copy_of("task", "T-0001")):equals(task)
    expect(read(root .. "/runs/R-0001/decision.md")):equals(table.concat({
      "# Main-Agent Decision: R-0001", "",
      "Decision: escalate",
      "Decider: carol",
      "Date: " .. run.reviewed_at, "",
      "## Rationale", "",
      "It deletes the fixtures.", "",
      "## Follow-Up", "",
      "None.", "",
    }, "\n"))
  end)

  it("rejects by default, needs a reason and refuses a run already blocked", function()
    seeded("review")
    local run, message, code = review.block(s, "R-0001", { reason = "  " })
    expect(run):is_nil()
    expect(message):contains("needs a reason")
    expect(code):equals("bad_option")
    _, _, code = review.block(s, "R-0001")
    expect(code):equals("bad_option")
    _, message, code = review.block(s, "R-0001", { reason = "no", decision = "accept" })
    expect(message):contains("reject or escalate")
    expect(code):equals("bad_option")
    _, message, code = review.block(s, "R-0007", { reason = "no" })
    expect(code):equals("not_found")
    assert(review.block(s, "R-0001", { reason = "wrong file", by = "dan" }))
    expect(read(root .. "/runs/R-0001/decision.md")):contains("Decision: reject\n")
    _, message, code = review.block(s, "R-0001", { reason = "again" })
    expect(message):contains("run R-0001 is already blocked by dan")
    expect(code):equals("bad_state")
  end)

  it("lets a person approve a run they blocked earlier, and block an approved run before merge", function()
    seeded("review")
    assert(review.block(s, "R-0001", { reason = "wait for the API", by = "erin" }))
    local run = assert(review.approve(s, "R-0001", { by = "erin", note = "the API landed" }))
    expect(run.status):equals("completed")
    expect(read(root .. "/runs/R-0001/decision.md")):contains("Decision: accept\n")
    run = assert(review.block(s, "R-0001", { reason = "breaks the build after all", by = "erin" }))
    expect(run.status):equals("blocked")
    run.review_state = "merged"
    assert(s:update_run(run))
    local _, message, code = review.approve(s, "R-0001")
    expect(message):equals("run R-0001 is already merged by erin at " .. run.reviewed_at)
    expect(code):equals("bad_state")
  end)
end)

describe("review.auto", function()
  local run = { run_id = "R-0001", status = "review" }

  it("approves only when enabled, with steps, all green, and the run waiting for review", function()
    local green = { step("typecheck", "tsc --noEmit", true), step("lint", "eslint .", true), step("test", "npm test", true) }
    local d = review.auto(run, green, AUTO_ON)
    expect(d.approve):is_true()
    expect(d.reason):equals("auto-approved: all 3 validation steps passed")
    expect(d.blockers):equals({})
    expect(review.auto(run, { green[1] }, { review = { autoApproveOnAllGreen = true } }).reason)
      :equals("auto-approved: all 1 validation step passed")

    expect(review.auto(run, green, nil).approve):is_false()
    expect(review.auto(run, green, {}).approve):is_false()
    expect(review.auto(run, green, { review = { auto_approve_on_all_green = false, autoApproveOnAllGreen = true } }).approve)
      :is_false()
    expect(review.auto(run, green, { review = {} }).reason):contains("auto-approval is off")
    d = review.auto(run, {}, AUTO_ON)
    expect(d.approve):is_false()
    expect(d.reason):contains("no validation steps")
    d = review.auto({ run_id = "R-0001", status = "blocked" }, green, AUTO_ON)
    expect(d.approve):is_false()
    expect(d.reason):contains("the run is blocked")
  end)

  it("names each failed step's kind, command and how it failed", function()
    local d = review.auto(run, {
      step("lint", "eslint .", true),
      step("test", "npm test", false),
      step("build", "make", false, { exit_code = json.null, timed_out = true, timeout_ms = 600000 }),
      { kind = "custom", command = "./smoke.sh", ok = false, timed_out = false }, -- it never started
    }, AUTO_ON)
    expect(d.approve):is_false()
    expect(d.reason):equals("3 of 4 validation steps failed")
    expect(d.blockers):equals({
      "validation failed: test step 'npm test' exited with code 1",
      "validation failed: build step 'make' timed out after 600000 ms",
      "validation failed: custom step './smoke.sh' ended without an exit code (killed by a signal, or it could not start)",
    })
  end)

  it("reads the steps from the run when no results are given", function()
    local d = review.auto({ status = "review", validation = { step("test", "make check", true) } }, nil, AUTO_ON)
    expect(d.approve):is_true()
  end)
end)

describe("review.after_validation", function()
  it("auto-approves an all-green run as sidecar:auto with the step count", function()
    seeded("review")
    local results = { step("lint", "eslint .", true), step("test", "npm test", true) }
    local run, outcome, d = review.after_validation(s, s:get_run("R-0001"), results, AUTO_ON)
    expect(outcome):equals("approved")
    expect(d.approve):is_true()
    expect(run.review_state):equals("approved")
    expect(run.status):equals("completed")
    expect(run.reviewed_by):equals("sidecar:auto")
    expect(run.review_note):equals("auto-approved: all 2 validation steps passed")
    expect(copy_of("run", "R-0001")):equals(run)
    expect(s:get_task("T-0001").status):equals("done")
    local text = read(root .. "/runs/R-0001/decision.md")
    expect(text):contains("Decision: accept\nDecider: sidecar:auto\n")
    expect(text):contains("## Rationale\n\nauto-approved: all 2 validation steps passed\n")
    expect(review.apply_auto):is(review.after_validation)
  end)

  it("blocks the run and its task on a failed step, leaving the decision to a person", function()
    seeded("review")
    local results = { step("lint", "eslint .", true), step("test", "npm test", false) }
    local run, outcome = review.after_validation(s, "R-0001", results, AUTO_ON)
    expect(outcome):equals("blocked")
    expect(run.status):equals("blocked")
    expect(run.review_state):equals("pending")
    expect(run.blockers):equals({ "validation failed: test step 'npm test' exited with code 1" })
    expect(copy_of("run", "R-0001")):equals(run)
    local task = s:get_task("T-0001")
    expect(task.status):equals("blocked")
    expect(task.blockers):equals({ "validation failed: test step 'npm test' exited with code 1" })
    expect(read(root .. "/runs/R-0001/decision.md")):is_nil()
    -- The same results again add no second copy of the blocker.
    run = review.after_validation(s, "R-0001", results, nil)
    expect(#run.blockers):equals(1)
    expect(#s:get_task("T-0001").blockers):equals(1)
    expect(review.queue(s)[1].why):equals("validation failed: test step 'npm test' exited with code 1")
  end)

  it("blocks on a failed step even when auto-approval is off", function()
    seeded("review")
    local run, outcome = review.after_validation(s, "R-0001", { step("build", "make", false) }, nil)
    expect(outcome):equals("blocked")
    expect(run.status):equals("blocked")
  end)

  it("leaves the run waiting for a person with zero steps, auto-approval off, or nothing to decide", function()
    seeded("review")
    local before = s:get_run("R-0001")
    local run, outcome, d = review.after_validation(s, "R-0001", {}, AUTO_ON)
    expect(outcome):equals("pending")
    expect(d.reason):contains("no validation steps")
    before.revision = before.revision + 1 -- saved again (store.lua: every write is a revision)
    expect(s:get_run("R-0001")):equals(before)
    -- Results the caller put in the record are kept.
    local with_results = s:get_run("R-0001")
    with_results.validation = json.array({})
    with_results.validation_summary = { total = 0 }
    review.after_validation(s, with_results, {}, AUTO_ON)
    expect(s:get_run("R-0001").validation_summary):equals({ total = 0 })
    _, outcome = review.after_validation(s, "R-0001", { step("test", "npm test", true) }, { review = { autoApproveOnAllGreen = false } })
    expect(outcome):equals("pending")
    expect(s:get_run("R-0001").review_state):equals("pending")
    expect(s:get_task("T-0001").status):equals("running")

    seeded("running")
    seeded("failed")
    for _, id in ipairs({ "R-0002", "R-0003" }) do
      run, outcome = review.after_validation(s, id, { step("test", "npm test", false) }, AUTO_ON)
      expect(outcome):equals("unchanged")
      expect(run.blockers):is_nil()
    end
    local _, message, code = review.after_validation(s, "R-0042", {}, AUTO_ON)
    expect(code):equals("not_found")
    expect(message):contains("R-0042")
  end)
end)

describe("review.queue", function()
  it("lists the runs that need a person, oldest first, with their task titles", function()
    seeded("review")                                             -- R-0001 waits
    seeded("running")                                            -- R-0002 not finished
    seeded("blocked", { blockers = json.array({ "question: which parser?" }) }) -- R-0003 waits
    seeded("failed")                                             -- R-0004 nothing to approve
    seeded("outcome_unknown", { failure_reason = "the event stream stopped" }) -- R-0005 waits
    seeded("review")                                             -- R-0006, approved below
    seeded("review", { task_id = "T-0404" })                     -- R-0007 waits, its task is gone
    seeded("review", { review_state = json.null })               -- R-0008 waits (older record)
    assert(review.approve(s, "R-0006", { by = "x" }))

    local items = assert(review.queue(s))
    local ids, titles, why = {}, {}, {}
    for i, item in ipairs(items) do
      ids[i], titles[i], why[i] = item.run.run_id, item.task_title or "(none)", item.why
    end
    expect(ids):equals({ "R-0001", "R-0003", "R-0005", "R-0007", "R-0008" })
    expect(titles):equals({ "Fix the parser", "Fix the parser", "Fix the parser", "(none)", "Fix the parser" })
    expect(why):equals({ "ready for review", "question: which parser?", "outcome unknown: the event stream stopped",
      "ready for review", "ready for review" })
  end)

  it("is empty for an empty store", function()
    expect(assert(review.queue(s))):equals({})
  end)
end)
