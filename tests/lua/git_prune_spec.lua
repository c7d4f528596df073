local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local worktree_git = require("sidecar.run.worktree_git")
local paths = require("sidecar.host.paths")

local function sh(dir, command)
  local p = assert(io.popen(("cd %q && { %s; } 2>&1"):format(dir, command)))
  local out = p:read("a")
  p:close()
  return (out:gsub("%s+$", ""))
end

-- A repository with a base commit and, on a branch `run`, a commit of the run's with two new files,
-- made as Sidecar makes it: never checked out in the main worktree (HEAD's reflog does not name it).
local function repo()
  local dir = test.temp_dir()
  sh(dir, "git init -q -b main && git config user.email t@e && git config user.name t && echo base >a.txt && "
    .. "git add a.txt && git commit -qm base && export GIT_INDEX_FILE=.git/run-index && git read-tree HEAD && "
    .. "git update-index --add --cacheinfo 100644,$(echo agent-one | git hash-object -w --stdin),one.txt && "
    .. "git update-index --add --cacheinfo 100644,$(echo agent-two | git hash-object -w --stdin),two.txt && "
    .. "git update-ref refs/heads/run $(git commit-tree $(git write-tree) -p HEAD -m run) && rm .git/run-index")
  return dir, sh(dir, "git rev-parse run"), sh(dir, "git rev-parse main")
end

describe("worktree_git.prune_run_blobs", function()
  it("takes out the loose blobs only the run's commits reach, and keeps what anything else names", function()
    local dir, tip, base = repo()
    local one, two = sh(dir, "git rev-parse run:one.txt"), sh(dir, "git rev-parse run:two.txt")
    sh(dir, "git branch -D run && echo agent-two >copy.txt && git add copy.txt") -- the index names two's blob
    local pruned, why = worktree_git.prune_run_blobs(dir, { tip }, { base })
    expect(why):equals(nil)
    expect(pruned.blobs):equals(1)
    expect(pruned.kept):equals(2) -- two.txt's (the index) and a.txt's (main)
    expect(sh(dir, "git cat-file -e " .. one .. " && echo there || echo gone")):equals("gone")
    expect(sh(dir, "git cat-file -e " .. two .. " && echo there || echo gone")):equals("there")
    expect(sh(dir, "git cat-file -e HEAD:a.txt && echo there")):equals("there")
    os.execute(("rm -rf %q"):format(dir))
  end)

  it("keeps every blob a ref or a reflog still reaches", function()
    local dir, tip, base = repo()
    sh(dir, "git tag keep " .. tip) -- a tag names the run's commit
    local pruned = worktree_git.prune_run_blobs(dir, { tip }, { base })
    expect(pruned.blobs):equals(0)
    expect(pruned.kept):equals(3) -- one.txt, two.txt and the base's a.txt (also main's)
    sh(dir, "git tag -d keep && git checkout -q " .. tip .. " && git checkout -q main") -- HEAD's reflog names it
    expect(worktree_git.prune_run_blobs(dir, { tip }, { base }).blobs):equals(0)
    os.execute(("rm -rf %q"):format(dir))
  end)

  it("keeps what a merge, a rebase or a fetch under way names (MERGE_HEAD, rebase-merge/, FETCH_HEAD)", function()
    local dir, tip, base = repo()
    -- `git merge` of the run stopped before its commit, the index set back: MERGE_HEAD alone names it
    sh(dir, "git merge -q --no-ff --no-commit run && git read-tree HEAD && git branch -D run")
    expect(sh(dir, "test -f .git/MERGE_HEAD && echo merging")):equals("merging")
    expect(worktree_git.prune_run_blobs(dir, { tip }, { base }).blobs):equals(0)
    sh(dir, "git merge --abort; rm -f .git/MERGE_HEAD")
    assert(paths.make_dirs(dir .. "/.git/rebase-merge"))
    sh(dir, "echo 'pick " .. tip .. " the run' >.git/rebase-merge/git-rebase-todo")
    expect(worktree_git.prune_run_blobs(dir, { tip }, { base }).blobs):equals(0)
    sh(dir, "rm -r .git/rebase-merge && printf '%s\t\tbranch run of ../x\n' " .. tip .. " >.git/FETCH_HEAD")
    expect(worktree_git.prune_run_blobs(dir, { tip }, { base }).blobs):equals(0)
    sh(dir, "rm .git/FETCH_HEAD")
    expect(worktree_git.prune_run_blobs(dir, { tip }, { base }).blobs):equals(2) -- nothing names them now
    os.execute(("rm -rf %q"):format(dir))
  end)

  it("refuses what is not a commit id, and prunes nothing while another run writes", function()
    local dir, tip, base = repo()
    local pruned, why = worktree_git.prune_run_blobs(dir, { "nope" }, { base })
    expect(pruned):equals(nil)
    expect(why):matches("not a commit id: nope")
    sh(dir, "git worktree add -q ../wt-busy main --detach 2>/dev/null || git worktree add -q --detach ../wt-busy")
    local admin = dir .. "/.git/worktrees/wt-busy"
    assert(paths.make_dirs(admin .. "/sidecar-objects"))
    sh(dir, "git branch -D run")
    pruned, why = worktree_git.prune_run_blobs(dir, { tip }, { base })
    expect(pruned):equals(nil)
    expect(why):matches("another run is writing in the repository")
    os.execute(("rm -rf %q %q"):format(dir, dir .. "/../wt-busy"))
  end)
end)
