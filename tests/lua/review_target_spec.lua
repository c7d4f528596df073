local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local review_target = require("sidecar.preset.target")

-- A fake git: answers by the joined arguments.
local function fake_git(answers, calls)
  return function(args)
    local key = table.concat(args, " ")
    if calls then
      calls[#calls + 1] = key
    end
    local a = answers[key]
    if a == false then
      return nil, "fatal: bad revision"
    end
    return a or ""
  end
end

describe("review_target.collect", function()
  it("takes the working change: git diff HEAD and the untracked files, secrets left out", function()
    local calls = {}
    local t = assert(review_target.collect(fake_git({
      ["diff --name-only HEAD"] = "src/a.c\n.env\n",
      ["ls-files --others --exclude-standard"] = "notes.md\nkeys/id_rsa\n",
      ["diff HEAD -- . :(exclude,literal).env :(exclude,literal)keys/id_rsa"] =
        "+x = 1\nKEY=ghp_abcdefghijklmnopqrstuvwxyz0123456789\n",
    }, calls)))
    expect(t.kind):equals("working")
    expect(t.files):equals({ "src/a.c", "notes.md" })
    expect(t.pointers):equals({ "src/a.c", "notes.md (untracked)" })
    expect(t.secret_files):equals({ ".env", "keys/id_rsa" })
    expect(t.diff):equals("+x = 1\nKEY=[REDACTED:github-token]\n")
    expect(t.inputs[1]):equals("`git diff HEAD`")
    expect(t.empty):is_false()
  end)

  it("takes a branch with base=, and cuts a long diff at a line end", function()
    local t = assert(review_target.collect(fake_git({
      ["diff --name-only main...HEAD"] = "src/a.c\n",
      ["diff main...HEAD -- ."] = "line one\nline two\nline three\n",
    }), { base = "main", max_bytes = 20 }))
    expect(t.kind):equals("base")
    expect(t.describe):equals("the change main...HEAD")
    expect(t.diff):equals("line one\nline two\n")
    expect(t.truncated):is_true()
  end)

  it("says why when git fails, and when both paths and base are given", function()
    local t, why = review_target.collect(fake_git({ ["diff --name-only HEAD"] = false }))
    expect(t):is_nil()
    expect(why):equals("git diff HEAD: fatal: bad revision")
    t, why = review_target.collect(fake_git({}), { paths = { "a" }, base = "main" })
    expect(why):equals("give paths or base, not both")
  end)

  it("is empty when nothing changed", function()
    expect(review_target.collect(fake_git({})).empty):is_true()
  end)

  it("takes named paths, refusing secret and missing ones", function()
    local repo = os.tmpname()
    local t = assert(review_target.collect(fake_git({}), { repo = "/", paths = { repo:sub(2) } }))
    expect(t.kind):equals("paths")
    expect(t.diff):is_nil()
    local none, why = review_target.collect(fake_git({}), { repo = "/", paths = { "etc/.env" } })
    expect(none):is_nil()
    expect(why):matches("^paths: 'etc/%.env' looks like a secrets file")
    none, why = review_target.collect(fake_git({}), { repo = "/nonexistent", paths = { "a.c" } })
    expect(why):equals("paths: a.c does not exist in /nonexistent")
    os.remove(repo)
  end)
end)
