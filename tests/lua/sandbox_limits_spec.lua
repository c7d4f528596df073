local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local config = require("sidecar.core.config")
local json = require("sidecar.core.json")
local limits = require("sidecar.run.sandbox_limits")
local mounts = require("sidecar.run.sandbox_mounts")
local sandbox = require("sidecar.run.sandbox")

local GiB = 1024 * 1024 * 1024

-- The index of the first argument sequence `a, b, c` in list, or nil.
local function find(list, ...)
  local want = { ... }
  for i = 1, #list - #want + 1 do
    local all = true
    for j, w in ipairs(want) do
      all = all and list[i + j - 1] == w
    end
    if all then
      return i
    end
  end
end

describe("sandbox_limits.resolve", function()
  it("gives the defaults, sizes in bytes, and none for false or 0", function()
    expect(limits.resolve(nil)):equals({ pids = 4096, memory = 8 * GiB, tmp = 2 * GiB })
    expect(limits.resolve({ pids = 512, memory = "256MiB", tmp = 0 })):equals({ pids = 512, memory = 256 * 1024 * 1024 })
    expect(limits.resolve({ memory = false })):equals({ pids = 4096, tmp = 2 * GiB })
  end)

  it("refuses what is not a bound, naming it", function()
    local _, why = limits.resolve({ pids = 2 })
    expect(why):contains("isolation.limits.pids")
    _, why = limits.resolve({ memory = "lots" })
    expect(why):contains("isolation.limits.memory")
    _, why = limits.resolve({ cpu = 2 })
    expect(why):contains("unknown setting")
  end)

  it("comes from the config, whose template shows the defaults", function()
    local dir = os.tmpname()
    os.remove(dir)
    os.execute("mkdir -p " .. dir)
    local f = assert(io.open(dir .. "/config.lua", "w"))
    f:write(config.TEMPLATE)
    f:close()
    local cfg = assert(config.load(dir))
    expect(limits.resolve(cfg.isolation.limits)):equals(limits.resolve(nil))
    expect(sandbox.settings(cfg.isolation, nil, {}).limits):equals(limits.resolve(nil))
    local _, why = sandbox.settings({ limits = { pids = "many" } }, nil, {})
    expect(why):contains("isolation.limits.pids")
    os.execute("rm -rf " .. dir)
  end)
end)

describe("sandbox_limits.plan", function()
  it("gives sandbox-init the pids bound, and the memory watch without a cgroup", function()
    local p = limits.plan({ pids = 300, memory = 256 * 1024 * 1024 }, nil, false)
    expect(p.init_args):equals({ "--pids", "300", "--memory", tostring(256 * 1024 * 1024) })
    expect(p.by):equals({ pids = "rlimit", memory = "watch" })
    expect(limits.plan({ pids = 300 }, nil, true).by.pids):equals("watch") -- RLIMIT_NPROC spares root
    expect(limits.plan({}, nil, false).init_args):equals({})
  end)

  it("sizes the private tmpfs where bwrap takes --size", function()
    local p = limits.plan({ tmp = 64 * 1024 * 1024 }, nil, false)
    if not limits.tmpfs_sized() then
      expect(p.tmpfs):equals({})
      return
    end
    expect(p.tmpfs["/tmp"]):equals(64 * 1024 * 1024)
    expect(p.tmpfs["/dev/shm"]):equals(64 * 1024 * 1024)
    expect(p.tmpfs["/run"]):equals(limits.RUN_SIZE)
    local args = mounts.args({ network = "none", read = {}, write = {}, cwd = "/", sizes = p.tmpfs })
    expect(find(args, "--size", tostring(64 * 1024 * 1024), "--tmpfs", "/tmp")):exists()
    expect(find(args, "--size", tostring(limits.RUN_SIZE), "--tmpfs", "/run")):exists()
    args = mounts.args({ network = "none", read = {}, write = {}, cwd = "/", sizes = p.tmpfs, home = "/home/u" })
    expect(find(args, "--size", tostring(64 * 1024 * 1024), "--tmpfs", "/home/u")):exists() -- the emptied home
    expect(find(mounts.args({ network = "none", read = {}, write = {}, cwd = "/" }), "--size")):is_nil()
  end)
end)

describe("sandbox_limits.outcome", function()
  local plan = { limits = { pids = 256, memory = 256 * 1024 * 1024, tmp = 64 * 1024 * 1024 },
    by = { pids = "rlimit", memory = "watch", tmp = "tmpfs" } }

  it("records the bounds and the peaks, and nothing stopped", function()
    local rec = limits.outcome(plan, { tasks_peak = 12, rss_peak = 1024 * 1024 * 100, killed = {} })
    expect(rec.pids):equals(256)
    expect(rec.peak_tasks):equals(12)
    expect(rec.hit):is_nil()
    expect(limits.hit_text(rec)):is_nil()
    expect(limits.text(rec)):equals("pids 256 (rlimit), memory 256 MiB (watch), /tmp 64 MiB; peak 12 tasks, 100 MiB of "
      .. "memory (sampled)")
  end)

  it("says which bound stopped the run, and what it killed", function()
    local rec = limits.outcome(plan, { tasks_peak = 9, rss_peak = 300 * 1024 * 1024, hit = "memory",
      killed = { { pid = 7, command = "python3 -c \nimport time\nheld = 1", rss = 280 * 1024 * 1024 } } })
    expect(limits.hit_text(rec)):equals("stopped by the memory limit (256 MiB): killed 7 python3 -c import time held = 1 "
      .. "(280 MiB of memory)")
    rec = limits.outcome(plan, { tasks_peak = 256, rss_peak = 1, hit = "pids", killed = {} })
    expect(limits.hit_text(rec)):equals("stopped by the pids limit (256 processes and threads): its processes and "
      .. "threads reached it and all were killed")
    expect(limits.text(rec)):contains("; stopped by the pids limit")
  end)

  it("says so of a bound that is off, and of a tmp bwrap could not size", function()
    local rec = limits.outcome({ limits = { tmp = GiB }, by = {} }, nil)
    expect(rec.pids):equals(json.null)
    expect(limits.text(rec)):equals("pids none, memory none, /tmp 1 GiB (not bounded: bwrap has no --size)")
    expect(limits.outcome(nil)):is_nil()
    expect(limits.text(nil)):is_nil()
  end)
end)
