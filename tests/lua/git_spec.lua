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

-- True while `pid` is a live process (a zombie counts as gone).
local function alive(pid)
  local f = io.open("/proc/" .. pid .. "/stat")
  if not f then
    return false
  end
  local state = (f:read("a") or ""):match("%) (%a)")
  f:close()
  return state ~= nil and state ~= "Z"
end

-- Polls `done` every 20 ms for up to 30 s; its last answer. A readiness wait, not a time bound.
local function wait_until(done)
  for _ = 1, 1500 do
    local v = done()
    if v then
      return v
    end
    os.execute("sleep 0.02")
  end
  return done()
end

-- The pid written in the file at `path`, or nil.
local function pid_in(path)
  local f = io.open(path)
  if not f then
    return nil
  end
  local pid = math.tointeger(tonumber(f:read("l") or ""))
  f:close()
  return pid
end

-- git.facts must name the branch as `git rev-parse --abbrev-ref HEAD` does (or fail as it does).
local function expect_same_branch(dir)
  local facts = git.facts(dir)
  local branch, why = git.branch(dir)
  expect(facts.branch):equals(branch)
  expect(facts.branch_error == nil):equals(why == nil)
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

  it("asks git when the status line is not a plain branch (no commits yet, colour)", function()
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

  it("start_facts: closing unread stops the gits", function()
    -- git status runs the fsmonitor hook and waits for it. The hook says it started, sleeps far
    -- longer than the test and then leaves a mark: a close that waited instead of stopping would
    -- show as the mark, or as a hook still alive.
    local started, finished = root .. "/hook.started", root .. "/hook.finished"
    local f = assert(io.open(root .. "/hook.sh", "w"))
    f:write("#!/bin/sh\necho $$ > '", started, "'\nsleep 60\n: > '", finished, "'\n")
    f:close()
    sh(root, "git init -q -b main && chmod +x hook.sh && git config core.fsmonitor \"$PWD/hook.sh\"")
    local pending = git.start_facts(root)
    local hook_pid = wait_until(function() return pid_in(started) end)
    expect(hook_pid):exists()
    expect(alive(hook_pid)):is_true() -- git status is still waiting for it
    pending:close()
    expect(pending.handles):equals({})
    -- Ended with git's process group (the signal takes a moment to land), long before its sleep.
    expect(wait_until(function() return not alive(hook_pid) end)):is_true()
    expect(io.open(finished)):is_nil()
    pending:close() -- closing twice is harmless
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
