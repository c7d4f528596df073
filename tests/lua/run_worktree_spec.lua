local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local config = require("sidecar.core.config")
local git = require("sidecar.run.worktree_git")
local json = require("sidecar.core.json")
local run_worktree = require("sidecar.run.worktree")
local worktree_result = require("sidecar.run.worktree_result")
local store = require("sidecar.core.store")
local worktree = require("sidecar.core.worktree")

local repo
local function sh(command)
  local p = io.popen("cd '" .. repo .. "' && " .. command .. " 2>&1")
  local text = p:read("a")
  local ok = p:close()
  assert(ok, command .. ": " .. text)
  return text
end
local write = test.write
local function read(path)
  local f = io.open(path, "rb")
  local text = f and f:read("a")
  if f then
    f:close()
  end
  return text
end
local function exists(path)
  return os.execute("test -e '" .. path .. "'") == true
end

test.before_each(function()
  repo = os.tmpname()
  os.remove(repo)
  os.execute("mkdir -p '" .. repo .. "/.agent/worktrees'")
  sh("git init -q -b main && git config user.email t@example.com && git config user.name T")
  write(repo .. "/a.txt", "alpha\n")
  write(repo .. "/b.txt", "bravo\n")
  write(repo .. "/.gitignore", "*.log\n.agent/\n")
  sh("git add -A && git commit -qm init")
end)
test.after_each(function()
  os.execute("rm -rf '" .. repo .. "'")
end)

local function make(name, tree, spares)
  return git.create(repo, { path = repo .. "/.agent/worktrees/" .. name, branch = "sidecar/" .. name,
    start = sh("git rev-parse HEAD"):match("%x+"), tree = tree, name = name, spares = spares or 2,
    spares_dir = repo .. "/.agent/worktrees" })
end

-- The tree of what a worktree's files are now (untracked ones included).
local function files_tree(path)
  return assert(worktree.tree_snapshot(path)).tree
end

describe("run_worktree_git", function()
  it("makes a worktree holding exactly a tree, and retires it as a spare git does not know", function()
    write(repo .. "/c.txt", "charlie\n") -- untracked: part of the snapshot
    local snap = assert(worktree.tree_snapshot(repo, { ".agent" }))
    local made = assert(make("R-0001", snap.tree))
    local path = repo .. "/.agent/worktrees/R-0001"
    expect(made.warm):is_false()
    expect(read(path .. "/c.txt")):equals("charlie\n")
    expect(files_tree(path)):equals(snap.tree)
    expect(sh("git -C '" .. path .. "' diff --name-only")):equals("") -- the index holds the tree
    expect(sh("git worktree list | wc -l"):match("%d+")):equals("2")
    expect(git.retire(repo, path, { spares_dir = repo .. "/.agent/worktrees", spares = 2 })):equals("spare")
    expect(exists(repo .. "/.agent/worktrees/.spare-1")):is_true()
    expect(exists(path)):is_false()
    expect(sh("git worktree list | wc -l"):match("%d+")):equals("1")
    expect(sh("git worktree prune --dry-run -v")):equals("")
  end)

  it("starts the next worktree from the spare: the new tree exactly, whatever the last run left", function()
    local base = assert(worktree.tree_snapshot(repo, { ".agent" })).tree
    assert(make("R-0001", base))
    local path = repo .. "/.agent/worktrees/R-0001"
    sh("cd '" .. path .. "' && git status --porcelain >/dev/null") -- the index is written now...
    write(path .. "/a.txt", "ALPHA\n") -- ...and a file changed at once, its size the same (racy)
    os.remove(path .. "/b.txt")
    write(path .. "/new.txt", "new\n")
    write(path .. "/build.log", "ignored\n")
    assert(git.retire(repo, path, { spares_dir = repo .. "/.agent/worktrees", spares = 2 }) == "spare")
    write(repo .. "/.agent/worktrees/.spare-1/b.txt", "BRAVO\n") -- changed behind the spare's back
    write(repo .. "/d.txt", "delta\n")
    local tree = assert(worktree.tree_snapshot(repo, { ".agent" })).tree
    local made = assert(make("R-0002", tree))
    local next_path = repo .. "/.agent/worktrees/R-0002"
    expect(made.warm):is_true()
    expect(exists(repo .. "/.agent/worktrees/.spare-1")):is_false()
    expect(read(next_path .. "/a.txt")):equals("alpha\n")
    expect(read(next_path .. "/b.txt")):equals("bravo\n")
    expect(read(next_path .. "/d.txt")):equals("delta\n")
    expect(exists(next_path .. "/new.txt")):is_false()
    expect(exists(next_path .. "/build.log")):is_false()
    expect(exists(next_path .. "/" .. git.SPARE_INDEX)):is_false()
    expect(files_tree(next_path)):equals(tree)
    expect(sh("git -C '" .. next_path .. "' rev-parse --abbrev-ref HEAD")):equals("sidecar/R-0002\n")
  end)

  it("keeps no spare without a free slot, and removes the worktree", function()
    local tree = assert(worktree.tree_snapshot(repo, { ".agent" })).tree
    assert(make("R-0001", tree, 0))
    local path = repo .. "/.agent/worktrees/R-0001"
    expect(git.retire(repo, path, { spares_dir = repo .. "/.agent/worktrees", spares = 0 })):equals("removed")
    expect(exists(path)):is_false()
    expect(sh("ls -A .agent/worktrees")):equals("")
    expect(sh("git worktree prune --dry-run -v")):equals("")
  end)

  it("makes no spare of a worktree whose .git names another repository's record, and leaves that record", function()
    local tree = assert(worktree.tree_snapshot(repo, { ".agent" })).tree
    assert(make("R-0001", tree))
    local path = repo .. "/.agent/worktrees/R-0001"
    sh("git clone -q . ../other-" .. repo:match("[^/]+$") .. " && cd ../other-" .. repo:match("[^/]+$")
      .. " && git worktree add -q ../other-wt-" .. repo:match("[^/]+$"))
    local other = repo:match("^(.*)/[^/]+$") .. "/other-" .. repo:match("[^/]+$")
    local foreign = other .. "/.git/worktrees/other-wt-" .. repo:match("[^/]+$")
    expect(exists(foreign .. "/HEAD")):is_true()
    write(path .. "/.git", "gitdir: " .. foreign .. "\n") -- what an agent may write in its worktree
    expect(git.retire(repo, path, { spares_dir = repo .. "/.agent/worktrees", spares = 2 })):equals("removed")
    expect(exists(path)):is_false()
    expect(exists(repo .. "/.agent/worktrees/.spare-1")):is_false()
    expect(exists(foreign .. "/HEAD")):is_true() -- the other repository's record is not this one's to forget
    expect(sh("git worktree list | wc -l"):match("%d+")):equals("1") -- this one's own is gone
    os.execute("rm -rf '" .. other .. "' '" .. repo:match("^(.*)/[^/]+$") .. "/other-wt-" .. repo:match("[^/]+$") .. "'")
  end)

  it("fails cleanly on a branch that exists, leaving nothing behind", function()
    sh("git branch sidecar/R-0001")
    local tree = assert(worktree.tree_snapshot(repo, { ".agent" })).tree
    local made, why = make("R-0001", tree)
    expect(made):is_nil()
    expect(why):contains("already exists")
    expect(exists(repo .. "/.agent/worktrees/R-0001")):is_false()
  end)

  it("merges three ways: a clean merge as a tree, a conflict as its paths", function()
    local base = assert(worktree.tree_snapshot(repo)).tree
    write(repo .. "/a.txt", "alpha\nmine\n")
    local ours = assert(worktree.tree_snapshot(repo)).tree
    write(repo .. "/a.txt", "alpha\n")
    write(repo .. "/b.txt", "bravo\ntheirs\n")
    local theirs = assert(worktree.tree_snapshot(repo)).tree
    local clean = assert(git.merge(repo, base, ours, theirs))
    expect(clean.tree):matches("^%x+$")
    expect(git.diff_files(repo, ours, clean.tree)):equals({ { path = "b.txt", change = "modified" } })
    write(repo .. "/a.txt", "ALPHA\n")
    local other = assert(worktree.tree_snapshot(repo)).tree
    write(repo .. "/a.txt", "alpha, changed\n")
    local conflicting = assert(worktree.tree_snapshot(repo)).tree
    expect(assert(git.merge(repo, base, other, conflicting)).conflicts):equals({ "a.txt" })
  end)

  it("writes a merge into the work tree, unstaged, and nothing when a file moved on meanwhile", function()
    write(repo .. "/s.txt", "staged\n")
    sh("git add s.txt")
    local ours = assert(worktree.tree_snapshot(repo, nil, { keep_index = true }))
    write(repo .. "/a.txt", "alpha\nagent\n")
    write(repo .. "/n.txt", "new\n")
    local target = assert(worktree.tree_snapshot(repo)).tree
    write(repo .. "/a.txt", "alpha\n")
    os.remove(repo .. "/n.txt")
    local wrote, wrote_why = git.write_files(repo, ours.index, ours.tree, target)
    expect(wrote_why):is_nil()
    expect(wrote):is_true()
    expect(read(repo .. "/a.txt")):equals("alpha\nagent\n")
    expect(read(repo .. "/n.txt")):equals("new\n")
    expect(sh("git diff --cached --name-only")):equals("s.txt\n")
    os.remove(ours.index)

    ours = assert(worktree.tree_snapshot(repo, nil, { keep_index = true }))
    write(repo .. "/a.txt", "edited since the snapshot\n")
    write(repo .. "/b.txt", "bravo\nagent\n")
    target = assert(worktree.tree_snapshot(repo)).tree
    write(repo .. "/b.txt", "bravo\n")
    local ok, why = git.write_files(repo, ours.index, ours.tree, target)
    os.remove(ours.index)
    expect(ok):is_nil()
    expect(why):contains("a.txt")
    expect(read(repo .. "/b.txt")):equals("bravo\n") -- checked first, so not written
  end)
end)

describe("run_worktree", function()
  it("gives a writing run a worktree of HEAD plus uncommitted changes, and keeps its result", function()
    local s = assert(store.open(repo .. "/.agent", { create = true }))
    local cfg = assert(config.load(repo .. "/.agent"))
    for _, dirty in ipairs({ false, true }) do
      if dirty then
        write(repo .. "/b.txt", "bravo\nmine\n")
      end
      local o = { runner = "x", sandbox = "workspace-write", repo = repo, prompt = "p", record = { task_id = "T-1" } }
      local wt = assert(run_worktree.enter(s, cfg, { task_id = "T-1" }, { sandbox = "workspace-write" }, o, {}))
      expect(o.repo):equals(wt.path)
      expect(o.before.tree):equals(wt.base_tree)
      expect(read(wt.path .. "/b.txt")):equals(dirty and "bravo\nmine\n" or "bravo\n")
      expect(sh("git -C '" .. wt.path .. "' diff --name-only")):equals("") -- the user's change is staged there
      write(wt.path .. "/a.txt", "alpha\nagent\n")
      local run = assert(s:get_run(o.run_id))
      run.worktree = o.record.worktree
      run = worktree_result.finish(s, run, wt)
      expect(run.worktree.state):equals("ready")
      expect(run.worktree.files):equals({ { path = "a.txt", change = "modified" } })
      expect(sh("git show " .. run.worktree.result_commit .. ":b.txt")):equals(dirty and "bravo\nmine\n" or "bravo\n")
      worktree_result.release(s, run, wt, cfg)
      expect(exists(wt.path)):is_false()
      expect(read(repo .. "/a.txt")):equals("alpha\n")
    end
    expect(sh("git worktree list | wc -l"):match("%d+")):equals("1")
    s:close()
  end)

  it("leaves the user's untracked secrets out of the worktree and the objects, and run show names them", function()
    local s = assert(store.open(repo .. "/.agent", { create = true }))
    local cfg = assert(config.load(repo .. "/.agent"))
    local mark = "LUASPECSECRET" .. tostring(os.time())
    os.execute("mkdir -p '" .. repo .. "/keys'")
    write(repo .. "/.env", "TOKEN=" .. mark .. "\n")
    write(repo .. "/keys/id_rsa", mark .. "\n")
    write(repo .. "/notes.txt", "notes\n")
    local o = { runner = "x", sandbox = "workspace-write", repo = repo, prompt = "p", record = { task_id = "T-1" } }
    local wt = assert(run_worktree.enter(s, cfg, { task_id = "T-1" }, { sandbox = "workspace-write" }, o, {}))
    expect(read(wt.path .. "/notes.txt")):equals("notes\n") -- an ordinary untracked file comes as before
    expect(exists(wt.path .. "/.env")):is_false()
    expect(exists(wt.path .. "/keys/id_rsa")):is_false()
    local left = {}
    for _, f in ipairs(wt.left_out) do
      left[#left + 1] = f.path .. " " .. tostring(f.reason)
    end
    table.sort(left)
    expect(left):equals({ ".env secret", "keys/id_rsa secret" })
    -- The agent writes a .env of its own, untracked: not the run's change either.
    write(wt.path .. "/.env", "AGENT=" .. mark .. "\n")
    local run = assert(s:get_run(o.run_id))
    run.worktree = o.record.worktree
    run = worktree_result.finish(s, run, wt)
    expect(run.worktree.files):equals({})
    expect(sh("git cat-file --batch-all-objects --batch | grep -c " .. mark .. " || true")):equals("0\n")
    local shown = table.concat(require("sidecar.cli.run_worktree").lines(run.worktree, run.run_id), "\n")
    expect(shown):contains("left out   .env, keys/id_rsa: secret files git does not track")
    worktree_result.release(s, run, wt, cfg)
    s:close()
  end)

  it("keeps a note, not the end of a patch, when the change passes MAX_PATCH; the commit holds it", function()
    local s = assert(store.open(repo .. "/.agent", { create = true }))
    local cfg = assert(config.load(repo .. "/.agent"))
    local o = { runner = "x", sandbox = "workspace-write", repo = repo, prompt = "p", record = { task_id = "T-1" } }
    local wt = assert(run_worktree.enter(s, cfg, { task_id = "T-1" }, { sandbox = "workspace-write" }, o, {}))
    write(wt.path .. "/a.txt", ("a long line of the agent's\n"):rep(200))
    local run = assert(s:get_run(o.run_id))
    run.worktree = o.record.worktree
    local max = git.MAX_PATCH
    git.MAX_PATCH = 1000
    local finished = worktree_result.finish(s, run, wt)
    git.MAX_PATCH = max
    expect(finished.worktree.state):equals("ready")
    expect(finished.worktree.patch_cut):is_true()
    local patch = read(repo .. "/.agent/" .. finished.worktree.patch)
    expect(patch):contains("patch is larger than 1000 bytes and was not kept")
    expect(patch):contains("git diff " .. wt.base_tree .. " ")
    expect(finished.warnings[#finished.warnings]):contains("changes.patch says so")
    expect(sh("git show " .. finished.worktree.result_commit .. ":a.txt | wc -l"):match("%d+")):equals("200")
    worktree_result.release(s, finished, wt, cfg)
    s:close()
  end)

  it("leaves read-only runs, and writing runs with worktree.enabled = false, in place", function()
    local s = assert(store.open(repo .. "/.agent", { create = true }))
    local cfg = assert(config.load(repo .. "/.agent"))
    local o = { runner = "x", sandbox = "read-only", repo = repo, prompt = "p", record = {} }
    expect(run_worktree.enter(s, cfg, { task_id = "T-1" }, { sandbox = "read-only" }, o, {})):is_nil()
    expect(o.record.worktree):is_nil()
    cfg.worktree.enabled = false
    o.sandbox = "workspace-write"
    expect(run_worktree.enter(s, cfg, { task_id = "T-1" }, { sandbox = "workspace-write" }, o, {})):is_nil()
    expect(o.record.worktree.in_place):is_true()
    expect(o.repo):equals(repo)
    s:close()
  end)

  it("sweeps a worktree whose process is gone, and is cheap with none open", function()
    local s = assert(store.open(repo .. "/.agent", { create = true }))
    expect(worktree_result.sweep(s)):equals({})
    local tree = assert(worktree.tree_snapshot(repo, { ".agent" })).tree
    local path = repo .. "/.agent/worktrees/R-0001"
    assert(make("R-0001", tree))
    local head = sh("git rev-parse HEAD"):match("%x+")
    local run = assert(s:create_run({ status = "failed", worktree = { path = path, branch = "sidecar/R-0001",
      repo = repo, base_commit = head, base_tree = tree, start_commit = head, created_branch = true, state = "open" } }))
    write(path .. "/a.txt", "alpha\ncrashed\n")
    os.execute("mkdir -p '" .. repo .. "/.agent/worktrees/.open'")
    write(repo .. "/.agent/worktrees/.open/R-0001.json", json.encode({ run_id = "R-0001", path = path, repo = repo,
      pid = 999999999, pid_start = "1" }))
    expect(worktree_result.sweep(s)):equals({ "R-0001" })
    run = assert(s:get_run(run.run_id))
    expect(run.worktree.state):equals("ready")
    expect(run.worktree.files[1].path):equals("a.txt")
    expect(read(repo .. "/.agent/runs/R-0001/changes.patch")):contains("+crashed")
    expect(exists(path)):is_false()
    expect(exists(repo .. "/.agent/worktrees/.open/R-0001.json")):is_false()
    expect(sh("git worktree list | wc -l"):match("%d+")):equals("1")
    expect(worktree_result.sweep(s)):equals({})
    s:close()
  end)

  it("leaves a worktree alone while its process lives", function()
    local s = assert(store.open(repo .. "/.agent", { create = true }))
    os.execute("mkdir -p '" .. repo .. "/.agent/worktrees/.open'")
    local me = require("sidecar.core.writer_lock").self()
    write(repo .. "/.agent/worktrees/.open/R-0001.json", json.encode({ run_id = "R-0001", path = repo .. "/x",
      repo = repo, pid = me.pid, pid_start = me.pid_start }))
    expect(worktree_result.sweep(s)):equals({})
    expect(exists(repo .. "/.agent/worktrees/.open/R-0001.json")):is_true()
    s:close()
  end)

  it("continues only the task's latest worktree run, and only while it is ready", function()
    local s = assert(store.open(repo .. "/.agent", { create = true }))
    assert(s:create_run({ task_id = "T-0001", status = "review", worktree = { state = "ready", result_commit = "abc" } }))
    expect(worktree_result.reusable(s, "T-0001").run_id):equals("R-0001")
    assert(s:create_run({ task_id = "T-0001", status = "review", worktree = { in_place = true, reason = "x" } }))
    expect(worktree_result.reusable(s, "T-0001").run_id):equals("R-0001")
    assert(s:create_run({ task_id = "T-0001", status = "review", worktree = { state = "applied", result_commit = "d" } }))
    expect(worktree_result.reusable(s, "T-0001")):is_nil()
    expect(worktree_result.reusable(s, "T-0001", "R-0003").run_id):equals("R-0001")
    s:close()
  end)

  it("takes its settings from the config, with defaults", function()
    local cfg = assert(config.load(repo .. "/.agent"))
    expect(cfg.worktree.enabled):is_true()
    expect(cfg.worktree.spares):equals(2)
    expect(cfg.worktree.copy):equals({})
    write(repo .. "/.agent/config.lua", "return { worktree = { copy = '.env' } }")
    require("sidecar.core.trust").set_policy("all") -- this spec's own repository: no `sidecar trust` needed
    local bad, why = config.load(repo .. "/.agent")
    require("sidecar.core.trust").set_policy(nil)
    expect(bad):is_nil()
    expect(why):contains("worktree.copy: expected a list of strings")
  end)
end)
