local test = require("test")
local describe, it, expect = test.describe, test.it, test.expect
local markers = require("markers")

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

  it("checks claimed files against the real change", function()
    local claimed = { { path = "/ws/a.c", change = "modified" }, { path = "b.c", change = "created" } }
    local out = markers.check_files(claimed, { "a.c", "c.c" }, "/ws")
    expect(out.confirmed):equals({ "a.c" })
    expect(out.claimed_not_changed):equals({ "b.c" })
    expect(out.changed_not_claimed):equals({ "c.c" })
  end)
end)
