--- A machine-wide cap on running agents: every Sidecar process of the user on this machine counts
--- against one number of slots, so that presets, queues and pipelines started side by side never
--- run more agents at once than the machine holds. A slot is a lock file,
--- `$XDG_RUNTIME_DIR/sidecar/agent-slots/slot-N.lock` (M.dir), held (flock) while an agent runs.
--- The kernel drops a lock with its holder's last descriptor, so a process that dies, even by
--- `kill -9`, frees its slots; the descriptors are close-on-exec, so an agent never holds one.
---
--- A run that finds every slot taken waits its turn: it holds a ticket
--- (`wait-<time>-<pid>.lock`, locked while it waits) and takes a slot only when no older ticket is
--- still held. A ticket whose holder died is no longer locked: the next waiter removes it.
---
---   local slot <close> = agent_slots.acquire({ cap = 8, run_id = "R-0001", runner = "codex",
---     on_wait = function(running, cap) ... end })   -- nil, why when the folder cannot be made
---   -- slot.waited_ms, slot.number; closed (or slot:release()) when the agent has ended
---
--- A runner may also be capped on its own (`max_agents_per_runner = { claude = 3 }`): its agents
--- then take a slot of its own folder (M.runner_dir) first, then one of the machine's (M.acquire_for).
local artifact = require("sidecar.core.artifact")
local clock = require("sidecar.host.time")
local json = require("sidecar.core.json")
local paths = require("sidecar.host.paths")
local writer_lock = require("sidecar.core.writer_lock")

local M = {}

M.POLL_MS = 50 -- how often a waiting run looks for a free slot
M.GIB_PER_AGENT = 2 -- the default: one agent per 2 GiB of memory (a Claude session takes 0.15-2 GB) ...
M.AGENTS_PER_CORE = 4 -- ... and at most four per core, never fewer than two in all
M.MAX = 1024

local function now_ms()
  return clock.monotonic_ns() // 1000000
end

---The slots' folder: `agent-slots` among the user's lock folders (sidecar.core.user_locks: the
---runtime folder, else the state folder); nil, why when there is neither.
function M.dir()
  return require("sidecar.core.user_locks").dir("agent-slots")
end

local function cores()
  local f = io.open("/proc/cpuinfo", "rb")
  local n = 0
  if f then
    for line in f:lines() do
      if line:match("^processor%s*:") then
        n = n + 1
      end
    end
    f:close()
  end
  return math.max(n, 1)
end

local function memory_gib()
  local f = io.open("/proc/meminfo", "rb")
  local kib = f and (f:read("a") or ""):match("MemTotal:%s*(%d+)")
  if f then
    f:close()
  end
  return kib and tonumber(kib) / (1024 * 1024) or nil
end

---The default cap, from the machine: one agent per GIB_PER_AGENT of memory, at most
---AGENTS_PER_CORE per core, at least 2.
---@return integer
function M.default_cap()
  local by_cores = cores() * M.AGENTS_PER_CORE
  local gib = memory_gib()
  local by_memory = gib and math.floor(gib / M.GIB_PER_AGENT) or by_cores
  return math.max(2, math.min(by_memory, by_cores))
end

---The cap that applies: SIDECAR_MAX_AGENTS when set, else the config's `max_agents`, else the
---machine's default. Nil, why when the variable is not a whole number from 1 to MAX.
---@param configured? integer  the config's max_agents
---@return integer|nil cap, string? why, string? source ("SIDECAR_MAX_AGENTS", "max_agents", "default")
function M.cap(configured)
  local env = os.getenv("SIDECAR_MAX_AGENTS")
  if env and env ~= "" then
    local n = math.tointeger(tonumber(env))
    if not (n and n >= 1 and n <= M.MAX) then
      return nil, ("SIDECAR_MAX_AGENTS is '%s': give a whole number from 1 to %d"):format(env, M.MAX)
    end
    return n, nil, "SIDECAR_MAX_AGENTS"
  end
  if configured then
    return configured, nil, "max_agents"
  end
  return M.default_cap(), nil, "default"
end

local function slot_name(n)
  return ("slot-%d.lock"):format(n)
end

local function info_name(n)
  return ("slot-%d.json"):format(n)
end

local Slot = {}
Slot.__index = Slot

---Frees the slot (idempotent); also the slot's `<close>`.
function Slot:release()
  if self.lock then
    os.remove(self.info) -- (a link planted there goes, never what it leads to)
    self.lock:release()
    self.lock = nil
  end
end

Slot.__close = Slot.release

-- A free slot among the first `cap` of folder `d`, taken (its holder written beside it), or nil.
-- Each process looks from a place of its own (its pid's) round to it: runs starting side by side
-- (a fan-out's workers, of consecutive pids) each find a free slot at once, where looking from the
-- first would have each try every slot the ones before it hold. Every file is opened in the
-- folder without following a link (sidecar.core.artifact).
local function take(d, cap, o)
  local first = writer_lock.self().pid % cap
  for i = 1, cap do
    local n = (first + i - 1) % cap + 1
    local held = d:lock(slot_name(n))
    if held then
      d:write(info_name(n), json.encode({ pid = writer_lock.self().pid, run_id = o.run_id, runner = o.runner,
        since = os.date("!%Y-%m-%dT%H:%M:%SZ") }) .. "\n", "atomic")
      return setmetatable({ lock = held, number = n, info = d:root() .. "/" .. info_name(n) }, Slot)
    end
  end
end

-- Whether slot `n` of folder `d` is held now. A free slot's holder file, if any, is a holder's
-- killed before it could remove it (SIGKILL frees the lock, not the file): it goes now, under the
-- lock, so no holder's own is taken for it.
local function held(d, n)
  local probe = d:lock(slot_name(n))
  if probe then
    os.remove(d:root() .. "/" .. info_name(n)) -- (a link planted there goes, never what it leads to)
    probe:release()
    return false
  end
  return true
end

-- The slots among the first `cap` that are held now.
local function running(d, cap)
  local n = 0
  for i = 1, cap do
    n = n + (held(d, i) and 1 or 0)
  end
  return n
end

-- Whether a ticket older than `mine` is still held; the ones whose holder died are removed.
local function older_waiting(d, mine)
  for _, name in ipairs(d:list("wait-*.lock") or {}) do
    if name < mine then
      local probe = d:lock(name)
      if not probe then
        return true
      end
      os.remove(d:root() .. "/" .. name) -- its holder is gone (or just done): no longer waiting
      probe:release()
    end
  end
  return false
end

local Ticket = {}
Ticket.__index = Ticket
Ticket.__close = function(t)
  if t.lock then
    os.remove(t.path)
    t.lock:release()
    t.lock = nil
  end
end

local function ticket(d)
  -- Named by the wall clock (every process's), so that names sort by age; the pid tells apart two
  -- of the same millisecond.
  local name = ("wait-%016d-%010d.lock"):format(clock.wall_ms(), writer_lock.self().pid)
  local lock, why = d:lock(name)
  if not lock then
    return nil, why
  end
  return setmetatable({ lock = lock, name = name, path = d:root() .. "/" .. name }, Ticket)
end

-- Waits in turn for a slot of folder `d` (see acquire).
local function wait_turn(d, o, t0)
  local mine <close>, failed = ticket(d)
  if not mine then
    return nil, "cannot wait for an agent slot: " .. tostring(failed)
  end
  if o.on_wait then
    o.on_wait(running(d, o.cap), o.cap)
  end
  while true do
    if not older_waiting(d, mine.name) then
      local slot = take(d, o.cap, o)
      if slot then
        slot.waited_ms = now_ms() - t0
        return slot
      end
    end
    clock.sleep_ms(M.POLL_MS)
  end
end

---Takes a slot, waiting in turn while all `o.cap` are held. o: {cap, run_id?, runner?, dir? (default
---M.dir()), on_wait(running, cap)? (called once, when the run has to wait)}. Returns the slot
---({number, waited_ms}; release it, or let `<close>` do it), or nil and why (no folder for the
---slots). An interrupt while waiting raises, leaving no ticket behind.
---@param o table
---@return table|nil slot, string? why
function M.acquire(o)
  local dir, why = o.dir or M.dir()
  if not dir then
    return nil, why
  end
  local opened, bad = paths.make_dirs(dir)
  if opened then
    opened, bad = artifact.open(dir)
  end
  if not opened then
    return nil, ("cannot open the agent slots' folder %s: %s"):format(dir, tostring(bad))
  end
  local d <close> = opened
  local t0 = now_ms()
  if not older_waiting(d, "wait-~") then -- nobody waiting: a free slot is this run's
    local slot = take(d, o.cap, o)
    if slot then
      slot.waited_ms = 0
      return slot
    end
  end
  return wait_turn(d, o, t0)
end

---The folder of runner `name`'s own slots (max_agents_per_runner), within `base` (default M.dir()).
---@return string|nil dir, string? why
function M.runner_dir(name, base)
  local dir, why = base or M.dir()
  if not dir then
    return nil, why
  end
  return dir .. "/runner-" .. name:gsub("[^%w._-]", "_")
end

local Both = {}
Both.__index = Both

---Frees both slots (idempotent); also the pair's `<close>`.
function Both:release()
  self.machine:release()
  if self.runner then
    self.runner:release()
  end
end

Both.__close = Both.release

---The slots an agent of `runner` takes: one of its runner's own first when o.runner_cap caps it
---(max_agents_per_runner), then one of the machine's (o.cap); each waited for in turn. Taken in
---that order by every run, so no run holds a machine slot while it waits for its runner's.
---o: {cap, runner_cap?, run_id?, dir?, on_wait(running, cap, runner?)?}. Returns {number,
---waited_ms, runner = the runner's slot or nil} (release it, or let `<close>` do it), or nil, why.
---@param runner string
---@param o table
---@return table|nil slots, string? why
function M.acquire_for(runner, o)
  local mine, why
  if o.runner_cap then
    local dir
    dir, why = M.runner_dir(runner, o.dir)
    mine, why = dir and M.acquire({ cap = o.runner_cap, dir = dir, run_id = o.run_id, runner = runner,
      on_wait = o.on_wait and function(running, cap) o.on_wait(running, cap, runner) end })
    if not mine then
      return nil, why
    end
  end
  -- An interrupt while waiting for the machine's slot frees the runner's at once, then goes on.
  local ok, machine, failed = pcall(M.acquire, { cap = o.cap, dir = o.dir, run_id = o.run_id, runner = runner,
    on_wait = o.on_wait and function(running, cap) o.on_wait(running, cap) end })
  if not (ok and machine) then
    if mine then
      mine:release()
    end
    if not ok then
      error(machine, 0)
    end
    return nil, failed
  end
  return setmetatable({ machine = machine, runner = mine, number = machine.number, waited_ms = machine.waited_ms },
    Both)
end

---Who holds the first `cap` slots now: {number, pid?, run_id?, runner?, since?} each, held ones only.
---@param cap integer
---@param dir? string
---@return table[]
function M.holders(cap, dir)
  dir = dir or M.dir()
  local d = dir and artifact.open(dir)
  local out = {}
  for n = 1, d and cap or 0 do
    if held(d, n) then
      local info = d:read_json(info_name(n))
      info = type(info) == "table" and info or {}
      out[#out + 1] = { number = n, pid = info.pid, run_id = info.run_id, runner = info.runner, since = info.since }
    end
  end
  if d then
    d:close()
  end
  return out
end

return M
