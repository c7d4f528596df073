local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local personalization = require("sidecar.formats.personalization")
local schema = require("sidecar.preset.schema")

local answers = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "../fixtures/schema/answers.lua")
local fixture, problems_of = answers.fixture, answers.problems_of

describe("personalization.parse (docs/formats.md §3)", function()
  it("reads the four sections, tables keyed by their headers", function()
    local value = personalization.parse(fixture("personalization.md"))
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
    expect(schema.check(value, personalization.SPEC)):is_true()
  end)

  it("checks the enums and writes back only stated or repeated preferences", function()
    local text = fixture("personalization.md")
      :gsub("| project | workflow | repeated |", "| team | workflow | inferred |")
      :gsub("| `Git` |", "| `vcs` |")
    local value = personalization.parse(text)
    expect(problems_of(value, personalization.SPEC)):equals({
      { path = "recommended_writeback[1].scope",
        message = 'expected one of private-user, project, public-skill-candidate, discard, got "team"' },
      { path = "recommended_writeback[2].type", message = 'expected one of workflow, writing, layout, figure-style, '
        .. 'code-review, git, compute, toolchain, collaboration, got "vcs"' },
    })
    value.recommended_writeback[1].scope = "project"
    value.recommended_writeback[2].type = "git"
    expect(problems_of(value, personalization.SPEC)):equals({
      { path = "recommended_writeback[1].action", message = 'action "write" needs confidence user-stated or repeated '
        .. '(in at least two artifacts), got "inferred"; use defer instead' },
    })
  end)

  it("refuses evidence that quotes a secret", function()
    local text = fixture("personalization.md"):gsub("| one note |", "| token ghp_abcdefghijklmnopqrstuvwxyz0123456789 |")
    expect(problems_of(personalization.parse(text), personalization.SPEC)):equals({
      { path = "recommended_writeback[3].evidence",
        message = "quotes what looks like a secret (a key or token); name where the preference was seen instead" },
    })
  end)

  it("reports missing sections, renamed columns and bullets where a table belongs", function()
    local value = personalization.parse(table.concat({
      "# Personalization Candidates",
      "## Recommended Writeback",
      "| Pref | Scope | Type | Confidence | Evidence | Suggested target | Action |",
      "|---|---|---|---|---|---|---|",
      "| Tabs | project | layout | user-stated | asked | .editorconfig | write |",
      "## Deferred",
      "- Prefers dark figures: seen once",
      "## Rejected",
      "- None",
    }, "\n"))
    expect(value.reject):equals({})
    expect(problems_of(value, personalization.SPEC)):equals({
      { path = "deferred", message = 'expected a table with columns Candidate | Reason deferred | Needed evidence, '
        .. 'got "- Prefers dark figures: seen once"' },
      { path = "privacy_notes", message = "required field missing" },
      { path = "recommended_writeback[1].preference", message = "required field missing" },
      { path = "recommended_writeback[1].pref",
        message = "unknown field (known: action, confidence, evidence, preference, scope, suggested_target, type)" },
    })
  end)

  it("reads a section that says none as an empty list and ignores other sections", function()
    local value = personalization.parse(table.concat({
      "## Summary", "Nothing much.",
      "## Recommended Writeback", "None.",
      "## Deferred", "_None_",
      "## Reject", "",
      "## Privacy Notes", "None",
      "```", "## Deferred", "```",
    }, "\n"))
    expect(value):equals({ recommended_writeback = {}, deferred = {}, reject = {}, privacy_notes = {} })
    expect(schema.check(value, personalization.SPEC)):is_true()
  end)

  it("raises on a text that is not a string", function()
    expect(function() personalization.parse(nil) end):raises("personalization.parse: expected a string, got nil")
  end)
end)

describe("personalization.template: the sections and columns the parser reads", function()
  it("shows every section, its table's header, separator and the example row", function()
    local text = personalization.template()
    expect(text):contains("# Personalization Candidates\n\n## Recommended Writeback\n\n"
      .. "| Preference | Scope | Type | Confidence | Evidence | Suggested target | Action |\n|---|---|---|---|---|---|---|\n"
      .. "| <the preference, one line> | <scope> |")
    expect(text):contains("## Reject\n\n| Candidate | Reason rejected |\n|---|---|\n\n## Privacy Notes\n\n"
      .. "- <what you left out, and why>")
  end)

  it("is compact when asked: headings and header rows only", function()
    expect(personalization.template({ compact = true })):equals(table.concat({
      "# Personalization Candidates",
      "## Recommended Writeback",
      "| Preference | Scope | Type | Confidence | Evidence | Suggested target | Action |",
      "## Deferred",
      "| Candidate | Reason deferred | Needed evidence |",
      "## Reject",
      "| Candidate | Reason rejected |",
      "## Privacy Notes",
    }, "\n"))
  end)

  it("reads back as the empty answer, and with a row per table as that row", function()
    local empty = personalization.parse(personalization.template({ compact = true }))
    expect(empty):equals({ recommended_writeback = {}, deferred = {}, reject = {}, privacy_notes = {} })
    expect(schema.check(empty, personalization.SPEC)):is_true()
    local text = personalization.template():gsub("| <the preference, one line> | <scope> | <type> | <confidence> |",
      "| Tabs | project | layout | user-stated |"):gsub("<the inputs that show it, by path, paraphrased>", "AGENTS.md")
      :gsub("<the file or memory it belongs in>", ".editorconfig"):gsub("<action>", "write")
      :gsub("<what you left out, and why>", "nothing private")
    local value = personalization.parse(text)
    expect(value.recommended_writeback):equals({ { preference = "Tabs", scope = "project", type = "layout",
      confidence = "user-stated", evidence = "AGENTS.md", suggested_target = ".editorconfig", action = "write" } })
    expect(value.privacy_notes):equals({ "nothing private" })
    expect(schema.check(value, personalization.SPEC)):is_true()
  end)
end)
