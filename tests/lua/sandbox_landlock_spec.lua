-- What a Landlock sandbox grants for reading (stdlib/sidecar/run/sandbox_landlock.lua): everything
-- around what is hidden, since Landlock cannot take back a path beneath a granted one.
local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local landlock = require("sidecar.run.sandbox_landlock")

-- A file system as a table of folders: { ["/"] = {"etc", "home"}, ["/home"] = {"u"}, ... }.
local function tree(t)
  return function(dir) return t[dir] end
end

local FS = tree({
  ["/"] = { "etc", "home", "tmp", "usr" },
  ["/home"] = { "other", "u" },
  ["/home/u"] = { ".nvm", ".ssh", "notes", "src" },
  ["/home/u/.nvm"] = { "bin", "secret.env" },
  ["/home/u/src"] = { "app" },
  ["/home/u/src/app"] = { ".env", "main.c" },
})

describe("sandbox_landlock.read_paths", function()
  it("grants a folder whole when nothing in it is hidden, and splits the ones that hold a hidden path", function()
    local read = assert(landlock.read_paths({ "/home/u/.ssh", "/home/u/src/app/.env" }, nil, FS))
    table.sort(read)
    expect(read):equals({ "/etc", "/home/other", "/home/u/.nvm", "/home/u/notes", "/home/u/src/app/main.c", "/tmp",
      "/usr" })
  end)

  it("hides a hidden home whole, then grants what is shown of it, around what is hidden within", function()
    local read = assert(landlock.read_paths({ "/home/u", "/home/u/.nvm/secret.env" }, { "/home/u/.nvm" }, FS))
    table.sort(read)
    expect(read):equals({ "/etc", "/home/other", "/home/u/.nvm/bin", "/tmp", "/usr" })
  end)

  it("grants / whole when nothing is hidden, and refuses a plan past its bound", function()
    expect(landlock.read_paths({}, nil, FS)):equals({ "/" })
    local wide = { ["/"] = {} }
    for i = 1, landlock.MAX_RULES + 1 do
      wide["/"][i] = "d" .. i
    end
    wide["/"][#wide["/"] + 1] = "x"
    wide["/x"] = { "secret" }
    local read, why = landlock.read_paths({ "/x/secret" }, nil, tree(wide))
    expect(read):is_nil()
    expect(why):contains("too many folders to split")
  end)
end)

-- A file with `text`.
local function put(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

-- The entries of a --landlock-paths file: {{"r", path}...}.
local function entries(file)
  local text = assert(io.open(file, "rb")):read("a")
  local out = {}
  for kind, path in text:gmatch("(%a)%z([^%z]*)%z") do
    out[#out + 1] = { kind, path }
  end
  return out
end

local function has(list, kind, path)
  for _, e in ipairs(list) do
    if e[1] == kind and e[2] == path then
      return true
    end
  end
  return false
end

describe("sandbox_landlock.plan", function()
  local paths = require("sidecar.host.paths")

  -- A home (its toolchain, its keys, the CLI's folder), a checkout with a secret, a worktree with
  -- its .git file, and the sandbox's private folder; the view as sidecar.run.sandbox makes it.
  local function world()
    local root = test.temp_dir()
    local w = { root = root, home = root .. "/home", repo = root .. "/repo", wt = root .. "/wt", dir = root .. "/sb",
      mine = root .. "/repo/.agent/runs/R-0001/cli-state/1-.codex" }
    for _, d in ipairs({ w.home .. "/.nvm", w.home .. "/.ssh", w.home .. "/.codex", w.repo .. "/.git", w.wt, w.dir,
      w.mine }) do
      assert(paths.make_dirs(d))
    end
    put(w.home .. "/.codex/auth.json", "login")
    put(w.repo .. "/.env", "SECRET=1")
    put(w.wt .. "/.git", "gitdir: " .. w.repo .. "/.git/worktrees/wt\n")
    put(w.dir .. "/gitconfig-1", "[user]\nname = u\n")
    w.view = { private = { root .. "/private" }, home = w.home, read = { w.home .. "/.nvm", w.repo },
      write = { w.wt }, outputs = {}, hide_dirs = { w.home .. "/.ssh" }, hide_files = { w.repo .. "/.env" },
      protect = { w.wt .. "/.git" },
      binds = { { from = w.mine, to = w.home .. "/.codex", persistent = true, env = "CODEX_HOME" },
        { from = w.dir .. "/gitconfig-1", to = w.home .. "/.gitconfig" } } }
    w.cli_state = { binds = { w.view.binds[1] }, keep = { w.home .. "/.codex/auth.json" }, made = {} }
    return w
  end

  it("gives a private home whose links lead to what is shown, a private TMPDIR, and the user's login read-only", function()
    local w = world()
    local env = {}
    local ll = assert(landlock.plan({ plan = w.view, dir = w.dir, env = env, cli_state = w.cli_state,
      network = "host", abi = 6 }))
    expect(env.HOME):equals(w.dir .. "/home")
    expect(env.TMPDIR):equals(w.dir .. "/tmp")
    expect(env.CODEX_HOME):is_nil() -- the home's link leads there; the variable was not named
    expect(paths.readlink(w.dir .. "/home/.codex")):equals(w.mine)
    expect(paths.readlink(w.dir .. "/home/.nvm")):equals(w.home .. "/.nvm")
    expect(paths.readlink(w.dir .. "/home/.gitconfig")):equals(w.dir .. "/gitconfig-1")
    expect(paths.readlink(w.mine .. "/auth.json")):equals(w.home .. "/.codex/auth.json")
    local file = ll.args[#ll.args]
    local list = entries(file)
    expect(has(list, "l", "/")):is_true()
    expect(has(list, "w", w.wt)):is_true()
    expect(has(list, "w", w.mine)):is_true()
    expect(has(list, "r", w.home .. "/.codex/auth.json")):is_true()
    expect(has(list, "r", w.repo .. "/.env")):is_false()
    expect(has(list, "r", w.repo .. "/.git")):is_true() -- the checkout split around its secret
    for _, e in ipairs(list) do
      expect(e[2]:sub(1, #w.home + 5) == w.home .. "/.ssh"):is_false()
    end
    expect(ll.guarded[1].path):equals(w.wt .. "/.git")
  end)

  it("moves a CLI's folder with its variable when the variable names it", function()
    local w = world()
    local env = { CODEX_HOME = w.home .. "/.codex" }
    assert(landlock.plan({ plan = w.view, dir = w.dir, env = env, cli_state = w.cli_state, network = "host", abi = 6 }))
    expect(env.CODEX_HOME):equals(w.mine)
  end)

  it("limits TCP as the network says, and refuses a kernel that cannot", function()
    local w = world()
    local none = assert(landlock.plan({ plan = w.view, dir = w.dir, env = {}, network = "none", ports = { 8080 }, abi = 4 }))
    expect(none.args[1]):equals("--landlock-tcp")
    expect(none.args[2]):equals("--landlock-paths")
    local model = assert(landlock.plan({ plan = w.view, dir = w.dir, env = {}, network = "model", ports = { 8080 },
      abi = 4 }))
    expect(table.concat(model.args, " ", 1, 3)):equals("--landlock-tcp --landlock-connect 8080")
    local old, why = landlock.plan({ plan = w.view, dir = w.dir, env = {}, network = "model", abi = 3 })
    expect(old):is_nil()
    expect(why):contains("needs Landlock ABI 4")
  end)

  it("writes a checkout in place around its .git: every other entry, not the checkout itself", function()
    local w = world()
    put(w.repo .. "/a.txt", "a")
    w.view.write, w.view.protect = { w.repo }, { w.repo .. "/.git" }
    local ll = assert(landlock.plan({ plan = w.view, dir = w.dir, env = {}, network = "host", abi = 6 }))
    local list = entries(ll.args[#ll.args])
    expect(has(list, "w", w.repo .. "/a.txt")):is_true()
    expect(has(list, "w", w.repo)):is_false()
    expect(has(list, "w", w.repo .. "/.git")):is_false()
  end)

  it("puts back a guarded file the agent changed, and says which", function()
    local w = world()
    local ll = assert(landlock.plan({ plan = w.view, dir = w.dir, env = {}, network = "host", abi = 6 }))
    expect(#landlock.restore(ll.guarded)):equals(0)
    put(w.wt .. "/.git", "gitdir: /elsewhere\n")
    expect(landlock.restore(ll.guarded)):equals({ w.wt .. "/.git" })
    expect(assert(io.open(w.wt .. "/.git")):read("a")):equals("gitdir: " .. w.repo .. "/.git/worktrees/wt\n")
  end)
end)
