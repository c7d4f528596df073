-- The agent's program in its OS sandbox (stdlib/sidecar/run/sandbox_program.lua): resolved through
-- PATH, its links and its `#!` interpreter, its npm package tree shown with it, and a program the
-- sandbox would still hide refused before start (sandbox_mounts.shows).
local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local mounts = require("sidecar.run.sandbox_mounts")
local program = require("sidecar.run.sandbox_program")
local paths = require("sidecar.host.paths")

local function write(path, text, mode)
  test.write(path, text)
  os.execute(("chmod %s '%s'"):format(mode or "755", path))
end

-- An npm-style install under `dir`: bin/agent -> lib/node_modules/agent/bin/agent.js (#!/usr/bin/env
-- sh), beside it the platform package lib/node_modules/agent-linux-x64 holding the real binary.
local function npm_install(dir)
  write(dir .. "/lib/node_modules/agent/bin/agent.js", "#!/usr/bin/env sh\nexec \"$(dirname \"$0\")/../../agent-linux-x64/agent\"\n")
  write(dir .. "/lib/node_modules/agent-linux-x64/agent", "#!/bin/sh\necho real\n")
  assert(paths.make_dirs(dir .. "/bin"))
  os.execute(("ln -s ../lib/node_modules/agent/bin/agent.js '%s/bin/agent'"):format(dir))
end

describe("sandbox_program", function()
  it("resolves an npm launcher through its link to its package tree and its `env` interpreter", function()
    local dir = paths.real(test.temp_dir())
    npm_install(dir)
    local prog = assert(program.resolve(dir .. "/bin/agent"))
    expect(prog.real):equals(dir .. "/lib/node_modules/agent/bin/agent.js")
    expect(prog.package):equals(dir .. "/lib/node_modules") -- the sibling platform package with it
    expect(prog.interpreter.real):equals(paths.real(paths.program("sh")))
    expect(program.folders(prog)):contains(dir .. "/lib/node_modules")
    expect(program.folders(prog)):contains(dir .. "/bin")
    local rec = program.record(prog)
    expect(rec.name):equals(dir .. "/bin/agent")
    expect(rec.interpreter):equals(prog.interpreter.real)
  end)

  it("shows the package trees a private PATH folder's links lead to, each folder looked at once", function()
    local dir = paths.real(test.temp_dir())
    npm_install(dir)
    os.execute(("ln -s agent '%s/bin/same'"):format(dir)) -- a link within the folder: nothing more to show
    write(dir .. "/open/bin/tool", "#!/bin/sh\n")
    os.execute(("ln -s ../../lib/node_modules/agent/bin/agent.js '%s/open/bin/agent'"):format(dir))
    local asked = {}
    local function private(d)
      asked[#asked + 1] = d
      return d == dir .. "/bin"
    end
    -- PATH names the private folder twice (as shells' startup files often make it) and an open one
    local got = program.path_folders({ dir .. "/bin", dir .. "/open/bin", dir .. "/bin" }, private)
    expect(got):equals({ dir .. "/lib/node_modules" }) -- the open folder's links are seen as they are
    expect(asked):equals({ dir .. "/bin", dir .. "/open/bin" })
  end)

  it("lists a PATH folder that has not changed once, and again once it has, following its links each time", function()
    local dir = paths.real(test.temp_dir())
    npm_install(dir)
    write(dir .. "/other/lib/node_modules/tool/bin/tool.js", "#!/bin/sh\n")
    write(dir .. "/bin/shim", "#!/bin/sh\n")
    local listed, entries = 0, paths.entries
    paths.entries = function(...)
      listed = listed + 1
      return entries(...)
    end
    local racy = program.RACY_S
    program.RACY_S = -1 -- the folder counts as settled at once (else it is listed again for 2 s)
    local ok, err = pcall(function()
      local private = function() return true end
      expect(program.path_folders({ dir .. "/bin" }, private)):equals({ dir .. "/lib/node_modules" })
      expect(program.path_folders({ dir .. "/bin" }, private)):equals({ dir .. "/lib/node_modules" })
      expect(listed):equals(1) -- unchanged: listed once
      -- Where a link leads is read every time: moved elsewhere, the folder itself unchanged.
      os.execute(("mv '%s/lib' '%s/lib.old' && ln -s other/lib '%s/lib'"):format(dir, dir, dir))
      os.execute(("mkdir -p '%s/other/lib/node_modules/agent/bin' && cp '%s/lib.old/node_modules/agent/bin/agent.js' '%s/other/lib/node_modules/agent/bin/'")
        :format(dir, dir, dir))
      expect(program.path_folders({ dir .. "/bin" }, private)):equals({ dir .. "/other/lib/node_modules" })
      expect(listed):equals(1)
      -- A link added: the folder changed, listed again.
      os.execute(("ln -s ../other/lib/node_modules/tool/bin/tool.js '%s/bin/tool'"):format(dir))
      local got = program.path_folders({ dir .. "/bin" }, private)
      expect(listed):equals(2)
      expect(got):equals({ dir .. "/other/lib/node_modules" })
      os.execute(("rm '%s/bin/tool' '%s/bin/agent' && ln -s ../lib.old/node_modules/agent/bin/agent.js '%s/bin/agent'")
        :format(dir, dir, dir))
      expect(program.path_folders({ dir .. "/bin" }, private)):equals({ dir .. "/lib.old/node_modules" })
      expect(listed):equals(3)
      -- Changed just now (the default): listed each time, as two changes within one tick look alike.
      program.RACY_S = racy
      os.execute(("touch '%s/bin/new'"):format(dir))
      program.path_folders({ dir .. "/bin" }, private)
      program.path_folders({ dir .. "/bin" }, private)
      expect(listed):equals(5)
    end)
    paths.entries, program.RACY_S = entries, racy
    assert(ok, err)
  end)

  it("takes an absolute #! interpreter, and none for a binary or a missing program", function()
    local dir = paths.real(test.temp_dir())
    write(dir .. "/tool", "#!" .. dir .. "/interp/bin/run -x\n")
    write(dir .. "/interp/bin/run", "#!/bin/sh\n")
    local prog = assert(program.resolve(dir .. "/tool"))
    expect(prog.interpreter.real):equals(dir .. "/interp/bin/run")
    expect(program.folders(prog)):contains(dir .. "/interp/bin")
    expect(program.resolve("/bin/true").interpreter):is_nil()
    expect(program.resolve("no-such-program-here")):is_nil()
    expect(program.unseen(nil, function() return false end)):is_nil()
  end)

  it("refuses before start a program the sandbox hides, naming it and the setting that shows it", function()
    local prog = { name = "agent", path = "/tmp/x/bin/agent", real = "/tmp/x/bin/agent", package = "/tmp/x/bin" }
    local function shows(plan)
      return function(p) return mounts.shows(plan, p) end
    end
    -- /tmp is private: shown again by its folder, it is seen; a hidden folder covers that again.
    expect(program.unseen(prog, shows({ read = {} }))):contains("the agent's program agent is at /tmp/x/bin/agent, "
      .. "which the OS sandbox hides: show it with isolation = { read = { \"/tmp/x/bin\" } }")
    expect(program.unseen(prog, shows({ read = { "/tmp/x/bin" } }))):is_nil()
    expect(program.unseen(prog, shows({ read = { "/tmp/x/bin" }, hide_dirs = { "/tmp/x" } }))):is_nil()
    expect(program.unseen(prog, shows({ read = { "/tmp/x" }, hide_dirs = { "/tmp/x/bin" } }))):contains("hides")
    expect(program.unseen(prog, shows({ read = { "/tmp/x/bin" }, hide_dirs = { "/tmp/x/bin" } }))):contains("hides")
    prog.interpreter = { path = "/home/u/.nvm/node", real = "/home/u/.nvm/node" }
    expect(program.unseen(prog, shows({ read = { "/tmp/x/bin" }, home = "/home/u" })))
      :contains("(its interpreter /home/u/.nvm/node) is at /home/u/.nvm/node")
    expect(program.unseen(prog, shows({ read = { "/tmp/x/bin", "/home/u/.nvm" }, home = "/home/u" }))):is_nil()
  end)
end)
