local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local git_commands = require("sidecar.run.git_commands")
local git_refs = require("sidecar.run.git_refs")
local push_block = require("sidecar.run.push_block")
local proc = require("sidecar.core.proc")

local base, repo
local function sh(command, dir)
  assert(os.execute("cd '" .. (dir or repo) .. "' && " .. command .. " >/dev/null 2>&1"), command)
end
local function out(command)
  return proc.run(proc.shell("cd '" .. repo .. "' && " .. command)).stdout:gsub("%s+$", "")
end
local function read(path)
  local f = io.open(path)
  local text = f and f:read("a")
  if f then
    f:close()
  end
  return text
end

test.before_each(function()
  base = os.tmpname()
  os.remove(base)
  repo = base .. "/repo"
  os.execute("mkdir -p '" .. repo .. "'")
  sh("git init -q -b main && git config user.email t@example.com && git config user.name T && git commit -q --allow-empty -m init")
  sh("git init -q --bare ../remote.git && git remote add origin ../remote.git && git push -q origin main")
end)
test.after_each(function()
  os.execute("rm -rf '" .. base .. "'")
end)

-- Runs `agent` (a shell command) in the repository with the push block, as agent_run does.
local function watched(agent, opts)
  opts = opts or {}
  local w = git_refs.watch(opts.repo or repo, { run_id = opts.run_id or "R-0002", push_log = base .. "/push.log" })
  local env = w:block_push(opts.env or {})
  local r = proc.run(proc.shell("cd '" .. (opts.repo or repo) .. "' && " .. agent), { env = env })
  w:after()
  return w:facts(nil, nil, opts.commands), r
end

describe("git facts of a run", function()
  it("name commits, tags and branches made, moved and deleted", function()
    sh("git tag old && git branch gone && git tag -a -m note annotated")
    local f = watched("git commit -q --allow-empty -m 'agent change' && git tag v9.9 && git tag -d old && " ..
      "git branch -D gone && git branch feature && git tag -f -a -m moved annotated")
    local head = out("git rev-parse HEAD")
    expect(f.head_after):equals(head)
    expect({ f.head_branch_before, f.head_branch_after }):equals({ "main", "main" })
    expect(#f.commits):equals(1)
    expect({ f.commits[1].sha, f.commits[1].short, f.commits[1].subject }):equals({ head, head:sub(1, #f.commits[1].short),
      "agent change" })
    expect(f.tags_created):equals({ { name = "v9.9", sha = head } })
    expect(f.tags_deleted[1].name):equals("old")
    expect(f.tags_moved[1].name):equals("annotated")
    expect(f.branches_created):equals({ { name = "feature", sha = head } })
    expect(f.branches_deleted[1].name):equals("gone")
    expect({ f.branches_moved[1].name, f.branches_moved[1].to }):equals({ "main", head })
  end)

  it("see nothing when nothing moved, and run no git log then", function()
    local f = watched("true")
    expect({ #f.commits, #f.branches_created, #f.branches_moved, #f.tags_created, #f.push_attempts }):equals({ 0, 0, 0, 0, 0 })
    expect(f.head_before):equals(f.head_after)
  end)

  it("leave other runs' sidecar branches out, but not this run's own", function()
    sh("git branch sidecar/R-0002")
    local f = watched("git branch sidecar/R-0001 && git branch -f sidecar/R-0002 HEAD && " ..
      "git commit -q --allow-empty -m x && git branch -f sidecar/R-0002 HEAD && git branch sidecar/R-0003 && " ..
      "git branch sidecar/spare-1")
    local names = {}
    for _, b in ipairs(f.branches_created) do
      names[#names + 1] = b.name
    end
    expect(names):equals({})
    expect(f.branches_moved[2].name):equals("sidecar/R-0002")
  end)

  it("work in a linked worktree: HEAD is its own, refs are shared", function()
    sh("git worktree add -q -b sidecar/R-0002 ../wt")
    local wt = base .. "/wt"
    local f = watched("git commit -q --allow-empty -m 'in the worktree' && git tag wt-tag", { repo = wt })
    expect({ f.head_branch_before, f.head_branch_after }):equals({ "sidecar/R-0002", "sidecar/R-0002" })
    expect(f.commits[1].subject):equals("in the worktree")
    expect(f.tags_created[1].name):equals("wt-tag")
    expect(#f.branches_moved):equals(1)
  end)

  it("note a switch of branch and a detached HEAD", function()
    sh("git branch other")
    local f = watched("git checkout -q other")
    expect({ f.head_branch_before, f.head_branch_after, #f.commits }):equals({ "main", "other", 0 })
    f = watched("git checkout -q --detach")
    expect(f.head_branch_after):equals(require("sidecar.core.json").null)
  end)

  it("list at most MAX_COMMITS commits and say there were more", function()
    local f = watched("for i in $(seq 53); do git commit -q --allow-empty -m c$i; done")
    expect(#f.commits):equals(git_refs.MAX_COMMITS)
    expect(f.commits_more):is_true()
    expect(f.commits[1].subject):equals("c53")
  end)

  it("are unavailable outside git", function()
    local plain = base .. "/plain"
    os.execute("mkdir '" .. plain .. "'")
    local f = watched("true", { repo = plain })
    expect(f.unavailable):matches("not a git repository")
  end)
end)

describe("the push block", function()
  it("refuses every kind of push URL, logs each, and leaves the remote untouched", function()
    local remote = base .. "/remote.git"
    sh("git remote add abs '" .. remote .. "' && git remote add furl 'file://" .. remote .. "' && " ..
      "git remote add ssh user@host:path.git && git remote add web https://example.com/x.git && " ..
      "git remote add pu https://example.com/fetch.git && git config remote.pu.pushurl ../remote.git")
    local before = out("git --git-dir=../remote.git for-each-ref")
    local w = git_refs.watch(repo, { push_log = base .. "/push.log" })
    local env = w:block_push({})
    local refused = {}
    for _, target in ipairs({ "origin", "abs", "furl", "ssh", "web", "pu", "../remote.git", remote }) do
      sh("git commit -q --allow-empty -m " .. #refused)
      local r = proc.run({ "git", "-C", repo, "push", target, "HEAD:refs/heads/pushed" }, { env = env })
      expect({ target, r.code }):equals({ target, 128 })
      expect(r.stderr):contains("Sidecar blocked this push")
      refused[#refused + 1] = target
    end
    expect(out("git --git-dir=../remote.git for-each-ref")):equals(before)
    local log = read(base .. "/push.log")
    expect(select(2, log:gsub("[^\n]*\t[^\n]*\n", ""))):equals(#refused)
    expect(log):contains("origin\t../remote.git\n")
    expect(log):contains("ssh\tuser@host:path.git\n")
    w:after()
    local f = w:facts(nil, nil, nil)
    expect(#f.push_attempts):equals(#refused)
    expect({ f.push_attempts[1].source, f.push_attempts[1].remote }):equals({ "git", "origin" })
  end)

  it("reads pushurls from the config files, and finds the log's absolute path without $PWD", function()
    sh("git config remote.origin.pushurl ../remote.git && git config remote.two.pushurl '/x/y z.git' && " ..
      "git config remote.three.pushurl ' q\\\"x;#y '")
    local pb = push_block.prepare(repo, base .. "/p.log")
    expect(pb.pushurls):equals({ "../remote.git", "/x/y z.git", ' q\\"x;#y ' })
    expect(pb.log_abs):equals(base .. "/p.log")
    -- A relative log, and a $PWD that is not where Sidecar runs: a shell's pwd says where.
    local r = proc.run({ proc.executable(), "-e", [[
      local pb = require("sidecar.run.push_block").prepare("repo", "p2.log")
      local env = require("sidecar.run.push_block").add_to(pb, {})
      print(pb.log_abs, env.GIT_CONFIG_VALUE_1:find(pb.log_abs, 1, true) ~= nil)]] },
      { cwd = base, env = { PWD = "/nonexistent" } })
    expect(r.stdout):equals(base .. "/p2.log\ttrue\n")
    -- A Ctrl-C while that shell is being started goes on up, never taken for one that could not start.
    r = proc.run({ proc.executable(), "-e", [[
      require("sidecar.core.proc").spawn = function() error("proc.spawn: interrupted!", 0) end
      print(pcall(require("sidecar.run.push_block").prepare, "repo", "p3.log"))]] },
      { cwd = base, env = { PWD = "/nonexistent" } })
    expect(r.stdout):equals("false\tproc.spawn: interrupted!\n")
  end)

  it("reads the pushurls of the repository GIT_DIR names, through libgit2 and no git program", function()
    sh("git config remote.origin.pushurl ../remote.git && git config remote.Two.pushurl '/x/y z.git' "
      .. "&& mkdir -p ../bin && printf '#!/bin/sh\\ntouch \"%s/../ran\"\\nexit 1\\n' \"$PWD\" > ../bin/git "
      .. "&& chmod +x ../bin/git")
    local r = proc.run({ proc.executable(), "-e", [[
      local pb = require("sidecar.run.push_block").prepare("/", nil)
      print(table.concat(pb.pushurls, "|"))]] },
      { cwd = "/", env = { GIT_DIR = repo .. "/.git", PATH = base .. "/bin:" .. os.getenv("PATH") } })
    expect(r.stdout):equals("../remote.git|/x/y z.git\n")
    expect(io.open(base .. "/ran")):is_nil()
  end)

  it("adds its git configuration after the entries already counted", function()
    local w = git_refs.watch(repo, {})
    local env = w:block_push({ GIT_CONFIG_COUNT = "1", GIT_CONFIG_KEY_0 = "user.name", GIT_CONFIG_VALUE_0 = "Kept" })
    expect(env.GIT_CONFIG_KEY_0):equals("user.name")
    expect(env.GIT_CONFIG_KEY_1):equals("url.sidecar-blocked-push::.pushInsteadOf")
    expect(env.GIT_CONFIG_COUNT):equals("3")
    local r = proc.run({ "git", "-C", repo, "config", "user.name" }, { env = env })
    expect(r.stdout):equals("Kept\n")
    w:after()
  end)

  it("finds a git push inside an agent's shell command", function()
    local cases = {
      { [[/bin/bash -lc "cd x && git push origin HEAD; echo $?"]], "git push origin HEAD" },
      { "git -C /x -c a=b push --tags", "git -C /x -c a=b push --tags" },
      { "/usr/bin/git   push", "git push" }, { "git --git-dir=.git send-pack x", "git --git-dir=.git send-pack x" },
      { "git log --grep push", nil }, { "legit push", nil }, { "git pull && echo push", nil },
    }
    for _, c in ipairs(cases) do
      expect({ c[1], git_commands.push_in(c[1]) }):equals({ c[1], c[2] })
    end
    local list = push_block.attempts({ { command = "ls" }, { command = "git push", exit_code = 128 } })
    expect(list):equals({ { source = "command", push = "git push", command = "git push", exit_code = 128 } })
  end)
end)
