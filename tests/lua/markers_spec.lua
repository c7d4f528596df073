local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local clock = require("sidecar.host.time")
local markers = require("sidecar.agent.markers")

describe("markers", function()
  it("reads every marker of a final message", function()
    local r = markers.parse(table.concat({
      "Some preamble.",
      "[PROGRESS] reading the parser",
      "[FILES_MODIFIED]",
      "- src/parse.c (modified)",
      "- src/new.c (created)",
      "",
      "[CODEX_COMPLETE] parser fixed",
    }, "\n"))
    expect(r.status):equals("complete")
    expect(r.progress):equals({ "reading the parser" })
    expect(r.files_modified):equals({ { path = "src/parse.c", change = "modified" },
      { path = "src/new.c", change = "created" } })
    expect(r.complete.text):equals("parser fixed")
    expect(r.warnings):equals({})
  end)

  it("never lets a completion override an open blocker or question", function()
    local r = markers.parse("[BLOCKED] tests need a database\nno server on 5432\n\n[CODEX_COMPLETE] done\n")
    expect(r.status):equals("blocked")
    expect(r.blockers[1].reason):equals("tests need a database")
    expect(r.blockers[1].context):equals({ "no server on 5432" })
    expect(r.warnings[1]):contains("[CODEX_COMPLETE] ignored: the agent also reported [BLOCKED] tests need a database")

    r = markers.parse("[QUESTION] which API?\nOptions:\n1. REST\n2) gRPC\n[CODEX_COMPLETE] done")
    expect(r.status):equals("question")
    expect(r.questions[1].text):equals("which API?")
    expect(r.questions[1].options):equals({ "REST", "gRPC" })
  end)

  it("gives the same result however the stream is chunked", function()
    local text = "[PROGRESS] a\n[FILES_MODIFIED]\n- x.txt (deleted)\n[CODEX_COMPLETE] ok\n"
    local whole = markers.parse(text)
    local p = markers.parser()
    for i = 1, #text do
      p:feed(text:sub(i, i))
    end
    expect(p:finish()):equals(whole)
  end)

  it("reports malformed file lines and a second completion as warnings, keeping what it can", function()
    local r = markers.parse("[FILES_MODIFIED]\n- a.txt (renamed)\nb.txt\n[CODEX_COMPLETE] one\n[CODEX_COMPLETE] two")
    expect(r.files_modified):equals({ { path = "a.txt (renamed)", change = "unknown" } })
    expect(#r.warnings):equals(3)
    expect(r.warnings[3]):contains("a second [CODEX_COMPLETE]")
    expect(r.complete.text):equals("one")
    expect(markers.parse("no markers at all").status):equals("none")
    expect(markers.parse("[PROGRESS] half way").status):equals("in_progress")
    expect(markers.parse("text [BLOCKED] not at line start").status):equals("none")
  end)

  it("reads markers as before when lines carry long runs of spaces, in linear time", function()
    local sp = (" "):rep(200000)
    local text = table.concat({
      "[PROGRESS] a" .. sp .. "b", "[FILES_MODIFIED]", "-" .. sp .. "a.txt" .. sp .. "(modified)" .. sp, "",
      "[QUESTION] which?" .. sp, "1." .. sp .. "REST" .. sp, "Options:" .. sp, "2)" .. sp, "more" .. sp .. "text",
      "[BLOCKED]" .. sp .. "why" .. sp, sp .. "context" .. sp, "[CODEX_COMPLETE]" .. sp,
    }, "\n")
    local t0 = os.clock() -- CPU time: what the parse costs, however busy the machine is
    local r = markers.parse(text)
    local seconds = os.clock() - t0
    expect(r.files_modified):equals({ { path = "a.txt", change = "modified" } })
    expect(r.questions[1].options):equals({ "REST", "" })
    expect(#r.questions[1].text):equals(markers.MAX_TEXT)
    expect(r.questions[1].text:sub(1, 11)):equals("which?\nmore")
    expect(r.blockers[1]):equals({ reason = "why", context = { "context" }, line = 10 })
    expect(#r.progress[1]):equals(markers.MAX_TEXT) -- clipped, marked "..."
    expect(r.status):equals("blocked")
    expect(seconds < 20):is_true() -- quadratic trims take hours on 2.6 MB of spaces
  end)

  it("keeps at most MAX_ITEMS entries per list and counts the rest", function()
    local lines = {}
    for i = 1, markers.MAX_ITEMS + 5 do
      lines[#lines + 1] = "[PROGRESS] step " .. i
    end
    lines[#lines + 1] = "[FILES_MODIFIED]"
    for i = 1, markers.MAX_ITEMS + 2 do
      lines[#lines + 1] = "not a file line " .. i
    end
    local r = markers.parse(table.concat(lines, "\n"))
    expect(#r.progress):equals(markers.MAX_ITEMS)
    expect(#r.warnings):equals(markers.MAX_ITEMS)
    expect(r.dropped):equals({ progress = 5, warnings = 2 })
  end)

  it("stops reading at its deadline and says where", function()
    local lines = {}
    for i = 1, 5000 do
      lines[i] = "[PROGRESS] " .. i
    end
    local r = markers.parse(table.concat(lines, "\n"), { deadline_ns = clock.monotonic_ns() - 1 })
    expect(r.stopped_at_line):equals(1024)
    expect(#r.progress):equals(markers.MAX_ITEMS)
    expect(r.warnings[1]):contains("the deadline passed: markers were read up to line 1024 only")
    expect(markers.parse("[PROGRESS] x", { deadline_ns = clock.monotonic_ns() + 10 ^ 12 }).stopped_at_line):is_nil()
  end)

  it("never raises, whatever the text", function()
    local pieces = { "[", "]", "[BLOCKED]", "[QUESTION]", "[FILES_MODIFIED]", "[CODEX_COMPLETE]", "[PROGRESS]",
      "- ", "(", ")", "(created)", "1.", "2)", "Options:", " ", "\t", "\r", "\n", "\n\n", "\0", "\xff", "é", "x" }
    local seed = 14
    for _ = 1, 300 do
      local parts = {}
      for k = 1, 40 do
        seed = (seed * 1103515245 + 12345) % 2147483648
        parts[k] = pieces[seed % #pieces + 1]
      end
      local text = table.concat(parts)
      local ok, err = pcall(markers.parse, text)
      if not ok then
        error(("markers.parse raised on %q: %s"):format(text, tostring(err)))
      end
    end
    expect(markers.parse(nil).status):equals("none")
    expect(markers.parse({}).status):equals("none")
  end)

  it("checks claimed files against the real change", function()
    local claimed = { { path = "/ws/a.c", change = "modified" }, { path = "b.c", change = "created" } }
    local out = markers.check_files(claimed, { "a.c", "c.c" }, "/ws")
    expect(out.confirmed):equals({ "a.c" })
    expect(out.claimed_not_changed):equals({ "b.c" })
    expect(out.changed_not_claimed):equals({ "c.c" })
  end)
end)
