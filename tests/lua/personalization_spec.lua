local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local personalization = require("sidecar.formats.personalization")
local rules = require("sidecar.formats.personalization_rules")

local dir
test.before_each(function()
  dir = os.tmpname()
  os.remove(dir)
  os.execute("mkdir -p '" .. dir .. "/notes'")
end)
test.after_each(function()
  os.execute("rm -rf '" .. dir .. "'")
end)

local function write(path, text)
  test.write(dir .. "/" .. path, text)
end

local FILES = { { path = "notes/a.md" }, { path = "notes/b.md" }, { path = "AGENTS.md" } }

local function row(o)
  local r = { preference = "Run the specs", scope = "project", type = "workflow", confidence = "repeated",
    evidence = "notes/a.md and notes/b.md", suggested_target = "AGENTS.md", action = "write" }
  for k, v in pairs(o or {}) do
    r[k] = v
  end
  return r
end

local function plan_of(rows, opts)
  return rules.plan({ recommended_writeback = rows, deferred = {}, reject = {}, privacy_notes = {} },
    FILES, opts)
end

describe("personalization_rules.read_inputs", function()
  it("reads paths and globs in order, once each, redacting secrets", function()
    write("notes/b.md", "two\nGITHUB_TOKEN=ghp_abcdefghijklmnopqrstuvwxyz0123456789\n")
    write("notes/a.md", "one\n")
    write("AGENTS.md", "agents\n")
    local files = assert(rules.read_inputs(dir, { "notes/*.md", "AGENTS.md", "notes/a.md" }))
    local paths = {}
    for i, f in ipairs(files) do
      paths[i] = f.path
    end
    expect(paths):equals({ "notes/a.md", "notes/b.md", "AGENTS.md" })
    expect(files[2].text):equals("two\nGITHUB_TOKEN=[REDACTED:github-token]\n")
    expect(files[2].redactions):equals(1)
    expect(files[1].redactions):equals(0)
  end)

  it("refuses secret files, named or matched, missing files, empty globs and binary files", function()
    write("notes/a.md", "one\n")
    write(".env", "A=1\n")
    write("notes/.env.local", "A=1\n")
    write("notes/blob.bin", "a\0b")
    local function refused(inputs)
      local files, why = rules.read_inputs(dir, inputs)
      expect(files):is_nil()
      return why
    end
    expect(refused({ "notes/a.md", ".env" })):matches("^inputs: refused: '%.env' looks like a secrets file")
    expect(refused({ "notes/.env*" })):matches("refused: 'notes/%.env%.local'")
    expect(refused({ "nope.md" })):equals("inputs: cannot read nope.md (No such file or directory)")
    expect(refused({ "notes/*.txt" })):equals("inputs: notes/*.txt matched no file")
    expect(refused({ "notes/blob.bin" })):equals("inputs: notes/blob.bin is not a text file")
    expect(refused({})):matches("list the files")
  end)

  it("cuts a long file at a line end and refuses too much in all", function()
    write("notes/a.md", ("0123456789\n"):rep(10))
    local files = assert(rules.read_inputs(dir, { "notes/a.md" }, { max_input_bytes = 25 }))
    expect(files[1].text):equals("0123456789\n0123456789\n")
    expect(files[1].truncated):is_true()
    expect(files[1].bytes):equals(110)
    local none, why = rules.read_inputs(dir, { "notes/a.md" }, { max_total_bytes = 50 })
    expect(none):is_nil()
    expect(why):matches("more than 50 bytes in all")
  end)

  it("takes absolute globs", function()
    write("notes/a.md", "one\n")
    local files = assert(rules.read_inputs("/nonexistent", { dir .. "/notes/*.md" }))
    expect(files[1].path):equals(dir .. "/notes/a.md")
  end)
end)

describe("personalization_rules.plan: the writeback policy", function()
  it("writes what is repeated in two inputs or stated by the user in one", function()
    local p = plan_of({ row(), row({ preference = "Short subjects", confidence = "user-stated",
      evidence = "said in b.md" }) }, {})
    expect(#p.writes):equals(2)
    expect(p.writes[1].inputs):equals({ "notes/a.md", "notes/b.md" })
    expect(p.writes[2].inputs):equals({ "notes/b.md" })
    expect(p.writes[2].target):equals("AGENTS.md")
    expect(#p.deferred):equals(0)
  end)

  it("defers a repeated preference whose evidence names one input, and a stated one naming none", function()
    local p = plan_of({ row({ evidence = "seen twice in notes/a.md" }),
      row({ preference = "Stated", confidence = "user-stated", evidence = "the user said it" }) })
    expect(#p.writes):equals(0)
    expect(p.recommended_writeback[1].action):equals("defer")
    expect(p.deferred[1].reason_deferred):equals(
      "writeback policy: repeated, but the evidence names 1 of the inputs (needs 2)")
    expect(p.deferred[2].reason_deferred):equals(
      "writeback policy: user-stated, but the evidence names 0 of the inputs (needs 1)")
  end)

  it("never writes observed or inferred, promote, defer, reject or discard", function()
    local p = plan_of({ row({ confidence = "observed" }), row({ confidence = "inferred" }),
      row({ action = "promote", scope = "public-skill-candidate" }), row({ action = "defer" }),
      row({ action = "reject" }), row({ scope = "discard" }) })
    expect(#p.writes):equals(0)
    local actions = {}
    for i, r in ipairs(p.recommended_writeback) do
      actions[i] = r.action
    end
    expect(actions):equals({ "defer", "defer", "promote", "defer", "reject", "reject" })
    expect(#p.deferred):equals(3) -- the two weak writes and the promotion
    expect(p.reject):equals({ { candidate = "Run the specs", reason_rejected = "scope discard" } })
  end)

  it("sends every write to the target when one is given", function()
    local p = plan_of({ row() }, { target = "MEMORY.md" })
    expect(p.writes[1].target):equals("MEMORY.md")
  end)
end)

describe("personalization.render", function()
  it("prints the four §3 sections and the plan, escaping pipes", function()
    local p = plan_of({ row({ preference = "a | b" }) })
    local text = personalization.render(p, { { path = "notes/a.md", redactions = 2 } })
    expect(text):contains("| a \\| b | project | workflow | repeated | notes/a.md and notes/b.md | AGENTS.md | write |")
    expect(text):contains("## Deferred\n\nNone.\n\n## Reject\n\nNone.\n\n## Privacy Notes\n\n"
      .. "- The scanner saw only the listed inputs (1 file, each cut at 16384 bytes); 2 secrets redacted")
    expect(text):contains("## Writeback plan\n\nNothing was written")
    expect(text):contains("| AGENTS.md | a \\| b | project | workflow | repeated | notes/a.md, notes/b.md |")
  end)
end)
