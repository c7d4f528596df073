local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local duration = require("sidecar.core.duration")
local json = require("sidecar.core.json")
local review = require("sidecar.task.review")
local run_data = require("sidecar.service.run_data")
local run_view = require("sidecar.cli.run_view")
local store = require("sidecar.core.store")

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

local function lines_of(text)
  local lines = {}
  for line in text:gmatch("([^\n]*)\n") do
    lines[#lines + 1] = line
  end
  return lines
end

local function has_line(text, line)
  for _, l in ipairs(lines_of(text)) do
    if l == line then
      return true
    end
  end
  return false, text
end

-- expect(text) to hold `line` as a whole line (shows the text when it does not).
local function expect_line(text, line)
  local found = has_line(text, line)
  if not found then
    expect(text):equals("a text with the line: " .. line)
  end
end

describe("run_view formatting", function()
  it("writes durations for people", function()
    expect(duration.format(nil)):equals("-")
    expect(duration.format(json.null)):equals("-")
    expect(duration.format(0)):equals("0ms")
    expect(duration.format(350)):equals("350ms")
    expect(duration.format(1234)):equals("1.2s")
    expect(duration.format(12345)):equals("12.3s")
    expect(duration.format(185000)):equals("3m05s")
    expect(duration.format(7620000)):equals("2h07m")
    expect(run_data.duration_ms({ duration_ms = 42 })):equals(42)
    expect(run_data.duration_ms({ started_at = "2026-02-28T23:59:30Z", completed_at = "2026-03-01T00:01:00Z" }))
      :equals(90000)
    expect(run_data.duration_ms({ started_at = "2026-01-01T00:00:00Z" })):is_nil()
  end)

  it("writes usage with thousands separators and unknown for what was not reported", function()
    expect(run_view.usage_text({ input = 12345, cached_input = 1000, output = 2345, reasoning_output = json.null,
      total = 14690 })):equals("input 12,345 (cached 1,000), output 2,345 (reasoning unknown), total 14,690")
    expect(run_view.usage_text(nil)):equals("unknown")
    expect(run_view.usage_text({ input = json.null, output = json.null })):equals("unknown")
  end)
end)

describe("run_view.list_table", function()
  it("aligns one row per run, durations and file counts to the right", function()
    local runs = {
      { run_id = "R-0012", task_id = "T-0003", runner_type = "claude", agent_role = "reviewer", status = "review",
        review_state = "pending", started_at = "2026-03-01T10:04:05Z", duration_ms = 185000,
        changed_files = { "a.lua", "b.lua", "c.lua", "d.lua", "e.lua", "f.lua", "g.lua", "h.lua", "i.lua", "j.lua" } },
      { run_id = "R-0002", runner_type = "codex", status = "running", started_at = "2026-03-01T09:00:00Z" },
      { run_id = "R-0001", task_id = "T-0001", runner_type = "command", status = "completed",
        review_state = "approved", created_at = "2026-02-28T08:00:00Z", duration_ms = 1234, changed_files = {} },
    }
    expect(run_view.list_table(runs)):equals(table.concat({
      "RUN     TASK    RUNNER   ROLE      STATUS     REVIEW    STARTED           DURATION  FILES",
      "R-0012  T-0003  claude   reviewer  review     pending   2026-03-01 10:04     3m05s     10",
      "R-0002  -       codex    -         running    -         2026-03-01 09:00         -      -",
      "R-0001  T-0001  command  -         completed  approved  2026-02-28 08:00      1.2s      0",
    }, "\n") .. "\n")
    expect(run_view.list_rows({})):equals({})
  end)
end)

describe("run_view.show", function()
  local function full_run()
    assert(s:create_task({ title = "Fix the parser" }))
    local run = assert(s:create_run({
      task_id = "T-0001", runner_type = "codex", agent_role = "builder", model = "gpt-5", sandbox = "workspace-write",
      status = "blocked", review_state = "pending", created_at = "2026-03-01T10:00:00Z",
      started_at = "2026-03-01T10:00:01Z", completed_at = "2026-03-01T10:03:06Z", duration_ms = 185000,
      summary = "Rewrote the tokenizer.", changed_files = json.array({ "src/lexer.lua", "tests/lexer_spec.lua" }),
      validation = json.array({
        { kind = "lint", command = "luacheck .", ok = true, exit_code = 0, timed_out = false, duration_ms = 800 },
        { kind = "test", command = "make test", ok = false, exit_code = 2, timed_out = false, duration_ms = 12345 },
        { kind = "build", command = "make", ok = false, timed_out = true, timeout_ms = 600000, duration_ms = 600000 },
      }),
      blockers = json.array({ "validation failed: test step 'make test' exited with code 2" }),
      usage = { input = 12345, cached_input = 1000, output = 2345, reasoning_output = json.null, total = 14690 },
      cost_usd = 0.0123,
    }))
    run.prompt_path = "runs/" .. run.run_id .. "/prompt.md"
    return assert(s:update_run(run))
  end

  it("shows the prompt, states, lifecycle, validation, files, usage, cost and blockers", function()
    local run = full_run()
    local text = assert(run_view.show(s, run))
    for _, line in ipairs({
      "Run:           R-0001",
      "Task:          T-0001  Fix the parser",
      "Runner:        codex (role builder, model gpt-5, sandbox workspace-write)",
      "Status:        blocked",
      "Review:        pending",
      "Prompt:        " .. root .. "/runs/R-0001/prompt.md",
      "Created:       2026-03-01T10:00:00Z",
      "Started:       2026-03-01T10:00:01Z",
      "Completed:     2026-03-01T10:03:06Z",
      "Duration:      3m05s",
      "Summary:       Rewrote the tokenizer.",
      "Validation:",
      "  ok    lint   luacheck .  exit 0                   800ms",
      "  FAIL  test   make test   exit 2                   12.3s",
      "  FAIL  build  make        timed out after 10m00s  10m00s",
      "  3 steps: 1 passed, 2 failed (1 timed out)",
      "Changed files (2):",
      "  src/lexer.lua",
      "  tests/lexer_spec.lua",
      "Blockers:",
      "  - validation failed: test step 'make test' exited with code 2",
      "Usage:         input 12,345 (cached 1,000), output 2,345 (reasoning unknown), total 14,690",
      "Cost:          $0.0123",
    }) do
      expect_line(text, line)
    end
    expect(text:find("Failure:", 1, true)):is_nil()
    expect(text:find("Replay of:", 1, true)):is_nil()
  end)

  it("shows the review decision, a failure and what is unknown", function()
    full_run()
    assert(review.approve(s, "R-0001", { by = "alice", note = "good enough", decision = "partially accept" }))
    local run = s:get_run("R-0001")
    local text = assert(run_view.show(s, "R-0001"))
    expect_line(text, "Review:        approved (partially accept) by alice at " .. run.reviewed_at)
    expect_line(text, "Note:          good enough")

    local bare = assert(s:create_run({ runner_type = "claude", status = "failed",
      failure_reason = "idle timeout: no output for 300000 ms; the agent was stopped", usage = json.null }))
    text = assert(run_view.show(s, bare.run_id))
    expect_line(text, "Failure:       idle timeout: no output for 300000 ms; the agent was stopped")
    expect_line(text, "Validation:    none recorded")
    expect_line(text, "Changed files: unknown")
    expect_line(text, "Usage:         unknown")
    expect_line(text, "Cost:          unknown")
    expect(text:find("Task:", 1, true)):is_nil()
  end)

  it("reads validation results from the store when the record holds none", function()
    local run = assert(s:create_run({ runner_type = "codex", status = "review", changed_files = json.array({}) }))
    assert(s:add_validation(run.run_id, { kind = "test", command = "npm test", ok = true, exit_code = 0, duration_ms = 1500 }))
    local text = assert(run_view.show(s, run))
    expect_line(text, "  ok  test  npm test  exit 0  1.5s")
    expect_line(text, "  1 step: 1 passed, 0 failed")
    expect_line(text, "Changed files: none")
  end)

  it("shows replay lineage both ways", function()
    local parent = assert(s:create_run({ runner_type = "codex", status = "blocked" }))
    local first = assert(s:create_run({ runner_type = "claude", status = "review", parent_run_id = parent.run_id,
      replay_reason = "retry with claude after codex blocker" }))
    -- A replay linked afterwards, the way an import or a later tool does.
    local second = assert(s:create_run({ runner_type = "codex", status = "queued", replay_reason = "fixed the blocker" }))
    assert(s:link(parent.run_id, second.run_id, "replay"))

    local text = assert(run_view.show(s, parent))
    expect_line(text, "Replayed as:   R-0002, R-0003")
    expect(text:find("Replay of:", 1, true)):is_nil()
    text = assert(run_view.show(s, first))
    expect_line(text, "Replay of:     R-0001 (reason: retry with claude after codex blocker)")
    expect(text:find("Replayed as:", 1, true)):is_nil()
    expect_line(assert(run_view.show(s, second)), "Replay of:     R-0001 (reason: fixed the blocker)")

    local data = assert(run_data.show(s, first.run_id))
    expect(data.lineage.replay_of):equals("R-0001")
    expect(data.lineage.replayed_as):equals({})
    data = assert(run_data.show(s, parent.run_id))
    expect(data.lineage.replay_of):is(json.null)
    expect(data.lineage.replayed_as):equals({ "R-0002", "R-0003" })
    expect(json.encode(data)):contains('"replayed_as":["R-0002","R-0003"]')
  end)

  it("shows a pipeline's step and its neighbours", function()
    local step1 = assert(s:create_run({ runner_type = "codex", agent_role = "builder", status = "review",
      pipeline_id = "P-0001", pipeline_step = 1, pipeline_total = 3, duration_ms = 12345,
      changed_files = json.array({ "a", "b", "c" }) }))
    local step2 = assert(s:create_run({ runner_type = "claude", agent_role = "reviewer", status = "review",
      pipeline_id = "P-0001", pipeline_step = 2, pipeline_total = 3, parent_run_id = step1.run_id, duration_ms = 900,
      changed_files = json.array({ "a" }) }))
    -- The third step links back to the first run, as the pipeline docs describe.
    local step3 = assert(s:create_run({ runner_type = "codex", status = "running", pipeline_id = "P-0001",
      pipeline_step = 3, pipeline_total = 3, parent_run_id = step1.run_id }))

    expect(run_view.pipeline_line(step1)):equals("step 1/3  codex  builder  R-0001  review  12.3s  3 files")
    expect(run_view.pipeline_line(step3)):equals("step 3/3  codex  -  R-0003  running  -  files unknown")
    expect(run_view.pipeline_lines({ step1, step2 })):equals(
      "step 1/3  codex   builder   R-0001  review  12.3s  3 files\n" ..
      "step 2/3  claude  reviewer  R-0002  review  900ms  1 file\n")

    local text = assert(run_view.show(s, step2))
    expect_line(text, "Pipeline:      P-0001 step 2 of 3")
    expect_line(text, "Previous step: step 1/3  codex  builder  R-0001  review  12.3s  3 files")
    expect_line(text, "Next step:     step 3/3  codex  -  R-0003  running  -  files unknown")
    expect(text:find("Replay of:", 1, true)):is_nil()
    text = assert(run_view.show(s, step1))
    expect(text:find("Previous step:", 1, true)):is_nil()
    expect_line(text, "Next step:     step 2/3  claude  reviewer  R-0002  review  900ms  1 file")

    local data = assert(run_data.show(s, step3))
    local ids = {}
    for i, st in ipairs(data.lineage.pipeline_steps) do
      ids[i] = st.run_id .. " " .. st.pipeline_step .. " " .. tostring(st.changed_files)
    end
    expect(ids):equals({ "R-0001 1 3", "R-0002 2 1", "R-0003 3 " .. tostring(json.null) })
    expect(data.lineage.replay_of):is(json.null)
  end)

  it("gives the record with lineage and validation as the --json data, leaving the record alone", function()
    local run = full_run()
    local data = assert(run_data.show(s, run))
    expect(data.run_id):equals("R-0001")
    expect(data.summary):equals("Rewrote the tokenizer.")
    expect(#data.validation):equals(3)
    expect(data.lineage.pipeline_steps):equals({})
    expect(run.lineage):is_nil()
    local decoded = json.decode(json.encode(data))
    expect(decoded.lineage.pipeline_steps):equals({})
    expect(json.encode(decoded.lineage)):equals('{"answer_of":null,"answered_by":[],"pipeline_steps":[],"replay_of":null,"replayed_as":[]}')
  end)

  it("says which run it cannot find", function()
    local text, message, code = run_view.show(s, "R-0099")
    expect(text):is_nil()
    expect(message):equals("no run R-0099 (see sidecar run list)")
    expect(code):equals("not_found")
    local _, _, code2 = run_data.show(s, "R-0099")
    expect(code2):equals("not_found")
    expect(function() run_view.show(s, 42) end):raises("run must be a record or a run id")
  end)
end)

describe("run_view.queue_table", function()
  it("prints the review queue", function()
    assert(s:create_task({ title = "Fix the parser" }))
    assert(s:create_run({ task_id = "T-0001", runner_type = "codex", status = "review", review_state = "pending",
      completed_at = "2026-03-01T10:03:06Z" }))
    assert(s:create_run({ runner_type = "claude", status = "blocked", blockers = json.array({ "question: which API?" }) }))
    expect(run_view.queue_table(assert(review.queue(s)))):equals(table.concat({
      "RUN     TASK    TITLE           RUNNER  STATUS   FINISHED          WHY",
      "R-0001  T-0001  Fix the parser  codex   review   2026-03-01 10:03  ready for review",
      "R-0002  -       -               claude  blocked  -                 question: which API?",
    }, "\n") .. "\n")
  end)
end)

describe("run show: the agent slot", function()
  it("says which slot, of how many, after how long, or why none", function()
    expect(run_view.slot_text(nil)):is_nil()
    expect(run_view.slot_text({ number = 3, cap = 8, waited_ms = 4700 })):equals("3 of 8 (max_agents), waited 4.7s")
    expect(run_view.slot_text({ number = 1, cap = 8, waited_ms = 0 })):equals("1 of 8 (max_agents)")
    expect(run_view.slot_text({ number = 2, cap = 8, waited_ms = 2400,
      runner = { name = "claude", number = 1, cap = 1, waited_ms = 2400 } }))
      :equals("2 of 8 (max_agents); 1 of 1 of claude's own, waited 2.4s")
    expect(run_view.slot_text({ cap = 8, none = "cannot open the agent slots' folder /x: not a folder" }))
      :equals("none: it ran without the cap on agents (cannot open the agent slots' folder /x: not a folder)")
  end)
end)
