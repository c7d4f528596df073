-- Where one sandboxed run's CPU goes (bench/fan_out.sh runs it in its repository): N runs of the
-- `quick` runner one after another, after the preparation a preset's pool of workers makes
-- (sidecar.preset.worker.make_ready), each
--   in-process  in this process, as one Sidecar process running every run itself would (the
--               first run, which warms what a run keeps, is left out);
--   forked      in a copy of this process made for it, as the pool runs each (nothing warmed:
--               the pool never runs a job itself);
--   fork        a copy made and ended at once: the floor of a fork per run.
-- Prints "CPU_MS FAULTS" per run: the CPU the whole machine spent busy (/proc/stat: every process,
-- the kernel's work for them included) and the page faults it took (/proc/vmstat), over the N
-- runs, divided by N.
--
--   MODE=in-process|forked|fork N=20 sidecar script bench/fan_out_split.lua
local files = require("sidecar.core.files")
local proc = require("sidecar.host.proc")
local store = require("sidecar.core.store")
local time = require("sidecar.host.time")
local worker = require("sidecar.preset.worker")

local mode, n = os.getenv("MODE"), assert(tonumber(os.getenv("N")), "N: how many runs")
assert(mode == "in-process" or mode == "forked" or mode == "fork", "MODE: in-process, forked or fork")

-- The machine's busy CPU so far (user, nice, system, irq, softirq of all cores) in clock ticks,
-- and its page faults.
local function machine()
  local stat = assert(files.read("/proc/stat"))
  local user, nice, system, _, _, irq, softirq = stat:match("^cpu%s+(%d+) (%d+) (%d+) (%d+) (%d+) (%d+) (%d+)")
  local busy = tonumber(user) + tonumber(nice) + tonumber(system) + tonumber(irq) + tonumber(softirq)
  return busy, tonumber(assert(files.read("/proc/vmstat")):match("\npgfault (%d+)"))
end

local cfg = worker.make_ready({ root = ".agent", repo = "." })
local job = { k = 1, repo = ".", runner = "quick", settings = {}, prompt = "Say done." }

local function run()
  local s = assert(store.open(".agent"))
  local record, why = worker.execute(s, cfg, job)
  s:close()
  assert(record and record.status == "review", why or (record and record.status))
  return 0
end

if mode == "in-process" then
  run()
end
local busy0, faults0 = machine()
for _ = 1, n do
  if mode == "in-process" then
    run()
  else
    local pid = assert(proc.fork(mode == "forked" and run or function() return 0 end))
    local ended
    repeat
      ended = proc.reap({ pid })[1]
      if not ended then
        time.sleep_ms(1)
      end
    until ended
    assert(ended.code == 0, ("a %s run failed (exit %s, signal %s)"):format(mode, ended.code, ended.signal))
  end
end
local busy1, faults1 = machine()
local tick_ms = 1000 / tonumber(os.getenv("CLK_TCK") or 100)
print(("%.1f %d"):format((busy1 - busy0) * tick_ms / n, (faults1 - faults0) // n))
