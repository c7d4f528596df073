local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local prompt_kit = require("sidecar.prompt.kit")
local prompt = require("sidecar.prompt.compile")
local json = require("sidecar.core.json")

-- Stands for "leave this field out" in full().
local NONE = {}

-- Every task field given, then `extra` over them.
local function full(extra)
  local o = {
    goal = "The CRLF change in src/parse.c is correct and tested.",
    non_goals = { "Style nits", "The tokenizer" },
    constraints = { "C99 only" },
    pointers = { "src/parse.c", "tests/parse_test.c" },
    prior_decisions = { "A lone CR stays an error" },
    success_check = "Every CRLF test passes and no LF test changes.",
    inputs = { "git diff main", "src/", "tests/" },
    edits_allowed = false,
    output_path = ".agent/sidecars/t1/output.md",
    output_format = "Markdown",
    escalate_when = { "the fix needs a design decision", "a test needs the network" },
    privacy = prompt_kit.DEFAULT_PRIVACY,
    lens = "correctness",
  }
  for k, v in pairs(extra or {}) do
    if v == NONE then
      o[k] = nil
    else
      o[k] = v
    end
  end
  return o
end

local function titles(sections)
  local out = {}
  for i, s in ipairs(sections) do
    out[i] = s.title
  end
  return out
end

local function codes(warnings)
  local out = {}
  for i, w in ipairs(warnings) do
    out[i] = w.code
  end
  return out
end

local function lines(text)
  local out = {}
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    out[#out + 1] = line
  end
  return out
end

-- The fenced JSON block of a text, decoded.
local function json_block(text)
  return json.decode(assert(text:match("```json\n(.-)\n```"), "no JSON block"))
end

local PACK = { "Goal", "Non-goals", "Constraints", "Pointers", "Prior decisions", "Success check" }

describe("prompt_kit.context_pack", function()
  it("gives the six sections of the Context Pack, in order", function()
    local sections = prompt_kit.context_pack(full())
    expect(titles(sections)):equals(PACK)
    expect(sections[1].content):equals("The CRLF change in src/parse.c is correct and tested.")
    expect(sections[2].list):equals({ "Style nits", "The tokenizer" })
    expect(sections[6].content):equals("Every CRLF test passes and no LF test changes.")
  end)

  it("requires Goal and Success check, keeps Non-goals whole, trims Pointers and can drop Prior decisions", function()
    local s = prompt_kit.context_pack(full())
    expect(s[1].required):is_true()
    expect(s[6].required):is_true()
    expect(s[2].trim):equals("keep")
    expect({ s[3].trim, s[3].label }):equals({ "trim-last", "constraints" })
    expect({ s[4].trim, s[4].label, s[4].limit, s[4].strict_limit }):equals({ "trim-last", "pointers", 12, 5 })
    expect({ s[5].trim, s[5].required }):equals({ "drop", nil })
  end)

  it("takes a string for a list field and a list for the success check", function()
    local s = prompt_kit.context_pack({ goal = "g", non_goals = "no rewrites", success_check = { "tests pass", "docs" } })
    expect(s[2].list):equals({ "no rewrites" })
    expect(s[3].list):equals({})
    expect({ s[6].list, s[6].trim, s[6].content }):equals({ { "tests pass", "docs" }, "keep", nil })
  end)

  it("raises on fields of the wrong type", function()
    expect(function() prompt_kit.context_pack("goal") end):raises("expected a table")
    expect(function() prompt_kit.context_pack({ goal = 3 }) end):raises("goal must be a string")
    expect(function() prompt_kit.context_pack({ pointers = 3 }) end):raises("pointers must be a string or a list")
  end)
end)

describe("prompt_kit.worker_preamble", function()
  it("begins with the line CONTEXT: WORKER and states each boundary on its own labelled line", function()
    local text = prompt_kit.worker_preamble({ role = "scout", edits_allowed = false, inputs = { "src/", "git log" },
      output_path = "out/scout.md", output_format = "Markdown", escalate_when = { "a file is missing" },
      privacy = "Quote no secrets." })
    local l = lines(text)
    expect(l[1]):equals("CONTEXT: WORKER")
    expect(l[2]):matches("^ROLE: scout%. An orchestrator started you")
    expect(l[3]):matches("^RULES: Do only this task")
    expect(l[3]):contains("no other workers or sub-agents")
    expect(l[4]):matches("^EDITS: none; this run is read%-only%.")
    expect({ l[5], l[6], l[7] }):equals({ "INPUTS: you may inspect these and nothing else:", "- src/", "- git log" })
    expect(l[8]):matches("^OUTPUT PATH: out/scout%.md ")
    expect(l[9]):equals("OUTPUT FORMAT: Markdown")
    expect(l[10]):matches("^ESCALATE: instead of guessing, stop and report with %[BLOCKED%] or %[QUESTION%] when$")
    expect(l[11]):equals("- a file is missing")
    expect(l[12]):equals("PRIVACY: Quote no secrets.")
    expect(#l):equals(12)
  end)

  it("says edits are allowed only when told so", function()
    expect(prompt_kit.worker_preamble({ edits_allowed = true })):contains("\nEDITS: allowed. Change only what this task needs")
    expect(function() prompt_kit.worker_preamble({ edits_allowed = "yes" }) end)
        :raises("edits_allowed must be a boolean")
  end)

  it("leaves out the line of every missing field", function()
    local l = lines(prompt_kit.worker_preamble())
    expect(l[1]):equals("CONTEXT: WORKER")
    expect(l[2]):matches("^ROLE: worker%.")
    expect(#l):equals(3)
    expect(#lines(prompt_kit.worker_preamble({ inputs = {}, escalate_when = {}, privacy = "" }))):equals(3)
  end)
end)

describe("prompt_kit.template", function()
  local TAIL = { "Do", "Do not", "Output format" }
  local function expected(kind)
    local t = { table.unpack(PACK) }
    if kind == "reviewer" then
      t[#t + 1] = "Lens"
    end
    for _, v in ipairs(TAIL) do
      t[#t + 1] = v
    end
    return t
  end

  it("lists its kinds", function()
    expect(prompt_kit.KINDS):equals({ "implementer", "research", "reviewer", "verifier" })
  end)

  for _, kind in ipairs(prompt_kit.KINDS) do
    it(kind .. ": the Context Pack, then what to do and the output format, with the preamble as header", function()
      local sections, opts = prompt_kit.template(kind, full({ target = 900, max = 1100 }))
      expect(titles(sections)):equals(expected(kind))
      expect(sections[#sections].required):is_true()
      expect(lines(opts.header)[1]):equals("CONTEXT: WORKER")
      expect(opts.header):contains("ROLE: " .. (kind == "research" and "researcher" or kind) .. ":")
      expect({ opts.target, opts.max }):equals({ 900, 1100 })
    end)

    it(kind .. ": compiles to a prompt that begins with CONTEXT: WORKER and has its sections in order", function()
      local text, budget = prompt_kit.compile(kind, full())
      expect(text):matches("^CONTEXT: WORKER\n")
      expect(budget.pass):equals("untrimmed")
      local at = 0
      for _, title in ipairs(expected(kind)) do
        local pos = text:find("\n## " .. title .. "\n", 1, true)
        expect(pos ~= nil and pos > at):is_true()
        at = pos
      end
    end)
  end

  it("reviewer: asks for findings as a JSON block with file, line, severity, claim, evidence, suggestion", function()
    local text = prompt_kit.compile("reviewer", full({ lens = { "security", "performance" } }))
    local block = json_block(text)
    expect(#block.findings):equals(1)
    local keys = {}
    for k in pairs(block.findings[1]) do
      keys[#keys + 1] = k
    end
    table.sort(keys)
    expect(keys):equals({ "claim", "evidence", "file", "line", "severity", "suggestion" })
    expect(text):contains('{"findings": [')
    expect(text):contains("`severity` is one of critical, high, medium, low.")
    expect(text):contains("## Lens\n\nReview through the security and performance lens")
    expect(prompt_kit.SEVERITIES):contains(block.findings[1].severity)
  end)

  it("reviewer: leaves out the Lens section without a lens", function()
    local text = prompt_kit.compile("reviewer", full({ lens = NONE }))
    expect(text:find("## Lens", 1, true)):is_nil()
  end)

  it("verifier: asks for a pass|fail verdict with the checks run", function()
    local text = prompt_kit.compile("verifier", full())
    local block = json_block(text)
    expect(block.verdict):equals("fail")
    expect(block.checks[1].command):equals("make test")
    expect(block.checks[1].result):equals("fail")
    expect(text):contains("`verdict` is pass only when every check you ran passed")
  end)

  it("research: asks for a summary whose every claim names its sources", function()
    local text = prompt_kit.compile("research", full())
    expect(text):contains("- `## Summary`: 5 to 10 bullets, each ending with the sources it rests on")
    expect(text):contains("- `## Sources`")
    expect(text):contains("- `## Uncertainty`")
  end)

  it("implementer: asks for the changes with the output markers", function()
    local text = prompt_kit.compile("implementer", full({ edits_allowed = true }))
    expect(text):contains("\nEDITS: allowed.")
    expect(text):contains("- `[FILES_MODIFIED]`, then one `- path (created|modified|deleted)` line for every file")
    expect(text):contains("- `[BLOCKED] reason`")
    expect(text):contains("- `[QUESTION] question`, then `Options:` and numbered lines")
    expect(text):contains("- `[CODEX_COMPLETE] summary`, only when the task is done and nothing is blocked")
  end)

  it("makes reviewer, research and verifier read-only unless edits are allowed; an implementer only when told", function()
    for _, kind in ipairs({ "reviewer", "research", "verifier" }) do
      local _, opts = prompt_kit.template(kind, full({ edits_allowed = NONE }))
      expect(opts.header):contains("\nEDITS: none; this run is read-only.")
      _, opts = prompt_kit.template(kind, full({ edits_allowed = true }))
      expect(opts.header):contains("\nEDITS: allowed.")
    end
    local _, opts = prompt_kit.template("implementer", full({ edits_allowed = NONE }))
    expect(opts.header:find("EDITS:", 1, true)):is_nil()
    _, opts = prompt_kit.template("implementer", full({ edits_allowed = false }))
    expect(opts.header):contains("\nEDITS: none; this run is read-only.")
  end)

  it("states the kind's own output format when none is given", function()
    local _, opts = prompt_kit.template("reviewer", full({ output_format = NONE }))
    expect(opts.header):contains("\nOUTPUT FORMAT: Markdown notes, then one JSON block of findings")
    _, opts = prompt_kit.template("reviewer", full())
    expect(opts.header):contains("\nOUTPUT FORMAT: Markdown\n")
  end)

  it("returns nil and a message listing the kinds for an unknown kind", function()
    local sections, message = prompt_kit.template("poet", full())
    expect(sections):is_nil()
    expect(message):equals("prompt_kit: unknown template kind poet (kinds: implementer, research, reviewer, verifier)")
    local text, message2 = prompt_kit.compile(nil, full())
    expect(text):is_nil()
    expect(message2):contains("unknown template kind nil (kinds: implementer, research, reviewer, verifier)")
  end)

  describe("the budget", function()
    local function many(prefix, n)
      local out = {}
      for i = 1, n do
        out[i] = ("%s/%03d.lua"):format(prefix, i)
      end
      return out
    end

    it("cuts a long pointer list from the end, ending with '+ N more pointers'", function()
      local text, budget = prompt_kit.compile("reviewer", full({ pointers = many("src", 60), target = 700, max = 5000 }))
      expect(budget.pass):equals("trimmed")
      expect(text):contains("- src/012.lua\n+ 48 more pointers\n")
      expect(text:find("src/013.lua", 1, true)):is_nil()
      expect(prompt.explain(budget)):contains("  Pointers: kept 12 of 60 pointers (trimmed pass)")
    end)

    it("under the strict pass keeps 5 pointers, drops prior decisions, and keeps Goal, Success check and the preamble",
      function()
        local o = full({ pointers = many("src", 60), prior_decisions = many("adr", 20), target = 300, max = 400 })
        local text, budget = prompt_kit.compile("verifier", o)
        expect(budget.pass):equals("strict")
        expect(text):contains("- src/005.lua\n+ 55 more pointers\n")
        expect(text:find("## Prior decisions", 1, true)):is_nil()
        expect(text):contains("## Goal\n\nThe CRLF change")
        expect(text):contains("## Success check\n\nEvery CRLF test passes")
        expect(text):contains("\nPRIVACY: " .. prompt_kit.DEFAULT_PRIVACY .. "\n")
        expect(prompt_kit.lint(text)):equals({})
      end)
  end)
end)

describe("prompt_kit.insert_sections", function()
  it("places a preset's sections by name, before or after a template's, in the order given", function()
    local sections = prompt_kit.template("reviewer", full())
    prompt_kit.insert_sections(sections, { before = "Lens" }, { { title = "Diff" }, { title = "Notes" } })
    prompt_kit.insert_sections(sections, { after = "Goal" }, { { title = "Plan" } })
    expect(titles(sections)):equals({ "Goal", "Plan", "Non-goals", "Constraints", "Pointers", "Prior decisions",
      "Success check", "Diff", "Notes", "Lens", "Do", "Do not", "Output format" })
    local last = prompt_kit.insert_sections(sections, { after = "Output format" }, { { title = "End" } })
    expect(last[#last].title):equals("End")
  end)

  it("raises when no section has that title, naming it", function()
    local sections = prompt_kit.template("verifier", full())
    expect(function() prompt_kit.insert_sections(sections, { before = "Lens" }, { { title = "Diff" } }) end)
      :raises("no section titled Lens")
  end)
end)

describe("prompt_kit.lint", function()
  for _, kind in ipairs(prompt_kit.KINDS) do
    it(kind .. ": a prompt with every field given lints clean", function()
      local text = prompt_kit.compile(kind, full({ edits_allowed = kind == "implementer" }))
      expect(prompt_kit.lint(text)):equals({})
    end)

    it(kind .. ": each missing field gives exactly its warning", function()
      local cases = {
        { field = "goal", code = "goal" },
        { field = "non_goals", code = "non_goals" },
        { field = "inputs", code = "inputs" },
        { field = "output_path", code = "output" },
        { field = "escalate_when", code = "escalation" },
        { field = "privacy", code = "privacy" },
      }
      if kind == "implementer" then
        cases[#cases + 1] = { field = "edits_allowed", code = "edits" }
      end
      for _, c in ipairs(cases) do
        local o = full()
        o[c.field] = nil
        local warnings = prompt_kit.lint((prompt_kit.compile(kind, o)))
        expect({ c.field, codes(warnings) }):equals({ c.field, { c.code } })
      end
    end)
  end

  it("a read-only kind states its scope even without edits_allowed", function()
    expect(prompt_kit.lint((prompt_kit.compile("reviewer", full({ edits_allowed = NONE }))))):equals({})
  end)

  it("gives every warning, in a fixed order, for a template with only its defaults", function()
    local warnings = prompt_kit.lint((prompt_kit.compile("implementer", {})))
    expect(codes(warnings)):equals({ "goal", "non_goals", "inputs", "edits", "output", "escalation", "privacy" })
    expect(warnings[5].message):matches("^no output path:")
  end)

  it("tells a missing output path from a missing format", function()
    local function output(text)
      for _, w in ipairs(prompt_kit.lint(text)) do
        if w.code == "output" then
          return w
        end
      end
    end
    expect(output("")):equals({ code = "output",
      message = "no output path or format: say where the result goes (a file, or the final message) and in what shape" })
    expect(output("## Output format\n\nJSON\n").message):matches("^no output path:")
    expect(output("OUTPUT PATH: out.md\n").message):matches("^no output format:")
  end)

  it("reads a hand-written prompt in the skill's labelled style", function()
    local text = table.concat({
      "CONTEXT: WORKER",
      "TASK: Review the parser change.",
      "SCOPE: read-only",
      "Out of scope: the lexer.",
      "Allowed inputs: src/parse.c, git diff",
      "Output: ranked findings with evidence,",
      "written to out/review.md (output path).",
      "Escalate when a fix needs a design decision.",
      "Privacy: quote no secrets.",
    }, "\n")
    expect(prompt_kit.lint(text)):equals({})
  end)

  it("accepts Markdown headings and bold labels, but only with something under them", function()
    local text = table.concat({
      "## Objective", "", "Fast startup.", "",
      "**Non-goals:** new flags", "",
      "## Inputs", "", "- src/", "",
      "You may edit files under src/.", "",
      "### Output path", "", "out.md", "",
      "## Response format", "", "Markdown", "",
      "## Escalation", "", "- a test fails twice", "",
      "## Privacy", "",
    }, "\n")
    expect(codes(prompt_kit.lint(text))):equals({ "privacy" })
  end)

  it("ignores what stands in fenced code blocks", function()
    local text = "```\n## Goal\n\nx\nprivacy\n```\n## Goal\n\ny\n"
    local c = codes(prompt_kit.lint(text))
    expect(c[1]):equals("non_goals")
    expect(c):contains("privacy")
  end)

  it("raises when given something other than text", function()
    expect(function() prompt_kit.lint(nil) end):raises("expected the prompt text")
  end)
end)

describe("prompt_kit.lint_text", function()
  it("gives one line per warning for people", function()
    local text = prompt_kit.lint_text(prompt_kit.lint("## Goal\n\nx\n"))
    local l = lines(text)
    expect(l[1]):equals("prompt lint: 6 warnings")
    expect(l[2]):matches("^  non_goals: no non%-goals: ")
    expect(#l):equals(7)
    expect(prompt_kit.lint_text({ { code = "goal", message = "no goal" } })):equals("prompt lint: 1 warning\n  goal: no goal")
  end)

  it("says when there is nothing to warn about", function()
    expect(prompt_kit.lint_text({})):equals("prompt lint: no warnings")
  end)
end)
