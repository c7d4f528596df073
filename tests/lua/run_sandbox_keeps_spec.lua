-- run_sandbox.keeps_tree: whether a read-only run's work tree need not be read before and after
-- (its bubblewrap sandbox keeps the tree and its git folders as they are). The checkout's top, the
-- work tree's own git folder and the common one are each asked of the sandbox, the store aside:
-- a linked worktree whose common .git is writable, or a folder of the checkout beside a writable
-- one, is read; so is a tree without a sandbox.
local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local mounts = require("sidecar.run.sandbox_mounts")
local paths = require("sidecar.host.paths")
local run_sandbox = require("sidecar.agent.run_sandbox")

local main, linked

test.before_each(function()
  main = os.tmpname()
  os.remove(main)
  linked = main .. "-linked"
  assert(os.execute(("mkdir -p '%s' && cd '%s' && git init -q -b main && git -c user.email=t@example.com "
    .. "-c user.name=T commit -q --allow-empty -m init && git worktree add -q '%s' -b other 2>/dev/null")
    :format(main, main, linked)))
  main, linked = paths.real(main), paths.real(linked)
end)
test.after_each(function()
  os.execute(("rm -rf '%s' '%s'"):format(main, linked))
end)

-- A stand-in for an open sandbox whose plan makes `writable` writable (Sandbox:keeps asks
-- sandbox_mounts.keeps the same way); `asked` lists the folders it was asked about.
local function sandbox(writable)
  local sb = { asked = {} }
  function sb.keeps(_, dir, skip)
    sb.asked[#sb.asked + 1] = dir
    return mounts.keeps({ write = writable }, dir, skip)
  end
  return sb
end

describe("run_sandbox.keeps_tree", function()
  it("keeps a checkout with nothing writable in it, asking about its top and its .git", function()
    local sb = sandbox({ main .. "/.agent/runs/R-0001/push_attempts.log", "/tmp/elsewhere" })
    expect(run_sandbox.keeps_tree(sb, main, main .. "/.agent")):equals(true)
    expect(sb.asked):contains(main)
    expect(sb.asked):contains(main .. "/.git")
  end)

  it("reads a linked worktree whose common git folder, or its own, is writable", function()
    expect(run_sandbox.keeps_tree(sandbox({}), linked, linked .. "/.agent")):equals(true)
    expect(run_sandbox.keeps_tree(sandbox({ main .. "/.git" }), linked, linked .. "/.agent")):equals(false)
    expect(run_sandbox.keeps_tree(sandbox({ main .. "/.git/worktrees" }), linked, linked .. "/.agent")):equals(false)
  end)

  it("reads a folder of the checkout when another folder of it is writable", function()
    assert(os.execute(("mkdir -p '%s/sub' '%s/build'"):format(main, main)))
    expect(run_sandbox.keeps_tree(sandbox({}), main .. "/sub", main .. "/.agent")):equals(true)
    expect(run_sandbox.keeps_tree(sandbox({ main .. "/build" }), main .. "/sub", main .. "/.agent")):equals(false)
  end)

  it("takes the checkout's top from its caller when given (a run finds it once), else asks git", function()
    assert(os.execute(("mkdir -p '%s/sub'"):format(main)))
    local worktree_git = require("sidecar.run.worktree_git")
    local top, asked_git = worktree_git.top, 0
    worktree_git.top = function(dir)
      asked_git = asked_git + 1
      return top(dir)
    end
    local _ <close> = setmetatable({}, { __close = function() worktree_git.top = top end })
    local given = sandbox({})
    expect(run_sandbox.keeps_tree(given, main .. "/sub", main .. "/.agent", main)):equals(true)
    expect(asked_git):equals(0)
    expect(given.asked):contains(main)
    expect(run_sandbox.keeps_tree(sandbox({ main .. "/build" }), main .. "/sub", main .. "/.agent", main)):equals(false)
    local found = sandbox({})
    expect(run_sandbox.keeps_tree(found, main .. "/sub", main .. "/.agent")):equals(true)
    expect(asked_git):equals(1)
    expect(found.asked):contains(main)
  end)

  it("reads a tree without a sandbox, or outside git", function()
    expect(run_sandbox.keeps_tree(nil, main, main .. "/.agent")):equals(false)
    local plain = os.tmpname()
    os.remove(plain)
    assert(os.execute(("mkdir -p '%s'"):format(plain)))
    expect(run_sandbox.keeps_tree(sandbox({}), paths.real(plain), plain .. "/.agent")):equals(false)
    os.execute(("rm -rf '%s'"):format(plain))
  end)
end)
