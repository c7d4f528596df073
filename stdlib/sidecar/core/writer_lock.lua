--- The writer lock: "many readers, one writer" enforced. At most one agent that may write (a
--- sandbox other than read-only) runs in a work tree at a time, whichever Sidecar process
--- started it. The lock is the folder `.agent/writer.lock`, made by an exclusive mkdir (one
--- creator wins, as with O_EXCL); `owner.json` inside says who holds it: {pid, pid_start, nonce,
--- task_id, preset, role, run_id, since}.
---
---   local lock, why, code = writer_lock.acquire(".agent", {
---     owner = { task_id = "T-0003", preset = "scout-act-verify", role = "implementer" },
---     on_wait = function(holder, waited_ms) ... end,       -- at once, then every M.PROGRESS_MS
---     on_takeover = function(holder) ... end })            -- a stale lock was taken over
---   lock:note({ run_id = "R-0007" })    -- more about the holder, once known
---   lock:release()                      -- idempotent; a `<close>` variable releases it too
---
--- Waiting: while a live process holds the lock, acquire polls for at most `wait_ms` (default
--- $SIDECAR_WRITER_WAIT_MS, else M.WAIT_MS: an implementer's whole default run), then returns nil,
--- why (naming the holder), "busy". A process never waits for itself: a second acquire while the
--- same process holds the lock returns nil, why, "held" at once (waiting would never end).
---
--- Stale locks: a holder whose pid no longer runs, or runs a different process (its start time
--- on Linux differs: the pid was reused), is gone; the next writer takes the lock over. Takeovers
--- are one at a time (the folder `writer.lock.takeover`, made the same way), so two waiters never
--- both clear a lock and one of them a fresh one. A lock folder with no readable owner for
--- M.ORPHAN_MS is a writer that died between its mkdir and its owner.json, and is stale too.
local artifact = require("sidecar.core.artifact")
local clock = require("sidecar.host.time")
local coop = require("sidecar.core.coop")
local json = require("sidecar.core.json")
local proc = require("sidecar.core.proc")

local M = {}

M.NAME = "writer.lock"
M.TAKEOVER = "writer.lock.takeover"
M.WAIT_MS = 30 * 60 * 1000
M.POLL_MS = 100
M.PROGRESS_MS = 5000
M.ORPHAN_MS = 5000

local function now_ms()
  return clock.monotonic_ns() // 1000000
end

-- Fields of /proc/PID/stat after the command name (which may hold spaces and parentheses):
-- [1] is the state, [20] the start time in clock ticks since boot. nil without /proc.
local function proc_stat(pid)
  local f = io.open("/proc/" .. pid .. "/stat", "rb")
  local text = f and f:read("a")
  if f then
    f:close()
  end
  local after = text and text:match("^.*%)%s(.*)$")
  if not after then
    return nil
  end
  local fields = {}
  for w in after:gmatch("%S+") do
    fields[#fields + 1] = w
  end
  return fields
end

local me -- this process: {pid, pid_start}

---This process's pid and (on Linux) start time.
function M.self()
  if not me then
    local f = io.open("/proc/self/stat", "rb") -- "self" is whoever opens it: this process
    local text = f and f:read("a")
    if f then
      f:close()
    end
    local pid = text and math.tointeger(tonumber(text:match("^(%d+)")))
    if not pid then -- no /proc: a shell's parent is this process
      local r = proc.run({ "sh", "-c", "echo $PPID" })
      pid = math.tointeger(tonumber((r.stdout or ""):match("%d+")))
    end
    local stat = pid and proc_stat(pid)
    me = { pid = pid, pid_start = stat and stat[20] }
  end
  return me
end

---Whether the process an owner names still runs (the same process, not a reused pid).
function M.alive(owner)
  local pid = math.tointeger(owner.pid)
  if not pid or pid <= 0 then
    return false
  end
  local stat = proc_stat(pid)
  if stat then
    return stat[1] ~= "Z" and (owner.pid_start == nil or owner.pid_start == stat[20])
  end
  if M.self().pid_start then -- /proc works, and has no such pid
    return false
  end
  local ok, alive = pcall(proc.alive, pid)
  if ok then
    return alive
  end
  return proc.run({ "kill", "-0", tostring(pid) }).ok
end

---One line about a holder, for messages: "pid 123 (preset x, task T-1, run R-2, implementer) since T".
function M.describe(owner)
  if not owner then
    return "a writer that is still starting"
  end
  local about = {}
  local function add(label, v)
    if v ~= nil and v ~= json.null then
      about[#about + 1] = label .. tostring(v)
    end
  end
  add("preset ", owner.preset)
  add("task ", owner.task_id)
  add("run ", owner.run_id)
  add("", owner.role)
  return ("pid %s%s%s"):format(tostring(owner.pid), #about > 0 and (" (" .. table.concat(about, ", ") .. ")") or "",
    owner.since and (" since " .. owner.since) or "")
end

local function read_owner(d, folder)
  local owner = d:read_json(folder .. "/owner.json")
  if type(owner) == "table" and math.tointeger(owner.pid) then
    return owner
  end
end

local function exists(path)
  local f = io.open(path, "rb") -- opens a folder too (reading it would fail)
  if f then
    f:close()
  end
  return f ~= nil
end

-- Removes a lock folder: its owner file, then the folder. nil, why when it stays.
local function remove(root, folder)
  local path = root .. "/" .. folder
  os.remove(path .. "/owner.json")
  local ok, why = os.remove(path)
  if ok or not exists(path) then
    return true
  end
  return nil, why
end

-- Makes `folder` ours: true; false when it exists; nil, why, code on another failure.
local function create(d, folder, owner)
  local ok, why, code = d:create_dir(folder)
  if not ok then
    if code == "EEXIST" then
      return false
    end
    return nil, ("cannot create %s: %s"):format(folder, tostring(why)), code
  end
  local written, wwhy, wcode = d:write(folder .. "/owner.json", json.encode(owner) .. "\n")
  if not written then
    remove(d:root(), folder)
    return nil, ("cannot write %s/owner.json: %s"):format(folder, tostring(wwhy)), wcode
  end
  return true
end

local tokens = 0
local function new_owner(fields)
  local self = M.self()
  tokens = tokens + 1
  local owner = { pid = self.pid, pid_start = self.pid_start, since = os.date("!%Y-%m-%dT%H:%M:%SZ"),
    nonce = ("%s-%d-%d"):format(tostring(self.pid), tokens, clock.monotonic_ns()) }
  for k, v in pairs(fields or {}) do
    if owner[k] == nil then
      owner[k] = v
    end
  end
  return owner
end

-- Clears the stale lock `seen`, one taker at a time; true when the lock may be tried again.
local function take_over(d, root, seen)
  local mine = new_owner({ role = "takeover" })
  local got = create(d, M.TAKEOVER, mine)
  if not got then
    local taker = read_owner(d, M.TAKEOVER)
    if taker and not M.alive(taker) then
      remove(root, M.TAKEOVER) -- a taker that died halfway
    end
    return false
  end
  local now = read_owner(d, M.NAME)
  local ok, why = true, nil
  -- Still the very lock judged stale? (A fresh one may have replaced it meanwhile.)
  if (now and seen and now.nonce == seen.nonce) or (now == nil and seen == nil) then
    ok, why = remove(root, M.NAME)
  end
  remove(root, M.TAKEOVER)
  if not ok then
    return nil, ("cannot remove the stale %s (%s): delete %s/%s by hand"):format(M.NAME, tostring(why), root, M.NAME)
  end
  return true
end

local Lock = {}
Lock.__index = Lock
Lock.__name = "sidecar.writer_lock"

---Adds fields about the holder (such as run_id) to owner.json.
function Lock:note(fields)
  if self.released then
    return nil, "the writer lock was released"
  end
  for k, v in pairs(fields) do
    self.owner[k] = v
  end
  local d <close> = assert(artifact.open(self.root))
  return d:write(M.NAME .. "/owner.json", json.encode(self.owner) .. "\n")
end

---Gives the lock back (only if it is still ours). Safe to call more than once.
function Lock:release()
  if self.released then
    return true
  end
  self.released = true
  local d <close> = artifact.open(self.root)
  local owner = d and read_owner(d, M.NAME)
  if owner and owner.nonce == self.owner.nonce then
    return remove(self.root, M.NAME)
  end
  return true
end

Lock.__close = Lock.release
Lock.__gc = Lock.release

local function wait_default()
  local v = math.tointeger(tonumber(os.getenv("SIDECAR_WRITER_WAIT_MS") or ""))
  return v and v >= 0 and v or M.WAIT_MS
end

---Takes the writer lock of the work tree whose Sidecar folder is `root`. o: owner (fields
---recorded with the pid: task_id, preset, role, run_id), wait_ms, on_wait(holder, waited_ms),
---on_takeover(holder). Returns the lock, or nil, why, code ("busy" after waiting, "held" when
---this process holds it already, or the code of a file system failure).
---@return table|nil lock, string? why, string? code
function M.acquire(root, o)
  o = o or {}
  local d <close>, why, code = artifact.open(root, { create = true })
  if not d then
    return nil, why, code
  end
  local wait_ms = o.wait_ms or wait_default()
  local start = now_ms()
  local next_note = start -- the first wait is said at once, then every PROGRESS_MS
  local no_owner_since
  while true do
    local owner = new_owner(o.owner)
    local got
    got, why, code = create(d, M.NAME, owner)
    if got then
      return setmetatable({ root = root, owner = owner }, Lock)
    elseif got == nil then
      return nil, why, code
    end
    local holder = read_owner(d, M.NAME)
    local t = now_ms()
    no_owner_since = not holder and (no_owner_since or t) or nil
    local stale = (holder and not M.alive(holder)) or (not holder and t - no_owner_since >= M.ORPHAN_MS)
    if holder and holder.pid == M.self().pid and not stale then
      return nil, ("this process already holds the writer lock (%s): a second writer would wait for itself")
        :format(M.describe(holder)), "held"
    end
    local retry = false
    if stale then
      retry, why = take_over(d, root, holder)
      if retry == nil then
        return nil, why, "stale"
      end
      if retry and o.on_takeover then
        o.on_takeover(holder)
      end
    end
    if not retry then
      if t - start >= wait_ms then
        return nil, ("another writer holds the work tree: %s; waited %d s. Let it finish, or delete %s/%s if "
          .. "that process is gone"):format(M.describe(holder), (t - start) // 1000, root, M.NAME), "busy"
      end
      if o.on_wait and t >= next_note then
        o.on_wait(holder, t - start)
        next_note = t + M.PROGRESS_MS
      end
      coop.sleep(M.POLL_MS) -- giving way to the other runs of a preset's pool, the holder among them
    end
  end
end

return M
