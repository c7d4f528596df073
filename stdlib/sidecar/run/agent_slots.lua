--- A machine-wide cap on running agents: every Sidecar process of the user on this machine counts
--- against one number of slots, so that presets, queues and pipelines started side by side never
--- run more agents at once than the machine holds. A slot is a lock file,
--- `$XDG_RUNTIME_DIR/sidecar/agent-slots/slot-N.lock` (M.dir), held (flock) while an agent runs,
--- which says who holds it (JSON: pid, run_id, runner, since; read only while it is held). The
--- kernel drops a lock with its holder's last descriptor, so a process that dies, even by
--- `kill -9`, frees its slots and leaves no file to remove; the descriptors are close-on-exec, so
--- an agent never holds one.
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
local coop = require("sidecar.core.coop")
local json = require("sidecar.core.json")
local machine = require("sidecar.core.machine")
local paths = require("sidecar.host.paths")
local writer_lock = require("sidecar.core.writer_lock")

local M = {}

M.POLL_MS = 50 -- how often a waiting run looks for a free slot
M.GIB_PER_AGENT = 2 -- the default: one agent per 2 GiB of memory (a Claude session takes 0.15-2 GB) ...
M.AGENTS_PER_CORE = 4 -- ... and at most four per core, never fewer than two in all
M.MAX = 1024
M.STOPPED = { T = true, t = true } -- a waiter's states that pass its turn: stopped, traced
M.SHOWN_BYTES = 80 -- of a holder file's strings, at most, in what M.holders returns

local function now_ms()
  return clock.monotonic_ns() // 1000000
end

---The slots' folder: `agent-slots` among the user's lock folders (sidecar.core.user_locks: the
---runtime folder, else the state folder); nil, why when there is neither.
function M.dir()
  return require("sidecar.core.user_locks").dir("agent-slots")
end

---Why the slots' folder `dir` cannot be used, from what opening it said (`bad`), naming it once,
---with what to do.
---@param dir string
---@param bad any
---@return string
function M.folder_problem(dir, bad)
  local quoted = dir:gsub("%p", "%%%0")
  local said = tostring(bad or "not a folder"):gsub("^'" .. quoted .. "': ", "") -- the host's prefix, once
  local advice = (said:find("not a folder", 1, true) or said:find("Not a directory", 1, true))
    and " (remove what is there: Sidecar makes the folder)" or ""
  if said:find(dir, 1, true) then -- it names the folder itself
    return ("cannot open the agent slots' folder: %s%s"):format(said, advice)
  end
  return ("cannot open the agent slots' folder %s: %s%s"):format(dir, said, advice)
end

-- `dir`, else M.dir() with its why (`dir or M.dir()` would keep only its first value).
local function given_or_own(dir)
  if dir then
    return dir
  end
  return M.dir()
end

M.DEFAULT_KEPT_MS = 5000 -- how long a process keeps what it read of the machine
local measure_kept -- {cores, memory_bytes, at}: each run of a pool asks; read again after a while

---What of the machine this process may use, the default cap's measure (sidecar.core.machine: its
---CPU affinity and its cgroups' limits count): {cores, memory_bytes (nil: not known)}, read once
---per DEFAULT_KEPT_MS.
---@return {cores: integer, memory_bytes: integer?}
function M.machine()
  local now = now_ms()
  if not (measure_kept and now - measure_kept.at < M.DEFAULT_KEPT_MS) then
    measure_kept = { cores = machine.cores(), memory_bytes = machine.memory_bytes(), at = now }
  end
  return { cores = measure_kept.cores, memory_bytes = measure_kept.memory_bytes }
end

---The default cap, from M.machine(): one agent per GIB_PER_AGENT of memory, at most
---AGENTS_PER_CORE per core, at least 2.
---@return integer
function M.default_cap()
  local m = M.machine()
  local by_cores = m.cores * M.AGENTS_PER_CORE
  local by_memory = m.memory_bytes and m.memory_bytes // (M.GIB_PER_AGENT * 1024 * 1024 * 1024) or by_cores
  return math.max(2, math.min(by_memory, by_cores))
end

---How a line names what set the cap (M.cap's source; "max_agents" when not known).
---@param source string|nil
---@return string
function M.source_text(source)
  return ({ SIDECAR_MAX_AGENTS = "SIDECAR_MAX_AGENTS", default = "the default" })[source] or "max_agents"
end

---Why `n`, a cap named `what` (a setting, an option), is no whole number of agents from 1 to MAX;
---nil when it is one.
---@param n any
---@param what string
---@return string|nil why
function M.bad_cap(n, what)
  if math.type(n) == "integer" and n >= 1 and n <= M.MAX then
    return nil
  end
  return ("%s: expected a whole number of agents from 1 to %d, got %s"):format(what, M.MAX,
    type(n) == "string" and ("%q"):format(n) or tostring(n))
end

---The cap that applies: SIDECAR_MAX_AGENTS when set, else the config's `max_agents`, else the
---machine's default. Nil, why when the variable, or the value given, is not a whole number from 1
---to MAX.
---@param configured? integer  the config's max_agents (or the option's)
---@return integer|nil cap, string? why, string? source ("SIDECAR_MAX_AGENTS", "max_agents", "default")
function M.cap(configured)
  local env = os.getenv("SIDECAR_MAX_AGENTS")
  if env and env ~= "" then
    local n = env:match("^%d+$") and math.tointeger(tonumber(env))
    if not (n and n >= 1 and n <= M.MAX) then
      return nil, ("SIDECAR_MAX_AGENTS is '%s': give a whole number from 1 to %d"):format(env, M.MAX)
    end
    return n, nil, "SIDECAR_MAX_AGENTS"
  end
  if configured ~= nil then
    local bad = M.bad_cap(configured, "max_agents")
    if bad then
      return nil, bad
    end
    return configured, nil, "max_agents"
  end
  return M.default_cap(), nil, "default"
end

local function slot_name(n)
  return ("slot-%d.lock"):format(n)
end

-- Where an older Sidecar wrote a slot's holder, beside its lock (read when the lock says nothing).
local function info_name(n)
  return ("slot-%d.json"):format(n)
end

-- Tries the lock of `name` in `d` without waiting: the lock when it was free; else nil and whether
-- another process holds it (false: the file cannot be used at all, and why).
local function try(d, name)
  local lock, why, code = d:lock(name)
  if lock then
    return lock
  end
  return nil, code == "EWOULDBLOCK", why
end

M.MEND_WAIT_MS = 2000 -- how long a process waits for another's mending of a slot file

-- The lock of the folder's mending (mend.lock), waited for a moment; nil and why.
local function mending(d)
  local deadline = now_ms() + M.MEND_WAIT_MS
  while true do
    local lock, busy, why = try(d, "mend.lock")
    if lock or not busy or now_ms() > deadline then
      return lock, why or "another process is mending the agent slots' folder"
    end
    coop.sleep(5)
  end
end

-- As try, once more after removing what is there when it cannot be used at all (a folder, a link,
-- a FIFO, a file another user left in the folder: `sudo -E sidecar run`). One process at a time
-- mends, and looks again first under the folder's mend.lock: another may have mended the file
-- meanwhile, and its locked file must not be removed (two would then hold one slot). A folder
-- that is not empty stays: why names it.
local function try_mending(d, name)
  local lock, busy, why = try(d, name)
  if lock or busy then
    return lock, busy
  end
  local mend, failed = mending(d)
  if not mend then
    return nil, false, failed
  end
  lock, busy, why = try(d, name)
  if not (lock or busy) then
    os.remove(d:root() .. "/" .. name) -- a link goes, never what it leads to
    lock, busy, why = try(d, name)
  end
  mend:release()
  return lock, busy, why and ("%s cannot be used (remove it): %s"):format(d:root() .. "/" .. name, why)
end

local Slot = {}
Slot.__index = Slot

---Frees the slot (idempotent); also the slot's `<close>`. Its file no longer names a holder.
function Slot:release()
  if self.lock then
    self.lock:write("")
    self.lock:release()
    self.lock = nil
  end
end

Slot.__close = Slot.release

-- Where this process's first take in a folder looks first: its pid spread over the slots (by the
-- golden ratio), so that processes of consecutive pids start far apart.
local function spread(count)
  return math.floor((writer_lock.self().pid * 0.6180339887498949) % 1 * count)
end

-- A free slot among from+1..cap of folder `d`, taken (its holder written in its file); else nil,
-- why when no slot there is held by anyone and none could be taken (each file unusable), and what
-- a file that cannot be used lowers the cap by (said while the run waits). A process's first take
-- in a folder looks from a place of its own (spread), each later one from the slot after the one
-- it took last, round to it: runs starting side by side (processes of consecutive pids, or the
-- runs of a preset's pool) each find a free slot at once, where looking from the first would have
-- each try every slot the ones before it hold, and a pool's runs that met the slots another
-- process holds walk past them once, not each again. Every file is opened in the folder without
-- following a link (sidecar.core.artifact).
local last_taken = {} -- [folder] = the number of the slot this process took there last
local function take(d, o, from)
  local count = o.cap - from
  local last = last_taken[d:root()]
  local first = (last and last - from or spread(count)) % math.max(count, 1)
  local busy_any, broken = false, nil
  for i = 1, count do
    local n = from + (first + i - 1) % count + 1
    local held, busy, why = try_mending(d, slot_name(n))
    if held then
      held:write(json.encode({ pid = writer_lock.self().pid, run_id = o.run_id, runner = o.runner,
        since = os.date("!%Y-%m-%dT%H:%M:%SZ") }) .. "\n") -- who holds it says nothing more, should this fail
      last_taken[d:root()] = n
      return setmetatable({ lock = held, number = n }, Slot)
    end
    busy_any, broken = busy_any or busy, broken or (not busy and why) or nil
  end
  if not busy_any and broken then
    return nil, "cannot use an agent slot: " .. broken
  end
  return nil, nil, broken
end

-- The numbers among the first `cap` that have a slot's file or a holder's (looking makes none for
-- the others).
local function slot_files(d, cap)
  local seen, out = {}, {}
  for _, name in ipairs(paths.entries(d:root()) or {}) do -- every kind: a folder planted there too
    local n = math.tointeger(tonumber(name:match("^slot%-(%d+)%.lock$") or name:match("^slot%-(%d+)%.json$")))
    if n and n >= 1 and n <= cap and not seen[n] then
      seen[n], out[#out + 1] = true, n
    end
  end
  table.sort(out)
  return out
end

-- Whether slot `n` of folder `d` is held now (false, and why, for a file that cannot be used). A
-- free slot's holder file beside it, if any, is an older Sidecar's holder's, killed before it could
-- remove it (SIGKILL frees the lock, not the file): it goes now, under the lock, so no holder's own
-- is taken for it.
local function held(d, n)
  local probe, busy, why = try(d, slot_name(n))
  if probe then
    os.remove(d:root() .. "/" .. info_name(n)) -- (a link planted there goes, never what it leads to)
    probe:release()
  end
  return busy == true, not probe and not busy and why or nil
end

-- How many of the first `cap` slots are held now.
local function running(d, cap)
  local n = 0
  for _, i in ipairs(slot_files(d, cap)) do
    n = n + (held(d, i) and 1 or 0)
  end
  return n
end

-- A ticket's pid and cap, from its name ("wait-<ms>-<pid>-<cap>.lock"; an older Sidecar's has no
-- cap: it waits for any slot).
local function ticket_of(name)
  local pid, cap = name:match("^wait%-%d+%-(%d+)%-?(%d*)%.lock$")
  return math.tointeger(tonumber(pid)), math.tointeger(tonumber(cap)) or math.huge
end

-- The live tickets older than `mine` ({name, pid, cap, stopped}); the ones whose holder died, and
-- files that are no ticket at all, are removed.
local function waiting(d, mine)
  local out = {}
  for _, name in ipairs(d:list("wait-*.lock") or {}) do
    if name < mine then
      local probe, busy = try(d, name)
      local pid, cap = ticket_of(name)
      if busy and pid then
        local p = require("sidecar.host.procinfo").get(pid)
        out[#out + 1] = { name = name, pid = pid, cap = cap, stopped = p ~= nil and M.STOPPED[p.state] == true }
      else
        os.remove(d:root() .. "/" .. name) -- its holder is gone (or just done): no longer waiting
      end
      if probe then
        probe:release()
      end
    end
  end
  return out
end

-- The slots left to the tickets older than `mine`: 1 to the largest cap among them (each waits
-- for any free slot up to its cap), 0 when none waits. A waiter that is stopped (Ctrl-Z) is
-- passed: it takes its turn again once it goes on.
local function ahead(d, mine)
  local floor = 0
  for _, t in ipairs(waiting(d, mine)) do
    if not t.stopped then
      floor = math.max(floor, t.cap)
    end
  end
  return floor
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

-- A new ticket ({lock, name, path}), or nil and why. Made under a name of this process's own,
-- locked, then renamed into line: no other process ever sees it unlocked and takes it for a dead
-- waiter's. Named by the wall clock (every process's), so that names sort by age; the pid tells
-- apart two of the same millisecond (one process's next ticket takes the next millisecond); the
-- cap says which slots it waits for.
local last_ticket_ms = 0 -- this process's last ticket's time: two runs of it never get one name

local function ticket(d, cap)
  local why
  for try_n = 1, 5 do
    local new = ("new-%010d-%d.lock"):format(writer_lock.self().pid, try_n)
    local lock
    lock, why = d:lock(new)
    if lock then
      last_ticket_ms = math.max(clock.wall_ms(), last_ticket_ms + 1)
      local name = ("wait-%016d-%010d-%04d.lock"):format(last_ticket_ms, writer_lock.self().pid, cap)
      local moved, bad = os.rename(d:root() .. "/" .. new, d:root() .. "/" .. name)
      if moved then
        return setmetatable({ lock = lock, name = name, path = d:root() .. "/" .. name }, Ticket)
      end
      lock:release()
      why = bad
    end
    os.remove(d:root() .. "/" .. new)
  end
  return nil, why
end

-- Removes what a waiter killed between making its ticket and putting it in line left (a `new-`
-- file no one has held for a while).
local function sweep_new(d)
  for _, name in ipairs(d:list("new-*.lock") or {}) do
    local st = paths.lstat(d:root() .. "/" .. name)
    if st and st.mtime_ns // 1000000 < clock.wall_ms() - 10000 then
      local probe = try(d, name)
      if probe then
        os.remove(d:root() .. "/" .. name)
        probe:release()
      end
    end
  end
end

-- Waits in turn for a slot of folder `d` (see acquire); `unusable` says what lowers the cap.
local function wait_turn(d, o, t0, unusable)
  sweep_new(d)
  local mine <close>, failed = ticket(d, o.cap)
  if not mine then
    return nil, "cannot wait for an agent slot: " .. tostring(failed)
  end
  if o.on_wait then
    o.on_wait(running(d, o.cap), o.cap, unusable)
  end
  while true do
    local floor = ahead(d, mine.name)
    if floor < o.cap then
      local slot, why = take(d, o, floor)
      if slot then
        slot.waited_ms = now_ms() - t0
        return slot
      elseif why then
        return nil, why
      end
    end
    coop.sleep(M.POLL_MS) -- giving way to a preset's other runs in its pool, which may hold the slots
  end
end

---Takes a slot, waiting in turn while all `o.cap` are held. o: {cap, run_id?, runner?, dir? (default
---M.dir()), on_wait(running, cap, unusable?)? (called once, when the run has to wait; unusable: a
---slot file that cannot be used, lowering the cap)}. A run waits only for
---the runs waiting before it whose slots it could take (those of a smaller cap leave it the ones
---above theirs). Returns the slot ({number, waited_ms}; release it, or let `<close>` do it), or nil
---and why (no folder for the slots; slot files that cannot be used, named). An interrupt while
---waiting raises, leaving no ticket behind.
---@param o table
---@return table|nil slot, string? why
function M.acquire(o)
  local dir, why = given_or_own(o.dir)
  if not dir then
    return nil, why
  end
  local opened, bad = paths.make_dirs(dir)
  if opened then
    opened, bad = artifact.open(dir)
  end
  if not opened then
    return nil, M.folder_problem(dir, bad)
  end
  local d <close> = opened
  local t0 = now_ms()
  local floor, unusable = ahead(d, "wait-~"), nil -- every ticket is older than this run
  if floor < o.cap then
    local slot, failed
    slot, failed, unusable = take(d, o, floor)
    if slot then
      slot.waited_ms = 0
      return slot
    elseif failed then
      return nil, failed
    end
  end
  return wait_turn(d, o, t0, unusable)
end

---The folder of runner `name`'s own slots (max_agents_per_runner), within `base` (default M.dir()).
---@return string|nil dir, string? why
function M.runner_dir(name, base)
  local dir, why = given_or_own(base)
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
---o: {cap, runner_cap?, run_id?, dir?, on_wait(running, cap, runner?, unusable?)?}. Returns {number,
---waited_ms, runner = the runner's slot or nil, runner_none = why the runner's could not be had},
---(release it, or let `<close>` do it), or nil, why (the machine's could not be had). A runner's
---folder that cannot be used never lets its agents past the machine's cap.
---@param runner string
---@param o table
---@return table|nil slots, string? why
function M.acquire_for(runner, o)
  local mine, none
  if o.runner_cap then
    local dir
    dir, none = M.runner_dir(runner, o.dir)
    if dir then
      mine, none = M.acquire({ cap = o.runner_cap, dir = dir, run_id = o.run_id, runner = runner,
        on_wait = o.on_wait and function(running, cap, unusable) o.on_wait(running, cap, runner, unusable) end })
    end
  end
  -- An interrupt while waiting for the machine's slot frees the runner's at once, then goes on.
  local ok, machine, failed = pcall(M.acquire, { cap = o.cap, dir = o.dir, run_id = o.run_id, runner = runner,
    on_wait = o.on_wait and function(running, cap, unusable) o.on_wait(running, cap, nil, unusable) end })
  if not (ok and machine) then
    if mine then
      mine:release()
    end
    if not ok then
      error(machine, 0)
    end
    return nil, failed
  end
  return setmetatable({ machine = machine, runner = mine, runner_none = not mine and none or nil,
    number = machine.number, waited_ms = machine.waited_ms }, Both)
end

-- A holder file's string, shown harmlessly and short (it is a file any process of the user can write).
local function shown(v)
  local text = require("sidecar.core.text")
  return type(v) == "string" and text.clip((text.visible(v)), M.SHOWN_BYTES) or nil
end

-- Folder `dir` (default M.dir()) opened, or nil and why (never made by looking).
local function open_dir(dir)
  local why
  dir, why = given_or_own(dir)
  if not dir then
    return nil, why
  end
  local st = paths.lstat(dir)
  if not st then
    return nil
  end
  local d, bad = artifact.open(dir)
  return d, d == nil and M.folder_problem(dir, bad) or nil
end

---Whether slots can be taken in `dir` (default M.dir()): the folder made if need be, a file
---there made and locked (mend.lock). True, or nil and why.
---@param dir? string
---@return true|nil ok, string? why
function M.check(dir)
  local why
  dir, why = given_or_own(dir)
  if not dir then
    return nil, why
  end
  local made, bad = paths.make_dirs(dir)
  local d = made and artifact.open(dir)
  if not d then
    return nil, M.folder_problem(dir, bad)
  end
  local lock, _, failed = try(d, "mend.lock")
  d:close()
  if not lock then
    return nil, ("cannot take an agent slot in %s: %s"):format(dir, tostring(failed or "mend.lock is held"))
  end
  lock:release()
  return true
end

---Who holds the first `cap` slots now: {number, pid?, run_id?, runner?, since?} each, held ones
---only; no file is made by looking. Nil and why when the slots' folder is there but cannot be
---used; else also the slot files that cannot be used ("path: why" each: they lower the cap).
---@param cap integer
---@param dir? string
---@return table[]|nil holders, string? why, string[]? unusable
function M.holders(cap, dir)
  local d, why = open_dir(dir)
  if why then
    return nil, why
  elseif not d then
    return {}, nil, {} -- no folder yet: no slot was ever taken
  end
  local out, unusable = {}, {}
  for _, n in ipairs(slot_files(d, cap)) do
    local busy, bad = held(d, n)
    if bad then
      unusable[#unusable + 1] = ("%s/%s: %s"):format(d:root(), slot_name(n), bad)
    end
    if busy then
      local info = d:read_json(slot_name(n))
      if type(info) ~= "table" then -- an older Sidecar's holder: its file beside the lock
        info = d:read_json(info_name(n))
      end
      info = type(info) == "table" and info or {}
      out[#out + 1] = { number = n, pid = math.tointeger(info.pid), run_id = shown(info.run_id),
        runner = shown(info.runner), since = shown(info.since) }
    end
  end
  d:close()
  return out, nil, unusable
end

---The runs waiting for a slot now, oldest first: {pid, cap (nil: any), stopped} each (a stopped
---one, by Ctrl-Z, is passed by the others until it goes on).
---@param dir? string
---@return table[]
function M.waiters(dir)
  local d = open_dir(dir)
  if not d then
    return {}
  end
  local out = {}
  for i, t in ipairs(waiting(d, "wait-~")) do
    out[i] = { pid = t.pid, cap = t.cap ~= math.huge and t.cap or nil, stopped = t.stopped }
  end
  d:close()
  return out
end

return M
