-- Tasks of one process side by side (stdlib/sidecar/core/coop.lua), as a preset's pool runs its
-- agents: a task that waits for a process or for time gives way to the others; an interrupt
-- reaches every task where it waits, a stop one task alone; outside a task the waits block as
-- before. Orders are asserted, never durations.
local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local coop = require("sidecar.core.coop")
local proc = require("sidecar.core.proc")

-- Runs the scheduler until every task has ended.
local function drain(sched)
  while sched:count() > 0 do
    sched:step(50)
  end
end

-- A scheduler whose tasks' ends are noted in `ended` in order: {name, ok, value}.
local function scheduler()
  local sched, ended = coop.new(), {}
  local function spawn(name, fn)
    return sched:spawn(fn, function(ok, value)
      ended[#ended + 1] = name
      ended[name] = { ok = ok, value = value }
    end)
  end
  return sched, ended, spawn
end

describe("tasks side by side", function()
  it("a task waiting for its process gives way: the one that waits less ends first", function()
    local sched, ended, spawn = scheduler()
    spawn("slow", function()
      local h <close> = proc.spawn({ "sleep", "1" })
      return coop.wait(h).code
    end)
    spawn("quick", function()
      local h <close> = proc.spawn({ "true" })
      local r = coop.wait(h, 100)
      while not r do
        r = coop.wait(h, 100)
      end
      return r.code
    end)
    drain(sched)
    expect(table.concat(ended, " ")):equals("quick slow")
    expect(ended.slow.value):equals(0)
    expect(ended.quick.value):equals(0)
  end)

  it("proc.run and coop.sleep give way too; a wait with a bound says timeout", function()
    local sched, ended, spawn = scheduler()
    spawn("run", function() return proc.run({ "sleep", "0.5" }).code end)
    spawn("sleep", function() coop.sleep(200) return true end)
    spawn("bounded", function()
      local h <close> = proc.spawn({ "sleep", "5" })
      local r, why = coop.wait(h, 50)
      return r == nil and why
    end)
    drain(sched)
    expect(ended[3]):equals("run")
    expect(ended.bounded.value):equals("timeout")
    expect(ended.sleep.value):equals(true)
  end)

  it("outside a task the waits block, as they always did", function()
    expect(coop.task()):is_nil()
    local h <close> = proc.spawn({ "true" })
    expect(coop.wait(h).code):equals(0)
    coop.sleep(1)
  end)

  it("where a task cannot give way (a call through C), it waits in place", function()
    local sched, ended, spawn = scheduler()
    spawn("inside gsub", function()
      local out = ("ab"):gsub("a", function()
        local h <close> = proc.spawn({ "true" })
        return tostring(coop.wait(h).code)
      end)
      return out
    end)
    drain(sched)
    expect(ended["inside gsub"].ok):equals(true)
    expect(ended["inside gsub"].value):equals("0b")
  end)
end)

describe("interrupts and stops", function()
  it("an interrupt passed to the scheduler is raised in every task where it waits", function()
    local sched, ended, spawn = scheduler()
    for _, name in ipairs({ "a", "b" }) do
      spawn(name, function()
        local h <close> = proc.spawn({ "sleep", "30" })
        local ok, err = pcall(coop.wait, h)
        return not ok and err
      end)
    end
    sched:interrupt("interrupted! stopped 2 child processes")
    drain(sched)
    expect(ended.a.value):equals("interrupted! stopped 2 child processes")
    expect(ended.b.value):equals("interrupted! stopped 2 child processes")
    expect(sched:interrupted()):equals("interrupted! stopped 2 child processes")
  end)

  it("an interrupt that ends one task (raised in its own code) reaches the others", function()
    local sched, ended, spawn = scheduler()
    spawn("waiting", function()
      local ok, err = pcall(coop.sleep, 30000)
      return not ok and err
    end)
    spawn("hit", function()
      coop.sleep(10)
      error("interrupted!", 0)
    end)
    drain(sched)
    expect(ended.hit.ok):equals(false)
    expect(ended.waiting.value):equals("interrupted!")
  end)

  it("a stop reaches its task alone, which says by what; the others go on", function()
    local sched, ended, spawn = scheduler()
    local victim = spawn("stopped", function()
      local h <close> = proc.spawn({ "sleep", "30" })
      local ok, err = pcall(coop.wait, h)
      return { err = not ok and err, reason = proc.interrupted_reason(), running = h:running() }
    end)
    spawn("other", function()
      coop.sleep(300)
      return proc.interrupted_reason()
    end)
    sched:stop(victim, "interrupted! (sidecar run kill, pid 1)", "sidecar run kill, pid 1")
    drain(sched)
    expect(ended[1]):equals("stopped")
    expect(ended.stopped.value.err):equals("interrupted! (sidecar run kill, pid 1)")
    expect(ended.stopped.value.reason):equals("interrupted (sidecar run kill, pid 1)")
    expect(ended.other.value):not_equals("interrupted (sidecar run kill, pid 1)")
    expect(sched:interrupted()):is_nil()
  end)
end)

describe("giving way once", function()
  it("a task that gives way goes on after the tasks due then; outside a task it is nothing", function()
    local sched, ended, spawn = scheduler()
    local order = {}
    spawn("a", function()
      order[#order + 1] = "a before"
      coop.give_way()
      order[#order + 1] = "a after"
    end)
    spawn("b", function()
      order[#order + 1] = "b"
    end)
    drain(sched)
    expect(order):equals({ "a before", "b", "a after" })
    expect(ended.a.ok):is_true()
    coop.give_way() -- outside a task: returns at once
  end)

  it("an interrupt or a stop that comes meanwhile is raised at the task's next wait, not there", function()
    local sched, ended, spawn = scheduler()
    local function body()
      coop.give_way()
      local ok, err = pcall(coop.sleep, 30000)
      return { gave_way = true, err = not ok and err }
    end
    local stopped = spawn("stopped", body)
    spawn("interrupted", body)
    sched:stop(stopped, "interrupted! (sidecar run kill, pid 1)", "sidecar run kill, pid 1")
    sched:interrupt("interrupted! stopped 1 child process")
    drain(sched)
    expect(ended.stopped.value):equals({ gave_way = true, err = "interrupted! (sidecar run kill, pid 1)" })
    expect(ended.interrupted.value):equals({ gave_way = true, err = "interrupted! stopped 1 child process" })
  end)
end)

describe("what belongs to a task", function()
  it("a trace joined in a task is that task's runs' parent, not the process's nor another's", function()
    local otel = require("sidecar.run.otel")
    local sched, ended, spawn = scheduler()
    local joined = { trace_id = ("1"):rep(32), span_id = ("2"):rep(16) }
    spawn("joined", function()
      otel.join(joined)
      coop.sleep(20)
      return otel.parent()
    end)
    spawn("other", function()
      coop.sleep(40)
      return otel.parent() or false
    end)
    drain(sched)
    expect(ended.joined.value.span_id):equals(joined.span_id)
    expect(ended.other.value and ended.other.value.span_id):not_equals(joined.span_id)
    expect(otel.parent() and otel.parent().span_id):not_equals(joined.span_id)
  end)
end)

describe("a task's end, however it ends", function()
  it("a task that ends before its first wait, beside one that waits, leaves the scheduler whole", function()
    local sched, ended, spawn = scheduler()
    spawn("waits", function() coop.sleep(50) return "waited" end)
    spawn("at once", function() return "done" end)
    spawn("fails at once", function() error("refused", 0) end)
    drain(sched)
    expect(table.concat(ended, " ")):equals("at once fails at once waits")
    expect(ended["fails at once"].ok):equals(false)
    expect(ended["fails at once"].value):equals("refused")
  end)

  it("a task that raises closes what it holds (its to-be-closed variables), giving way meanwhile", function()
    local sched, ended, spawn = scheduler()
    local closed = {}
    spawn("raises", function()
      local held <close> = setmetatable({}, { __close = function(_, err)
        coop.sleep(20) -- gives way while it closes
        closed[#closed + 1] = tostring(err)
      end })
      coop.sleep(10)
      error("broke", 0)
    end)
    spawn("other", function() coop.sleep(15) closed[#closed + 1] = "other" return true end)
    drain(sched)
    expect(ended.raises.ok):equals(false)
    expect(table.concat(closed, " ")):equals("other broke")
  end)

  it("a task stopped in proc.run stops the child and gives way until it has ended", function()
    local sched, ended, spawn = scheduler()
    local pid
    local victim = spawn("stopped", function()
      local ok, err = pcall(proc.run, { "sh", "-c", "trap '' TERM; echo $$; exec sleep 30" },
        { kill_grace_ms = 300, stdout = { on_line = function(l) pid = tonumber(l) end } })
      return not ok and err
    end)
    spawn("other", function() coop.sleep(100) return "went on" end)
    sched:step(0)
    while not pid do
      sched:step(20)
    end
    sched:stop(victim, "interrupted! (a test)", "a test")
    drain(sched)
    expect(ended.stopped.value):equals("interrupted! (a test)")
    expect(table.concat(ended, " ")):equals("other stopped") -- the other ended during the grace
    expect(proc.alive(pid)):equals(false)
  end)

  it("an agent's output callback that fails fails its own run, not the wait that read it", function()
    local watch = require("sidecar.agent.watch")
    local sched, ended, spawn = scheduler()
    local dir = test.temp_dir()
    spawn("broken parser", function()
      local parser = { summary = {}, feed = function() error("the parser broke", 0) end }
      local started, h, w = watch.spawn({ "sh", "-c", "echo hello; sleep 30" }, { run_dir = dir, parser = parser,
        name = "agent" })
      assert(started, h)
      local r, _, interruption = watch.wait(h, w, 1000)
      return { interruption = interruption, interrupted = r.interrupted }
    end)
    spawn("other", function()
      local h <close> = proc.spawn({ "sleep", "0.3" })
      return coop.wait(h).code
    end)
    drain(sched)
    expect(ended["broken parser"].ok):equals(true)
    expect(ended["broken parser"].value.interruption):equals("the parser broke")
    expect(ended.other.value):equals(0)
  end)

  it("a task's wake is put off to a grid of its wait, so that tasks looking every 100 ms wake together", function()
    local clock = require("sidecar.host.time")
    local sched = coop.new()
    local before = clock.monotonic_ns() // 1000000
    local tasks = {}
    for i, ms in ipairs({ 100, 100, 20, 1000, 3 }) do
      tasks[i] = sched:spawn(function()
        coop.sleep(ms)
        return ms
      end, function() end)
    end
    local after = clock.monotonic_ns() // 1000000
    for i, grid in ipairs({ 50, 50, 5, 50, 1 }) do
      local ms = ({ 100, 100, 20, 1000, 3 })[i]
      expect(tasks[i].wake % grid):equals(0)
      expect(tasks[i].wake >= before + ms and tasks[i].wake < after + ms + grid):is_true()
    end
    drain(sched)
  end)

  it("a task waiting for its process is resumed once it has ended, without its own poll", function()
    local sched, ended, spawn = scheduler()
    spawn("agent", function()
      local h <close> = proc.spawn({ "true" })
      return coop.wait(h, 5000).code -- its wake far off: only its end resumes it
    end)
    local steps = 0
    while sched:count() > 0 and steps < 200 do
      sched:step(50)
      steps = steps + 1
    end
    expect(ended.agent.value):equals(0)
    expect(steps < 100):is_true() -- well before its 5 s wake (200 steps of 50 ms bound the loop)
  end)
end)
