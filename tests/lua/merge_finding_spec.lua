local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local merge = require("sidecar.preset.merge")
local json = require("sidecar.core.json")

local function normalised(finding, provenance)
  return assert(merge.normalise(finding, provenance))
end

local function why(finding)
  local f, reason = merge.normalise(finding)
  expect(f):is_nil()
  return reason
end

describe("merge.normalise", function()
  it("trims text, keeps only the known fields and adds the provenance", function()
    local f = normalised({
      file = " src/a.c ", line = 3, severity = " High ", claim = "  Leaks\n  the   handle  ",
      evidence = "\n  fopen() without fclose()\n", suggestion = "  close it ", category = " Resources ",
      raw_output = "everything the agent said", notes = "ignored",
    }, { worker = "w1", lens = "correctness", runner = "codex", run_id = "R-0001", root = "/ws" })
    expect(f):equals({
      file = "src/a.c", line = 3, severity = "high", claim = "Leaks the handle",
      evidence = "fopen() without fclose()", suggestion = "close it", category = "resources",
      worker = "w1", lens = "correctness", runner = "codex", run_id = "R-0001",
    })
  end)

  it("keeps evidence on several lines and drops blank optional text", function()
    local f = normalised({ file = "a", severity = "low", claim = "c", evidence = "line 1\n  line 2\n",
      suggestion = "   ", category = json.null })
    expect(f.evidence):equals("line 1\n  line 2")
    expect(f.suggestion):is_nil()
    expect(f.category):is_nil()
    expect(normalised({ file = "a", severity = "low", claim = 404 }).claim):equals("404")
  end)

  it("maps severity synonyms, in any case", function()
    local cases = {
      critical = "critical", BLOCKER = "critical", Blocker = "critical", major = "high", Error = "high",
      HIGH = "high", warning = "medium", Medium = "medium", minor = "low", low = "low", nit = "info",
      NitPick = "info", info = "info", [" nitpick "] = "info",
    }
    for given, want in pairs(cases) do
      expect({ given, normalised({ file = "a", severity = given, claim = "c" }).severity }):equals({ given, want })
    end
  end)

  it("refuses an unknown or missing severity with the list of severities", function()
    expect(why({ file = "a", severity = "urgent", claim = "c" }))
      :equals('severity: expected one of critical, high, medium, low, info, got "urgent"')
    expect(why({ file = "a", claim = "c" })):equals("severity: expected one of critical, high, medium, low, info, got nil")
    expect(why({ file = "a", severity = 3, claim = "c" })):contains("got 3")
  end)

  it("normalises paths and keeps them relative", function()
    local cases = {
      ["./src/a.c"] = "src/a.c",
      ["././src/a.c"] = "src/a.c",
      ["src\\win\\b.c"] = "src/win/b.c",
      [".\\src\\c.c"] = "src/c.c",
      ["a/./b/././c"] = "a/b/c",
      ["a//b///c"] = "a/b/c",
      ["a/b/."] = "a/b",
      ["../outside/x.c"] = "../outside/x.c",
      ["a/../b.c"] = "a/../b.c",
      ["/abs/elsewhere.c"] = "/abs/elsewhere.c",
    }
    for given, want in pairs(cases) do
      expect({ given, normalised({ file = given, severity = "low", claim = "c" }).file }):equals({ given, want })
    end
  end)

  it("makes paths under the worker's work tree relative", function()
    local prov = { worker = "w1", root = "/tmp/wt-1/" }
    expect(normalised({ file = "/tmp/wt-1/src/a.c", severity = "low", claim = "c" }, prov).file):equals("src/a.c")
    expect(normalised({ file = "/tmp/wt-10/src/a.c", severity = "low", claim = "c" }, prov).file)
      :equals("/tmp/wt-10/src/a.c")
    expect(merge.path("C:\\ws\\src\\a.c", "C:\\ws")):equals("src/a.c")
  end)

  it("reads lines as integers, ranges as line and line_end", function()
    local cases = {
      { 12, 12, nil }, { 12.0, 12, nil }, { "12", 12, nil }, { " L12 ", 12, nil }, { "l7", 7, nil },
      { "12-15", 12, 15 }, { "12 - 15", 12, 15 }, { "L12-L15", 12, 15 }, { "12\226\128\14715", 12, 15 },
      { "12:7", 12, nil }, { "12-12", 12, nil },
    }
    for _, c in ipairs(cases) do
      local f = normalised({ file = "a", line = c[1], severity = "low", claim = "c" })
      expect({ c[1], f.line, f.line_end }):equals({ c[1], c[2], c[3] })
    end
    local f = normalised({ file = "a", line = 3, line_end = "9", severity = "low", claim = "c" })
    expect({ f.line, f.line_end }):equals({ 3, 9 })
  end)

  it("treats an absent, null or empty line as no line", function()
    for _, line in ipairs({ json.null, "" }) do
      expect(normalised({ file = "a", line = line, severity = "low", claim = "c" }).line):is_nil()
    end
    expect(normalised({ file = "a", severity = "low", claim = "c" }).line):is_nil()
  end)

  it("refuses lines that are not line numbers", function()
    expect(why({ file = "a", line = "abc", severity = "low", claim = "c" }))
      :equals('line: expected a line number like 12, "L12" or "12-15", got "abc"')
    expect(why({ file = "a", line = 0, severity = "low", claim = "c" })):contains("got 0")
    expect(why({ file = "a", line = -4, severity = "low", claim = "c" })):contains("got -4")
    expect(why({ file = "a", line = 12.5, severity = "low", claim = "c" })):contains("got 12.5")
    expect(why({ file = "a", line = "15-12", severity = "low", claim = "c" }))
      :equals("line: the range 15-12 ends before it starts")
    expect(why({ file = "a", line = 3, line_end = "x", severity = "low", claim = "c" }))
      :equals('line_end: expected a line number, got "x"')
  end)

  it("takes the line from a file written as path:line or path#Lline", function()
    local cases = {
      { "src/a.c:12", "src/a.c", 12, nil }, { "./src/a.c:12-15", "src/a.c", 12, 15 },
      { "src/a.c#L3", "src/a.c", 3, nil }, { "src/a.c#L3-L4", "src/a.c", 3, 4 }, { "src/a.c:12:7", "src/a.c", 12, nil },
    }
    for _, c in ipairs(cases) do
      local f = normalised({ file = c[1], severity = "low", claim = "c" })
      expect({ f.file, f.line, f.line_end }):equals({ c[2], c[3], c[4] })
    end
    -- An explicit line wins over the one in the path.
    local f = normalised({ file = "src/a.c:12", line = 40, severity = "low", claim = "c" })
    expect({ f.file, f.line }):equals({ "src/a.c", 40 })
  end)

  it("refuses a finding without file or claim, or one that is not an object", function()
    expect(why({ severity = "low", claim = "c" })):equals("file: expected a path, got nil")
    expect(why({ file = "  ", severity = "low", claim = "c" })):equals('file: expected a path, got "  "')
    expect(why({ file = "./", severity = "low", claim = "c" })):contains("file: expected a path")
    expect(why({ file = "a", severity = "low" })):equals("claim: missing")
    expect(why({ file = "a", severity = "low", claim = " \n " })):equals("claim: missing")
    expect(why({ file = "a", severity = "low", claim = "c", evidence = { "x" } }))
      :equals("evidence: expected text, got a table")
    expect(why("a finding as a string")):equals('expected a finding object, got "a finding as a string"')
    expect(why(json.null)):equals("expected a finding object, got null")
  end)

  it("raises on a provenance that is not a table of strings", function()
    expect(function() merge.normalise({}, "w1") end):raises("merge.normalise: provenance must be a table, got string")
    expect(function() merge.normalise({}, { worker = 1 }) end):raises("provenance.worker must be a string, got number")
  end)
end)

describe("merge.similarity", function()
  it("is the Jaccard index of word sets without stop words", function()
    expect(merge.similarity("Null pointer dereference when config is missing",
      "Possible null pointer dereference if config missing")):near(5 / 6)
    expect(merge.similarity("The parser leaks memory", "parser LEAKS memory!")):equals(1.0)
    expect(merge.similarity("off-by-one in loop", "SQL injection in query")):equals(0.0)
    expect(merge.similarity("it is the", "a parser")):is_nil()
  end)
end)

describe("sidecar.preset.merge", function()
  it("is the public face of finding and merge_report: the same functions and tables", function()
    local finding = require("sidecar.preset.finding")
    local report = require("sidecar.preset.merge_report")
    for _, name in ipairs({ "normalise", "severity", "path", "similarity", "SEVERITIES", "SEVERITY_RANK",
      "SEVERITY_SYNONYMS" }) do
      expect(merge[name] ~= nil and merge[name] == finding[name]):is_true()
    end
    expect(merge.report_md == report.report_md and merge.to_json == report.to_json):is_true()
    expect(merge.severity("Blocker")):equals("critical")
    expect(merge.path("./a//b.c")):equals("a/b.c")
  end)
end)
