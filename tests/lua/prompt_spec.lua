local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local prompt = require("sidecar.prompt.compile")

-- A list of n items "<prefix>1" … "<prefix>n".
local function items(prefix, n)
  local out = {}
  for i = 1, n do
    out[i] = prefix .. i
  end
  return out
end

describe("prompt.estimate", function()
  it("counts characters / 4, rounded up", function()
    expect(prompt.estimate("")):equals(0)
    expect(prompt.estimate("abc")):equals(1)
    expect(prompt.estimate("abcd")):equals(1)
    expect(prompt.estimate("abcde")):equals(2)
    expect(prompt.estimate(("x"):rep(4000))):equals(1000)
  end)
end)

describe("prompt.compile", function()
  it("renders the header, then each section as a heading and its text or bullets, in order", function()
    local text, budget = prompt.compile({
      { title = "Objective", content = "Accept CRLF." },
      { title = "Files", list = { "a.c", "b.c" } },
    }, { header = "# Task T-1" })
    expect(text):equals("# Task T-1\n\n## Objective\n\nAccept CRLF.\n\n## Files\n\n- a.c\n- b.c\n")
    expect(budget.pass):equals("untrimmed")
    expect(budget.actions):equals({})
    expect(budget.estimated_tokens):equals(prompt.estimate(text))
    expect(budget.untrimmed_tokens):equals(budget.estimated_tokens)
    expect(budget.over_budget):is_false()
  end)

  it("starts at the first section when there is no header", function()
    local text = prompt.compile({ { title = "A", content = "x" } })
    expect(text):equals("## A\n\nx\n")
    expect(prompt.compile({ { title = "A", content = "x" } }, { header = "" })):equals("## A\n\nx\n")
  end)

  it("leaves out empty sections, required or not", function()
    local text = prompt.compile({
      { title = "Empty text", content = "" },
      { title = "No text" },
      { title = "Empty list", list = {}, required = true },
      { title = "Kept", content = "y" },
    })
    expect(text):equals("## Kept\n\ny\n")
  end)

  it("defaults the budget to a target of 1200 and a maximum of 1500 tokens", function()
    local _, budget = prompt.compile({ { title = "A", content = "x" } })
    expect(budget.target):equals(1200)
    expect(budget.max):equals(1500)
    expect(prompt.TARGET):equals(1200)
    expect(prompt.MAX):equals(1500)
  end)

  it("keeps everything when the text fits the target, however long the lists", function()
    local text, budget = prompt.compile({
      { title = "Files", list = items("f", 30), trim = "trim-last", limit = 2, label = "files" },
    }, { target = 1000, max = 2000 })
    expect(budget.pass):equals("untrimmed")
    expect(text):contains("- f30\n")
    expect(text:find("more files", 1, true)):is_nil()
  end)

  describe("the trimmed pass (over the target)", function()
    local sections = {
      { title = "Objective", content = ("o"):rep(40), required = true },
      { title = "Files", list = items("f", 10), trim = "trim-last", limit = 3, strict_limit = 1, label = "files" },
      { title = "Plain list", list = items("p", 4), limit = 2 },
      { title = "Avoid", list = items("a", 5), trim = "keep", limit = 1 },
      { title = "Short", list = { "s1" }, trim = "trim-last", limit = 3 },
    }

    it("cuts lists to their limit and ends each with '+ N more <label>'", function()
      local text, budget = prompt.compile(sections, { target = 20, max = 1000 })
      expect(budget.pass):equals("trimmed")
      expect(text):contains("## Files\n\n- f1\n- f2\n- f3\n+ 7 more files\n\n")
      expect(text:find("- f4", 1, true)):is_nil()
      expect(budget.over_budget):is_false()
      expect(budget.untrimmed_tokens > budget.estimated_tokens):is_true()
    end)

    it("names cut items 'items' when a list has no label, and cuts a list without a trim policy", function()
      local text = prompt.compile(sections, { target = 20, max = 1000 })
      expect(text):contains("## Plain list\n\n- p1\n- p2\n+ 2 more items\n")
    end)

    it("never cuts text, lists with trim = keep, or lists within their limit", function()
      local text = prompt.compile(sections, { target = 20, max = 1000 })
      expect(text):contains(("o"):rep(40))
      expect(text):contains("## Avoid\n\n- a1\n- a2\n- a3\n- a4\n- a5\n")
      expect(text):contains("## Short\n\n- s1\n")
    end)

    it("records each cut as an action of the trimmed pass", function()
      local _, budget = prompt.compile(sections, { target = 20, max = 1000 })
      expect(budget.actions):equals({
        { section = "Files", pass = "trimmed", action = "kept 3 of 10 files" },
        { section = "Plain list", pass = "trimmed", action = "kept 2 of 4 items" },
      })
    end)
  end)

  describe("the strict pass (still over the maximum)", function()
    local function sections()
      return {
        { title = "Objective", content = "Accept CRLF.", required = true },
        { title = "Files", list = items("file", 12), trim = "trim-last", limit = 6, strict_limit = 2, label = "files" },
        { title = "Notes", list = items("note", 8), trim = "drop", limit = 4, strict_limit = 2, label = "notes" },
        { title = "Must read", list = items("must", 8), trim = "drop", required = true, limit = 4, strict_limit = 3,
          label = "docs" },
        { title = "Later only", list = items("late", 6), trim = "trim-last", strict_limit = 1, label = "items" },
        { title = "Wide", list = items("wide", 5), trim = "trim-last", limit = 2, strict_limit = 4 },
      }
    end

    it("cuts to strict limits and leaves out droppable sections", function()
      local text, budget = prompt.compile(sections(), { target = 10, max = 40 })
      expect(budget.pass):equals("strict")
      expect(text):contains("## Files\n\n- file1\n- file2\n+ 10 more files\n")
      expect(text:find("## Notes", 1, true)):is_nil()
      expect(text:find("note1", 1, true)):is_nil()
    end)

    it("never drops a required section, though it cuts its list", function()
      local text = prompt.compile(sections(), { target = 10, max = 40 })
      expect(text):contains("## Objective\n\nAccept CRLF.\n")
      expect(text):contains("## Must read\n\n- must1\n- must2\n- must3\n+ 5 more docs\n")
    end)

    it("applies a strict limit that has no trimmed limit, and keeps the smaller of two limits", function()
      local text = prompt.compile(sections(), { target = 10, max = 40 })
      expect(text):contains("## Later only\n\n- late1\n+ 5 more items\n")
      expect(text):contains("## Wide\n\n- wide1\n- wide2\n+ 3 more items\n")
    end)

    it("records the cuts of both passes and each drop, without a cut for a dropped section", function()
      local _, budget = prompt.compile(sections(), { target = 10, max = 40 })
      expect(budget.actions):equals({
        { section = "Files", pass = "trimmed", action = "kept 6 of 12 files" },
        { section = "Notes", pass = "trimmed", action = "kept 4 of 8 notes" },
        { section = "Must read", pass = "trimmed", action = "kept 4 of 8 docs" },
        { section = "Wide", pass = "trimmed", action = "kept 2 of 5 items" },
        { section = "Notes", pass = "strict", action = "dropped" },
        { section = "Files", pass = "strict", action = "kept 2 of 12 files" },
        { section = "Must read", pass = "strict", action = "kept 3 of 8 docs" },
        { section = "Later only", pass = "strict", action = "kept 1 of 6 items" },
      })
    end)

    it("stops at the trimmed pass when trimming brings the text under the maximum", function()
      local text, budget = prompt.compile(sections(), { target = 10, max = 1000 })
      expect(budget.pass):equals("trimmed")
      expect(text):contains("## Notes\n\n- note1\n- note2\n- note3\n- note4\n+ 4 more notes\n")
    end)

    it("reports a prompt that is over the maximum even after the strict pass", function()
      local text, budget = prompt.compile({
        { title = "Objective", content = ("x"):rep(400), required = true },
        { title = "Notes", list = items("n", 3), trim = "drop" },
      }, { target = 10, max = 20 })
      expect(budget.pass):equals("strict")
      expect(budget.over_budget):is_true()
      expect(budget.estimated_tokens):equals(prompt.estimate(text))
      expect(text:find("## Notes", 1, true)):is_nil()
    end)

    it("does not record a drop for an empty droppable section", function()
      local _, budget = prompt.compile({
        { title = "Objective", content = ("x"):rep(400) },
        { title = "Notes", list = {}, trim = "drop" },
      }, { target = 10, max = 20 })
      expect(budget.actions):equals({})
    end)
  end)

  it("raises on sections that are not well formed", function()
    expect(function() prompt.compile("x") end):raises("expected a list of sections")
    expect(function() prompt.compile({ { content = "x" } }) end):raises("section 1 needs a title")
    expect(function() prompt.compile({ "text" }) end):raises("section 1 needs a title")
    expect(function() prompt.compile({ { title = "A", list = "x" } }) end):raises("'A': list must be a table")
    expect(function() prompt.compile({ { title = "A", content = { "x" } } }) end):raises("'A': content must be a string")
    expect(function() prompt.compile({ { title = "A", list = {}, trim = "cut" } }) end)
        :raises("'A': trim is keep, trim-last or drop")
    expect(function() prompt.compile({ { title = "A", list = {}, limit = -1 } }) end)
        :raises("'A': limit and strict_limit are whole numbers >= 0")
    expect(function() prompt.compile({ { title = "A", list = {}, strict_limit = 1.5 } }) end)
        :raises("'A': limit and strict_limit are whole numbers >= 0")
    expect(function() prompt.compile({ { title = "A", list = { "a", {} } } }) end):raises("'A': list item 2 must be a string")
    expect(function() prompt.compile({}, "opts") end):raises("opts must be a table")
  end)
end)

describe("prompt.explain", function()
  it("gives one line for the budget and one per action", function()
    local _, budget = prompt.compile({
      { title = "Objective", content = ("x"):rep(100), required = true },
      { title = "Files", list = items("f", 5), trim = "trim-last", limit = 4, strict_limit = 1, label = "files" },
      { title = "Notes", list = items("n", 3), trim = "drop" },
    }, { target = 10, max = 20 })
    expect(prompt.explain(budget)):equals(table.concat({
      ("tokens: %d estimated (untrimmed %d; target 10, max 20), pass: strict, still over the maximum"):format(
        budget.estimated_tokens, budget.untrimmed_tokens),
      "  Files: kept 4 of 5 files (trimmed pass)",
      "  Notes: dropped (strict pass)",
      "  Files: kept 1 of 5 files (strict pass)",
    }, "\n"))
  end)

  it("says nothing about cuts when nothing was cut", function()
    local _, budget = prompt.compile({ { title = "A", content = "x" } })
    expect(prompt.explain(budget)):equals(("tokens: %d estimated (untrimmed %d; target 1200, max 1500), pass: untrimmed")
      :format(budget.estimated_tokens, budget.untrimmed_tokens))
  end)
end)
