local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local worktree = require("sidecar.core.worktree")

local repo
local function sh(command)
  assert(os.execute("cd '" .. repo .. "' && " .. command .. " >/dev/null 2>&1"), command)
end
local function write(name, text)
  test.write(repo .. "/" .. name, text)
end

test.before_each(function()
  repo = os.tmpname()
  os.remove(repo)
  os.execute("mkdir -p '" .. repo .. "'")
  sh("git init -q -b main && git config user.email t@example.com && git config user.name T")
  write("a.txt", "a\n")
  write("b.txt", "b\n")
  write(".gitignore", "ignored.log\n")
  sh("git add -A && git commit -qm init")
end)
test.after_each(function()
  os.execute("rm -rf '" .. repo .. "'")
end)

describe("worktree", function()
  it("as a hostile agent leaves it: a FIFO is never opened, a self-loop link and a name of invalid bytes are files",
    function()
      local before = assert(worktree.snapshot(repo))
      sh("mkfifo fifo && ln -s loop loop && printf x > \"$(printf 'bad\\351\\033name')\"")
      local change = assert(worktree.changes(repo, before)) -- returns: hashing the FIFO would block forever
      expect(change.files):equals({
        { path = "bad\233\27name", change = "added" },
        { path = "loop", change = "added" },
      })
    end)

  it("finds added, modified and deleted files, untracked ones included, ignored ones not", function()
    write("untracked-before.txt", "u\n")
    local before = assert(worktree.snapshot(repo))
    expect(before.head):matches("^%x+$")
    write("a.txt", "changed\n")
    os.remove(repo .. "/b.txt")
    write("new.txt", "n\n")
    write("ignored.log", "x\n")
    local change = assert(worktree.changes(repo, before))
    expect(change.files):equals({
      { path = "a.txt", change = "modified" },
      { path = "b.txt", change = "deleted" },
      { path = "new.txt", change = "added" },
    })
    expect(worktree.paths(change)):equals({ "a.txt", "b.txt", "new.txt" })
    expect(change.head_after):equals(before.head)
  end)

  it("sees a commit the agent made and leaves the real index alone", function()
    write("staged.txt", "s\n")
    sh("git add staged.txt")
    local before = assert(worktree.snapshot(repo))
    write("c.txt", "c\n")
    sh("git add c.txt && git commit -qm more")
    local change = assert(worktree.changes(repo, before))
    expect(change.head_after):not_equals(change.head_before)
    expect(change.files):equals({ { path = "c.txt", change = "added" } })
    local p = io.popen("cd '" .. repo .. "' && git status --short")
    local status = p:read("a")
    p:close()
    expect(status):equals("")
  end)

  it("works in a linked worktree, whose .git is a file naming the git folder", function()
    local linked = repo .. "-linked"
    sh("git worktree add -q '" .. linked .. "'")
    local before = assert(worktree.snapshot(linked))
    local f = assert(io.open(linked .. "/b.txt", "w"))
    f:write("changed in the linked tree\n")
    f:close()
    local change = assert(worktree.changes(linked, before))
    os.execute("rm -rf '" .. linked .. "'")
    expect(change.files):equals({ { path = "b.txt", change = "modified" } })
  end)

  it("works in a repository without commits (no HEAD)", function()
    local fresh = os.tmpname()
    os.remove(fresh)
    os.execute("mkdir -p '" .. fresh .. "' && cd '" .. fresh .. "' && git init -q && echo x > one.txt")
    local before = assert(worktree.snapshot(fresh))
    expect(before.head):is_nil()
    local f = assert(io.open(fresh .. "/two.txt", "w"))
    f:write("2\n")
    f:close()
    local change = assert(worktree.changes(fresh, before))
    os.execute("rm -rf '" .. fresh .. "'")
    expect(change.files):equals({ { path = "two.txt", change = "added" } })
    expect(change.head_after):is_nil()
  end)

  it("reports no changes as an empty list, and a folder outside git as nil and why", function()
    local before = assert(worktree.snapshot(repo))
    expect(assert(worktree.changes(repo, before)).files):equals({})
    local outside = os.tmpname()
    os.remove(outside)
    os.execute("mkdir -p '" .. outside .. "'")
    local snap, why = worktree.snapshot(outside)
    os.execute("rm -rf '" .. outside .. "'")
    expect(snap):is_nil()
    expect(why):contains("not a git repository")
  end)

  it("reads a folder inside the work tree alone, its excluded folder left out", function()
    sh("mkdir -p sub/.agent && printf s > sub/s.txt && git add -A && git commit -qm sub")
    local before = assert(worktree.snapshot(repo .. "/sub", { ".agent" }))
    write("sub/s.txt", "changed")
    write("sub/new.txt", "n")
    write("sub/.agent/run.json", "{}")
    write("a.txt", "outside the folder")
    expect(assert(worktree.changes(repo .. "/sub", before)).files):equals({
      { path = "sub/new.txt", change = "added" },
      { path = "sub/s.txt", change = "modified" },
    })
  end)

  it("leaves an untracked file larger than max_untracked_bytes out of a tree, unhashed, and again while unchanged",
    function()
      -- (sh sends the command's output to /dev/null: files are written here)
      sh("mkdir data")
      write("data/big.bin", ("x"):rep(2000))
      write("small.txt", "small\n")
      write("tracked.bin", ("y"):rep(3000)) -- a tracked file is never left out
      sh("git add tracked.bin && git commit -qm t")
      write("tracked.bin", ("z"):rep(3000)) -- changed, so read
      local p = io.popen("cd '" .. repo .. "' && git hash-object data/big.bin")
      local blob = p:read("l")
      p:close()
      local stored = function()
        return os.execute("cd '" .. repo .. "' && git cat-file -e " .. blob .. " 2>/dev/null") == true
      end
      local snap = assert(worktree.tree_snapshot(repo, nil, { max_untracked_bytes = 1000 }))
      expect(#snap.left_out):equals(1)
      expect(snap.left_out[1].path):equals("data/big.bin")
      expect(snap.left_out[1].size):equals(2000)
      expect(stored()):is_false() -- never hashed into the repository
      expect(os.execute("cd '" .. repo .. "' && git cat-file -e " .. snap.tree .. ":tracked.bin")):is_true()
      local all = assert(worktree.tree_snapshot(repo)) -- no limit: the file is in the tree
      expect(all.left_out):is_nil()
      expect(all.tree == snap.tree):is_false()
      expect(stored()):is_true()
      sh("git cat-file -p " .. blob .. " >/dev/null && rm -rf .git/objects/" .. blob:sub(1, 2))
      local again = assert(worktree.tree_snapshot(repo, nil, { leave_out = snap.left_out }))
      expect(again.tree):equals(snap.tree) -- left out again: unchanged
      expect(stored()):is_false()
      local f = assert(io.open(repo .. "/data/big.bin", "ab"))
      f:write("more\n")
      f:close()
      local changed = assert(worktree.tree_snapshot(repo, nil, { leave_out = snap.left_out }))
      expect(changed.left_out):is_nil() -- changed since: read as any file
      expect(changed.tree == snap.tree):is_false()
    end)
end)
