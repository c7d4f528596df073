--- The bounds of a run's OS sandbox (issue 45, item 8): how many tasks it may have, how much
--- memory it may hold, how much its private /tmp, /var/tmp and /dev/shm may. Every sandbox gets them (the
--- agent's, its validation steps', its worktree setup's), from the config's `isolation.limits`:
---
---   isolation = { limits = { pids = 4096, memory = "8GiB", tmp = "2GiB" } }   -- the defaults
---
--- Far above what a real run uses (a CLI on node, compilers with -j, test suites: a few hundred
--- tasks, a few GiB), far below what takes a machine down (a fork bomb, a leak). false (or 0) for
--- one: no bound. Who holds each bound, best first:
---   - pids: the run's cgroup v2 (pids.max), where it has the pids controller; else RLIMIT_NPROC,
---     set by sandbox-init before the agent starts (counted per user of the sandbox's
---     own user namespace: the sandbox's tasks alone); for a user who is root outside, whom the
---     kernel exempts from RLIMIT_NPROC, a watch that samples the namespace every 200 ms. Reaching
---     it ends the sandbox: a run that needs more is a runaway.
---   - memory: the run's cgroup (memory.max, swap 0), where it has the memory controller: the
---     kernel's OOM killer ends the largest process; else the same watch, which sums the
---     processes' anonymous resident memory (a fork's shared pages counted once) and kills the
---     largest past the bound (sampled: a burst between two samples passes, by as much as can be
---     allocated in 200 ms).
---   - tmp: the size of each private tmpfs (/tmp, /var/tmp, /dev/shm, the home the sandbox makes empty; /run
---     holds RUN_SIZE), bwrap's --size (bubblewrap 0.6 and later): a write past it fails with ENOSPC.
---     The files Sidecar makes for the sandbox in its private folder, when that is in memory (the
---     hooks' events, copies of a CLI's state files: sidecar.run.sandbox_folder), hold `tmp` at
---     most in all: the same watch samples their sizes, and past it ends every process of the
---     sandbox (no tmpfs of the sandbox's own holds them; sampled as memory is).
--- A run stopped by a bound says which (record.os_sandbox.limits.hit, its failure_reason or a
--- warning, `run show`).
---
---   local plan = sandbox_limits.plan(settings.limits, cgroup)   -- plan.tmpfs, plan.init_args
---   local rec = sandbox_limits.outcome(plan, report.limits)      -- after: os_sandbox.limits
---   local text = sandbox_limits.hit_text(rec)                    -- "stopped by the memory limit (…)"
local byte_size = require("sidecar.core.byte_size")
local json = require("sidecar.core.json")
local paths = require("sidecar.host.paths")
local procinfo = require("sidecar.host.procinfo")
local texts = require("sidecar.core.text")

local M = {}

M.DEFAULTS = { pids = 4096, memory = 8 * 1024 * 1024 * 1024, tmp = 2 * 1024 * 1024 * 1024 }
M.RUN_SIZE = 64 * 1024 * 1024 -- /run and /var/run: a few sockets and pid files at most
M.MIN_PIDS = 8 -- sandbox-init, the agent, a shell: fewer could not start anything

local KEYS = { "pids", "memory", "tmp" }
local IS_KEY = {} -- a bound a record may say was hit
for _, key in ipairs(KEYS) do
  IS_KEY[key] = true
end

---The bounds from the config's isolation.limits (nil: the defaults): {pids?, memory?, tmp?}, each
---absent when it is off (false or 0). nil and why for a value that is not one.
---@param given table|nil
---@return table|nil limits, string? why
function M.resolve(given)
  if given == nil then
    given = {}
  elseif type(given) ~= "table" then
    return nil, ("isolation.limits: expected a table, got %s"):format(type(given))
  end
  for k in pairs(given) do
    if not M.DEFAULTS[k] then
      return nil, ("isolation.limits.%s: unknown setting (known: memory, pids, tmp)"):format(tostring(k))
    end
  end
  local out = {}
  for _, key in ipairs(KEYS) do
    local v = given[key]
    if v == nil then
      out[key] = M.DEFAULTS[key]
    elseif v ~= false and v ~= 0 then
      if key == "pids" then
        if math.type(v) ~= "integer" or v < M.MIN_PIDS then
          return nil, ("isolation.limits.pids: expected a number of tasks, at least %d (or false: no bound), got %s")
            :format(M.MIN_PIDS, tostring(v))
        end
        out.pids = v
      else
        local bytes, why = byte_size.parse(v)
        if not bytes then
          return nil, ("isolation.limits.%s: %s (or false: no bound)"):format(key, why)
        end
        out[key] = bytes
      end
    end
  end
  return out
end

local sized -- whether this bwrap takes --size (nil: not looked yet)

---Whether the bwrap on PATH takes --size before --tmpfs (0.6 and later): its help text, which is
---in the program, names it. Looked once per process.
function M.tmpfs_sized()
  if sized == nil then
    local bwrap = paths.program("bwrap")
    local f = bwrap and io.open(bwrap, "rb")
    local text = f and f:read("a")
    if f then
      f:close()
    end
    if not text and bwrap then -- not readable (a setuid bwrap may not be): ask it
      local r = require("sidecar.core.proc").run({ bwrap, "--help" }, { timeout_ms = 5000 })
      text = (r.stdout or "") .. (r.stderr or "")
    end
    sized = text ~= nil and text:find("--size BYTES", 1, true) ~= nil
  end
  return sized
end

---How a sandbox holds `limits` (M.resolve's): {limits, tmpfs = {[folder] = bytes} (for
---sandbox_mounts), init_args = {...} (for sandbox-init), by = {pids, memory, tmp}, cgroup}.
---`cgroup`: the run's cgroup v2 folder, when the sandbox starts in one (host/process/run_cgroup.hpp).
---@param limits table|nil
---@param cgroup string|nil
---@param root boolean|nil  whether this process is root (then RLIMIT_NPROC does not hold)
---@param landlock boolean|nil  a Landlock sandbox (no namespace: the watch, never RLIMIT_NPROC, which
---  would count every process of the user; no tmpfs of its own, so `tmp` is "unbounded")
function M.plan(limits, cgroup, root, landlock)
  limits = limits or {}
  local p = { limits = limits, tmpfs = {}, init_args = {}, by = {} }
  if cgroup and (limits.pids or limits.memory) and procinfo.cgroup_limit then
    -- pids: bwrap itself is in the cgroup too, outside the namespace the rlimit counts.
    local applied = procinfo.cgroup_limit(cgroup, { pids = limits.pids and limits.pids + 1, memory = limits.memory })
    p.by.pids = applied.pids and "cgroup" or nil
    p.by.memory = applied.memory and "cgroup" or nil
    p.cgroup = (applied.pids or applied.memory) and cgroup or nil
  end
  if limits.pids then
    p.by.pids = p.by.pids or ((root or landlock) and "watch" or "rlimit")
    table.move({ "--pids", tostring(limits.pids) }, 1, 2, #p.init_args + 1, p.init_args)
  end
  if limits.memory and not p.by.memory then
    p.by.memory = "watch"
    table.move({ "--memory", tostring(limits.memory) }, 1, 2, #p.init_args + 1, p.init_args)
  end
  if limits.tmp and landlock then
    p.by.tmp = "unbounded"
  elseif limits.tmp and M.tmpfs_sized() then
    p.by.tmp = "tmpfs"
    for _, dir in ipairs({ "/tmp", "/var/tmp", "/dev/shm", "~" }) do -- "~": the home the sandbox makes empty
      p.tmpfs[dir] = limits.tmp
    end
    for _, dir in ipairs({ "/run", "/var/run" }) do
      p.tmpfs[dir] = math.min(limits.tmp, M.RUN_SIZE)
    end
  end
  return p
end

---Bounds the files `shared` (paths as the sandbox sees them: Sidecar made them in memory, its
---processes write them) by the plan's `tmp`: sandbox-init's watch of them, added to plan.init_args
---(plan.by.shared = "watch"). Nothing without a `tmp` bound or without files.
---@param plan table  M.plan's
---@param shared string[]
function M.bound_shared(plan, shared)
  if not plan.limits.tmp or #shared == 0 then
    return
  end
  plan.by.shared = "watch"
  table.move({ "--shared-max", ("%d"):format(plan.limits.tmp) }, 1, 2, #plan.init_args + 1, plan.init_args)
  for _, path in ipairs(shared) do
    table.move({ "--shared-file", path }, 1, 2, #plan.init_args + 1, plan.init_args)
  end
end

-- A limit of the record in words: "the memory limit (8 GiB)".
local function named(rec, what)
  local v = rec[what]
  if what == "pids" then
    return ("the pids limit (%s processes and threads)"):format(math.type(v) == "integer" and v or "?")
  end
  return ("the %s limit (%s)"):format(what, byte_size.format(v))
end

---What the record keeps of a sandbox's bounds once it ended (os_sandbox.limits): {pids, memory, tmp
---(null: none), by, peak_tasks, peak_rss (sampled), peak_shared (the files it shares in memory,
---sampled), hit ("pids"|"memory"|"tmp"), shared_file (with "tmp": the largest of them), killed
---[{pid, command, rss}], oom_kills (the kernel's, in the cgroup)}. nil without a plan.
---@param plan table|nil  M.plan's
---@param seen table|nil  sandbox-init's report's `limits`
function M.outcome(plan, seen)
  if not plan then
    return nil
  end
  local l = plan.limits
  local rec = json.object({ pids = l.pids or json.null, memory = l.memory or json.null, tmp = l.tmp or json.null,
    by = json.object(plan.by) })
  seen = type(seen) == "table" and seen or {}
  rec.peak_tasks = math.type(seen.tasks_peak) == "integer" and seen.tasks_peak or nil
  rec.peak_rss = math.type(seen.rss_peak) == "integer" and seen.rss_peak or nil
  rec.peak_shared = math.type(seen.shared_peak) == "integer" and seen.shared_peak or nil
  rec.hit = IS_KEY[seen.hit] and seen.hit or nil
  rec.shared_file = rec.hit == "tmp" and type(seen.shared_file) == "string" and seen.shared_file or nil
  if type(seen.killed) == "table" and #seen.killed > 0 then
    local killed = {}
    for i, k in ipairs(seen.killed) do
      killed[i] = json.object({ pid = k.pid, command = tostring(k.command or ""), rss = k.rss })
    end
    rec.killed = json.array(killed)
  end
  if plan.cgroup and procinfo.cgroup_events then
    local e = procinfo.cgroup_events(plan.cgroup)
    if e.oom_kill > 0 then
      rec.oom_kills, rec.hit = e.oom_kill, rec.hit or "memory"
    end
    if e.pids_max > 0 then
      rec.forks_refused, rec.hit = e.pids_max, rec.hit or "pids"
    end
    rec.peak_memory = e.memory_peak
  end
  return rec
end

---Whether the record's bounds stopped something, in words ("stopped by the memory limit (8 GiB):
---killed 1234 python3 … (300 MiB of memory)"), or nil.
---@param rec table|nil  os_sandbox.limits
---@return string|nil
function M.hit_text(rec)
  if type(rec) ~= "table" or not IS_KEY[rec.hit] then
    return nil
  end
  if rec.hit == "tmp" then
    local file = type(rec.shared_file) == "string" and texts.clip((texts.visible(rec.shared_file)), 200) or "?"
    return ("stopped by %s: the files Sidecar made for it in memory grew past it (%s the largest); all its "
      .. "processes were killed"):format(named(rec, "tmp"), file)
  end
  if rec.hit == "pids" then
    return ("stopped by %s: its processes and threads reached it and all were killed%s"):format(named(rec, "pids"),
      math.type(rec.forks_refused) == "integer" and (" (%d forks refused)"):format(rec.forks_refused) or "")
  end
  local shown = {}
  for i, k in ipairs(type(rec.killed) == "table" and rec.killed or {}) do
    if i <= 3 then
      local command = tostring(k.command):gsub("%s+", " "):gsub("^ ", "") -- a script's lines on one
      command = #command > 80 and (command:sub(1, 77) .. "...") or command
      shown[#shown + 1] = ("%s %s (%s of memory)"):format(tostring(k.pid), command, byte_size.format(k.rss))
    end
  end
  if math.type(rec.oom_kills) == "integer" then
    shown[#shown + 1] = ("%d process%s ended by the kernel's OOM killer"):format(rec.oom_kills,
      rec.oom_kills == 1 and "" or "es")
  end
  return ("stopped by %s: killed %s"):format(named(rec, "memory"), table.concat(shown, "; "))
end

---The bounds of a run in a line for `run show`: "pids 4096 (rlimit), memory 8 GiB (watch), /tmp 2 GiB;
---peak 37 tasks, 1.2 GiB of memory (sampled)", and what stopped it.
---@param rec table|nil  os_sandbox.limits
---@return string|nil
function M.text(rec)
  if type(rec) ~= "table" then
    return nil
  end
  local by = type(rec.by) == "table" and rec.by or {}
  local function one(label, v, how, format)
    if v == nil or v == json.null then
      return label .. " none"
    end
    return ("%s %s%s"):format(label, format and byte_size.format(v) or tostring(v), how and (" (" .. how .. ")") or "")
  end
  local parts = { one("pids", rec.pids, by.pids), one("memory", rec.memory, by.memory, true),
    one("/tmp", rec.tmp, by.tmp == "unbounded" and "not bounded: the Landlock sandbox's TMPDIR is on disk"
      or by.tmp == nil and rec.tmp ~= json.null and "not bounded: bwrap has no --size" or nil, true) }
  local text = table.concat(parts, ", ")
  if math.type(rec.peak_tasks) == "integer" then
    text = text .. ("; peak %d tasks, %s of memory (sampled)"):format(rec.peak_tasks, byte_size.format(rec.peak_rss))
  end
  local hit = M.hit_text(rec)
  return hit and (text .. "; " .. hit) or text
end

return M
