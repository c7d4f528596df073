-- A prototype, not what Sidecar does: the fan-out of bench/fan_out.sh with every run a coroutine of
-- one process instead of a worker forked for each (a preset's pool), to measure what such a
-- redesign would give before it is built. Each run is the pool's own (sidecar.preset.worker's
-- make_ready, then execute on a store of its own); the agent's wait, which sidecar.agent.watch
-- makes in steps of 100 ms, gives way to the other runs while it is in a coroutine (the process
-- handle's `wait` replaced here, for this process alone). Whatever else a run waits for blocks
-- the others: none of it waits long in this bench (no slot to wait for, no gate, no worktree).
-- Not done, so not measured: an interrupt passed to every run, each run's events apart, a run that
-- waits for an agent slot giving way too.
--
--   N=100 RUNNER=command sidecar script bench/fan_out_coop.lua   (in bench/fan_out.sh's repository)
local proc = require("sidecar.core.proc")
local store = require("sidecar.core.store")
local time = require("sidecar.host.time")
local worker = require("sidecar.preset.worker")

local n = assert(math.tointeger(tonumber(os.getenv("N"))), "N: how many runs")
local job = { repo = ".", runner = assert(os.getenv("RUNNER"), "RUNNER: the runner"), settings = {},
  prompt = "Say done." }

local function now_ms()
  return time.monotonic_ns() // 1000000
end

-- The handle's wait, given way while in a coroutine: at once when the process has ended, else
-- after the coroutine is resumed (by then up to `ms` later), whether it has ended then or not.
local probe = proc.spawn({ "true" })
local methods = getmetatable(probe).__index
local blocking_wait = methods.wait
probe:wait()
probe:close()
function methods.wait(h, ms)
  if not (ms and ms > 0 and coroutine.isyieldable()) then
    return blocking_wait(h, ms)
  end
  local r = blocking_wait(h, 0)
  if r then
    return r
  end
  coroutine.yield(h, ms)
  return blocking_wait(h, 0)
end

local cfg = worker.make_ready({ root = ".agent", repo = "." })

local live, failed = {}, {}

-- Runs `e`'s coroutine to its next wait or its end.
local function resume(e)
  local ok, h, ms = coroutine.resume(e.co)
  if coroutine.status(e.co) == "dead" then
    e.done = true
    if not ok then
      failed[#failed + 1] = tostring(h)
    end
  else
    e.h, e.wake = h, now_ms() + (ms or 100)
  end
end

-- Resumes every run whose agent has ended or whose wait is up; drops those that have ended.
local function resume_due()
  local now, still = now_ms(), {}
  for _, e in ipairs(live) do
    if not e.done and (not e.h:running() or now >= e.wake) then
      resume(e)
    end
    if not e.done then
      still[#still + 1] = e
    end
  end
  live = still
end

local function run()
  local s = assert(store.open(".agent"))
  local record, why = worker.execute(s, cfg, job)
  s:close()
  assert(record and record.status == "review", why or (record and record.status))
end

for _ = 1, n do
  local e = { co = coroutine.create(run) }
  live[#live + 1] = e
  resume(e)
  proc.poll(0)
  resume_due()
end
while #live > 0 do
  proc.poll(10)
  resume_due()
end
assert(#failed == 0, ("%d of %d runs failed: %s"):format(#failed, n, failed[1]))
print(("%d of %d agents done"):format(n, n))
