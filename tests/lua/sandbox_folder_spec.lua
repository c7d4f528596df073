-- sandbox_folder.sweep: the private folders of sandboxes whose owner is gone are removed, those of a live
-- owner kept. A folder names its owner ("-by-PID-START"); an older Sidecar's wrote it in a file.
local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local paths = require("sidecar.host.paths")
local processes = require("sidecar.run.processes")
local sandbox_folder = require("sidecar.run.sandbox_folder")

-- The pid of a process that has ended.
local function dead_pid()
  local h = assert(require("sidecar.host.proc").spawn({ "sh", "-c", "exit 0" }))
  local pid = h:pid()
  h:wait()
  return pid
end

local function folder(tmp, name, owner_file)
  local dir = tmp .. "/" .. name
  assert(paths.make_dirs(dir))
  if owner_file then
    local f = assert(io.open(dir .. "/owner", "wb"))
    f:write(owner_file)
    f:close()
  end
  return dir
end

describe("sandbox_folder.sweep", function()
  it("removes the folders whose owner, named in the folder's name or its owner file, is gone", function()
    local tmp, me, dead = test.temp_dir(), processes.host.self(), dead_pid()
    local mine = folder(tmp, ("sidecar-sandbox-R-0001-0a1b2c3d-by-%d-%d"):format(me.pid, me.start))
    local gone = folder(tmp, ("sidecar-sandbox-R-0002-0a1b2c3e-by-%d-%d"):format(dead, me.start))
    local restarted = folder(tmp, ("sidecar-sandbox-R-0003-0a1b2c3f-by-%d-%d"):format(me.pid, me.start + 1))
    local old_mine = folder(tmp, "sidecar-sandbox-R-0004-0a1b2c40", ("%d %d\n"):format(me.pid, me.start))
    local old_gone = folder(tmp, "sidecar-sandbox-R-0005-0a1b2c41", ("%d %d\n"):format(dead, me.start))
    local unnamed = folder(tmp, "sidecar-sandbox-R-0006-0a1b2c42") -- new: left for an hour
    local other = folder(tmp, ("other-R-0007-by-%d-1"):format(dead)) -- not a sandbox's
    expect(sandbox_folder.sweep(tmp)):equals(3)
    for _, kept in ipairs({ mine, old_mine, unnamed, other }) do
      expect(paths.lstat(kept) ~= nil):is_true()
    end
    for _, removed in ipairs({ gone, restarted, old_gone }) do
      expect(paths.lstat(removed)):equals(nil)
    end
  end)
end)

describe("sandbox_folder.make", function()
  it("names the folder after its run and this process, which the sweep then keeps", function()
    local me = processes.host.self()
    local dir = assert(sandbox_folder.make("R-0009"))
    expect(dir:match("^/tmp/sidecar%-sandbox%-R%-0009%-%x+%-by%-(%d+%-%d+)$")):equals(("%d-%d"):format(me.pid, me.start))
    sandbox_folder.sweep()
    expect(paths.lstat(dir).kind):equals("directory")
    expect(sandbox_folder.remove(dir)):equals(true)
    expect(paths.lstat(dir)):equals(nil)
  end)
end)

describe("sandbox_folder.base", function()
  -- A folder in memory of this user's alone, as /run/user/UID is; nil where /dev/shm is no tmpfs.
  local function runtime_like(mode)
    if not paths.in_memory("/dev/shm") then
      return nil
    end
    local dir = ("/dev/shm/sidecar-test-runtime-%s"):format(require("sidecar.core.ids").uuid():sub(1, 8))
    assert(paths.make_dirs(dir))
    assert(require("sidecar.core.proc").run({ "chmod", mode, dir }).code == 0)
    return dir
  end

  it("puts a Landlock sandbox's folder, which holds the agent's files, in /tmp", function()
    expect(sandbox_folder.base(false)):equals("/tmp")
    expect(assert(sandbox_folder.make("R-0010")):find("^/tmp/sidecar%-sandbox%-R%-0010%-")):equals(1)
  end)

  it("puts a bubblewrap sandbox's folder in memory: the user's own $XDG_RUNTIME_DIR, else /dev/shm", function()
    local own, open = runtime_like("700"), runtime_like("755")
    if not own then
      return -- no tmpfs at /dev/shm here: /tmp it is, which the next test checks
    end
    expect(sandbox_folder.memory_base(own)):equals(own)
    expect(sandbox_folder.memory_base(open)):equals("/dev/shm") -- others may look in: not the user's alone
    expect(sandbox_folder.memory_base("relative/run")):equals("/dev/shm")
    expect(sandbox_folder.memory_base(nil)):equals("/dev/shm")
    local disk = test.temp_dir()
    if not paths.in_memory(disk) then
      assert(require("sidecar.core.proc").run({ "chmod", "700", disk }).code == 0)
      expect(sandbox_folder.memory_base(disk)):equals("/dev/shm") -- on a disk: its copies would be written there
    end
    paths.remove_tree(own)
    paths.remove_tree(open)
  end)

  it("makes the folder in memory when asked, and the sweep looks there too", function()
    local base = sandbox_folder.base(true)
    expect(base == "/tmp" or paths.in_memory(base)):is_true()
    local dir = assert(sandbox_folder.make("R-0011", true))
    expect(dir:sub(1, #base + 1)):equals(base .. "/")
    expect(paths.lstat(dir).mode):equals(tonumber("700", 8))
    -- a folder there whose owner is gone goes with the sweep of every place
    local me, dead = processes.host.self(), dead_pid()
    local gone = folder(base, ("sidecar-sandbox-R-0012-0a1b2c3e-by-%d-%d"):format(dead, me.start))
    expect(sandbox_folder.sweep() >= 1):is_true()
    expect(paths.lstat(gone)):equals(nil)
    expect(paths.lstat(dir).kind):equals("directory")
    sandbox_folder.remove(dir)
  end)

  it("makes it in /tmp when its path in memory would be too long for the proxy's socket in it", function()
    local base = sandbox_folder.base(true)
    local name = ("R-%s"):format(("1"):rep(sandbox_folder.MAX_PATH - #base - 30))
    local dir = assert(sandbox_folder.make(name, true))
    expect(dir:find("^/tmp/sidecar%-sandbox%-R%-1")):equals(1)
    sandbox_folder.remove(dir)
  end)
end)
