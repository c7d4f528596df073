local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local schema = require("sidecar.preset.schema")
local json = require("sidecar.core.json")

-- Fixtures sit beside this spec's folder, wherever the spec is run from.
local HERE = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local FIXTURES = HERE .. "../fixtures/schema/"

local function fixture(name)
  local f = assert(io.open(FIXTURES .. name, "rb"))
  local text = f:read("a")
  f:close()
  return text
end

local SEVERITIES = { "critical", "high", "medium", "low", "info" }

local FINDINGS = {
  type = "object",
  fields = {
    findings = {
      type = "array", required = true, min_items = 1,
      items = {
        type = "object",
        fields = {
          file = { type = "string", required = true },
          line = { type = "integer", min = 1 },
          severity = { type = "string", enum = SEVERITIES, required = true },
          claim = { type = "string", non_empty = true, required = true },
        },
      },
    },
  },
}

local function problems_of(value, spec)
  local ok, problems = schema.check(value, spec)
  expect(ok):is_nil()
  return problems
end

describe("schema.check", function()
  it("accepts a value that matches", function()
    expect(schema.check({ findings = { { file = "a.c", line = 3, severity = "high", claim = "x" } } }, FINDINGS)):is_true()
    expect(schema.check(json.decode('{"findings": [{"file": "a.c", "severity": "info", "claim": "x"}]}'), FINDINGS))
      :is_true()
  end)

  it("collects every problem, with nested paths counted from 1", function()
    local value = { findings = {
      { file = "a.c", line = 3, severity = "high", claim = "fine" },
      { file = "b.c", line = "12", severity = "urgent", claim = "  " },
      { line = 0, severity = "low", claim = "x", extra = true },
    } }
    expect(problems_of(value, FINDINGS)):equals({
      { path = "findings[2].claim", message = 'expected a non-empty string, got "  "' },
      { path = "findings[2].line", message = 'expected an integer, got "12"' },
      { path = "findings[2].severity", message = 'expected one of critical, high, medium, low, info, got "urgent"' },
      { path = "findings[3].file", message = "required field missing" },
      { path = "findings[3].line", message = "expected an integer >= 1, got 0" },
      { path = "findings[3].extra", message = "unknown field (known: claim, file, line, severity)" },
    })
  end)

  it("checks each type and says what it got", function()
    local cases = {
      { { type = "string" }, 3, "expected a string, got 3" },
      { { type = "integer" }, 12.0, "expected an integer, got 12.0" },
      { { type = "integer" }, "7", 'expected an integer, got "7"' },
      { { type = "number" }, "1.5", 'expected a number, got "1.5"' },
      { { type = "number", min = 0, max = 1 }, 1.5, "expected a number between 0 and 1, got 1.5" },
      { { type = "integer", max = 10 }, 11, "expected an integer <= 10, got 11" },
      { { type = "boolean" }, "true", 'expected true or false, got "true"' },
      { { type = "enum", enum = { "a", "b" } }, "c", 'expected one of a, b, got "c"' },
      { { type = "enum", enum = { 1, 2 } }, 3, "expected one of 1, 2, got 3" },
      { { type = "array" }, { a = 1 }, "expected an array, got an object" },
      { { type = "array" }, json.decode("{}"), "expected an array, got an object" },
      { { type = "object" }, { 1, 2 }, "expected an object, got an array" },
      { { type = "object" }, json.decode("[]"), "expected an object, got an array" },
      { { type = "object" }, { 1, x = 2 }, "expected an object, got a table with mixed keys" },
      { { type = "string" }, json.null, "expected a string, got null" },
      { { type = "string" }, nil, "expected a string, got nothing" },
      { { type = "string", pattern = "^%u" }, "lower", 'expected a string matching ^%u, got "lower"' },
      { { type = "string", pattern = "^%u", what = "a capitalised subject" }, "lower",
        'expected a capitalised subject, got "lower"' },
      { { type = "integer" }, ("x"):rep(100), 'expected an integer, got "' .. ("x"):rep(57) .. '..."' },
      { { type = "integer" }, "two\nlines", 'expected an integer, got "two\\nlines"' },
    }
    for _, c in ipairs(cases) do
      local problems = problems_of(c[2], c[1])
      expect({ c[1].type, problems }):equals({ c[1].type, { { path = "", message = c[3] } } })
    end
  end)

  it("accepts an empty table as an empty array or object", function()
    expect(schema.check({}, { type = "array" })):is_true()
    expect(schema.check({}, { type = "object" })):is_true()
    expect(schema.check(json.decode("[]"), { type = "array" })):is_true()
  end)

  it("counts items", function()
    expect(problems_of({}, FINDINGS)):equals({ { path = "findings", message = "required field missing" } })
    expect(problems_of({ findings = {} }, FINDINGS))
      :equals({ { path = "findings", message = "expected at least 1 item, got 0" } })
    expect(problems_of({ 1, 2, 3 }, { type = "array", max_items = 2 }))
      :equals({ { path = "", message = "expected at most 2 items, got 3" } })
  end)

  it("treats null as absent on optional fields, unless the field is required", function()
    local spec = { type = "object", fields = { a = { type = "string" }, b = { type = "string", required = true } } }
    expect(problems_of(json.decode('{"a": null, "b": null}'), spec))
      :equals({ { path = "b", message = "required field is null" } })
    local nullable = { type = "array", items = { type = "integer", nullable = true } }
    expect(schema.check(json.decode("[1, null, 3]"), nullable)):is_true()
    expect(problems_of(json.decode("[1, null]"), { type = "array", items = { type = "integer" } }))
      :equals({ { path = "[2]", message = "expected an integer, got null" } })
  end)

  it("allows unknown fields only with additional = true", function()
    local spec = { type = "object", fields = { a = { type = "integer" } } }
    expect(problems_of({ a = 1, b = 2, ["odd key"] = 3 }, spec)):equals({
      { path = "b", message = "unknown field (known: a)" },
      { path = '["odd key"]', message = "unknown field (known: a)" },
    })
    spec.additional = true
    expect(schema.check({ a = 1, b = 2 }, spec)):is_true()
  end)

  it("runs a cross-field check once the value is otherwise clean", function()
    local calls = 0
    local spec = { type = "object", fields = { from = { type = "integer" }, to = { type = "integer" } },
      check = function(v)
        calls = calls + 1
        if v.to < v.from then
          return "ends before it starts", "to"
        end
      end }
    expect(problems_of({ range = { from = 5, to = 2 } }, { type = "object", fields = { range = spec } }))
      :equals({ { path = "range.to", message = "ends before it starts" } })
    expect(problems_of({ from = "5", to = 2 }, spec)):equals({ { path = "from", message = 'expected an integer, got "5"' } })
    expect(calls):equals(1)
  end)

  it("raises on a bad spec", function()
    expect(function() schema.check(1, "integer") end):raises("schema.check: spec must be a table, got string")
    expect(function() schema.check(1, { type = "int" }) end)
      :raises('schema.check: bad spec at the top: unknown type "int" (types: object, array, string, integer')
    expect(function() schema.check({ a = 1 }, { type = "object", fields = { a = { type = "enum" } } }) end)
      :raises("bad spec at a: type enum needs an `enum` list")
    expect(function() schema.check({ 1 }, { type = "array", items = {} }) end):raises("bad spec at [1]: unknown type nothing")
  end)
end)

describe("schema.format_problems", function()
  it("writes one line per problem and cuts long lists", function()
    expect(schema.format_problems({
      { path = "findings[2].severity", message = 'expected one of a, b, got "c"' },
      { path = "", message = "the answer is empty" },
    })):equals('- findings[2].severity: expected one of a, b, got "c"\n- (the whole answer): the answer is empty')
    local many = {}
    for i = 1, 25 do
      many[i] = { path = "x[" .. i .. "]", message = "bad" }
    end
    local text = schema.format_problems(many)
    expect(select(2, text:gsub("\n", ""))):equals(20)
    expect(text):contains("- x[20]: bad\n- ... and 5 more")
    expect(function() schema.format_problems("x") end):raises("expected a list of problems")
  end)
end)

describe("schema.extract_json", function()
  local function extract(text)
    return { schema.extract_json(text) }
  end

  it("takes the whole text when it is JSON", function()
    expect(extract('  {"a": 1}\n')):equals({ { a = 1 }, "text" })
    expect(extract("[1, 2]")):equals({ { 1, 2 }, "text" })
    expect(extract("false")):equals({ false, "text" })
    expect(schema.extract_json("null")):is(json.null)
  end)

  it("takes a ```json block out of the prose around it", function()
    expect(extract('Here is my review.\n\n```json\n{"ok": true}\n```\n\nThanks!')):equals({ { ok = true }, "json block" })
    expect(extract('Done:\r\n```JSON\r\n{"ok": true}\r\n```\r\n')):equals({ { ok = true }, "json block" })
    expect(extract('- item\n  ```json\n  {"nested": 1}\n  ```\n')):equals({ { nested = 1 }, "json block" })
  end)

  it("takes the last of two ```json blocks", function()
    local value, where = schema.extract_json(fixture("messy_answer.md"))
    expect(where):equals("json block")
    expect(#value.findings):equals(2)
    expect(value.findings[1].line):equals(42)
    expect(value.findings[2].line):is(json.null)
    expect(schema.check(value, schema.formats.findings)):is_true()
  end)

  it("answers the decode error when the last ```json block is broken", function()
    local value, why = schema.extract_json('```json\n{"a": 1}\n```\nfixed:\n```json\n{"a": 1,}\n```')
    expect(value):is_nil()
    expect(why):matches("^the last ```json block is not valid JSON: invalid JSON at line 1")
  end)

  it("falls back to the last fenced block that decodes, then to a span", function()
    expect(extract("```\n[1]\n```\n```sh\nmake test\n```")):equals({ { 1 }, "block" })
    expect(extract("~~~\n{\"t\": 1}\n~~~")):equals({ { t = 1 }, "block" })
    expect(extract('My answer is {"a": {"b": [1, "}"]}} as requested.')):equals({ { a = { b = { 1, "}" } } }, "span" })
    expect(extract('See [the docs] and {"x": 1}; footnote [1].')):equals({ { x = 1 }, "span" })
    expect(extract('Prose with { an unclosed brace, then [{"k": "v"}] here.')):equals({ { { k = "v" } }, "span" })
    expect(extract("```\nnot json\n```\nbut {\"late\": true}")):equals({ { late = true }, "span" })
  end)

  it("says why when there is no JSON", function()
    expect(extract("I could not finish the review.")):equals({ nil,
      "no JSON found: the answer is not JSON and has no ```json block, fenced block or {...} / [...] that is valid JSON" })
    expect(extract("  \n")):equals({ nil, "the answer is empty" })
    expect(extract(("[x"):rep(5000))[1]):is_nil()
    expect(function() schema.extract_json(nil) end):raises("schema.extract_json: expected a string, got nil")
  end)
end)

describe("schema.parse_markdown: precommit (docs/formats.md §2)", function()
  it("reads the classification bullets into fields that check clean", function()
    local value = schema.parse_markdown(fixture("precommit.md"), "precommit")
    expect(value):equals({
      path = "code",
      confidence = "medium",
      changed_files = { "stdlib/sidecar/preset/merge.lua", "stdlib/sidecar/preset/schema.lua", "tests/lua/merge_spec.lua" },
      why_this_path = "new Lua modules with their specs; executable code changes,\nno branch or release operations.",
      minimal_validation = { "sidecar test tests/lua/merge_spec.lua tests/lua/schema_spec.lua" },
      reinstall_needed = "no",
      commit_scope_risk = "low: only new files, nothing staged by others.",
      blockers = {},
      suggested_commit_message = "merge and schema: combine worker findings, check structured answers\n\n"
        .. "One re-prompt at most, then escalate.",
    })
    expect(schema.check(value, schema.formats.precommit)):is_true()
  end)

  it("reads inline lists, the reinstall forms and a one-line commit message", function()
    local value = schema.parse_markdown(table.concat({
      "# Precommit Classification",
      "Path: RISK (touches release tags)",
      "Confidence: High.",
      "Changed files: a.md, `b/c.lua`",
      "Why this path: tags",
      "Minimal validation: `make check`",
      "Reinstall needed: yes, specific skills: sidecar-task-runner, `codex-orchestration`",
      "Commit scope risk: high",
      "Blockers: release needs approval",
      'Suggested commit message: `release: tag v1.2`',
      "Notes: an extra bullet is ignored",
    }, "\n"), "precommit")
    expect(value):equals({
      path = "risk", confidence = "high", changed_files = { "a.md", "b/c.lua" }, why_this_path = "tags",
      minimal_validation = { "make check" }, reinstall_needed = "specific",
      reinstall_skills = { "sidecar-task-runner", "codex-orchestration" }, commit_scope_risk = "high",
      blockers = { "release needs approval" }, suggested_commit_message = "release: tag v1.2",
    })
    expect(schema.check(value, schema.formats.precommit)):is_true()
    local full = schema.parse_markdown("- Reinstall needed: Yes, full install", "precommit")
    expect(full.reinstall_needed):equals("full")
  end)

  it("leaves wrong values in place so the check names them", function()
    local value = schema.parse_markdown(table.concat({
      "- Path: Medium",
      "- Confidence: sure",
      "- Changed files: none",
      "- Why this path: ",
      "- Minimal validation: n/a",
      "- Reinstall needed: maybe later",
      "- Blockers: -",
    }, "\n"), "precommit")
    expect(problems_of(value, schema.formats.precommit)):equals({
      { path = "commit_scope_risk", message = "required field missing" },
      { path = "confidence", message = 'expected one of high, medium, low, got "sure"' },
      { path = "path", message = 'expected one of fast, skill, code, risk, got "medium"' },
      { path = "reinstall_needed",
        message = 'expected one of "no", "yes, specific skills: <names>", "yes, full install", got "maybe later"' },
      { path = "suggested_commit_message", message = "required field missing" },
      { path = "why_this_path", message = 'expected a non-empty string, got ""' },
    })
    expect(value.changed_files):equals({})
    expect(value.minimal_validation):equals({})
    expect(value.blockers):equals({})
  end)

  it("wants the skills named when the reinstall is specific", function()
    local text = fixture("precommit.md"):gsub("Reinstall needed:%*%* no", "Reinstall needed:** yes, specific skills")
    local value = schema.parse_markdown(text, "precommit")
    expect(value.reinstall_needed):equals("specific")
    expect(problems_of(value, schema.formats.precommit))
      :equals({ { path = "reinstall_needed", message = 'says "yes, specific skills" but names no skills' } })
  end)

  it("reads an answer wrapped in a ```markdown block, and nothing from an empty one", function()
    local wrapped = "Here it is:\n\n```markdown\n" .. fixture("precommit.md"):gsub("  ```text.-```\n", "  Add files\n")
      .. "```\n"
    local value = schema.parse_markdown(wrapped, "precommit")
    expect(value.path):equals("code")
    expect(value.suggested_commit_message):equals("Add files")
    expect(schema.parse_markdown("I did not classify anything.", "precommit")):equals({})
  end)
end)

describe("schema.parse_markdown: personalization (docs/formats.md §3)", function()
  it("reads the four sections, tables keyed by their headers", function()
    local value = schema.parse_markdown(fixture("personalization.md"), "personalization")
    expect(value):equals({
      recommended_writeback = {
        { preference = "Run the Lua specs before every commit", scope = "project", type = "workflow",
          confidence = "repeated", evidence = "seen in R-0003 and R-0007", suggested_target = "AGENTS.md",
          action = "write" },
        { preference = "Commit subjects start with the module name", scope = "project", type = "git",
          confidence = "user-stated", evidence = "said in the task brief", suggested_target = "AGENTS.md",
          action = "write" },
        { preference = "Prefers | as a table separator in notes", scope = "private-user", type = "writing",
          confidence = "observed", evidence = "one note", suggested_target = "memory", action = "defer" },
      },
      deferred = {
        { candidate = "Two-space indentation in Lua", reason_deferred = "seen in one file only",
          needed_evidence = "a second artifact" },
      },
      reject = {},
      privacy_notes = { "No raw logs or secrets are quoted.", "Evidence names runs, not their contents." },
    })
    expect(schema.check(value, schema.formats.personalization)):is_true()
  end)

  it("checks the enums and writes back only stated or repeated preferences", function()
    local text = fixture("personalization.md")
      :gsub("| project | workflow | repeated |", "| team | workflow | inferred |")
      :gsub("| `Git` |", "| `vcs` |")
    local value = schema.parse_markdown(text, "personalization")
    expect(problems_of(value, schema.formats.personalization)):equals({
      { path = "recommended_writeback[1].scope",
        message = 'expected one of private-user, project, public-skill-candidate, discard, got "team"' },
      { path = "recommended_writeback[2].type", message = 'expected one of workflow, writing, layout, figure-style, '
        .. 'code-review, git, compute, toolchain, collaboration, got "vcs"' },
    })
    value.recommended_writeback[1].scope = "project"
    value.recommended_writeback[2].type = "git"
    expect(problems_of(value, schema.formats.personalization)):equals({
      { path = "recommended_writeback[1].action", message = 'action "write" needs confidence user-stated or repeated '
        .. '(in at least two artifacts), got "inferred"; use defer instead' },
    })
  end)

  it("refuses evidence that quotes a secret", function()
    local text = fixture("personalization.md"):gsub("| one note |", "| token ghp_abcdefghijklmnopqrstuvwxyz0123456789 |")
    expect(problems_of(schema.parse_markdown(text, "personalization"), schema.formats.personalization)):equals({
      { path = "recommended_writeback[3].evidence",
        message = "quotes what looks like a secret (a key or token); name where the preference was seen instead" },
    })
  end)

  it("reports missing sections, renamed columns and bullets where a table belongs", function()
    local value = schema.parse_markdown(table.concat({
      "# Personalization Candidates",
      "## Recommended Writeback",
      "| Pref | Scope | Type | Confidence | Evidence | Suggested target | Action |",
      "|---|---|---|---|---|---|---|",
      "| Tabs | project | layout | user-stated | asked | .editorconfig | write |",
      "## Deferred",
      "- Prefers dark figures: seen once",
      "## Rejected",
      "- None",
    }, "\n"), "personalization")
    expect(value.reject):equals({})
    expect(problems_of(value, schema.formats.personalization)):equals({
      { path = "deferred", message = 'expected a table with columns Candidate | Reason deferred | Needed evidence, '
        .. 'got "- Prefers dark figures: seen once"' },
      { path = "privacy_notes", message = "required field missing" },
      { path = "recommended_writeback[1].preference", message = "required field missing" },
      { path = "recommended_writeback[1].pref",
        message = "unknown field (known: action, confidence, evidence, preference, scope, suggested_target, type)" },
    })
  end)

  it("reads a section that says none as an empty list and ignores other sections", function()
    local value = schema.parse_markdown(table.concat({
      "## Summary", "Nothing much.",
      "## Recommended Writeback", "None.",
      "## Deferred", "_None_",
      "## Reject", "",
      "## Privacy Notes", "None",
      "```", "## Deferred", "```",
    }, "\n"), "personalization")
    expect(value):equals({ recommended_writeback = {}, deferred = {}, reject = {}, privacy_notes = {} })
    expect(schema.check(value, schema.formats.personalization)):is_true()
  end)

  it("raises on an unknown format or a text that is not a string", function()
    expect(function() schema.parse_markdown("x", "changelog") end)
      :raises('schema.parse_markdown: unknown format "changelog" (formats: precommit, personalization)')
    expect(function() schema.parse_markdown(nil, "precommit") end):raises("expected a string, got nil")
  end)
end)

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

describe("schema.formats.findings", function()
  it("is the reviewers' answer that merge.combine reads", function()
    local value = assert(schema.extract_json(fixture("messy_answer.md")))
    expect(schema.check(value, schema.formats.findings)):is_true()
    local merge = require("sidecar.preset.merge")
    local merged = merge.combine({ { provenance = { worker = "w1" }, findings = value.findings } })
    expect(#merged):equals(2)
    expect(merged[2].line):is_nil()
  end)
end)
