-- What of the machine a process may use (stdlib/sidecar/core/machine.lua), read from a folder that
-- stands for "/": its CPU affinity, cgroup v2 and v1 limits up the tree, and a container that shows
-- the whole host in /proc. (tests/e2e/agent_slots_test.sh: the default cap under taskset.)
local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local machine = require("sidecar.core.machine")

local write = test.write

local GIB = 1024 * 1024 * 1024

-- A root with /proc of a host of 64 processors and 256 GiB, its process allowed CPUs `allowed`,
-- in the cgroup `cgroup` (lines of /proc/self/cgroup), with the mounts `mountinfo` (lines).
local function host(allowed, cgroup, mountinfo)
  local root = test.temp_dir()
  local cpuinfo = {}
  for i = 0, 63 do
    cpuinfo[#cpuinfo + 1] = ("processor\t: %d\nmodel name\t: x\n"):format(i)
  end
  write(root .. "/proc/cpuinfo", table.concat(cpuinfo, "\n"))
  write(root .. "/proc/meminfo", ("MemTotal:       %d kB\nMemFree:        1 kB\n"):format(256 * 1024 * 1024))
  local affinity = allowed and ("Cpus_allowed_list:\t" .. allowed .. "\n") or ""
  write(root .. "/proc/self/status", "Name:\tsidecar\n" .. affinity .. "Mems_allowed_list:\t0\n")
  write(root .. "/proc/self/cgroup", table.concat(cgroup or {}, "\n") .. "\n")
  write(root .. "/proc/self/mountinfo", table.concat(mountinfo or {}, "\n") .. "\n")
  return root
end

local V2_MOUNT = "30 23 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate"

describe("the machine a process may use", function()
  it("counts the CPUs of its affinity, not the host's processors", function()
    expect(machine.cores({ root = host("0-63") })):equals(64)
    expect(machine.cores({ root = host("0-3,8,10-11") })):equals(7)
    expect(machine.cores({ root = host("5") })):equals(1)
    -- No affinity list (an old kernel), or one that cannot be read: /proc/cpuinfo's processors.
    expect(machine.cores({ root = host(nil) })):equals(64)
    expect(machine.cores({ root = host("3-1") })):equals(64)
  end)

  it("takes the smallest CPU quota of its cgroup v2 and those above it, rounded up", function()
    local root = host("0-63", { "0::/user.slice/app.scope" }, { V2_MOUNT })
    write(root .. "/sys/fs/cgroup/user.slice/app.scope/cpu.max", "max 100000\n")
    write(root .. "/sys/fs/cgroup/user.slice/cpu.max", "150000 100000\n") -- 1.5 cores: 2
    write(root .. "/sys/fs/cgroup/cpu.max", "800000 100000\n")
    expect(machine.cores({ root = root })):equals(2)
    write(root .. "/sys/fs/cgroup/user.slice/cpu.max", "max 100000\n")
    expect(machine.cores({ root = root })):equals(8)
    -- The affinity, when it allows fewer.
    write(root .. "/proc/self/status", "Cpus_allowed_list:\t0-2\n")
    expect(machine.cores({ root = root })):equals(3)
  end)

  it("takes the smallest memory limit of its cgroup v2 and those above it, under MemTotal", function()
    local root = host("0-63", { "0::/system.slice/x.service" }, { V2_MOUNT })
    expect(machine.memory_bytes({ root = root })):equals(256 * GIB)
    write(root .. "/sys/fs/cgroup/system.slice/x.service/memory.max", "max\n")
    write(root .. "/sys/fs/cgroup/system.slice/memory.max", tostring(8 * GIB) .. "\n")
    expect(machine.memory_bytes({ root = root })):equals(8 * GIB)
    write(root .. "/sys/fs/cgroup/system.slice/x.service/memory.max", tostring(3 * GIB) .. "\n")
    expect(machine.memory_bytes({ root = root })):equals(3 * GIB)
  end)

  it("reads a container's own cgroup at the mount's top, as a cgroup namespace shows it", function()
    local root = host("0-63", { "0::/" }, { V2_MOUNT })
    write(root .. "/sys/fs/cgroup/memory.max", tostring(4 * GIB) .. "\n")
    write(root .. "/sys/fs/cgroup/cpu.max", "200000 100000\n")
    expect(machine.memory_bytes({ root = root })):equals(4 * GIB)
    expect(machine.cores({ root = root })):equals(2)
  end)

  it("reads cgroup v1's CPU quota and memory limit where the machine is still on v1", function()
    local root = host("0-63", { "5:memory:/docker/abc", "3:cpu,cpuacct:/docker/abc", "0::/" }, {
      "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755",
      "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct",
      "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory" })
    write(root .. "/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "400000\n")
    write(root .. "/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n")
    write(root .. "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us", "-1\n")
    write(root .. "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us", "100000\n")
    write(root .. "/sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes", tostring(6 * GIB) .. "\n")
    write(root .. "/sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n") -- v1's "no limit"
    expect(machine.cores({ root = root })):equals(4)
    expect(machine.memory_bytes({ root = root })):equals(6 * GIB)
  end)

  it("leaves out a cgroup its mount does not show, and says nothing of memory it cannot read", function()
    -- A mount of a part of the tree (its root /kubepods) the process's cgroup lies outside of.
    local root = host("0-7", { "0::/elsewhere/x" },
      { "30 23 0:26 /kubepods /sys/fs/cgroup rw - cgroup2 cgroup2 rw" })
    write(root .. "/sys/fs/cgroup/cpu.max", "100000 100000\n")
    expect(machine.cores({ root = root })):equals(8)
    os.remove(root .. "/proc/meminfo")
    expect(machine.memory_bytes({ root = root })):is_nil()
    -- Inside it: the path below the mount's root.
    root = host("0-7", { "0::/kubepods/pod1" }, { "30 23 0:26 /kubepods /sys/fs/cgroup rw - cgroup2 cgroup2 rw" })
    write(root .. "/sys/fs/cgroup/pod1/cpu.max", "100000 100000\n")
    expect(machine.cores({ root = root })):equals(1)
  end)

  it("reads this process's own files without a root", function()
    local n = machine.cores()
    expect(math.type(n)):equals("integer")
    expect(n >= 1):is_true()
    local bytes = machine.memory_bytes()
    expect(bytes == nil or (math.type(bytes) == "integer" and bytes > 0)):is_true()
  end)
end)
