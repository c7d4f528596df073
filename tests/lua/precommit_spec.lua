local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local precommit = require("sidecar.formats.precommit")
local schema = require("sidecar.preset.schema")

-- A change without git: the files and a clean state. No project checks are found in a folder
-- that does not exist, so the validation is the rules' own steps only.
local function classify(paths)
  local files = {}
  for i, p in ipairs(paths) do
    files[i] = { path = p, status = "??" }
  end
  return precommit.classify({ files = files, state = { conflicts = {} } }, "/nonexistent-precommit-spec")
end

-- An agent's answer, as the preset reads it: §2 markdown parsed and checked.
local function answer(fields)
  local text = table.concat({
    "# Precommit Classification",
    "- **Path:** " .. (fields.path or "Risk"),
    "- **Confidence:** " .. (fields.confidence or "high"),
    "- **Changed files:** `.env`",
    "- **Why this path:** " .. (fields.why or "only a setting changed."),
    "- **Minimal validation:**" .. (fields.validation or " none"),
    "- **Reinstall needed:** no",
    "- **Commit scope risk:** low: one file.",
    "- **Blockers:** " .. (fields.blockers or "None."),
    "- **Suggested commit message:** " .. (fields.message or "Tune the settings"),
  }, "\n")
  local value = schema.parse_markdown(text, "precommit")
  expect(schema.check(value, schema.formats.precommit)):is_true()
  return value
end

local RISK_STEPS = { "git diff --check", "a person reviews the change before it is committed" }

describe("precommit.merge: the rules decide path, confidence and validation", function()
  it("keeps the rules' Risk when the agent says Fast with no validation, and records the disagreement", function()
    local c = classify({ ".env" })
    expect(c.path):equals("risk")
    local report, d = precommit.merge(c, answer({ path = "Fast", validation = " none" }))
    expect(report.path):equals("risk")
    expect(report.confidence):equals("high")
    expect(report.minimal_validation):equals(RISK_STEPS)
    expect(report.changed_files):equals({ ".env" })
    -- The agent's why argued for Fast: the rules' reason leads, the agent's words follow.
    expect(report.why_this_path):equals(
      ".env touches credentials, security or release (the agent said Fast: only a setting changed.)")
    expect(report.commit_scope_risk):equals("low: one file.")
    expect(report.blockers):equals({})
    expect(report.suggested_commit_message):equals("Tune the settings")
    expect(d):equals({
      fields = { "path", "minimal_validation" },
      agent = { path = "fast", confidence = "high", minimal_validation = {} },
      rules = { path = "risk", confidence = "high", minimal_validation = RISK_STEPS },
      reason = ".env touches credentials, security or release",
    })
    expect(precommit.disagreement_text(d, "R-0001")):equals("Agent disagreed (R-0001): it said Path Fast, "
      .. "Minimal validation none; the rules decide Path Risk, Minimal validation `git diff --check`, "
      .. "`a person reviews the change before it is committed`, because .env touches credentials, security or release.")
  end)

  it("finds no disagreement when the agent agrees (steps in another order, backticks, a final period)", function()
    local c = classify({ ".env" })
    local report, d = precommit.merge(c, answer({
      validation = "\n  - a person reviews the change before it is committed.\n  - `git diff --check`",
      why = "a credentials file changed.", blockers = "\n  - a person must review .env",
    }))
    expect(d):is_nil()
    expect(report.why_this_path):equals("a credentials file changed.")
    expect(report.blockers):equals({ "a person must review .env" })
    expect(report.minimal_validation):equals(RISK_STEPS)
  end)

  it("names only the fields that differ: a confidence, an extra step", function()
    local c = classify({ ".env" })
    local _, d = precommit.merge(c, answer({ confidence = "low",
      validation = "\n  - `git diff --check`\n  - a person reviews the change before it is committed" }))
    expect(d.fields):equals({ "confidence" })
    expect(precommit.disagreement_text(d)):equals("Agent disagreed: it said Confidence low; the rules decide "
      .. "Confidence high, because .env touches credentials, security or release.")
    local _, extra = precommit.merge(c, answer({
      validation = "\n  - `git diff --check`\n  - a person reviews the change before it is committed"
        .. "\n  - `make lint`" }))
    expect(extra.fields):equals({ "minimal_validation" })
    expect(extra.agent.minimal_validation):equals({ "git diff --check",
      "a person reviews the change before it is committed", "make lint" })
  end)

  it("keeps the agent's why when only the validation differs", function()
    local c = classify({ "README.md" })
    expect(c.path):equals("fast")
    local report, d = precommit.merge(c, answer({ path = "Fast", why = "prose only." }))
    expect(report.why_this_path):equals("prose only.")
    expect(d.fields):equals({ "minimal_validation" })
  end)
end)

describe("precommit.render: the §2 markdown", function()
  it("renders the rules alone without the fields only an agent writes", function()
    local c = classify({ "skills/review/SKILL.md" })
    expect(precommit.render(precommit.rules_report(c))):equals(table.concat({
      "# Precommit Classification",
      "- **Path:** Skill",
      "- **Confidence:** high",
      "- **Changed files:**",
      "  - `skills/review/SKILL.md`",
      "- **Why this path:** skills/review/SKILL.md instructs agents",
      "- **Minimal validation:**",
      "  - `git diff --check`",
      "  - `reinstall the changed skills: review`",
      "- **Reinstall needed:** yes, specific skills: review",
    }, "\n") .. "\n")
  end)

  it("reads back as the merged report, a commit message of several lines included", function()
    local c = classify({ ".env" })
    local report = precommit.merge(c, answer({ path = "Fast", blockers = "\n  - review the new token" }))
    report.suggested_commit_message = "Rotate the token\n\nThe old one leaked.\n```sh\nmake\n```"
    local text = precommit.render(report)
    expect(text):contains("- **Path:** Risk\n")
    expect(text):contains("- **Blockers:**\n  - review the new token\n")
    local back = schema.parse_markdown(text, "precommit")
    expect(schema.check(back, schema.formats.precommit)):is_true()
    expect(back.path):equals("risk")
    expect(back.minimal_validation):equals(RISK_STEPS)
    expect(back.why_this_path):equals(report.why_this_path)
    expect(back.blockers):equals({ "review the new token" })
    expect(back.suggested_commit_message):equals(report.suggested_commit_message)
  end)
end)
