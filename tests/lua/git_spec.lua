local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local git = require("sidecar.core.git")

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

-- What the git program prints for `args` in `dir` (stderr dropped), and whether it succeeded.
local function git_says(dir, args)
  local p = assert(io.popen("cd '" .. dir .. "' && git " .. args .. " 2>/dev/null"))
  local out = p:read("a")
  return out, p:close()
end

-- git.facts must name the branch as `git rev-parse --abbrev-ref HEAD` does (or fail as it does),
-- and print the status `git status --short --branch` prints.
local function expect_same_branch(dir)
  local facts = git.facts(dir)
  local branch, ok = git_says(dir, "rev-parse --abbrev-ref HEAD")
  expect(facts.branch):equals(ok and branch:gsub("\n$", "") or nil)
  expect(facts.branch_error == nil):equals(ok == true)
  local status, status_ok = git_says(dir, "-c color.status=never status --short --branch")
  expect(facts.status):equals(status_ok and status or nil)
  expect(git.branch(dir)):equals(facts.branch)
  return facts
end

describe("git.facts", function()
  it("names the branch from the status line, and reads HEAD and status", function()
    sh(root, "git init -q -b main && echo a > a && git add a && git commit -qm a && echo b >> a")
    local facts = expect_same_branch(root)
    expect(facts.branch):equals("main")
    expect(facts.head):matches("^%x+$")
    expect(facts.head):equals(git.head(root))
    expect(facts.status):equals("## main\n M a\n")
  end)

  it("names a branch with slashes and dots, and one that tracks another", function()
    sh(root, "git init -q -b main up && cd up && echo a > a && git add a && git commit -qm a && cd .. "
      .. "&& git clone -q up down && cd down && git checkout -q -b feature/x.y origin/main && echo b >> a "
      .. "&& git commit -qam b")
    local facts = expect_same_branch(root .. "/down")
    expect(facts.branch):equals("feature/x.y")
    expect(facts.status):matches("^## feature/x%.y%.%.%.origin/main %[ahead 1%]\n")
  end)

  it("says HEAD when detached", function()
    sh(root, "git init -q -b main && echo a > a && git add a && git commit -qm a && git checkout -q --detach")
    expect(expect_same_branch(root).branch):equals("HEAD")
  end)

  it("reads a repository without commits, and one that asks git for colour", function()
    sh(root, "git init -q -b main")
    local facts = expect_same_branch(root)
    expect(facts.head):equals(nil)
    sh(root, "echo a > a && git add a && git commit -qm a && git config color.status always")
    expect(expect_same_branch(root).branch):equals("main")
  end)

  it("outside a repository, says why for each fact", function()
    local facts = expect_same_branch(root)
    expect(facts.status):equals(nil)
    expect(facts.status_error):matches("not a git repository")
    expect(facts.head_error):matches("not a git repository")
  end)

  it("runs other commands in the same wave and returns their results in order", function()
    sh(root, "git init -q -b main")
    local facts, results = git.facts(root, { { cmd = { "echo", "one" } }, { cmd = { "echo", "two" } } })
    expect(facts.branch_error ~= nil):is_true()
    expect(results[1].stdout):equals("one\n")
    expect(results[2].stdout):equals("two\n")
  end)

  it("prints the status git prints: staged, renamed, deleted, typechanged, untracked folders, quoted names",
    function()
      sh(root, "git init -q -b main && echo a > a && echo b > b && echo c > c && echo d > 'd e' && mkdir sub "
        .. "&& echo s > sub/s && git add . && git commit -qm a && git mv b b2 && rm c && ln -sf a sub/s "
        .. "&& echo new > \"$(printf 'caf\\303\\251')\" && echo q > 'quo\"te' && mkdir -p u/v && echo w > u/v/w "
        .. "&& echo more >> 'd e' && echo staged > a && git add a && echo later >> a && echo i > ign "
        .. "&& echo ign > .gitignore")
      local facts = expect_same_branch(root)
      expect(facts.status):matches('\n%?%? "caf\\303\\251"\n')
      expect(facts.status):matches("\nR  b %-> b2\n")
    end)

  it("runs no git program: a git on PATH that leaves a mark is never started", function()
    sh(root, "git init -q -b main && echo a > a && git add a && git commit -qm a && mkdir bin "
      .. "&& printf '#!/bin/sh\\ntouch \"%s/ran\"\\n' \"$PWD\" > bin/git && chmod +x bin/git")
    local proc = require("sidecar.core.proc")
    local code = ("local f = require('sidecar.core.git').facts(%q) io.write(f.branch, ' ', f.head)"):format(root)
    local r = proc.run({ proc.executable(), "-e", code }, { env = { PATH = root .. "/bin:" .. os.getenv("PATH") } })
    expect(r.ok):is_true()
    expect(r.stdout):equals("main " .. git_says(root, "rev-parse HEAD"):gsub("\n", ""))
    expect(io.open(root .. "/ran")):is_nil()
  end)

  it("presets read their change without a git program: precommit-classifier, triangulated-review", function()
    sh(root, "git init -q -b main && echo a > a.c && git add a.c && git commit -qm a && echo b >> a.c "
      .. "&& echo n > new.md && mkdir bin && printf '#!/bin/sh\\ntouch \"%s/ran\"\\nexit 1\\n' \"$PWD\" > bin/git "
      .. "&& chmod +x bin/git")
    local proc = require("sidecar.core.proc")
    local env = { PATH = root .. "/bin:" .. os.getenv("PATH") }
    local r = proc.run({ proc.executable(), "preset", "run", "precommit-classifier", "--param", "agent=false",
      "--json" }, { cwd = root, env = env })
    expect(r.stdout):contains('"path": "code"')
    r = proc.run({ proc.executable(), "preset", "run", "triangulated-review", "--dry-run", "--json" },
      { cwd = root, env = env })
    expect(r.stdout):contains("new.md")
    local f = assert(io.open(root .. "/.agent/runs/R-0001/prompt.md"))
    expect(f:read("a")):contains("\n+b\n") -- the diff, read in-process
    f:close()
    expect(io.open(root .. "/ran")):is_nil()
  end)
end)

describe("sidecar.host.git.preload", function()
  it("a process that ends while libgit2 is still loading ends cleanly", function()
    local proc = require("sidecar.core.proc")
    for _ = 1, 10 do
      local r = proc.run({ proc.executable(), "-e", "require('sidecar.host.git').preload() os.exit(3)" })
      expect(r.code):equals(3)
    end
  end)

  it("so does one whose chunk returns, or that exits while a snapshot is being read", function()
    local proc = require("sidecar.core.proc")
    sh(root, "git init -q -b main && echo a > a && git add a && git commit -q -m init")
    local snapshot = "require('sidecar.host.git_tree').start_tree_snapshot(" .. string.format("%q", root) .. ")"
    for _ = 1, 5 do
      local r = proc.run({ proc.executable(), "-e", "require('sidecar.host.git').preload()" })
      expect(r.code):equals(0)
      r = proc.run({ proc.executable(), "-e", snapshot .. " os.exit(4)" })
      expect(r.code):equals(4)
      expect(r.stderr):equals("")
    end
  end)
end)

describe("git.dirs", function()
  it("finds a repository's .git folder from a folder inside it, own and common the same", function()
    sh(root, "git init -q -b main && mkdir -p a/b")
    local own, common = git.dirs(root .. "/a/b")
    expect(own):equals(root .. "/a/b/../../.git")
    expect(common):equals(own)
  end)

  it("follows a linked worktree's .git file to its own folder and the common one", function()
    sh(root, "git init -q -b main && git commit -q --allow-empty -m init && git worktree add -q ../wt-" ..
      root:match("[^/]+$"))
    local linked = root .. "/../wt-" .. root:match("[^/]+$")
    local own, common = git.dirs(linked)
    os.execute("rm -rf '" .. linked .. "'")
    expect(own):matches("/%.git/worktrees/wt%-")
    expect(common):matches("/%.git/worktrees/wt%-[^/]+/%.%./%.%.$")
  end)

  it("says git must be asked when a .git file names no folder, and nil outside any repository", function()
    local f = assert(io.open(root .. "/.git", "w"))
    f:write("not a gitdir line\n")
    f:close()
    expect(git.dirs(root)):is(false)
    os.remove(root .. "/.git")
    expect(git.dirs(root .. "/nowhere")):is_nil()
  end)
end)
