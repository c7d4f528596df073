local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local review_target = require("sidecar.preset.target")

local root
test.before_each(function()
  root = os.tmpname()
  os.remove(root)
  assert(os.execute("mkdir '" .. root .. "'"))
end)
test.after_each(function()
  os.execute("rm -rf '" .. root .. "'")
end)

-- Runs a shell script in `dir` with a fixed identity; raises if it fails.
local function sh(dir, script)
  assert(os.execute("cd '" .. dir .. "' && export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@t GIT_COMMITTER_NAME=t "
    .. "GIT_COMMITTER_EMAIL=t@t && { " .. script .. "; } >/dev/null 2>&1"))
end

-- What the git program prints for `args` in `dir`.
local function git_says(dir, args)
  local p = assert(io.popen("cd '" .. dir .. "' && git -c core.quotePath=false " .. args .. " 2>/dev/null"))
  local out = p:read("a")
  p:close()
  return out
end

local function lines(text)
  local out = {}
  for line in text:gmatch("[^\n]+") do
    out[#out + 1] = line
  end
  return out
end

-- A repository with a commit on main, then a working change: a modified, a deleted, a staged new,
-- a binary, an untracked and an ignored file, and a secret file changed.
local function working_repo()
  sh(root, "git init -q -b main && printf 'one\\ntwo\\n' > a.c && echo x > gone.c && printf 'k\\0' > b.bin "
    .. "&& echo 'TOKEN=1' > .env && echo build/ > .gitignore && git add -A && git commit -qm one "
    .. "&& echo three >> a.c && rm gone.c && echo new > staged.c && git add staged.c && printf 'k\\1' > b.bin "
    .. "&& echo 'KEY=ghp_abcdefghijklmnopqrstuvwxyz0123456789' >> .env && mkdir -p notes build keys "
    .. "&& echo n > notes/todo.md && echo o > build/out && echo s > keys/id_rsa "
    .. "&& echo 'KEY=ghp_abcdefghijklmnopqrstuvwxyz0123456789' >> a.c")
end

describe("review_target.collect", function()
  it("takes the working change as git diff HEAD and git ls-files --others show it, secrets left out", function()
    working_repo()
    local t = assert(review_target.collect({ repo = root }))
    expect(t.kind):equals("working")
    local changed = lines(git_says(root, "diff --name-only HEAD"))
    local untracked = lines(git_says(root, "ls-files --others --exclude-standard"))
    expect(changed):equals({ ".env", "a.c", "b.bin", "gone.c", "staged.c" })
    expect(untracked):equals({ "keys/id_rsa", "notes/todo.md" })
    expect(t.files):equals({ "a.c", "b.bin", "gone.c", "staged.c", "notes/todo.md" })
    expect(t.untracked):equals(untracked)
    expect(t.pointers[5]):equals("notes/todo.md (untracked)")
    expect(t.secret_files):equals({ ".env", "keys/id_rsa" })
    -- The patch is git's own, byte for byte, with the secret file left out and keys redacted.
    local secrets = require("sidecar.core.secrets")
    expect(t.diff):equals((secrets.redact(git_says(root, "diff --no-color --no-renames HEAD -- . ':(exclude).env'"))))
    expect(t.diff):contains("KEY=[REDACTED:github-token]")
    expect(t.diff:find("TOKEN=1", 1, true)):is_nil()
    expect(t.inputs[1]):equals("`git diff HEAD`")
    expect(t.empty):is_false()
  end)

  it("takes a branch with base= (from the merge base), and cuts a long diff at a line end", function()
    sh(root, "git init -q -b main && echo a > a.c && git add a.c && git commit -qm a && git checkout -qb topic "
      .. "&& printf 'line one\\nline two\\nline three\\n' > b.c && git add b.c && git commit -qm b "
      .. "&& git checkout -q main && echo later > main-only.c && git add main-only.c && git commit -qm c "
      .. "&& git checkout -q topic && echo dirty >> a.c")
    local t = assert(review_target.collect({ repo = root, base = "main", max_bytes = 4096 }))
    expect(t.kind):equals("base")
    expect(t.describe):equals("the change main...HEAD")
    expect(t.files):equals(lines(git_says(root, "diff --name-only main...HEAD")))
    expect(t.files):equals({ "b.c" })
    expect(t.diff):equals(git_says(root, "diff --no-color main...HEAD"))
    local cut = assert(review_target.collect({ repo = root, base = "main", max_bytes = #t.diff - 3 }))
    expect(cut.truncated):is_true()
    expect(cut.diff):equals(t.diff:match("^(.*\n)%+line three\n$"))
  end)

  it("says why when git cannot answer, and when both paths and base are given", function()
    sh(root, "git init -q -b main && echo a > a && git add a && git commit -qm a")
    local t, why = review_target.collect({ repo = root, base = "no-such-branch" })
    expect(t):is_nil()
    expect(why):matches("^git diff no%-such%-branch%.%.%.HEAD: unknown revision no%-such%-branch")
    t, why = review_target.collect({ repo = root .. "/..", base = "main" })
    expect(why):matches("^git diff main%.%.%.HEAD: not a git repository")
    t, why = review_target.collect({ paths = { "a" }, base = "main" })
    expect(why):equals("give paths or base, not both")
  end)

  it("is empty when nothing changed, and in a repository without commits reads from the empty tree", function()
    sh(root, "git init -q -b main && echo a > a && git add a && git commit -qm a")
    expect(review_target.collect({ repo = root }).empty):is_true()
    sh(root, "rm -rf .git && git init -q -b main && echo a > a && git add a && echo b > b")
    local t = assert(review_target.collect({ repo = root }))
    expect(t.files):equals({ "a", "b" })
    expect(t.pointers):equals({ "a", "b (untracked)" })
  end)

  it("takes named paths, refusing secret and missing ones", function()
    local repo = os.tmpname()
    local t = assert(review_target.collect({ repo = "/", paths = { repo:sub(2) } }))
    expect(t.kind):equals("paths")
    expect(t.diff):is_nil()
    local none, why = review_target.collect({ repo = "/", paths = { "etc/.env" } })
    expect(none):is_nil()
    expect(why):matches("^paths: 'etc/%.env' looks like a secrets file")
    none, why = review_target.collect({ repo = "/nonexistent", paths = { "a.c" } })
    expect(why):equals("paths: a.c does not exist in /nonexistent")
    os.remove(repo)
  end)
end)
