-- sandbox_mounts.args leaves out a read-only bind that changes nothing (the deepest mount above its
-- path shows it read-only already) and keeps every one that shows a path again.
local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local mounts = require("sidecar.run.sandbox_mounts")

-- How many times `--ro-bind p p` is in args.
local function ro_binds(args, p)
  local n = 0
  for i = 1, #args - 2 do
    if args[i] == "--ro-bind" and args[i + 1] == p and args[i + 2] == p then
      n = n + 1
    end
  end
  return n
end

local function plan(o)
  o.network, o.cwd = o.network or "none", o.cwd or "/"
  return mounts.args(o)
end

describe("sandbox_mounts.args leaves out what is shown already", function()
  it("binds a repository in /tmp once, not the store and the run's folder inside it again", function()
    local args = plan({ read = { "/tmp/r", "/tmp/r/.agent", "/tmp/r/.agent/runs/R-0001" } })
    expect(ro_binds(args, "/tmp/r")):equals(1)
    expect(ro_binds(args, "/tmp/r/.agent")):equals(0)
    expect(ro_binds(args, "/tmp/r/.agent/runs/R-0001")):equals(0)
  end)

  it("shows a PATH folder of an emptied home once, not the folders inside it", function()
    local args = plan({ home = "/h", read = { "/h/.cargo", "/h/.cargo/bin", "/h/.pyenv", "/h/.pyenv/shims",
      "/h/.pyenv-old", "/h/.rustup" } })
    for _, p in ipairs({ "/h/.cargo", "/h/.pyenv", "/h/.pyenv-old", "/h/.rustup" }) do
      expect(ro_binds(args, p)):equals(1)
    end
    expect(ro_binds(args, "/h/.cargo/bin")):equals(0)
    expect(ro_binds(args, "/h/.pyenv/shims")):equals(0)
  end)

  it("protects the store inside a written repository, and not inside one shown read-only", function()
    expect(ro_binds(plan({ write = { "/tmp/r" }, protect = { "/tmp/r/.agent" } }), "/tmp/r/.agent")):equals(1)
    expect(ro_binds(plan({ read = { "/tmp/r" }, protect = { "/tmp/r/.agent" } }), "/tmp/r/.agent")):equals(0)
    expect(ro_binds(plan({ protect = { "/srv/r/.agent" } }), "/srv/r/.agent")):equals(0) -- `/` shows it
  end)

  it("shows again what lies in a hidden folder, a private folder or the emptied home", function()
    local args = plan({ home = "/h", read = { "/h/a", "/h/a/s/bin", "/tmp/x", "/var/tmp/y" },
      hide_dirs = { "/h/a/s" } })
    expect(ro_binds(args, "/h/a")):equals(1)
    expect(ro_binds(args, "/h/a/s/bin")):equals(1) -- after the hidden folder that covers it
    expect(ro_binds(args, "/tmp/x")):equals(1)
    expect(ro_binds(args, "/var/tmp/y")):equals(1)
  end)

  it("makes a path read-only again inside a writable one", function()
    local args = plan({ read = { "/tmp/r" }, write = { "/tmp/r/wt" }, protect = { "/tmp/r/wt/.git", "/tmp/r/x" } })
    expect(ro_binds(args, "/tmp/r/wt/.git")):equals(1)
    expect(ro_binds(args, "/tmp/r/x")):equals(0)
  end)
end)

describe("sandbox_mounts.keeps: whether nothing inside can change a folder", function()
  local repo, store = "/h/repo", "/h/repo/.agent"
  local function keeps(o)
    return mounts.keeps(o, repo, { store })
  end

  it("keeps a repository where the run writes only its own files in the store", function()
    expect(keeps({ read = { repo }, outputs = { store .. "/runs/R-0001/push_attempts.log" },
      binds = { { from = "/tmp/sb/gitconfig", to = "/h/.gitconfig" } }, socket = "/tmp/sb/proxy.sock" })):equals(true)
    expect(keeps({ home = "/h", read = { repo }, write = { "/h/.cache/tool", "/h/repo-other" } })):equals(true)
  end)

  it("does not keep a repository with anything writable in it, at it or above it", function()
    expect(keeps({ write = { repo .. "/build" } })):equals(false)
    expect(keeps({ write = { repo } })):equals(false)
    expect(keeps({ write = { "/h" } })):equals(false)
    expect(keeps({ write = { "/" } })):equals(false)
    expect(keeps({ outputs = { repo .. "/out.txt" } })):equals(false)
    expect(keeps({ binds = { { from = repo .. "/state", to = "/h/.codex" } } })):equals(false) -- written through
    expect(keeps({ binds = { { from = "/tmp/sb/state", to = repo .. "/.codex" } } })):equals(false)
  end)

  it("never takes the store for the whole repository, nor a neighbour for it", function()
    expect(mounts.keeps({ write = { store .. "/runs" } }, repo, { store })):equals(true)
    expect(mounts.keeps({ write = { store .. "/runs" } }, repo, {})):equals(false)
    expect(mounts.keeps({ write = { "/h/repo.agent" } }, repo, { "/h/repo.agent" })):equals(true)
    expect(mounts.keeps({ write = { "/h/repo-x/a" } }, repo, {})):equals(true)
  end)
end)
