--- What of the machine this process may use: its cores and its memory, within the CPU affinity it
--- was given (taskset, a Slurm allocation, a container's cpuset) and the limits of its cgroup and
--- those above it (a container's or a systemd unit's cpu.max and memory.max; cgroup v1's quota and
--- memory limit on a machine still on it). A container that shows the whole host in /proc/cpuinfo and
--- /proc/meminfo is measured by what it may use, not by the host.
---
---   local n = machine.cores()           -- at least 1
---   local bytes = machine.memory_bytes() -- nil when /proc/meminfo cannot be read
---
--- `o.root` (tests): a folder standing for "/", under which every file here is read.
local files = require("sidecar.core.files")

local M = {}

local function read(o, path)
  return files.read((o and o.root or "") .. path)
end

-- How many CPUs a list such as "0-3,8,10-11" (Cpus_allowed_list) names; nil when it names none.
local function count_list(list)
  local n = 0
  for part in (list or ""):gmatch("[^,%s]+") do
    local a, b = part:match("^(%d+)%-(%d+)$")
    if not a then
      a = part:match("^%d+$")
      b = a
    end
    a, b = tonumber(a), tonumber(b)
    if not a or b < a then
      return nil
    end
    n = n + b - a + 1
  end
  return n > 0 and n or nil
end

-- The processors /proc/cpuinfo lists (at least 1).
local function cpuinfo_count(o)
  local _, n = ("\n" .. (read(o, "/proc/cpuinfo") or "")):gsub("\nprocessor%s*:", "")
  return math.max(n, 1)
end

-- The cgroup hierarchies mounted (/proc/self/mountinfo): {v2 = {root, point}, v1 = {[controller] = {root, point}}}.
local function mounts(o)
  local out = { v1 = {} }
  for line in (read(o, "/proc/self/mountinfo") or ""):gmatch("[^\n]+") do
    local root, point, after = line:match("^%S+ %S+ %S+ (%S+) (%S+) .- %- (.*)$")
    local fstype, super = (after or ""):match("^(%S+) %S+ (%S+)")
    local m = root and { root = root:gsub("\\040", " "), point = point:gsub("\\040", " ") }
    if fstype == "cgroup2" and not out.v2 then
      out.v2 = m
    elseif fstype == "cgroup" then
      for opt in super:gmatch("[^,]+") do
        out.v1[opt] = out.v1[opt] or m
      end
    end
  end
  return out
end

-- The folders of this process's cgroup in hierarchy `m` (its path there, /proc/self/cgroup's),
-- from its own up to the top the mount shows; none when the mount does not show it.
local function cgroup_dirs(m, path)
  if not (m and path) then
    return {}
  end
  local rel = m.root == "/" and path or (path == m.root or path:sub(1, #m.root + 1) == m.root .. "/")
      and path:sub(#m.root + 1) or nil
  if not rel then
    return {}
  end
  local dirs, dir = {}, (m.point .. rel):gsub("/+$", "")
  while #dir >= #m.point and dir ~= "" do
    dirs[#dirs + 1] = dir
    dir = dir:match("^(.*)/[^/]*$")
  end
  return dirs
end

-- The smallest of fn(dir) over this process's cgroup and those above it, in the hierarchy `which`
-- ("v2", or the name of a v1 controller); nil when none says.
local function smallest(o, which, fn)
  local m = mounts(o)
  local path
  for line in (read(o, "/proc/self/cgroup") or ""):gmatch("[^\n]+") do
    local controllers, p = line:match("^%d+:([^:]*):(.*)$")
    if which == "v2" and controllers == "" then
      path = p
    end
    for c in (controllers or ""):gmatch("[^,]+") do
      path = c == which and p or path
    end
  end
  local least
  for _, dir in ipairs(cgroup_dirs(which == "v2" and m.v2 or m.v1[which], path)) do
    local v = fn(dir)
    least = v and math.min(least or v, v) or least
  end
  return least
end

-- Cores a CPU quota allows: "200000 100000" (cpu.max) is 2; "max …" none.
local function quota_cores(quota, period)
  quota, period = tonumber((quota or ""):match("^%s*(%-?%d+)")), tonumber((period or ""):match("^%s*(%d+)"))
  if not (quota and period) or quota <= 0 or period <= 0 then
    return nil
  end
  return math.max(1, math.ceil(quota / period))
end

---The cores this process may use: the CPUs of its affinity (or, unknown, /proc/cpuinfo's), fewer
---when its cgroups' CPU quota allows fewer (a quota of 1.5 cores counts as 2). At least 1.
---@param o? {root: string}
---@return integer
function M.cores(o)
  local status = "\n" .. (read(o, "/proc/self/status") or "")
  local n = count_list(status:match("\nCpus_allowed_list:%s*([^\n]*)")) or cpuinfo_count(o)
  local v2 = smallest(o, "v2", function(dir)
    return quota_cores((read(o, dir .. "/cpu.max") or ""):match("^(%d+)%s+(%d+)"))
  end)
  local v1 = smallest(o, "cpu", function(dir)
    return quota_cores(read(o, dir .. "/cpu.cfs_quota_us"), read(o, dir .. "/cpu.cfs_period_us"))
  end)
  return math.max(1, math.min(n, v2 or n, v1 or n))
end

-- Bytes of a memory limit's text: a number ("max", v1's "no limit" near 2^63, or nothing: nil).
local function limit_bytes(text)
  local n = tonumber((text or ""):match("^%s*(%d+)%s*$"))
  return n and n < 2 ^ 62 and math.tointeger(n) or nil
end

---The memory this process may use, in bytes: the machine's (MemTotal), less when its cgroups'
---limit is lower (memory.max, or v1's memory.limit_in_bytes). nil when /proc/meminfo cannot be read
---and no limit is set.
---@param o? {root: string}
---@return integer|nil
function M.memory_bytes(o)
  local kib = tonumber((read(o, "/proc/meminfo") or ""):match("MemTotal:%s*(%d+)"))
  local total = kib and math.tointeger(kib * 1024) or nil
  local v2 = smallest(o, "v2", function(dir) return limit_bytes(read(o, dir .. "/memory.max")) end)
  local v1 = smallest(o, "memory", function(dir) return limit_bytes(read(o, dir .. "/memory.limit_in_bytes")) end)
  for _, limit in ipairs({ v2 or false, v1 or false }) do
    total = limit and math.min(total or limit, limit) or total
  end
  return total
end

return M
