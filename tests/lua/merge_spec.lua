local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local merge = require("sidecar.preset.merge")
local json = require("sidecar.core.json")

-- Three reviewers with overlapping findings, and the list they merge into (written out whole).
local W1 = { worker = "w1", lens = "correctness", runner = "codex", run_id = "R-0001" }
local W2 = { worker = "w2", lens = "security", runner = "claude", run_id = "R-0002" }
local W3 = { worker = "w3", lens = "performance", runner = "codex", run_id = "R-0003" }

local function reviewers()
  return {
    { provenance = W1, findings = {
      { file = "./src/parser.c", line = 42, severity = "high",
        claim = "Null pointer dereference when the config file is missing",
        evidence = "cfg->name is read before the NULL check", suggestion = "Check cfg before use",
        internal_notes = "RAW-NOTE-W1: I grepped for cfg" },
      { file = "src/lexer.c", line = "L10-12", severity = "minor", claim = "Variable name `tmp` is unclear",
        suggestion = "Rename tmp to token_start" },
      { file = "README.md", severity = "nit", claim = "Typo: 'recieve'" },
    } },
    { provenance = W2, findings = {
      { file = "src/parser.c", line = "42", severity = "Blocker",
        claim = "Possible null pointer dereference if config file missing",
        evidence = "parser.c:42 dereferences cfg->name without checking cfg for NULL; crash on startup",
        suggestion = "check cfg before use.", category = "Security" },
      { file = "src/auth.c", line = 7, severity = "critical", claim = "Hard-coded API token in source",
        evidence = 'const char *TOKEN = "abc";', suggestion = "Load the token from the environment",
        category = "security" },
      { file = "src/parser.c", line = 80, severity = "medium", claim = "Unbounded recursion on nested input",
        category = "robustness" },
      { file = "src/x.c", severity = "urgent", claim = "RAW-REJECTED-CLAIM" },
    } },
    { provenance = W3, findings = {
      { file = "src\\parser.c", line = 42, severity = "warning",
        claim = "null pointer dereference when the config file is missing!",
        suggestion = "Return an error when the config is absent" },
      { file = "src/parser.c", line = 80, severity = "low", claim = "Unbounded recursion on deeply nested input",
        suggestion = "Limit nesting depth" },
      { file = "src/lexer.c", line = 10, severity = "info", claim = "Variable name tmp is unclear" },
    } },
  }
end

local function src(p, severity, claim)
  return { worker = p.worker, lens = p.lens, runner = p.runner, run_id = p.run_id, severity = severity, claim = claim }
end

local EXPECTED = {
  {
    file = "src/parser.c", line = 42, severity = "critical",
    claim = "Possible null pointer dereference if config file missing",
    evidence = "parser.c:42 dereferences cfg->name without checking cfg for NULL; crash on startup",
    suggestions = { "Check cfg before use", "Return an error when the config is absent" },
    category = "security", agreement = 3,
    sources = {
      src(W1, "high", "Null pointer dereference when the config file is missing"),
      src(W2, "critical", "Possible null pointer dereference if config file missing"),
      src(W3, "medium", "null pointer dereference when the config file is missing!"),
    },
  },
  {
    file = "src/auth.c", line = 7, severity = "critical", claim = "Hard-coded API token in source",
    evidence = 'const char *TOKEN = "abc";', suggestions = { "Load the token from the environment" },
    category = "security", agreement = 1,
    sources = { src(W2, "critical", "Hard-coded API token in source") },
  },
  {
    file = "src/parser.c", line = 80, severity = "medium", claim = "Unbounded recursion on nested input",
    suggestions = { "Limit nesting depth" }, category = "robustness", agreement = 2,
    sources = {
      src(W2, "medium", "Unbounded recursion on nested input"),
      src(W3, "low", "Unbounded recursion on deeply nested input"),
    },
  },
  {
    file = "src/lexer.c", line = 10, line_end = 12, severity = "low", claim = "Variable name `tmp` is unclear",
    suggestions = { "Rename tmp to token_start" }, agreement = 2,
    sources = {
      src(W1, "low", "Variable name `tmp` is unclear"),
      src(W3, "info", "Variable name tmp is unclear"),
    },
  },
  {
    file = "README.md", severity = "info", claim = "Typo: 'recieve'", suggestions = {}, agreement = 1,
    sources = { src(W1, "info", "Typo: 'recieve'") },
  },
}

local function finding(file, line, severity, claim, extra)
  local f = { file = file, line = line, severity = severity, claim = claim }
  for k, v in pairs(extra or {}) do
    f[k] = v
  end
  return f
end

describe("merge.combine", function()
  it("merges three reviewers' overlapping findings exactly", function()
    local merged, rejected = merge.combine(reviewers())
    expect(merged):equals(EXPECTED)
    expect(rejected):equals({
      { worker = "w2", index = 4, why = 'severity: expected one of critical, high, medium, low, info, got "urgent"' },
    })
  end)

  it("gives the same list whatever order the workers and their findings arrive in", function()
    local lists = reviewers()
    local reordered = { lists[3], lists[1], lists[2] }
    for _, l in ipairs(reordered) do
      local f, n = l.findings, #l.findings
      for i = 1, n // 2 do
        f[i], f[n - i + 1] = f[n - i + 1], f[i]
      end
    end
    expect((merge.combine(reordered))):equals(EXPECTED)
    for _ = 1, 5 do
      expect((merge.combine(reviewers()))):equals(EXPECTED)
    end
  end)

  it("ranks by severity, then agreement, then file and line (no line last), then claim", function()
    local merged = merge.combine({
      { provenance = { worker = "a" }, findings = {
        finding("z.c", 1, "low", "z one"), finding("b.c", 9, "high", "b nine"), finding("b.c", nil, "high", "b whole"),
        finding("b.c", 2, "high", "b two"), finding("a.c", 5, "info", "a five"), finding("c.c", 1, "high", "shared"),
        finding("b.c", 2, "high", "another at two"),
      } },
      { provenance = { worker = "b" }, findings = { finding("c.c", 1, "high", "shared") } },
    })
    local order = {}
    for i, f in ipairs(merged) do
      order[i] = ("%s %s:%s %s (%d)"):format(f.severity, f.file, tostring(f.line), f.claim, f.agreement)
    end
    expect(order):equals({
      "high c.c:1 shared (2)",
      "high b.c:2 another at two (1)",
      "high b.c:2 b two (1)",
      "high b.c:9 b nine (1)",
      "high b.c:nil b whole (1)",
      "low z.c:1 z one (1)",
      "info a.c:5 a five (1)",
    })
  end)

  it("counts distinct workers for agreement, keeping every report as a source", function()
    local merged = merge.combine({
      { provenance = { worker = "w1", run_id = "R-1" }, findings = {
        finding("a.c", 1, "low", "Leak in open()"), finding("a.c", 1, "medium", "leak in open"),
      } },
      { provenance = { worker = "w1", run_id = "R-2" }, findings = { finding("a.c", 1, "low", "LEAK IN OPEN") } },
      { provenance = { worker = "w2" }, findings = { finding("a.c", 1, "low", "Leak in open().") } },
    })
    expect(#merged):equals(1)
    expect(merged[1].agreement):equals(2)
    expect(#merged[1].sources):equals(4)
    expect(merged[1].severity):equals("medium")
    expect(merged[1].claim):equals("leak in open")
  end)

  it("names workers without a name by their place and keeps their provenance", function()
    local merged = merge.combine({
      { findings = { finding("a.c", 1, "low", "x") } },
      { provenance = { lens = "style", runner = "claude" }, findings = { finding("a.c", 1, "low", "x") } },
    })
    expect(merged[1].sources):equals({
      { worker = "worker 1", severity = "low", claim = "x" },
      { worker = "worker 2", lens = "style", runner = "claude", severity = "low", claim = "x" },
    })
    expect(merged[1].agreement):equals(2)
  end)

  it("merges only the same file and the same line, or no line on both", function()
    local merged = merge.combine({
      { provenance = { worker = "a" }, findings = {
        finding("a.c", 1, "low", "same claim"), finding("a.c", nil, "low", "same claim"),
      } },
      { provenance = { worker = "b" }, findings = {
        finding("a.c", 2, "low", "same claim"), finding("b.c", 1, "low", "same claim"),
        finding("a.c", nil, "low", "same claim"),
      } },
    })
    local shape = {}
    for i, f in ipairs(merged) do
      shape[i] = { f.file, f.line, f.agreement }
    end
    expect(shape):equals({ { "a.c", nil, 2 }, { "a.c", 1, 1 }, { "a.c", 2, 1 }, { "b.c", 1, 1 } })
  end)

  it("merges nearby lines within opts.line_window, spanning them", function()
    local lists = {
      { provenance = { worker = "a" }, findings = { finding("a.c", 10, "low", "off by one in the loop") } },
      { provenance = { worker = "b" }, findings = { finding("a.c", "12-13", "high", "Off-by-one in loop") } },
    }
    expect(#merge.combine(lists)):equals(2)
    local merged = merge.combine(lists, { line_window = 2 })
    expect(#merged):equals(1)
    expect({ merged[1].line, merged[1].line_end, merged[1].severity, merged[1].agreement }):equals({ 10, 13, "high", 2 })
    expect(#merge.combine(lists, { line_window = 1 })):equals(2)
  end)

  it("merges near-identical claims by word overlap, at opts.similarity", function()
    local lists = {
      { provenance = { worker = "a" },
        findings = { finding("a.c", 1, "low", "Null pointer dereference when config is missing") } },
      { provenance = { worker = "b" },
        findings = { finding("a.c", 1, "low", "Possible null pointer dereference if config missing") } },
    }
    expect(#merge.combine(lists)):equals(1)                        -- 5/6 >= 0.6
    expect(#merge.combine(lists, { similarity = 0.9 })):equals(2)  -- 5/6 < 0.9
    expect(#merge.combine({
      { provenance = { worker = "a" }, findings = { finding("a.c", 1, "low", "SQL injection in the query builder") } },
      { provenance = { worker = "b" }, findings = { finding("a.c", 1, "low", "Missing index makes the query slow") } },
    })):equals(2)
  end)

  it("never chains: a finding joins a group only when it matches every member", function()
    -- a~b (3/4) and b~c (3/4), but a and c share 2 of 5 words.
    local merged = merge.combine({
      { provenance = { worker = "a" }, findings = { finding("a.c", 1, "low", "alpha beta gamma") } },
      { provenance = { worker = "b" }, findings = { finding("a.c", 1, "low", "alpha beta gamma delta") } },
      { provenance = { worker = "c" }, findings = { finding("a.c", 1, "low", "beta gamma delta epsilon") } },
    }, { similarity = 0.75 })
    local claims = {}
    for i, f in ipairs(merged) do
      claims[i] = { f.claim, f.agreement }
    end
    expect(claims):equals({ { "alpha beta gamma delta", 2 }, { "beta gamma delta epsilon", 1 } })
  end)

  it("keeps the longest evidence, distinct suggestions and the most common category", function()
    local merged = merge.combine({
      { provenance = { worker = "a" }, findings = { finding("a.c", 1, "low", "x", {
        evidence = "short", suggestion = "Use a lock", category = "Concurrency" }) } },
      { provenance = { worker = "b" }, findings = { finding("a.c", 1, "low", "x", {
        evidence = "a much longer piece of evidence", suggestion = "use a LOCK!", category = "bug" }) } },
      { provenance = { worker = "c" }, findings = { finding("a.c", 1, "low", "x", {
        evidence = "mid length", suggestion = "Make it atomic", category = "concurrency" }) } },
    })
    expect(merged[1].evidence):equals("a much longer piece of evidence")
    expect(merged[1].suggestions):equals({ "Use a lock", "Make it atomic" })
    expect(merged[1].category):equals("concurrency")
  end)

  it("lists unusable findings and lists instead of failing", function()
    local merged, rejected = merge.combine({
      { provenance = { worker = "a" }, findings = "I found nothing to report" },
      { provenance = { worker = "b" }, findings = { finding("a.c", 1, "low", "ok"), 42, finding("a.c", "x", "low", "y") } },
      { provenance = { worker = "c" }, findings = json.null },
      { provenance = { worker = "d" } },
      { provenance = { worker = "e" }, findings = { summary = "all good" } },
    })
    expect(#merged):equals(1)
    expect(rejected):equals({
      { worker = "a", why = 'findings: expected a list, got "I found nothing to report"' },
      { worker = "b", index = 2, why = "expected a finding object, got 42" },
      { worker = "b", index = 3, why = 'line: expected a line number like 12, "L12" or "12-15", got "x"' },
      { worker = "e", why = "findings: expected a list, got an object" },
    })
    expect({ merge.combine({}) }):equals({ {}, {} })
  end)

  it("raises on wrong argument types and bad options", function()
    expect(function() merge.combine("lists") end):raises("merge.combine: lists must be a table, got string")
    expect(function() merge.combine({ "x" }) end):raises("merge.combine: lists[1] must be a table, got string")
    expect(function() merge.combine({}, { similarity = 0 }) end):raises("opts.similarity must be a number in (0, 1]")
    expect(function() merge.combine({}, { similarity = "high" }) end):raises("opts.similarity")
    expect(function() merge.combine({}, { line_window = -1 }) end):raises("opts.line_window must be an integer >= 0")
    expect(function() merge.combine({}, { line_window = 1.5 }) end):raises("opts.line_window")
    expect(function() merge.combine({ { provenance = 3 } }) end):raises("provenance must be a table")
  end)
end)

local EXPECTED_REPORT = table.concat({
  "# Review of src/",
  "",
  "5 findings from 3 workers: 2 critical, 1 medium, 1 low, 1 info.",
  "1 malformed finding dropped.",
  "",
  "### [CRITICAL] src/parser.c:42 — Possible null pointer dereference if config file missing",
  "",
  "Agreement: 3 of 3 workers (correctness/codex, security/claude, performance/codex)",
  "Category: security",
  "",
  "Evidence:",
  "",
  "```text",
  "parser.c:42 dereferences cfg->name without checking cfg for NULL; crash on startup",
  "```",
  "",
  "Suggestions:",
  "",
  "- Check cfg before use",
  "- Return an error when the config is absent",
  "",
  "### [CRITICAL] src/auth.c:7 — Hard-coded API token in source",
  "",
  "Agreement: 1 of 3 workers (security/claude)",
  "Category: security",
  "",
  "Evidence:",
  "",
  "```text",
  'const char *TOKEN = "abc";',
  "```",
  "",
  "Suggestion:",
  "",
  "- Load the token from the environment",
  "",
  "### [MEDIUM] src/parser.c:80 — Unbounded recursion on nested input",
  "",
  "Agreement: 2 of 3 workers (security/claude, performance/codex)",
  "Category: robustness",
  "",
  "Suggestion:",
  "",
  "- Limit nesting depth",
  "",
  "### [LOW] src/lexer.c:10-12 — Variable name `tmp` is unclear",
  "",
  "Agreement: 2 of 3 workers (correctness/codex, performance/codex)",
  "",
  "Suggestion:",
  "",
  "- Rename tmp to token_start",
  "",
  "### [INFO] README.md — Typo: 'recieve'",
  "",
  "Agreement: 1 of 3 workers (correctness/codex)",
  "",
}, "\n")

describe("merge.report_md", function()
  it("writes a summary line and one section per finding", function()
    local merged, rejected = merge.combine(reviewers())
    local md = merge.report_md(merged, { title = "Review of src/", workers = 3, rejected = #rejected })
    expect(md):equals(EXPECTED_REPORT)
  end)

  it("never includes raw worker text: prose, unknown fields, rejected findings, other claims", function()
    local raw_messages = {
      "RAW-PROSE-1: I started by reading the whole repository.\n```json\n{...}\n```",
      "RAW-PROSE-2: here are my findings",
    }
    local lists = reviewers()
    lists[1].raw = raw_messages[1]
    lists[2].raw = raw_messages[2]
    local merged, rejected = merge.combine(lists)
    local md = merge.report_md(merged, { workers = 3, rejected = rejected })
    expect(md):contains("\n1 malformed finding dropped.\n")
    for _, needle in ipairs({ "RAW-PROSE-1", "RAW-PROSE-2", "RAW-NOTE-W1", "RAW-REJECTED-CLAIM", "urgent",
      "null pointer dereference when the config file is missing!", "Unbounded recursion on deeply nested input" }) do
      expect({ needle, md:find(needle, 1, true) }):equals({ needle })
    end
    -- Every line of the report is structure or text of a merged finding.
    local allowed = {}
    for _, f in ipairs(merged) do
      for _, s in ipairs(f.suggestions) do
        allowed["- " .. s] = true
      end
      if f.evidence then
        allowed[f.evidence] = true
      end
    end
    for line in (md .. "\n"):gmatch("([^\n]*)\n") do
      local structural = line == "" or line:find("^#") or line:find("^%d+ findings? from") or line:find("^Agreement: ")
        or line:find("^Category: ") or line:find("^Evidence:$") or line:find("^Suggestions?:$") or line:find("^```")
        or line:find("^%d+ malformed")
      expect({ line, structural ~= nil or allowed[line] == true }):equals({ line, true })
    end
  end)

  it("counts the workers from the sources unless told, and says when there is nothing", function()
    local merged = merge.combine({
      { provenance = { worker = "w1", lens = "style" }, findings = { finding("a.c", 1, "low", "x") } },
    })
    expect(merge.report_md(merged)):contains("1 finding from 1 worker: 1 low.")
    expect(merge.report_md(merged)):contains("Agreement: 1 of 1 worker (style)")
    expect(merge.report_md(merged, { workers = { "w1", "w2" } })):contains("Agreement: 1 of 2 workers (style)")
    expect(merge.report_md({}, { workers = 2 })):equals("# Merged findings\n\nNo findings from 2 workers.\n")
  end)

  it("fences evidence that itself holds a fence", function()
    local merged = merge.combine({ { provenance = { worker = "w" }, findings = {
      finding("a.md", 1, "low", "x", { evidence = "```lua\nprint(1)\n```" }) } } })
    expect(merge.report_md(merged)):contains("````text\n```lua\nprint(1)\n```\n````\n")
  end)

  it("raises on a value that is not a merged list", function()
    expect(function() merge.report_md("x") end):raises("merge.report_md: expected the list combine() returned")
    expect(function() merge.to_json(nil) end):raises("merge.to_json: expected the list combine() returned")
  end)
end)

describe("merge.to_json", function()
  it("writes every key, null when absent, and lists that stay arrays when empty", function()
    local merged = merge.combine(reviewers())
    local data = merge.to_json(merged)
    local back = json.decode(json.encode(data))
    expect(#back):equals(5)
    local last = back[5]
    expect(last.line):is(json.null)
    expect(last.evidence):is(json.null)
    expect(last.category):is(json.null)
    expect(json.is_array(last.suggestions)):is_true()
    expect(json.encode(last.suggestions)):equals("[]")
    expect(back[1].sources[1]):equals({ worker = "w1", lens = "correctness", runner = "codex", run_id = "R-0001",
      severity = "high", claim = "Null pointer dereference when the config file is missing" })
    expect(back[4].line_end):equals(12)
    expect(json.encode(merge.to_json({}))):equals("[]")
    local lone = merge.to_json(merge.combine({ { findings = { finding("a", 1, "low", "x") } } }))
    expect(lone[1].sources[1].lens):is(json.null)
  end)
end)
