-- stdlib/sidecar/core/text.lua: linear helpers, and untrusted bytes made valid (records) or visible (terminal).
local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local json = require("sidecar.core.json")
local text = require("sidecar.core.text")

-- CPU seconds (os.clock): what a pass costs, however busy the machine is.
local function seconds(f)
  local t0 = os.clock()
  f()
  return os.clock() - t0
end

describe("text: line helpers", function()
  it("trim, first_line and last_line read lines as before", function()
    expect(text.trim("  a b \t\n")):equals("a b")
    expect(text.trim(" \n\t ")):equals("")
    expect(text.trim("x")):equals("x")
    expect(text.first_line("\n\n  first one  \nsecond")):equals("first one")
    expect(text.first_line("   ")):equals("")
    expect(text.first_line(nil)):is_nil()
    expect(text.first_line(("é"):rep(100), 11)):equals("éééé...") -- cut between characters
    expect(text.last_line("a\nb\nlast line\n\n\n")):equals("last line")
    expect(text.last_line("only")):equals("only")
    expect(text.last_line("\n\n")):is_nil()
  end)

  it("clip and tail never cut a character in two", function()
    expect(text.clip("aé", 2, "")):equals("a")
    expect(text.clip("abcdef", 5)):equals("ab...")
    expect(text.clip("abc", 5)):equals("abc")
    expect(text.tail("éa", 2)):equals("a")
    expect(text.tail("aé", 2)):equals("é")
    expect(text.tail("abc", 10)):equals("abc")
    expect(select(1, text.valid_utf8(text.tail(("€"):rep(50), 100)))):is_true()
  end)

  it("stay linear on runs of spaces, of newlines and on lines without an end", function()
    local n = 2 * 1000 * 1000
    local spaces = (" "):rep(n) .. "x" .. (" "):rep(n)
    local newlines = ("\n"):rep(n) .. "x"
    local t = seconds(function()
      expect(text.trim(spaces)):equals("x")
      expect(text.first_line(spaces, 200)):equals("x")
      expect(text.last_line(newlines)):equals("x")
      expect(text.last_line(spaces .. "\n" .. spaces)):equals(spaces)
      expect(#text.clip(spaces, 100)):equals(100)
    end)
    -- Quadratic passes over 2 MB take hours; linear ones well under a second even on a busy machine.
    expect(t < 20):is_true()
  end)
end)

describe("text: markdown headings and trims", function()
  it("heading reads an ATX heading as the lazy pattern did", function()
    expect({ text.heading("## Title ##  ") }):equals({ "##", "Title", 1 })
    expect({ text.heading("  # a # b") }):equals({ "#", "a # b", 3 })
    expect({ text.heading("### C#") }):equals({ "###", "C", 1 })
    expect({ text.heading("## ###") }):equals({ "##", "", 1 })
    expect(text.heading("##x")):is_nil()
    expect(text.heading("text")):is_nil()
    expect(text.rtrim("a b \n\t")):equals("a b")
    expect(text.rtrim("  ")):equals("")
  end)
end)

describe("text: every parser of an agent's answer stays linear", function()
  it("reads 400 KB runs of spaces, newlines, brackets and fences in seconds, not hours", function()
    local steps, merge = require("sidecar.preset.steps"), require("sidecar.preset.merge")
    local json_extract = require("sidecar.core.json_extract")
    local precommit, personalization = require("sidecar.formats.precommit"), require("sidecar.formats.personalization")
    local sp = (" "):rep(400000)
    local texts = {
      "a" .. sp .. "b", "## a" .. sp .. "#" .. sp .. "b", "```" .. sp .. "x\n" .. sp .. "```" .. sp .. "`",
      "- **Path:**" .. sp .. "x" .. sp .. "y\nWhy this path" .. sp .. "x:" .. sp .. "y", ("\n"):rep(400000) .. "x",
      ("\n" .. (" "):rep(10)):rep(40000) .. "\n[BLOCKED] x", ("{"):rep(400000),
    }
    local t = seconds(function()
      for _, s in ipairs(texts) do
        json_extract.extract(s)
        precommit.parse(s)
        personalization.parse(s)
        steps.sections(s)
        steps.split_markdown(s, 2)
        steps.nest(s, 3)
        steps.report_of(s)
        merge.normalise({ file = s, claim = s, severity = s, line = s })
      end
    end)
    expect(t < 60):is_true() -- each quadratic pass over these takes many minutes
  end)
end)

describe("text: invalid UTF-8", function()
  it("repair_utf8 writes each invalid byte as U+FFFD and counts it", function()
    expect({ text.repair_utf8("R\xe9sum\xe9") }):equals({ "R\u{FFFD}sum\u{FFFD}", 2 })
    expect({ text.repair_utf8("Résumé") }):equals({ "Résumé", 0 })
    expect({ text.repair_utf8("\xc3") }):equals({ "\u{FFFD}", 1 }) -- a character cut short
    expect({ text.repair_utf8("\xed\xa0\x80") }):equals({ ("\u{FFFD}"):rep(3), 3 }) -- a surrogate
    expect({ text.valid_utf8("ok") }):equals({ true })
    expect({ text.valid_utf8("ab\xff") }):equals({ false, 3 })
  end)

  it("mark_invalid_utf8 repairs a record in place, keys included, and says where", function()
    local record = { summary = "R\xe9sum\xe9", ok = "fine", markers = { warnings = json.array({ "a", "b\x80" }) },
      ["k\xff"] = 1 }
    expect(text.mark_invalid_utf8(record)):equals(4)
    expect(record.summary):equals("R\u{FFFD}sum\u{FFFD}")
    expect(record["k\u{FFFD}"]):equals(1)
    expect(record.invalid_utf8.bytes):equals(4)
    local fields = record.invalid_utf8.fields
    table.sort(fields)
    expect(fields):equals({ "k\u{FFFD}", "markers.warnings[2]", "summary" })
    expect(record.invalid_utf8.replaced_with):equals("U+FFFD")
    -- A second save finds nothing new and keeps the count; new bad text adds to it.
    expect(text.mark_invalid_utf8(record)):equals(0)
    record.failure_reason = "\xfe"
    expect(text.mark_invalid_utf8(record)):equals(1)
    expect(record.invalid_utf8.bytes):equals(5)
    expect(json.decode(json.encode(record)).summary):equals("R\u{FFFD}sum\u{FFFD}")
    local clean = { a = "b" }
    expect(text.mark_invalid_utf8(clean)):equals(0)
    expect(clean.invalid_utf8):is_nil()
  end)
end)

describe("text: what a terminal shows", function()
  it("shows escape sequences and other controls instead of obeying them", function()
    expect({ text.visible("plain\ttext\nand CRLF\r\n") }):equals({ "plain\ttext\nand CRLF\r\n", 0 })
    expect({ text.visible("\27[31mred\27[0m") }):equals({ "^[[31mred^[[0m", 2 })
    expect(text.visible("\27]0;title\7")):equals("^[]0;title^G")
    expect(text.visible("over\rwrite")):equals("over^Mwrite")
    expect(text.visible("del\127 nul\0")):equals("del^? nul^@")
    expect(text.visible("c1 \u{9b}31m")):equals("c1 <U+009B>31m")
    expect(text.visible("bidi \u{202e}txt.exe\u{2066}")):equals("bidi <U+202E>txt.exe<U+2066>")
    expect(text.visible("Latin-1 R\xe9sum\xe9")):equals("Latin-1 R\\xE9sum\\xE9")
    expect(text.visible("ünïcödé €")):equals("ünïcödé €")
  end)
end)
