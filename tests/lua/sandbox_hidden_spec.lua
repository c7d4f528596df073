local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local hidden = require("sidecar.run.sandbox_hidden")
local paths = require("sidecar.host.paths")

local temp_dir = test.temp_dir

local function index(list)
  local set = {}
  for _, v in ipairs(list) do
    set[v] = true
  end
  return set
end

describe("sandbox_hidden.env", function()
  it("gives the allow-list's variables and withholds the rest, sorted, whatever their names", function()
    -- The specs run with SIDECAR_TRUST and XDG_STATE_HOME set (tests/CMakeLists.txt).
    local env = {}
    local withheld = hidden.env(env, {})
    local names = index(withheld)
    expect(names.PATH):equals(nil)
    expect(names.HOME):equals(nil)
    expect(names.XDG_STATE_HOME):equals(nil)
    expect(names.SIDECAR_TRUST):equals(true)
    expect(env.SIDECAR_TRUST):equals(false)
    expect(env.PATH):equals(nil)
    local sorted = { table.unpack(withheld) }
    table.sort(sorted)
    expect(table.concat(withheld, " ")):equals(table.concat(sorted, " "))
  end)

  it("gives what keep names, by name or by PREFIX*, and what the run sets itself", function()
    local by_prefix = {}
    expect(index(hidden.env(by_prefix, { "SIDECAR_*" })).SIDECAR_TRUST):equals(nil)
    expect(by_prefix.SIDECAR_TRUST):equals(nil)
    local by_name = {}
    expect(index(hidden.env(by_name, { "SIDECAR_TRUST" })).SIDECAR_TRUST):equals(nil)
    local set = { SIDECAR_TRUST = "none" }
    expect(index(hidden.env(set, {})).SIDECAR_TRUST):equals(nil)
    expect(set.SIDECAR_TRUST):equals("none")
    -- a prefix is a prefix: SIDECAR_TRUSTX* does not name SIDECAR_TRUST
    expect(index(hidden.env({}, { "SIDECAR_TRUSTX*" })).SIDECAR_TRUST):equals(true)
  end)

  it("reads its own allow-list the same way: names whole, PREFIX*s as prefixes", function()
    local saved = hidden.ENV
    local ok, err = pcall(function()
      hidden.ENV = { "PATH", "SIDECAR_TRUS" } -- a name is whole: SIDECAR_TRUS does not give SIDECAR_TRUST
      expect(index(hidden.env({}, {})).SIDECAR_TRUST):equals(true)
      hidden.ENV = { "PATH", "SIDECAR_TRUS*" }
      local withheld = index(hidden.env({}, {}))
      expect(withheld.SIDECAR_TRUST):equals(nil)
      expect(withheld.HOME):equals(true)
    end)
    hidden.ENV = saved
    assert(ok, err)
  end)
end)

describe("sandbox_hidden.paths", function()
  it("hides a server's Unix socket in the repository, unless isolation.read names it", function()
    local dir = temp_dir()
    assert(paths.make_dirs(dir .. "/run"))
    local made = os.execute(("python3 -c 'import socket; socket.socket(socket.AF_UNIX).bind(%q)'"):format(dir
      .. "/run/dev.sock"))
    expect(made):equals(true)
    local found = hidden.paths({ repos = { dir } })
    expect(found.sockets):equals(1)
    expect(index(found.files)[dir .. "/run/dev.sock"]):equals(true)
    local listed = hidden.paths({ repos = { dir }, read = { "run/dev.sock" } })
    expect(listed.sockets):equals(0)
    expect(index(listed.files)[dir .. "/run/dev.sock"]):equals(nil)
    os.execute(("rm -rf %q"):format(dir))
  end)

  it("hides what isolation.hide names, where a link leads, even when isolation.read shows it", function()
    local dir = temp_dir()
    assert(paths.make_dirs(dir .. "/other-app"))
    local f = assert(io.open(dir .. "/other-app/.env", "w"))
    f:write("TOKEN=x\n")
    f:close()
    os.execute(("ln -s other-app %q && ln -s other-app/.env %q"):format(dir .. "/linked", dir .. "/linked.env"))
    local found = hidden.paths({ home = dir, hide = { "~/linked", dir .. "/linked.env", dir .. "/absent" },
      read = { dir } })
    expect(index(found.dirs)[dir .. "/other-app"]):equals(true)
    expect(index(found.files)[dir .. "/other-app/.env"]):equals(true)
    expect(index(found.dirs)[dir .. "/absent"]):equals(nil)
    os.execute(("rm -rf %q"):format(dir))
  end)

  it("takes isolation.hide's paths absolute or in the home, and says what is wrong with another", function()
    local sandbox = require("sidecar.run.sandbox")
    expect(sandbox.settings({ hide = { "/srv/app", "~/notes", "~" } }, nil, {}) ~= nil):equals(true)
    local s, why = sandbox.settings({ hide = { "notes" } }, nil, {})
    expect(s):equals(nil)
    expect(why):matches('isolation.hide: "notes": expected an absolute path')
  end)

  it("hides the machine's engine sockets outside /run (LXD, Incus, Nix), unless isolation.read names one", function()
    local dir = temp_dir()
    local made = os.execute(("python3 -c 'import socket; socket.socket(socket.AF_UNIX).bind(%q)'"):format(dir
      .. "/engine.sock"))
    expect(made):equals(true)
    local system = hidden.SYSTEM_SOCKETS
    hidden.SYSTEM_SOCKETS = { dir .. "/engine.sock", dir .. "/absent.sock" }
    local found = hidden.paths({})
    local listed = hidden.paths({ read = { dir .. "/engine.sock" } })
    hidden.SYSTEM_SOCKETS = system
    expect(found.sockets):equals(1)
    expect(index(found.files)[dir .. "/engine.sock"]):equals(true)
    expect(index(found.files)[dir .. "/absent.sock"]):equals(nil)
    expect(listed.sockets):equals(0)
    os.execute(("rm -rf %q"):format(dir))
  end)
end)
