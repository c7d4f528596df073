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
