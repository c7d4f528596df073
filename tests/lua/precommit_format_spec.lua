local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local precommit = require("sidecar.formats.precommit")
local schema = require("sidecar.preset.schema")

local answers = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "../fixtures/schema/answers.lua")
local fixture, problems_of = answers.fixture, answers.problems_of

describe("precommit.parse (docs/formats.md §2)", function()
  it("reads the classification bullets into fields that check clean", function()
    local value = precommit.parse(fixture("precommit.md"))
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
    expect(schema.check(value, precommit.SPEC)):is_true()
  end)

  it("reads inline lists, the reinstall forms and a one-line commit message", function()
    local value = precommit.parse(table.concat({
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
    }, "\n"))
    expect(value):equals({
      path = "risk", confidence = "high", changed_files = { "a.md", "b/c.lua" }, why_this_path = "tags",
      minimal_validation = { "make check" }, reinstall_needed = "specific",
      reinstall_skills = { "sidecar-task-runner", "codex-orchestration" }, commit_scope_risk = "high",
      blockers = { "release needs approval" }, suggested_commit_message = "release: tag v1.2",
    })
    expect(schema.check(value, precommit.SPEC)):is_true()
    local full = precommit.parse("- Reinstall needed: Yes, full install")
    expect(full.reinstall_needed):equals("full")
  end)

  it("leaves wrong values in place so the check names them", function()
    local value = precommit.parse(table.concat({
      "- Path: Medium",
      "- Confidence: sure",
      "- Changed files: none",
      "- Why this path: ",
      "- Minimal validation: n/a",
      "- Reinstall needed: maybe later",
      "- Blockers: -",
    }, "\n"))
    expect(problems_of(value, precommit.SPEC)):equals({
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
    local value = precommit.parse(text)
    expect(value.reinstall_needed):equals("specific")
    expect(problems_of(value, precommit.SPEC))
      :equals({ { path = "reinstall_needed", message = 'says "yes, specific skills" but names no skills' } })
  end)

  it("reads an answer wrapped in a ```markdown block, and nothing from an empty one", function()
    local wrapped = "Here it is:\n\n```markdown\n" .. fixture("precommit.md"):gsub("  ```text.-```\n", "  Add files\n")
      .. "```\n"
    local value = precommit.parse(wrapped)
    expect(value.path):equals("code")
    expect(value.suggested_commit_message):equals("Add files")
    expect(precommit.parse("I did not classify anything.")):equals({})
  end)
end)

describe("precommit.template and precommit.render: written from the same fields", function()
  it("gives the bare skeleton with the hints, in the order of the fields", function()
    expect(precommit.template()):equals(table.concat({
      "# Precommit Classification",
      "- Path:",
      "- Confidence: high|medium|low",
      "- Changed files:",
      "- Why this path:",
      "- Minimal validation:",
      "- Reinstall needed: no | yes, specific skills: <names> | yes, full install",
      "- Commit scope risk:",
      "- Blockers:",
      "- Suggested commit message:",
    }, "\n"))
    expect(#precommit.FIELDS):equals(9)
    expect(precommit.ORDER):equals("Risk > Code > Skill > Fast")
  end)

  it("fills bold labels and keeps the hint where nothing is filled", function()
    local text = precommit.template({ path = " Code", blockers = " None. | <list>" }, { bold = true })
    expect(text):contains("- **Path:** Code\n- **Confidence:** high|medium|low\n- **Changed files:**\n")
    expect(text):contains("- **Blockers:** None. | <list>\n- **Suggested commit message:**")
  end)

  it("an answer written in the template parses, checks clean and renders back to itself", function()
    local fill = precommit.values({ path = "skill", confidence = "medium", changed_files = { "skills/a/SKILL.md" },
      why_this_path = "an agent instruction changed\nand nothing else", minimal_validation = { "git diff --check" },
      reinstall_needed = "specific", reinstall_skills = { "a", "b" }, commit_scope_risk = "low: one skill",
      blockers = {}, suggested_commit_message = "skills/a: say why\n\nThe body." })
    local text = precommit.template(fill, { bold = true }) .. "\n"
    local value = precommit.parse(text)
    expect(schema.check(value, precommit.SPEC)):is_true()
    expect(value):equals({ path = "skill", confidence = "medium", changed_files = { "skills/a/SKILL.md" },
      why_this_path = "an agent instruction changed\nand nothing else", minimal_validation = { "git diff --check" },
      reinstall_needed = "specific", reinstall_skills = { "a", "b" }, commit_scope_risk = "low: one skill",
      blockers = {}, suggested_commit_message = "skills/a: say why\n\nThe body." })
    expect(precommit.render(value)):equals(text)
  end)

  it("renders only the fields a report has", function()
    expect(precommit.render({ path = "fast", confidence = "high", changed_files = {}, why_this_path = "prose",
      minimal_validation = { "git diff --check" }, reinstall_needed = "full" })):equals(table.concat({
      "# Precommit Classification",
      "- **Path:** Fast",
      "- **Confidence:** high",
      "- **Changed files:** None.",
      "- **Why this path:** prose",
      "- **Minimal validation:**",
      "  - `git diff --check`",
      "- **Reinstall needed:** yes, full install",
    }, "\n") .. "\n")
  end)

  it("raises on a text that is not a string", function()
    expect(function() precommit.parse(nil) end):raises("precommit.parse: expected a string, got nil")
  end)
end)
