-- The machine-wide cap on agents at once (stdlib/sidecar/run/agent_slots.lua), in a folder of the
-- spec's own: slots taken and freed, who holds them, a stale place in line passed over, and the
-- cap's default. (tests/e2e/agent_slots_test.sh runs it across processes, kill -9 and Ctrl-C.)
local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local agent_slots = require("sidecar.run.agent_slots")

local dir
test.before_each(function()
  dir = os.tmpname()
  os.remove(dir)
end)
test.after_each(function()
  os.execute("rm -rf '" .. dir .. "'")
end)

describe("agent slots", function()
  -- Each take looks for a free slot round from a place of its own: at a process's first take its
  -- pid spread over the slots, then the slot after the one it took last (a preset's pool takes one
  -- for each of its runs).
  local function after(n, cap)
    return n % cap + 1
  end

  it("takes free slots from its own place round, says who holds them, and frees them", function()
    local a = assert(agent_slots.acquire({ cap = 2, dir = dir, run_id = "R-0001", runner = "codex" }))
    local b = assert(agent_slots.acquire({ cap = 2, dir = dir, run_id = "R-0002", runner = "claude" }))
    expect(b.number):equals(after(a.number, 2))
    expect(a.waited_ms):equals(0)
    local held = agent_slots.holders(2, dir)
    expect(#held):equals(2)
    expect(held[b.number].run_id):equals("R-0002")
    expect(held[b.number].runner):equals("claude")
    a:release()
    a:release() -- once is enough
    held = agent_slots.holders(2, dir)
    expect(#held):equals(1)
    expect(held[1].number):equals(b.number)
    do
      local c <close> = assert(agent_slots.acquire({ cap = 2, dir = dir }))
      expect(c.number):equals(a.number)
    end
    expect(#agent_slots.holders(2, dir)):equals(1)
    b:release()
    expect(#agent_slots.holders(2, dir)):equals(0)
  end)

  it("goes round past the last slot to the first ones", function()
    local cap, taken = 7, {}
    for i = 1, cap do
      taken[i] = assert(agent_slots.acquire({ cap = cap, dir = dir }))
      expect(taken[i].number):equals(i == 1 and taken[1].number or after(taken[i - 1].number, cap))
    end
    taken[1]:release()
    local again <close> = assert(agent_slots.acquire({ cap = cap, dir = dir }))
    expect(again.number):equals(taken[1].number)
    for i = 2, cap do
      taken[i]:release()
    end
  end)

  it("looks from one slot further at each take, so that a pool's runs do not each try those the ones before hold", function()
    local first = assert(agent_slots.acquire({ cap = 3, dir = dir }))
    first:release()
    local second <close> = assert(agent_slots.acquire({ cap = 3, dir = dir }))
    expect(second.number):equals(after(first.number, 3)) -- the first's, free again, is not looked at first
  end)

  it("looks on from the slot after its last one, past those another process holds, not from those again", function()
    local cap = 8
    local a <close> = assert(agent_slots.acquire({ cap = cap, dir = dir }))
    -- Another holder (another open file of the folder: a lock of its own) takes the next four.
    local other <close> = assert(require("sidecar.core.artifact").open(dir))
    local held = {}
    for k = 1, 4 do
      local n = (a.number + k - 1) % cap + 1
      held[k] = assert(other:lock(("slot-%d.lock"):format(n)))
    end
    local b <close> = assert(agent_slots.acquire({ cap = cap, dir = dir }))
    expect(b.number):equals((a.number + 4) % cap + 1) -- past the four held
    held[2]:release() -- a slot behind b is free again: the next take looks on from b's, not there
    local c <close> = assert(agent_slots.acquire({ cap = cap, dir = dir }))
    expect(c.number):equals(after(b.number, cap))
    for _, h in ipairs(held) do
      h:release()
    end
  end)

  it("takes a runner's own slot first when it is capped on its own, and frees both", function()
    local a = assert(agent_slots.acquire_for("claude", { cap = 3, runner_cap = 1, dir = dir, run_id = "R-0001" }))
    expect(a.runner.number):equals(1)
    local runner_dir = agent_slots.runner_dir("claude", dir)
    expect(runner_dir):equals(dir .. "/runner-claude")
    expect(#agent_slots.holders(1, runner_dir)):equals(1)
    expect(agent_slots.holders(1, runner_dir)[1].run_id):equals("R-0001")
    -- Another runner is not held back by claude's cap; it takes a machine slot only.
    local b = assert(agent_slots.acquire_for("codex", { cap = 3, dir = dir, run_id = "R-0002" }))
    expect(b.number ~= a.number):is_true()
    expect(b.runner):is_nil()
    a:release()
    a:release()
    expect(#agent_slots.holders(1, runner_dir)):equals(0)
    expect(#agent_slots.holders(3, dir)):equals(1)
    b:release()
    expect(agent_slots.runner_dir("a/../b", dir)):equals(dir .. "/runner-a_.._b")
    -- What a waiting run says, for either cap.
    local line = require("sidecar.service.run_progress").line
    expect(line({ run_id = "R-0003", kind = "agent_slot.waiting", fields = { running = 1, cap = 1, runner = "claude" } }))
      :equals("run R-0003: waiting for an agent slot: 1 of 1 claude agents running (max_agents_per_runner.claude)")
    expect(line({ run_id = "R-0003", kind = "agent_slot.waiting", fields = { running = 3, cap = 3 } }))
      :equals("run R-0003: waiting for an agent slot: 3 of 3 running (max_agents)")
  end)

  it("names its holder in the slot's own file, which says nothing once the slot is free", function()
    local a = assert(agent_slots.acquire({ cap = 3, dir = dir, run_id = "R-0001", runner = "codex" }))
    local lock_file = dir .. "/slot-" .. a.number .. ".lock"
    local info = require("sidecar.core.json").decode(require("sidecar.core.files").read(lock_file))
    expect(info.run_id):equals("R-0001")
    expect(info.runner):equals("codex")
    expect(info.pid):equals(require("sidecar.host.procinfo").self().pid)
    expect(require("sidecar.host.paths").entries(dir)):equals({ "slot-" .. a.number .. ".lock" }) -- no other file
    a:release()
    expect(require("sidecar.core.files").read(lock_file)):equals("")
  end)

  it("leaves nothing to remove when its holder is killed, and ignores what the dead holder's file says", function()
    os.execute("mkdir -p '" .. dir .. "'")
    local lock_dir = assert(require("sidecar.core.artifact").open(dir))
    local killed = assert(lock_dir:lock("slot-2.lock")) -- as a holder killed by SIGKILL leaves its file
    killed:write('{"pid": 1, "run_id": "R-0009"}\n')
    killed:release()
    lock_dir:close()
    expect(#agent_slots.holders(3, dir)):equals(0)
    local a = assert(agent_slots.acquire({ cap = 1, dir = dir, run_id = "R-0001" }))
    expect(agent_slots.holders(3, dir)[1].run_id):equals("R-0001")
    a:release()
  end)

  it("removes an older Sidecar's holder file of a holder killed before it could, and reads a live one's", function()
    local a = assert(agent_slots.acquire({ cap = 3, dir = dir, run_id = "R-0001" }))
    local killed = dir .. "/slot-" .. after(a.number, 3) .. ".json" -- as a holder killed by SIGKILL leaves it
    local f = assert(io.open(killed, "w"))
    f:write('{"pid": 1, "run_id": "R-0002"}\n')
    f:close()
    local held = agent_slots.holders(3, dir)
    expect(#held):equals(1)
    expect(held[1].run_id):equals("R-0001")
    expect(io.open(killed)):is_nil()
    -- an older Sidecar holds a slot: its lock file says nothing, its holder file beside it does
    local lock_dir = assert(require("sidecar.core.artifact").open(dir))
    local older = assert(lock_dir:lock("slot-" .. after(a.number, 3) .. ".lock"))
    f = assert(io.open(killed, "w"))
    f:write('{"pid": 2, "run_id": "R-0003", "runner": "claude"}\n')
    f:close()
    held = agent_slots.holders(3, dir)
    table.sort(held, function(x, y) return x.run_id < y.run_id end)
    expect(#held):equals(2)
    expect(held[2].run_id):equals("R-0003")
    expect(held[2].runner):equals("claude")
    older:release()
    lock_dir:close()
    a:release()
  end)

  it("passes over a place in line whose holder is gone", function()
    os.execute("mkdir -p '" .. dir .. "'")
    local stale = dir .. "/wait-0000000000000001-0000000001.lock"
    assert(io.open(stale, "w")):close()
    local slot = assert(agent_slots.acquire({ cap = 1, dir = dir }))
    expect(io.open(stale)):is_nil()
    slot:release()
  end)

  it("mends a slot file it cannot use, and says which when it cannot", function()
    os.execute("mkdir -p '" .. dir .. "/slot-1.lock' '" .. dir .. "/slot-2.lock/x'") -- an empty and a full folder
    local slot = assert(agent_slots.acquire({ cap = 2, dir = dir, run_id = "R-0001" }))
    expect(slot.number):equals(1) -- the empty folder was removed, and the slot taken
    slot:release()
    os.execute("rm -rf '" .. dir .. "/slot-1.lock' && mkdir -p '" .. dir .. "/slot-1.lock/x'")
    local none, why = agent_slots.acquire({ cap = 2, dir = dir })
    expect(none):is_nil()
    expect(why):contains("cannot use an agent slot: " .. dir .. "/slot-")
    expect(why):contains("cannot be used (remove it)")
    local held, _, unusable = agent_slots.holders(2, dir)
    expect(#held):equals(0) -- nor are they counted as held
    expect(#unusable):equals(2)
  end)

  it("never lets two processes mending one slot file both hold it, nor a new waiter lose its ticket", function()
    local proc = require("sidecar.core.proc")
    local log = dir .. "-log"
    local child = ([[
      local slots = require("sidecar.run.agent_slots")
      local slot = assert(slots.acquire({ cap = 2, dir = %q }))
      local f = assert(io.open(%q, "a")); f:setvbuf("no"); f:write("+\n")
      require("sidecar.host.time").sleep_ms(150)
      f:write("-\n"); f:close()
      slot:release()
    ]]):format(dir, log)
    for _ = 1, 3 do
      os.execute(("rm -rf '%s' '%s' && mkdir -p '%s/slot-1.lock' '%s/slot-2.lock'"):format(dir, log, dir, dir))
      local hs = {}
      for i = 1, 10 do
        hs[i] = proc.spawn({ proc.executable(), "-e", child })
      end
      for _, h in ipairs(hs) do
        local r = h:wait()
        expect(r.code == 0 and "" or tostring(r.stderr)):equals("") -- each took a slot in turn (none went without: its ticket kept)
      end
      local at, most, count = 0, 0, 0
      for line in io.lines(log) do
        at = at + (line == "+" and 1 or -1)
        most, count = math.max(most, at), count + (line == "+" and 1 or 0)
      end
      expect(count):equals(10)
      expect(most <= 2):is_true()
    end
    os.remove(log)
  end)

  it("takes the machine's slot when the runner's folder cannot be used, saying why", function()
    os.execute("mkdir -p '" .. dir .. "' && echo x > '" .. dir .. "/runner-claude'")
    local both <close> = assert(agent_slots.acquire_for("claude", { cap = 2, runner_cap = 1, dir = dir }))
    expect(both.runner):is_nil()
    expect(both.runner_none):contains("cannot open the agent slots' folder")
    expect(#agent_slots.holders(2, dir)):equals(1) -- the machine's cap still counts it
    local ok, why = agent_slots.check(dir .. "/runner-claude")
    expect(ok):is_nil()
    expect(why):contains("cannot open the agent slots' folder")
  end)

  it("makes no slot's file by looking, and shows a holder's file harmlessly", function()
    os.execute("mkdir -p '" .. dir .. "'")
    expect(#agent_slots.holders(1000, dir)):equals(0)
    local names = require("sidecar.host.paths").entries(dir) or {}
    expect(#names):equals(0)
    local slot = assert(agent_slots.acquire({ cap = 1, dir = dir }))
    local f = assert(io.open(dir .. "/slot-1.lock", "w")) -- any process of the user may write there
    f:write('{"pid": {"x": 1}, "run_id": "R-1\\u001b]0;pwned\\u0007' .. ("x"):rep(500) .. '", "runner": ["a"]}')
    f:close()
    local h = agent_slots.holders(1, dir)[1]
    expect(h.pid):is_nil()
    expect(h.runner):is_nil()
    expect(h.run_id:find("\27", 1, true)):is_nil()
    expect(#h.run_id <= agent_slots.SHOWN_BYTES + 3):is_true()
    slot:release()
  end)

  it("lets a run of a larger cap past those waiting for the smaller one's slots", function()
    os.execute("mkdir -p '" .. dir .. "'")
    local first = assert(agent_slots.acquire({ cap = 1, dir = dir }))
    -- another process waits for slot 1 (cap 1): its ticket, held by a lock of another open file
    local d <close> = assert(require("sidecar.core.artifact").open(dir))
    local waiter = assert(d:lock(("wait-%016d-%010d-0001.lock"):format(1, 1)))
    local t0 = require("sidecar.host.time").monotonic_ns()
    local second <close> = assert(agent_slots.acquire({ cap = 8, dir = dir }))
    expect(second.number > 1):is_true() -- never the slot the older waiter waits for
    expect(second.waited_ms):equals(0)
    waiter:release()
    first:release()
    expect((require("sidecar.host.time").monotonic_ns() - t0) < 60 * 1000000000):is_true()
  end)

  it("lists who waits, and passes over a waiter that is stopped", function()
    os.execute("mkdir -p '" .. dir .. "'")
    local proc = require("sidecar.core.proc")
    local h = proc.spawn({ "sleep", "30" })
    local pid = h:pid()
    proc.signal(pid, "STOP")
    local procinfo, time = require("sidecar.host.procinfo"), require("sidecar.host.time")
    for _ = 1, 500 do -- the kernel stops it once it is scheduled
      if (procinfo.get(pid) or {}).state == "T" then
        break
      end
      time.sleep_ms(10)
    end
    local d <close> = assert(require("sidecar.core.artifact").open(dir))
    local ticket = assert(d:lock(("wait-%016d-%010d-0001.lock"):format(1, pid)))
    local w = agent_slots.waiters(dir)
    expect(#w):equals(1)
    expect(w[1].pid):equals(pid)
    expect(w[1].cap):equals(1)
    expect(w[1].stopped):is_true()
    local slot <close> = assert(agent_slots.acquire({ cap = 1, dir = dir })) -- not behind the stopped one
    ticket:release()
    h:close()
  end)

  it("never writes through a link planted in its folder", function()
    os.execute("mkdir -p '" .. dir .. "'")
    local target = dir .. "-target"
    local f = assert(io.open(target, "w"))
    f:write("keep me\n")
    f:close()
    os.execute(("ln -s '%s' '%s/slot-1.json' && ln -s '%s' '%s/slot-2.lock'"):format(target, dir, target, dir))
    local slot = assert(agent_slots.acquire({ cap = 2, dir = dir, run_id = "R-0001" }))
    slot:release()
    f = assert(io.open(target))
    expect(f:read("a")):equals("keep me\n")
    f:close()
    os.remove(target)
  end)

  it("reads SIDECAR_MAX_AGENTS as digits only", function()
    local real, value = os.getenv, nil
    os.getenv = function(name) return name == "SIDECAR_MAX_AGENTS" and value or real(name) end
    local ok, err = pcall(function()
      for _, bad in ipairs({ "0x10", "1e3", " 3", "3 ", "0", "1025", "-2" }) do
        value = bad
        local n, why = agent_slots.cap(5)
        expect(n):is_nil()
        expect(why):contains("give a whole number from 1 to 1024")
      end
      value = "12"
      expect((agent_slots.cap(5))):equals(12)
    end)
    os.getenv = real
    assert(ok, err)
  end)

  it("derives a default cap from the machine, never below two", function()
    local cap = agent_slots.default_cap()
    expect(math.type(cap)):equals("integer")
    expect(cap >= 2):is_true()
    if not os.getenv("SIDECAR_MAX_AGENTS") then
      local n, _, source = agent_slots.cap(5)
      expect(n):equals(5)
      expect(source):equals("max_agents")
      n, _, source = agent_slots.cap(nil)
      expect(n):equals(cap)
      expect(source):equals("default")
      for _, bad in ipairs({ 0, -1, 1025, 1.5, "4" }) do -- a value an embedder gives, unchecked by a config
        local none, why = agent_slots.cap(bad)
        expect(none):is_nil()
        expect(why):contains("max_agents: expected a whole number of agents from 1 to 1024, got ")
      end
    end
    expect(agent_slots.source_text("SIDECAR_MAX_AGENTS")):equals("SIDECAR_MAX_AGENTS")
    expect(agent_slots.source_text("default")):equals("the default")
    expect(agent_slots.source_text(nil)):equals("max_agents") -- a record from before the source was kept
    expect(require("sidecar.cli.run_view").slot_text({ number = 2, cap = 3, source = "SIDECAR_MAX_AGENTS",
      waited_ms = 1500 })):equals("2 of 3 (SIDECAR_MAX_AGENTS), waited 1.5s")
  end)
end)

describe("the machine's measure of the default cap", function()
  it("is read once for the cap and for the report that shows it, and again only after a while", function()
    local machine = require("sidecar.core.machine")
    local cores, memory, kept = machine.cores, machine.memory_bytes, agent_slots.DEFAULT_KEPT_MS
    local reads = 0
    machine.cores = function()
      reads = reads + 1
      return 3
    end
    machine.memory_bytes = function() return 64 * 1024 * 1024 * 1024 end
    local ok, err = pcall(function()
      agent_slots.DEFAULT_KEPT_MS = -1 -- whatever an earlier test kept: read now
      expect(agent_slots.machine()):equals({ cores = 3, memory_bytes = 64 * 1024 * 1024 * 1024 })
      agent_slots.DEFAULT_KEPT_MS = 60000
      expect(agent_slots.default_cap()):equals(3 * agent_slots.AGENTS_PER_CORE)
      local report = require("sidecar.service.agent_slots").report({ max_agents = 2 })
      expect(report.machine.cores):equals(3)
      expect(reads):equals(1)
      agent_slots.DEFAULT_KEPT_MS = -1
      agent_slots.default_cap()
      expect(reads):equals(2)
    end)
    machine.cores, machine.memory_bytes, agent_slots.DEFAULT_KEPT_MS = cores, memory, kept
    agent_slots.DEFAULT_KEPT_MS = -1
    agent_slots.machine() -- the real machine kept again for the tests after
    agent_slots.DEFAULT_KEPT_MS = kept
    assert(ok, err)
  end)
end)

describe("the user's lock folder", function()
  local user_locks = require("sidecar.core.user_locks")
  local uid = require("sidecar.host.sandbox").uid()

  -- user_locks.dir with XDG_RUNTIME_DIR as `runtime` (nil: unset).
  local function dir_with(runtime)
    local real = os.getenv
    os.getenv = function(name)
      if name == "XDG_RUNTIME_DIR" then
        return runtime
      end
      return real(name)
    end
    local ok, d, why = pcall(user_locks.dir, "agent-slots")
    os.getenv = real
    assert(ok, d)
    return d, why
  end

  it("is the runtime folder's; without one, the login's own when it is the user's alone", function()
    expect(dir_with("/tmp/rt")):equals("/tmp/rt/sidecar/agent-slots")
    local login = ("/run/user/%d"):format(uid)
    local st = require("sidecar.host.paths").lstat(login)
    local private = st and st.kind == "directory" and st.uid == uid and st.mode & 0x3f == 0
    local d = dir_with(nil)
    if private then
      expect(d):equals(login .. "/sidecar/agent-slots") -- cron, a systemd unit: the session's slots
    else
      expect(d):equals(require("sidecar.host.paths").state_dir() .. "/agent-slots")
    end
    expect(dir_with("relative/rt")):equals(d) -- a relative one is none
  end)

  it("is none where a folder on the way is a link, or open to others (another user's, under sudo -E)", function()
    local top = test.temp_dir()
    local rt = top .. "/rt"
    os.execute("mkdir -p '" .. rt .. "/sidecar' '" .. top .. "/elsewhere' && chmod 700 '" .. rt .. "'")
    expect(dir_with(rt)):equals(rt .. "/sidecar/agent-slots")
    os.execute("ln -s '" .. top .. "/elsewhere' '" .. rt .. "/sidecar/agent-slots'")
    local d, why = dir_with(rt)
    expect(d):is_nil()
    expect(why):equals(rt .. "/sidecar/agent-slots is not a folder of yours alone (a link, another user's, or open "
      .. "to others), so Sidecar keeps no lock there")
    os.execute("rm '" .. rt .. "/sidecar/agent-slots' && chmod 777 '" .. rt .. "/sidecar'")
    d, why = dir_with(rt)
    expect(d):is_nil()
    expect(why):contains(rt .. "/sidecar is not a folder of yours alone")
    -- and a lock file is never made through a link, nor waited on as a FIFO
    local hostlock = require("sidecar.host.lock")
    os.execute("ln -s '" .. top .. "/elsewhere/made' '" .. top .. "/link.lock' && mkfifo '" .. top .. "/fifo.lock'")
    local lock, lock_why, code = hostlock.try(top .. "/link.lock")
    expect(lock):is_nil()
    expect(lock_why):equals("cannot lock " .. top .. "/link.lock: it is a symbolic link")
    expect(code):equals("ELOOP")
    lock, lock_why = hostlock.try(top .. "/fifo.lock")
    expect(lock):is_nil()
    expect(lock_why):contains("it is not a regular file")
    expect(require("sidecar.host.paths").lstat(top .. "/elsewhere/made")):is_nil()
  end)
end)

describe("agent slots of runs side by side in one process (a preset's pool)", function()
  it("waits in line giving way, each with a ticket of its own, and each gets the slot in turn", function()
    local coop = require("sidecar.core.coop")
    local held = assert(agent_slots.acquire({ cap = 1, dir = dir }))
    local sched, order, tickets = coop.new(), {}, {}
    for i = 1, 3 do
      sched:spawn(function()
        local slot <close> = assert(agent_slots.acquire({ cap = 1, dir = dir, on_wait = function() end }))
        order[#order + 1] = i
        coop.sleep(20)
      end, function(ok, err) assert(ok, err) end)
    end
    for _ = 1, 5 do
      sched:step(10)
    end
    for _, name in ipairs(require("sidecar.host.paths").entries(dir) or {}) do
      tickets[#tickets + 1] = name:match("^wait%-.*%.lock$")
    end
    expect(#tickets):equals(3) -- three in line, none in another's place (they came in one millisecond)
    expect(#order):equals(0)
    held:release()
    while sched:count() > 0 do
      sched:step(20)
    end
    expect(table.concat(order, " ")):equals("1 2 3")
  end)
end)
