local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local json = require("sidecar.core.json")
local proc = require("sidecar.core.proc")
local writer_lock = require("sidecar.core.writer_lock")

local root
local saved = {}
test.before_each(function()
  root = os.tmpname()
  os.remove(root)
  root = root .. "/.agent"
  os.execute("mkdir -p '" .. root .. "'")
  for _, k in ipairs({ "PROGRESS_MS", "ORPHAN_MS", "POLL_MS" }) do
    saved[k] = writer_lock[k]
  end
end)
test.after_each(function()
  for k, v in pairs(saved) do
    writer_lock[k] = v
  end
  os.execute("rm -rf '" .. root:gsub("/%.agent$", "") .. "'")
end)

local function exists(path)
  local f = io.open(path, "rb")
  if f then
    f:close()
  end
  return f ~= nil
end

local function read(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("a")
  f:close()
  return text
end

-- A lock folder as another process would leave it.
local function plant(owner)
  os.execute("mkdir -p '" .. root .. "/writer.lock'")
  if owner then
    local f = assert(io.open(root .. "/writer.lock/owner.json", "w"))
    f:write(json.encode(owner))
    f:close()
  end
end

-- The pid of a process that has ended.
local function dead_pid()
  local r = proc.run({ "sh", "-c", "echo $$" })
  return math.tointeger(tonumber(r.stdout:match("%d+")))
end

describe("writer_lock", function()
  it("is a folder whose owner.json names this process and the holder", function()
    local owned = { preset = "p", task_id = "T-0001", role = "implementer" }
    local lock = assert(writer_lock.acquire(root, { owner = owned }))
    local owner = json.decode(read(root .. "/writer.lock/owner.json"))
    expect(owner.pid):equals(writer_lock.self().pid)
    expect(owner.preset):equals("p")
    expect(owner.task_id):equals("T-0001")
    expect(owner.role):equals("implementer")
    expect(owner.since):matches("^%d+%-%d+%-%d+T")
    assert(lock:note({ run_id = "R-0004" }))
    expect(json.decode(read(root .. "/writer.lock/owner.json")).run_id):equals("R-0004")
    expect(writer_lock.describe(json.decode(read(root .. "/writer.lock/owner.json"))))
      :matches("^pid %d+ %(preset p, task T%-0001, run R%-0004, implementer%) since ")
    assert(lock:release())
    expect(exists(root .. "/writer.lock")):is_false()
    expect(lock:release()):is_true() -- twice is fine
  end)

  it("knows its own pid: a shell's parent", function()
    local r = proc.run({ "sh", "-c", "echo $PPID" })
    expect(writer_lock.self().pid):equals(math.tointeger(tonumber(r.stdout:match("%d+"))))
  end)

  it("refuses a second writer in the same process at once instead of waiting for itself", function()
    local lock = assert(writer_lock.acquire(root, { owner = { role = "implementer" } }))
    local t0 = os.clock()
    local again, why, code = writer_lock.acquire(root, { wait_ms = 5000 })
    expect(again):is_nil()
    expect(code):equals("held")
    expect(why):contains("already holds the writer lock")
    expect(os.clock() - t0 < 1):is_true()
    lock:release()
  end)

  it("is released by a <close> variable, on an error too", function()
    local ok = pcall(function()
      local lock <close> = assert(writer_lock.acquire(root))
      expect(exists(root .. "/writer.lock/owner.json")):is_true()
      error("boom")
    end)
    expect(ok):is_false()
    expect(exists(root .. "/writer.lock")):is_false()
  end)

  it("waits for a live holder, with progress, then says who holds it", function()
    local sleeper = proc.spawn({ "sleep", "30" })
    plant({ pid = sleeper:pid(), preset = "review-fix-verify", run_id = "R-0009", role = "implementer",
      nonce = "x", since = "2025-01-01T00:00:00Z" })
    writer_lock.PROGRESS_MS = 50
    local waits = {}
    -- 2 s of waiting holds a second progress note 50 ms after the first even if the machine is
    -- busy enough to stretch a poll.
    local lock, why, code = writer_lock.acquire(root, { wait_ms = 2000,
      on_wait = function(holder, waited) waits[#waits + 1] = { holder.pid, waited } end })
    sleeper:kill()
    expect(lock):is_nil()
    expect(code):equals("busy")
    expect(why):contains("another writer holds the work tree: pid " .. sleeper:pid()
      .. " (preset review-fix-verify, run R-0009, implementer)")
    expect(why):contains("writer.lock if that process is gone")
    expect(#waits >= 2):is_true()
    expect(waits[1][1]):equals(sleeper:pid())
    expect(exists(root .. "/writer.lock/owner.json")):is_true() -- not ours: left alone
  end)

  it("takes over a lock whose process has ended", function()
    local pid = dead_pid()
    plant({ pid = pid, nonce = "old", role = "implementer" })
    local taken
    local lock = assert(writer_lock.acquire(root, { wait_ms = 0, on_takeover = function(h) taken = h end }))
    expect(taken.pid):equals(pid)
    expect(json.decode(read(root .. "/writer.lock/owner.json")).pid):equals(writer_lock.self().pid)
    expect(exists(root .. "/writer.lock.takeover")):is_false()
    lock:release()
  end)

  it("takes over a lock whose pid now belongs to another process (reused)", function()
    if not writer_lock.self().pid_start then
      return -- no /proc: start times are unknown
    end
    local sleeper = proc.spawn({ "sleep", "30" })
    plant({ pid = sleeper:pid(), pid_start = "1", nonce = "old" })
    local lock, why = writer_lock.acquire(root, { wait_ms = 0 })
    sleeper:kill()
    expect(why):is_nil()
    lock:release()
  end)

  it("takes over a folder left without an owner after a while", function()
    plant(nil)
    writer_lock.ORPHAN_MS = 150
    local lock = assert(writer_lock.acquire(root, { wait_ms = 2000 }))
    expect(json.decode(read(root .. "/writer.lock/owner.json")).pid):equals(writer_lock.self().pid)
    lock:release()
  end)

  it("clears a takeover left by a process that died halfway", function()
    plant({ pid = dead_pid(), nonce = "old" })
    os.execute("mkdir -p '" .. root .. "/writer.lock.takeover'")
    local f = assert(io.open(root .. "/writer.lock.takeover/owner.json", "w"))
    f:write(json.encode({ pid = dead_pid(), nonce = "t" }))
    f:close()
    local lock = assert(writer_lock.acquire(root, { wait_ms = 2000 }))
    lock:release()
    expect(exists(root .. "/writer.lock.takeover")):is_false()
  end)

  it("never releases a lock that is no longer its own", function()
    local lock = assert(writer_lock.acquire(root))
    local f = assert(io.open(root .. "/writer.lock/owner.json", "w"))
    f:write(json.encode({ pid = 1, nonce = "someone else" }))
    f:close()
    lock:release()
    expect(exists(root .. "/writer.lock/owner.json")):is_true()
  end)

  it("lets writers in several processes in one at a time", function()
    local log = root .. "/log"
    local code = ([[
      local clock = require("sidecar.host.time")
      local lock = assert(require("sidecar.core.writer_lock").acquire(%q, { wait_ms = 20000 }))
      local f = io.open(%q, "a"); f:write("start ", clock.monotonic_ns(), "\n"); f:close()
      clock.sleep_ms(150)
      f = io.open(%q, "a"); f:write("end ", clock.monotonic_ns(), "\n"); f:close()
      lock:release()]]):format(root, log, log)
    local handles = {}
    for i = 1, 4 do
      handles[i] = proc.spawn({ proc.executable(), "-e", code }, { stderr = { collect = true } })
    end
    for _, h in ipairs(handles) do
      local r = h:wait()
      expect(r.stderr or ""):equals("")
      expect(r.ok):is_true()
    end
    local events = {}
    for kind, t in read(log):gmatch("(%a+) (%d+)") do
      events[#events + 1] = { kind = kind, t = tonumber(t) }
    end
    table.sort(events, function(a, b) return a.t < b.t end)
    expect(#events):equals(8)
    for i, e in ipairs(events) do -- start, end, start, end, ...: never two inside at once
      expect(e.kind):equals(i % 2 == 1 and "start" or "end")
    end
    expect(exists(root .. "/writer.lock")):is_false()
  end)
end)
