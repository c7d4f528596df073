-- stdlib/sidecar/core/trust_guard.lua: what trusted code loads from its repository runs only as
-- `sidecar trust` recorded it. A repository in a folder of its own, a trust file of its own (never
-- the user's state folder), trust decided by what was granted (whatever SIDECAR_TRUST the suite
-- runs under).
local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local guard = require("sidecar.core.trust_guard")
local trust = require("sidecar.core.trust")

local top, repo, saved_path, saved_cpath

local write = test.write

local function sh(command)
  assert(os.execute(command), command)
end

local function forget(...)
  for _, name in ipairs({ ... }) do
    package.loaded[name] = nil
  end
end

test.before_each(function()
  top = os.tmpname()
  os.remove(top)
  repo = top .. "/repo"
  sh("mkdir -p '" .. repo .. "/lib' '" .. repo .. "/.agent/presets' '" .. top .. "/state' && git -C '" .. repo
    .. "' init -q")
  trust.use_state_dir(top .. "/state")
  trust.set_policy("none")
  saved_path, saved_cpath = package.path, package.cpath
  _G.GUARD_SPEC_RAN = nil
end)

test.after_each(function()
  package.path, package.cpath = saved_path, saved_cpath
  forget("guard_spec_helper", "guard_spec_fast", "guard_spec_fast.sub")
  trust.set_policy(nil)
  trust.use_state_dir(nil)
  trust.on_untrusted(nil)
  _G.GUARD_SPEC_RAN = nil
  sh("rm -rf '" .. top .. "'")
end)

-- A helper module that says, through a global, that it ran.
local function helper(word)
  return ("_G.GUARD_SPEC_RAN = %q\nreturn %q\n"):format(word, word)
end

describe("trust.module_files", function()
  it("lists the repository's Lua files as git lists them, and .agent's outside its records", function()
    sh("mkdir -p '" .. repo .. "/src/deep' '" .. repo .. "/build' '" .. repo .. "/.agent/lib' '" .. repo
      .. "/.agent/runs/R-0001' '" .. repo .. "/.agent/worktrees/R-0001'")
    for _, rel in ipairs({ "lib/a.lua", "src/deep/b.lua", "build/gen.lua", "notes.txt", ".agent/config.lua",
      ".agent/presets/p.lua", ".agent/lib/c.lua", ".agent/runs/R-0001/x.lua", ".agent/worktrees/R-0001/y.lua" }) do
      write(repo .. "/" .. rel, "return 1")
    end
    write(repo .. "/.gitignore", "build/\n")
    expect(trust.module_files(repo)):equals({ ".agent/lib/c.lua", "lib/a.lua", "src/deep/b.lua" })
  end)

  it("is what trust records beside config and presets, each with its kind", function()
    write(repo .. "/.agent/config.lua", "return {}")
    write(repo .. "/.agent/presets/p.lua", "return 1")
    write(repo .. "/lib/a.lua", "return 1")
    local kinds = {}
    for _, f in ipairs(assert(trust.grant(repo)).files) do
      kinds[#kinds + 1] = f.path .. "=" .. f.kind .. "=" .. f.state
    end
    expect(kinds):equals({ ".agent/config.lua=config=trusted", ".agent/presets/p.lua=preset=trusted",
      "lib/a.lua=module=trusted" })
  end)
end)

describe("trust_guard.guard", function()
  it("require through a package.path into the repository: only as trusted", function()
    write(repo .. "/lib/guard_spec_helper.lua", helper("trusted"))
    assert(trust.grant(repo))
    guard.guard(repo)
    package.path = repo .. "/lib/?.lua;" .. package.path
    expect(require("guard_spec_helper")):equals("trusted")
    forget("guard_spec_helper")
    write(repo .. "/lib/guard_spec_helper.lua", helper("pulled"))
    _G.GUARD_SPEC_RAN = nil
    local told = {}
    trust.on_untrusted(function(info)
      told[#told + 1] = info.path .. " " .. info.state
    end)
    local err = expect(function()
      require("guard_spec_helper")
    end):raises("lib/guard_spec_helper.lua of " .. trust.repo_key(repo) .. " is changed since it was trusted")
    expect(tostring(err)):contains("`sidecar trust " .. trust.repo_key(repo) .. "`")
    expect(_G.GUARD_SPEC_RAN):is_nil()
    expect(told):equals({ "lib/guard_spec_helper.lua changed" })
  end)

  it("a file trust never saw (added by a pull) is refused as not trusted, however the path is spelled", function()
    assert(trust.grant(repo))
    guard.guard(repo)
    write(repo .. "/lib/guard_spec_helper.lua", helper("new"))
    package.path = repo .. "/./lib/../lib/?.lua;" .. package.path
    expect(function()
      require("guard_spec_helper")
    end):raises("lib/guard_spec_helper.lua of " .. trust.repo_key(repo) .. " is not trusted")
    expect(_G.GUARD_SPEC_RAN):is_nil()
  end)

  it("dofile and loadfile: only as trusted; loadfile keeps its mode and environment", function()
    write(repo .. "/lib/extra.lua", "return x")
    assert(trust.grant(repo))
    guard.guard(repo)
    expect(loadfile(repo .. "/lib/extra.lua", "t", { x = "from env" })()):equals("from env")
    expect(loadfile(repo .. "/lib/extra.lua", "b")):is_nil()
    _G.x = nil
    expect(dofile(repo .. "/lib/extra.lua")):is_nil()
    write(repo .. "/lib/extra.lua", helper("changed"))
    local chunk, why = loadfile(repo .. "/lib/extra.lua")
    expect(chunk):is_nil()
    expect(why):contains("lib/extra.lua of " .. trust.repo_key(repo) .. " is changed since it was trusted")
    expect(function()
      dofile(repo .. "/lib/extra.lua")
    end):raises("is changed since it was trusted")
    expect(_G.GUARD_SPEC_RAN):is_nil()
  end)

  it("a link out of the repository is the repository's file: what it leads to must be as trusted", function()
    write(top .. "/outside.lua", helper("outside"))
    assert(trust.grant(repo))
    guard.guard(repo)
    sh("ln -s '" .. top .. "/outside.lua' '" .. repo .. "/lib/link.lua'")
    expect(select(2, guard.owner(repo .. "/lib/link.lua"))):equals("lib/link.lua")
    expect(function()
      dofile(repo .. "/lib/link.lua")
    end):raises("lib/link.lua of " .. trust.repo_key(repo) .. " is not trusted")
    expect(_G.GUARD_SPEC_RAN):is_nil()
    assert(trust.grant(repo)) -- reviewed: its content is trusted, wherever it lives
    expect(dofile(repo .. "/lib/link.lua")):equals("outside")
    write(top .. "/outside.lua", helper("outside, changed"))
    expect(function()
      dofile(repo .. "/lib/link.lua")
    end):raises("is changed since it was trusted")
  end)

  it("a path outside that links into the repository is the repository's too; others are not", function()
    write(repo .. "/lib/inside.lua", helper("inside"))
    write(top .. "/plain.lua", helper("plain"))
    assert(trust.grant(repo))
    guard.guard(repo)
    sh("ln -s '" .. repo .. "/lib' '" .. top .. "/via'")
    local key = trust.repo_key(repo)
    expect({ guard.owner(top .. "/via/inside.lua") }):equals({ key, "lib/inside.lua" })
    expect(guard.owner(top .. "/plain.lua")):is_nil()
    write(repo .. "/lib/inside.lua", helper("inside, changed"))
    expect(function()
      dofile(top .. "/via/inside.lua")
    end):raises("lib/inside.lua of " .. key .. " is changed since it was trusted")
    expect(dofile(top .. "/plain.lua")):equals("plain") -- not the repository's: Lua's own rules
  end)

  it("never loads a native library of the repository: package.cpath, the all-in-one loader, loadlib", function()
    write(repo .. "/lib/guard_spec_fast.so", "not really a library")
    assert(trust.grant(repo))
    guard.guard(repo)
    package.cpath = repo .. "/lib/?.so"
    local key = trust.repo_key(repo)
    expect(function()
      require("guard_spec_fast")
    end):raises("lib/guard_spec_fast.so of " .. key .. " is a native library, which Sidecar never loads")
    expect(function()
      require("guard_spec_fast.sub")
    end):raises("is a native library")
    expect(function()
      package.loadlib(repo .. "/lib/guard_spec_fast.so", "luaopen_guard_spec_fast")
    end):raises("is a native library")
    -- Elsewhere, loadlib is Lua's: nil and why for a file that is not a library.
    write(top .. "/other.so", "not a library either")
    expect((package.loadlib(top .. "/other.so", "f"))):is_nil()
  end)

  it("SIDECAR_TRUST=all: nothing is guarded", function()
    local other = top .. "/other"
    sh("mkdir -p '" .. other .. "'")
    write(other .. "/h.lua", helper("all"))
    trust.set_policy("all")
    guard.guard(other)
    trust.set_policy("none")
    expect(guard.owner(other .. "/h.lua")):is_nil()
  end)
end)

describe("trust: inside a run", function()
  it("knows the run from SIDECAR_RUN_ID, and says why trusting is refused there", function()
    local env = { SIDECAR_RUN_ID = "R-0042" }
    local function getenv(name)
      return env[name]
    end
    expect(trust.inside_run(getenv)):equals("R-0042")
    env.SIDECAR_RUN_ID = ""
    expect(trust.inside_run(getenv)):is_nil()
    env.SIDECAR_RUN_ID = nil
    expect(trust.inside_run(getenv)):is_nil()
    local why = trust.refusal_inside_run("R-0042", "`sidecar trust`")
    expect(why):contains("`sidecar trust` is refused inside a Sidecar run (R-0042)")
    expect(why):contains("from their own shell")
  end)

  it("names each file's kind: config, preset, or a module trusted code may load", function()
    expect(trust.kind(".agent/config.lua")):equals("config")
    expect(trust.kind(".agent/presets/x.lua")):equals("preset")
    expect(trust.kind(".agent/presets/sub/x.lua")):equals("module")
    expect(trust.kind("lib/helper.lua")):equals("module")
  end)
end)
