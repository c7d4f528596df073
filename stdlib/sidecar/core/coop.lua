--- Functions run side by side as coroutines of one process (a preset's agent runs in its pool:
--- stdlib/sidecar/preset/worker.lua), each giving way while it waits: for a process to end
--- (M.wait, which sidecar.agent.watch and core.proc.run use), or for time to pass (M.sleep, an agent
--- slot's turn). Outside a task of a scheduler both are the blocking wait, so the same code runs
--- alone, in its own process, unchanged.
---
---   local sched = coop.new()
---   sched:spawn(function() ... coop.wait(handle, 100) ... end, function(ok, ...) end)
---   while sched:count() > 0 do sched:step(50) end   -- an interrupt: returned, passed to every task
---
--- An interrupt (Ctrl-C, SIGTERM) that reaches the scheduler's own wait is raised in every task
--- where it waits, as it would be raised in each of them in a process of its own; one that lands in
--- a task's own code (the engine's hook) and leaves it is passed to the others the same way.
--- `sched:stop(task, err)` raises `err` in one task alone (`sidecar run kill` of one run).
--- What a task waits for without giving way (a call through C that is not yieldable, code run in
--- a coroutine of its own) blocks the others meanwhile; processes still run, and their output is
--- still read, since any wait moves the process loop.
local clock = require("sidecar.host.time")
local host = require("sidecar.host.proc")

local M = {}

M.SLICE_MS = 1000 -- the longest a task's open-ended wait sleeps before it looks again

local tasks = setmetatable({}, { __mode = "k" }) -- coroutine -> its task, while it runs

local function now_ms()
  return clock.monotonic_ns() // 1000000
end

local function is_interrupt(err)
  return type(err) == "string" and err:find("interrupted!", 1, true) ~= nil
end

---The task of a scheduler this code runs in: {locals = {}, reason?} (locals: what belongs to this
---task, not to the process; reason: what stopped it alone); nil outside one.
---@return table|nil
function M.task()
  return tasks[coroutine.running()]
end

-- The task this code runs in when it may give way there (no call through C in between).
local function yielding()
  local t = tasks[coroutine.running()]
  return t and coroutine.isyieldable() and t or nil
end

-- When a task that waits `ms` wakes: `ms` from now, put off to the next multiple of a grid of up
-- to half the wait (a timer's slack, as the kernel gives one), so that the runs of a pool, each
-- looking at its agent every 100 ms, wake together: a few dozen steps a second rather than one
-- for each wait of each run, every step looking at every task.
local function wake_at(ms)
  local grid = ms >= 100 and 50 or ms >= 40 and 20 or ms >= 10 and 5 or 1
  local at = now_ms() + ms
  return at + (-at) % grid
end

-- Gives way until the scheduler resumes this task: once `h` has ended or `ms` (and the slack of
-- wake_at) have passed. Raises what the scheduler passed in (an interrupt) instead of returning.
local function pause(t, h, ms)
  t.handle, t.wake = h, wake_at(ms)
  local raise = coroutine.yield()
  t.handle = nil
  if raise ~= nil then
    error(raise, 0)
  end
end

---Sleeps `ms`, giving way to the other tasks when in one.
---@param ms integer
function M.sleep(ms)
  local t = yielding()
  if not t then
    return clock.sleep_ms(ms)
  end
  pause(t, nil, ms)
end

---Gives way once to the other tasks, when in one: this task goes on at the scheduler's next step,
---after the tasks due then; outside a task, nothing. It never raises: an interrupt or stop that
---arrives meanwhile is raised at the task's next wait (M.wait, M.sleep), where the caller is ready
---for it. A pool's run gives way once its agent has started, so that the pool starts the next
---runs' agents before it writes this run's copies (sidecar.agent.run).
function M.give_way()
  local t = yielding()
  if not t then
    return
  end
  t.handle, t.wake = nil, now_ms()
  local raise = coroutine.yield()
  if raise ~= nil then
    t.raise = raise -- kept: the next wait is resumed at once and raises it
  end
end

---`h:wait(ms)` (a handle of core.proc / host.proc), giving way to the other tasks when in one:
---the result once it has ended, or nil, "timeout" after `ms` (none: until it ends).
---@param h userdata
---@param ms? integer
---@return table|nil result, string? why
function M.wait(h, ms)
  local t = yielding()
  if not t then
    return h:wait(ms)
  end
  local deadline = ms and now_ms() + ms
  while true do
    local r = h:wait(0)
    if r then
      return r
    end
    local left = deadline and deadline - now_ms()
    if left and left <= 0 then
      return nil, "timeout"
    end
    pause(t, h, math.min(left or M.SLICE_MS, M.SLICE_MS))
  end
end

---M.wait(h) to its end; when that wait raises instead (an interrupt, a stop), `h` is stopped (its
---group: SIGTERM, grace, SIGKILL) and waited for, giving way meanwhile, before the error goes on:
---closed while it runs, a handle would wait for its end without giving way.
---@param h userdata
---@return table result
function M.wait_or_stop(h)
  local ok, r = pcall(M.wait, h)
  if ok then
    return r
  end
  if yielding() then
    h:kill()
    pcall(M.wait, h)
  end
  error(r, 0)
end

local Sched = {}
Sched.__index = Sched

---A scheduler with no task yet.
function M.new()
  return setmetatable({ live = {} }, Sched)
end

-- Resumes task `t` (passing `raise` to raise where it waits); once it has ended, calls its on_end
-- with what it returned (true, ...) or raised (false, err) and drops it. An interrupt that ended
-- a task not stopped alone is passed to the others.
local function resume(self, t, raise)
  t.raise = nil
  local res = table.pack(coroutine.resume(t.co, raise))
  if coroutine.status(t.co) ~= "dead" then
    return
  end
  t.done = true
  tasks[t.co] = nil
  if res[1] then -- what the task's own pcall gave (Sched:spawn)
    res = table.pack(table.unpack(res, 2, res.n))
  end
  if not res[1] and is_interrupt(res[2]) and not t.reason then
    self:interrupt(res[2])
  end
  t.on_end(table.unpack(res, 1, res.n))
end

---Starts `fn` as a task, run at once up to its first wait; `on_end(ok, ...)` gets what it returned
---(true, ...) or what it raised (false, err). Returns the task.
---@param fn function
---@param on_end fun(ok: boolean, ...)
---@return table
function Sched:spawn(fn, on_end)
  -- Called through pcall: a coroutine that dies of an error does not unwind its stack, so its
  -- to-be-closed variables (a run's lock, its agent slot, its sandbox) would never be closed.
  local t = { co = coroutine.create(function() return pcall(fn) end), on_end = on_end, locals = {}, wake = 0 }
  tasks[t.co] = t
  resume(self, t, nil)
  if not t.done then
    self.live[#self.live + 1] = t
  end
  return t
end

---How many tasks have not ended.
---@return integer
function Sched:count()
  local n = 0
  for _, t in ipairs(self.live) do
    n = n + (t.done and 0 or 1)
  end
  return n
end

---Raises `err` (an interrupt) in every task where it waits next, once each.
---@param err string
function Sched:interrupt(err)
  self.interrupt_seen = err
  for _, t in ipairs(self.live) do
    if not t.done and t.raise == nil then
      t.raise = err
    end
  end
end

---The last interrupt passed to every task (Sched:interrupt), or nil.
---@return string|nil
function Sched:interrupted()
  return self.interrupt_seen
end

---Raises `err` in task `t` alone where it waits next, with `reason` (what stopped it) as its
---M.task().reason; the others go on.
---@param t table
---@param err string
---@param reason string
function Sched:stop(t, err, reason)
  if not t.done and not t.reason then
    t.raise, t.reason = err, reason
  end
end

-- Whether task `t` is to be resumed now. Its process's end is read as the last poll left it
-- (h:wait(0) polls nothing; h:running() would poll once for every task). h:wait(0) dispatches
-- what the loop has queued, as host.poll did just before, so no callback runs here that would
-- not have run there.
local function due(t, now)
  return t.raise ~= nil or now >= t.wake or (t.handle ~= nil and t.handle:wait(0) ~= nil)
end

---Waits up to `ms` for a task to be due (its process ended, its time up, an interrupt to raise),
---and resumes every task that is, each up to its next wait. An interrupt that arrives meanwhile
---(in this wait, or in a task's own code and out of it) is passed to every task; returns the last
---one passed (Sched:interrupted), or nil.
---@param ms integer
---@return string|nil interrupt
function Sched:step(ms)
  local now, soonest = now_ms(), ms
  for _, t in ipairs(self.live) do
    if not t.done then
      soonest = t.raise ~= nil and 0 or math.min(soonest, math.max(0, t.wake - now))
    end
  end
  local ok, err = pcall(host.poll, soonest)
  if not ok then
    if not is_interrupt(err) then
      error(err, 0)
    end
    self:interrupt(err)
  end
  now = now_ms()
  for _, t in ipairs(self.live) do
    if not t.done and due(t, now) then
      resume(self, t, t.raise)
    end
  end
  local still = {}
  for _, t in ipairs(self.live) do
    if not t.done then
      still[#still + 1] = t
    end
  end
  self.live = still
  return self.interrupt_seen
end

return M
