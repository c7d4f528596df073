-- Where one sandboxed run's CPU goes (bench/fan_out.sh runs it in its repository): N runs of the
-- `quick` runner one after another in this process, as a preset's pool runs them (after its
-- preparation, sidecar.preset.worker.make_ready; the first run, which warms what a run keeps, is
-- left out). Prints "CPU_MS FAULTS" per run: the CPU the whole machine spent busy (/proc/stat:
-- every process, the kernel's work for them included) and the page faults it took
-- (/proc/vmstat), over the N runs, divided by N.
--
--   N=20 sidecar script bench/fan_out_split.lua
local files = require("sidecar.core.files")
local store = require("sidecar.core.store")
local worker = require("sidecar.preset.worker")

local n = assert(tonumber(os.getenv("N")), "N: how many runs")

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
  local s <close> = assert(store.open(".agent"))
  local record, why = worker.execute(s, cfg, job)
  assert(record and record.status == "review", why or (record and record.status))
end

run()
local busy0, faults0 = machine()
for _ = 1, n do
  run()
end
local busy1, faults1 = machine()
local tick_ms = 1000 / tonumber(os.getenv("CLK_TCK") or 100)
print(("%.1f %d"):format((busy1 - busy0) * tick_ms / n, (faults1 - faults0) // n))
