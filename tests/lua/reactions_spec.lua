-- stdlib/sidecar/task/reactions.lua: the reactions' settings, a failure's signature, the fix
-- prompt's section, the fix loop's brakes, the rounds' circuit breaker and the notice hook.
local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local reactions = require("sidecar.task.reactions")

local function failing(output, code)
  return { { kind = "test", command = "make test", exit_code = code or 1, output = output } }
end

-- A store holding runs in memory, as much of one as the fix loop uses.
local function fake_store()
  local runs = {}
  return {
    runs = runs,
    get_run = function(_, id) return runs[id] end,
    update_run = function(_, r) runs[r.run_id] = r return r end,
  }
end

-- A run record: its validation (ok or a failing output) and its worktree's start and result.
local function run_of(s, id, output, changed)
  local r = { run_id = id, status = output and "blocked" or "review",
    validation = { { kind = "test", command = "make test", ok = output == nil, exit_code = output and 1 or 0,
      output_snippet = output or "ok" } },
    worktree = { start_tree = "t0", result_tree = changed == false and "t0" or ("t-" .. id) } }
  s.runs[id] = r
  return r
end

-- The fix loop over a fake store whose replays give `outputs` in turn (nil: validation passes;
-- false: a replay that changed nothing and failed the same way as given in `same`).
local function loop(outputs, retries)
  local s, n, replays = fake_store(), 1, {}
  local first = run_of(s, "R-1", "FAIL x in 12ms")
  local h = {
    progress = function() end,
    replay = function(parent, section, reason)
      n = n + 1
      replays[#replays + 1] = { parent = parent.run_id, section = section, reason = reason }
      local o = outputs[n - 1]
      if o == "no start" then
        return nil, "the runner is gone"
      end
      if o == nil then
        return run_of(s, "R-" .. n, nil)
      end
      return run_of(s, "R-" .. n, o or "FAIL x in 3ms", o ~= false)
    end,
  }
  local last = reactions.react(s, { reactions = { validation_failed = { action = "fix", retries = retries or 2 } } },
    first, h)
  return last, replays, s
end

describe("reactions: settings", function()
  it("takes the events and actions it knows", function()
    expect(reactions.check("reactions", { validation_failed = { action = "fix", retries = 0 },
      blocked = { action = "escalate" }, stuck = { action = "notify" } })):is_true()
  end)
  it("refuses an unknown event, action or setting, naming where", function()
    local _, why = reactions.check("reactions", { on_fire = { action = "notify" } })
    expect(why):equals("reactions.on_fire: unknown event (known: blocked, stuck, validation_failed)")
    _, why = reactions.check("reactions", { stuck = { action = "fix" } })
    expect(why):equals('reactions.stuck.action: expected one of none, notify, got "fix"')
    _, why = reactions.check("reactions", { blocked = { action = "escalate", retries = 2 } })
    expect(why):equals("reactions.blocked.retries: unknown setting (known: action)")
    _, why = reactions.check("reactions", { validation_failed = { action = "fix", retries = 1.5 } })
    expect(why):contains("retries: expected a whole number 0 or more")
    _, why = reactions.check("reactions", { validation_failed = "fix" })
    expect(why):equals("reactions.validation_failed: expected a table { action = ... }, got string")
    _, why = reactions.check("reactions", true)
    expect(why):contains("expected a table such as")
  end)
end)

describe("reactions: a failure's signature", function()
  it("is the same when only durations, addresses and temporary paths differ", function()
    local a = reactions.signature(failing("FAIL parse in 12ms at 0xdeadbeef\n/tmp/abc.1/x.c:3\nR-0001"))
    local b = reactions.signature(failing("FAIL  parse in 0.3 s at 0x1234\n/tmp/zz9/x.c:3\nR-0042"))
    expect(a):equals(b)
  end)
  it("differs with what failed, the command or its exit", function()
    local a = reactions.signature(failing("FAIL parse"))
    expect(reactions.signature(failing("FAIL lex"))):not_equals(a)
    expect(reactions.signature(failing("FAIL parse", 2))):not_equals(a)
  end)
  it("takes hostile output: invalid UTF-8, escapes, a huge text", function()
    local hostile = "\255\254\27[31mFAIL\27]0;x\7" .. ("x"):rep(1000000)
    expect(reactions.signature(failing(hostile))):equals(reactions.signature(failing(hostile)))
  end)
end)

describe("reactions: the fix prompt's section", function()
  it("carries the tail of each failing step, redacted", function()
    local token = "ghp_" .. ("a1B2c3D4e5"):rep(4):sub(1, 36)
    local lines = {}
    for i = 1, 100 do
      lines[i] = "line " .. i
    end
    local text = reactions.fix_section(failing(table.concat(lines, "\n") .. "\nleaked " .. token), 1, 2, "R-0001")
    expect(text):contains("## Validation failed")
    expect(text):contains("run R-0001")
    expect(text):contains("### test: `make test` (exit 1)")
    expect(text):contains("line 100")
    expect(text:find("line 50\n", 1, true)):is_nil() -- only the last OUTPUT_LINES lines
    expect(text:find(token, 1, true)):is_nil()
  end)
  it("never passes an escape sequence on raw", function()
    local text = reactions.fix_section(failing("FAIL \27[31mred\27]0;title\7 \255"), 1, 2, "R-0001")
    expect(text:find("\27", 1, true)):is_nil()
    expect(text):contains("^[[31mred")
  end)
end)

describe("reactions: the fix loop", function()
  it("stops after one fix when the same failure repeats", function()
    local last, replays = loop({ "FAIL x in 999ms", "FAIL other" })
    expect(#replays):equals(1)
    expect(last.run_id):equals("R-2")
    expect(last.reaction.stopped):equals("same failure repeated")
    expect(replays[1].parent):equals("R-1")
    expect(replays[1].section):contains("FAIL x in 12ms")
  end)
  it("ends with the fixed run, every attempt recorded", function()
    local last, replays, s = loop({ "FAIL y", nil })
    expect(#replays):equals(2)
    expect(last.status):equals("review")
    expect(last.reaction.stopped):equals("fixed")
    expect(s.runs["R-1"].reaction.attempts):equals({ "R-1", "R-2", "R-3" })
    expect(s.runs["R-1"].reaction.stopped):is_nil()
    expect(replays[2].parent):equals("R-2")
  end)
  it("trips the circuit breaker on an attempt that changed nothing", function()
    local last, replays = loop({ false })
    expect(#replays):equals(1)
    expect(last.reaction.stopped):equals("no change")
  end)
  it("stops at the retries when the failure keeps changing", function()
    local last, replays = loop({ "FAIL a", "FAIL b", "FAIL c" }, 2)
    expect(#replays):equals(2)
    expect(last.reaction.stopped):equals("retries exhausted")
  end)
  it("says why when a fix run cannot start", function()
    local last = loop({ "no start" })
    expect(last.run_id):equals("R-1")
    expect(last.reaction.stopped):equals("the fix run could not start: the runner is gone")
  end)
  it("does nothing without a reaction, or with retries 0", function()
    local s = fake_store()
    local r = run_of(s, "R-1", "FAIL")
    expect(reactions.react(s, {}, r, {}).reaction):is_nil()
    local last, replays = loop({ "FAIL a" }, 0)
    expect(#replays):equals(0)
    expect(last.reaction.stopped):equals("retries exhausted")
  end)
  it("escalates a run blocked for another reason, never retrying it", function()
    local s = fake_store()
    local r = { run_id = "R-1", status = "blocked", blockers = { "made commits" }, validation = {} }
    local replayed = false
    local out = reactions.react(s, { reactions = { blocked = { action = "escalate" } } }, r,
      { progress = function() end, replay = function() replayed = true end })
    expect(replayed):is_false()
    expect(out.reaction.needs_person):is_true()
    expect(out.reaction.reason):equals("made commits")
  end)
  it("with notify, sends the notice only", function()
    local s = fake_store()
    local r = { run_id = "R-1", status = "blocked", blockers = { { reason = "asked a question" } }, validation = {} }
    local out = reactions.react(s, { reactions = { blocked = { action = "notify" } } }, r, { progress = function() end })
    expect(out.reaction.needs_person):is_nil()
    expect(out.reaction.blocked):equals("notify")
    expect(out.reaction.reason):equals("asked a question")
  end)
end)

-- The same loop one step at a time (reactions.react_step, as for Slurm runs): each fix run is
-- submitted (queued), then ended with the next of `outputs` and stepped again. Returns the store,
-- the submissions, and the records as they were after the first step.
local function stepped(outputs, retries)
  local s, n, submits, first_step = fake_store(), 1, {}, nil
  local cfg = { reactions = { validation_failed = { action = "fix", retries = retries or 2 } } }
  local run = run_of(s, "R-1", "FAIL x in 12ms")
  local h = { progress = function() end, submit = function(parent, section, reason)
    n = n + 1
    submits[#submits + 1] = { parent = parent.run_id, section = section, reason = reason }
    if outputs[n - 1] == "no start" then
      return nil, "the runner is gone"
    end
    s.runs["R-" .. n] = { run_id = "R-" .. n, status = "queued", parent_run_id = parent.run_id }
    return s.runs["R-" .. n]
  end }
  while run do
    local fixed = reactions.react_step(s, cfg, run, h)
    first_step = first_step or { reaction = s.runs["R-1"].reaction and
      { fix_run = s.runs["R-1"].reaction.fix_run, retries = s.runs["R-1"].reaction.retries } }
    run = nil
    if fixed then
      local o = outputs[n - 1] -- as loop's replays end
      if o == nil then
        run = run_of(s, fixed.run_id, nil)
      else
        run = run_of(s, fixed.run_id, o or "FAIL x in 3ms", o ~= false)
      end
      run.parent_run_id = fixed.parent_run_id
    end
  end
  return s, submits, first_step
end

describe("reactions: one step at a time (runs whose fix runs end elsewhere)", function()
  for _, case in ipairs({
    { "same failure repeated", { "FAIL x in 999ms", "FAIL other" } },
    { "fixed", { "FAIL y", nil } },
    { "no change", { false } },
    { "retries exhausted", { "FAIL a", "FAIL b", "FAIL c" } },
    { "could not start", { "no start" } },
  }) do
    it("gives the loop's records and prompts: " .. case[1], function()
      local _, replays, looped = loop(case[2])
      local s, submits = stepped(case[2])
      expect(#submits):equals(#replays)
      for i, r in ipairs(replays) do
        expect(submits[i]):equals(r)
      end
      for id, r in pairs(looped.runs) do
        expect(s.runs[id].reaction):equals(r.reaction)
      end
    end)
  end
  it("records the loop under way on the run, which the fix run's step goes on from", function()
    local _, _, first = stepped({ "FAIL y", nil })
    expect(first.reaction):equals({ fix_run = "R-2", retries = 2 })
  end)
  it("escalates a blocked run once the loop gave up", function()
    local s, n = fake_store(), 1
    local cfg = { reactions = { validation_failed = { action = "fix", retries = 1 }, blocked = { action = "escalate" } } }
    local h = { progress = function() end, submit = function(parent)
      n = n + 1
      s.runs["R-" .. n] = { run_id = "R-" .. n, status = "queued", parent_run_id = parent.run_id }
      return s.runs["R-" .. n]
    end }
    local fixed = reactions.react_step(s, cfg, run_of(s, "R-1", "FAIL a"), h)
    expect(s.runs["R-1"].reaction.needs_person):is_nil()
    local second = run_of(s, fixed.run_id, "FAIL b")
    second.parent_run_id = "R-1"
    expect(reactions.react_step(s, cfg, second, h)):is_nil()
    expect(s.runs["R-2"].reaction.stopped):equals("retries exhausted")
    expect(s.runs["R-2"].reaction.needs_person):is_true()
    expect(s.runs["R-1"].reaction.fix_run):is_nil()
  end)
  it("takes a hand-edited loop record for none, and bad retries for the default", function()
    local s = fake_store()
    s.runs["R-0"] = { run_id = "R-0", reaction = { fix_run = "R-5", attempts = { 1, {} } } }
    local r = run_of(s, "R-5", nil)
    r.parent_run_id = "R-0"
    expect(reactions.react_step(s, { reactions = {} }, r, {})):is_nil()
    expect(r.reaction):is_nil()
    s.runs["R-0"].reaction = { fix_run = "R-5", attempts = { "R-0", "R-5" }, retries = "lots" }
    s.runs["R-0"].validation = { { ok = false, kind = "test", command = "t", exit_code = 1, output_snippet = "A" } }
    r = run_of(s, "R-5", "FAIL b")
    r.parent_run_id = "R-0"
    local fixed = reactions.react_step(s, {}, r, { progress = function() end, submit = function()
      return { run_id = "R-6" }
    end })
    expect(fixed.run_id):equals("R-6")
    expect(r.reaction.retries):equals(reactions.DEFAULT_RETRIES)
  end)
  it("does nothing to a run no reaction applies to, nor to a replay the loop did not start", function()
    local s = fake_store()
    local r = run_of(s, "R-1", nil)
    expect(reactions.react_step(s, { reactions = { validation_failed = { action = "fix" } } }, r, {})):is_nil()
    expect(r.reaction):is_nil()
    s.runs["R-0"] = { run_id = "R-0", reaction = { fix_run = "R-9", attempts = { "R-0", "R-9" } } }
    local other = run_of(s, "R-5", nil)
    other.parent_run_id = "R-0"
    expect(reactions.react_step(s, { reactions = {} }, other, {})):is_nil()
    expect(other.reaction):is_nil()
  end)
end)

describe("reactions: rounds without progress", function()
  it("a round that changed no file and said nothing new made no progress", function()
    expect(reactions.no_progress(2, 0, { "Read the code" }, { "Read the code" }))
      :equals("no progress: iteration 2 changed no file and reported nothing new")
    expect(reactions.no_progress(1, 0, {}, nil)):exists()
  end)
  it("a changed file or a new progress line is progress", function()
    expect(reactions.no_progress(2, 1, {}, {})):is_nil()
    expect(reactions.no_progress(2, 0, { "Wrote the parser" }, { "Read the code" })):is_nil()
  end)
end)

describe("reactions: notices", function()
  it("runs the config's notify command with the event, or says there is none", function()
    local sent, why = reactions.notify({}, "blocked", "R-1", "x")
    expect(sent):is_false()
    expect(why):contains("no notify command")
    local out = os.tmpname()
    sent = reactions.notify({ notify = 'printf "%s %s %s" "$SIDECAR_EVENT" "$SIDECAR_RUN" "$SIDECAR_MESSAGE" > ' .. out },
      "stuck", "R-7", "no output for 5m")
    local f = assert(io.open(out))
    local text = f:read("a")
    f:close()
    os.remove(out)
    expect(sent):is_true()
    expect(text):equals("stuck R-7 no output for 5m")
  end)
end)
