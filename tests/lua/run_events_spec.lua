local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local run_events = require("sidecar.core.run_events")
local json = require("sidecar.core.json")
local telemetry = require("sidecar.core.telemetry")

-- The lines of a run folder's events.jsonl, decoded.
local function lines(dir)
  local out = {}
  for line in io.lines(dir .. "/events.jsonl") do
    out[#out + 1] = json.decode(line)
  end
  return out
end

describe("sidecar.core.run_events", function()
  it("gets every event a recorder writes, once, as written: seq, kind, redacted fields, the run's id", function()
    local dir = test.temp_dir()
    local got = {}
    local sub <close> = run_events.subscribe(function(e) got[#got + 1] = e end, { run_id = "R-0042" })
    local t <close> = assert(telemetry.open(dir, { run_id = "R-0042" }))
    t:event("run.started", { runner = "codex", note = "token ghp_" .. string.rep("a", 36) })
    t:usage({ input = 10, output = 2 }, "codex")
    t:cost(0.5, "codex")
    local span = t:span("agent")
    span:finish({ exit_code = 0 })
    local written = lines(dir)
    expect(#got):equals(#written)
    expect(#got):equals(4)
    for i, e in ipairs(got) do
      expect(e.run_id):equals("R-0042")
      expect(e.seq):equals(written[i].seq)
      expect(e.kind):equals(written[i].kind)
    end
    expect(got[1].fields.note):equals(written[1].fields.note)
    expect(got[1].fields.note:find("ghp_a", 1, true)):equals(nil) -- redacted, as in the file
    expect(got[2].fields.usage.input):equals(10)
    expect(got[2].fields.usage.input):equals(written[2].fields.usage.input)
    expect(got[3].fields.usd):equals(0.5)
    expect(got[4].fields.name):equals("agent")
    expect(got[4].fields.exit_code):equals(0)
    os.execute(("rm -rf %q"):format(dir))
  end)

  it("gets the events a run's later steps append (validation, the end) after its recorder closed", function()
    local root = test.temp_dir() .. "/.agent"
    local s = assert(require("sidecar.core.store").open(root, { create = true }))
    local run = { run_id = "R-0007", status = "review" }
    assert(s:run_dir(run.run_id, true)):close()
    local got = {}
    local sub <close> = run_events.subscribe(function(e) got[#got + 1] = e.kind .. " " .. tostring(e.seq) end,
      { run_id = "R-0007" })
    telemetry.run_event(s, "R-0007", "validation.started", { step = 1, steps = 1, kind = "test", command = "true" })
    telemetry.run_event(s, "R-0007", "validation.finished", { step = 1, kind = "test", ok = true })
    telemetry.run_finished(s, run)
    local written = lines(root .. "/runs/R-0007")
    s:close()
    expect(got):equals({ "validation.started 1", "validation.finished 2", "run.finished 3" })
    expect(written[3].fields.status):equals("review")
  end)

  it("filters by run and by kind, and stops at close", function()
    local dir = test.temp_dir()
    local mine, agents = {}, {}
    local sub = run_events.subscribe(function(e) mine[#mine + 1] = e.kind end, { run_id = "R-0001" })
    local sub2 <close> = run_events.subscribe(function(e) agents[#agents + 1] = e.kind end, { prefix = "agent." })
    local other <close> = assert(telemetry.open(dir .. "/other", { run_id = "R-0002" }))
    local t <close> = assert(telemetry.open(dir .. "/run", { run_id = "R-0001" }))
    other:event("agent.message", {})
    t:event("agent.message", {})
    sub:close()
    t:event("run.finished", {})
    expect(table.concat(mine, " ")):equals("agent.message")
    expect(table.concat(agents, " ")):equals("agent.message agent.message")
    os.execute(("rm -rf %q"):format(dir))
  end)

  it("unsubscribes a subscriber that raises, keeps its error, and the run's recorder goes on", function()
    local dir = test.temp_dir()
    local after = 0
    local bad = run_events.subscribe(function() error("a surface's bug") end)
    local good <close> = run_events.subscribe(function() after = after + 1 end)
    local before = run_events.count()
    local t <close> = assert(telemetry.open(dir))
    expect(t:event("run.started", {})):equals(1)
    expect(t:event("run.finished", {})):equals(2)
    expect(tostring(bad:error())):matches("a surface's bug")
    expect(run_events.count()):equals(before - 1)
    expect(after):equals(2)
    os.execute(("rm -rf %q"):format(dir))
  end)

  it("refuses what is not a function or a filter table", function()
    expect(function() run_events.subscribe("print") end):raises("expected a function")
    expect(function() run_events.subscribe(print, "R-0001") end):raises("must be a table")
  end)
end)
