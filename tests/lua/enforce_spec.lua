local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local schema = require("sidecar.preset.schema")

local answers = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "../fixtures/schema/answers.lua")
local fixture = answers.fixture

local FINDINGS = schema.formats.findings

-- A fake agent: answers the given texts in turn and records the suffix of each call.
local function agent(...)
  local answers, calls = { ... }, {}
  local function run(suffix)
    calls[#calls + 1] = { suffix = suffix }
    local a = answers[#calls]
    if type(a) == "table" then
      return table.unpack(a)
    end
    return a
  end
  return run, calls
end

local GOOD = '```json\n{"findings": [{"file": "a.c", "line": 3, "severity": "high", "claim": "x"}]}\n```'
local BAD = '{"findings": [{"file": "a.c", "line": 3, "severity": "high", "claim": "x"}, '
  .. '{"file": "b.c", "severity": "urgent", "claim": "y"}]}'

describe("schema.enforce", function()
  it("succeeds on the first answer with one call", function()
    local run, calls = agent(GOOD)
    local r = schema.enforce(run, FINDINGS)
    expect(r):equals({ ok = true, attempts = 1,
      value = { findings = { { file = "a.c", line = 3, severity = "high", claim = "x" } } } })
    expect(calls):equals({ {} })
  end)

  it("re-prompts once, naming the problems, and takes the second answer", function()
    local run, calls = agent(BAD, GOOD)
    local r = schema.enforce(run, FINDINGS)
    expect(r.ok):is_true()
    expect(r.attempts):equals(2)
    expect(#calls):equals(2)
    expect(calls[1].suffix):is_nil()
    expect(calls[2].suffix):equals(table.concat({
      "",
      "",
      "Your previous answer did not match the required format:",
      '- findings[2].severity: expected one of critical, high, medium, low, info, got "urgent"',
      "Reply again with only the corrected answer: one JSON value in a single ```json block, and no other text.",
      "",
    }, "\n"))
  end)

  it("escalates after the second failure, with exactly two calls", function()
    local run, calls = agent(BAD, "Sorry, here it is: {not json")
    local r = schema.enforce(run, FINDINGS)
    expect(#calls):equals(2)
    expect(r):equals({ ok = false, escalate = true, attempts = 2, raw = "Sorry, here it is: {not json",
      problems = { { path = "", message = "no JSON found: the answer is not JSON and has no ```json block, "
        .. "fenced block or {...} / [...] that is valid JSON" } } })
  end)

  it("never re-prompts more than once, even when every answer is wrong", function()
    local run, calls = agent(BAD, BAD, GOOD, GOOD)
    local r = schema.enforce(run, FINDINGS)
    expect(#calls):equals(2)
    expect(r.ok):is_false()
    expect(r.problems[1].path):equals("findings[2].severity")
  end)

  it("stops at once when the agent run itself fails", function()
    local run, calls = agent({ nil, "timed out after 600 s" })
    local r = schema.enforce(run, FINDINGS)
    expect(#calls):equals(1)
    expect(r):equals({ ok = false, escalate = true, attempts = 1, error = "timed out after 600 s",
      problems = { { path = "", message = "the agent run failed: timed out after 600 s" } } })
    run, calls = agent(BAD, { nil, "killed" })
    r = schema.enforce(run, FINDINGS)
    expect({ #calls, r.attempts, r.error }):equals({ 2, 2, "killed" })
  end)

  it("enforces the markdown formats with their own specs and reply", function()
    local broken = fixture("precommit.md"):gsub("%*%*Path:%*%* Code", "**Path:** Medium")
    local run, calls = agent(broken, fixture("precommit.md"))
    local r = schema.enforce(run, nil, { format = "precommit" })
    expect({ r.ok, r.attempts, r.value.path }):equals({ true, 2, "code" })
    expect(calls[2].suffix):contains('- path: expected one of fast, skill, code, risk, got "medium"\n'
      .. "Reply again with only the corrected `# Precommit Classification` report")
    run, calls = agent(fixture("personalization.md"))
    r = schema.enforce(run, nil, { format = "personalization" })
    expect({ r.ok, r.attempts, #calls }):equals({ true, 1, 1 })
  end)

  it("raises on wrong arguments", function()
    expect(function() schema.enforce("run", FINDINGS) end):raises("schema.enforce: run_fn must be a function")
    expect(function() schema.enforce(function() end, nil) end):raises("schema.enforce: spec must be a table")
    expect(function() schema.enforce(function() end, FINDINGS, { format = "yaml" }) end)
      :raises('schema.enforce: unknown format "yaml"')
    expect(function() schema.enforce(function() return 42 end, FINDINGS) end)
      :raises("run_fn must return the answer text or nil, why; got number")
  end)
end)

describe("schema.enforce", function()
  it("is enforce.enforce, its errors naming the caller's line", function()
    local run, calls = agent(BAD, GOOD)
    local r = schema.enforce(run, FINDINGS)
    expect({ r.ok, r.attempts, #calls }):equals({ true, 2, 2 })
    local err = expect(function() schema.enforce("run", FINDINGS) end):raises("schema.enforce: run_fn must be a function")
    expect(tostring(err)):matches("enforce_spec%.lua:%d+")
  end)
end)

describe("schema.read and schema.reprompt", function()
  it("reads JSON or a markdown format, and says why there is nothing", function()
    expect(schema.read('Here: {"a": 1}')):equals({ a = 1 })
    expect({ schema.read("no json here") }):equals({ nil, "no JSON found: the answer is not JSON and has no "
      .. "```json block, fenced block or {...} / [...] that is valid JSON" })
    expect(schema.read(fixture("precommit.md"), "precommit").path):equals("code")
    expect(#schema.read(fixture("personalization.md"), "personalization").recommended_writeback):equals(3)
    expect(function() schema.read("x", "yaml") end)
      :raises('schema.read: unknown format "yaml" (formats: json, precommit, personalization)')
  end)

  it("asks for the format's own reply, listing every problem", function()
    local problems = { { path = "", message = "the answer is empty" } }
    expect(schema.reprompt(problems, "personalization")):equals("\n\nYour previous answer did not match the "
      .. "required format:\n- (the whole answer): the answer is empty\nReply again with only the corrected "
      .. "`# Personalization Candidates` report, with its four sections and tables in the required format, and no "
      .. "other text.\n")
    expect(schema.reprompt(problems)):contains("one JSON value in a single ```json block")
  end)
end)
