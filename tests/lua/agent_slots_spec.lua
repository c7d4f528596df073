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
  it("takes free slots in order, says who holds them, and frees them", function()
    local a = assert(agent_slots.acquire({ cap = 2, dir = dir, run_id = "R-0001", runner = "codex" }))
    local b = assert(agent_slots.acquire({ cap = 2, dir = dir, run_id = "R-0002", runner = "claude" }))
    expect(a.number):equals(1)
    expect(b.number):equals(2)
    expect(a.waited_ms):equals(0)
    local held = agent_slots.holders(2, dir)
    expect(#held):equals(2)
    expect(held[2].run_id):equals("R-0002")
    expect(held[2].runner):equals("claude")
    a:release()
    a:release() -- once is enough
    held = agent_slots.holders(2, dir)
    expect(#held):equals(1)
    expect(held[1].number):equals(2)
    do
      local c <close> = assert(agent_slots.acquire({ cap = 2, dir = dir }))
      expect(c.number):equals(1)
    end
    expect(#agent_slots.holders(2, dir)):equals(1)
    b:release()
    expect(#agent_slots.holders(2, dir)):equals(0)
  end)

  it("passes over a place in line whose holder is gone", function()
    os.execute("mkdir -p '" .. dir .. "'")
    local stale = dir .. "/wait-0000000000000001-0000000001.lock"
    assert(io.open(stale, "w")):close()
    local slot = assert(agent_slots.acquire({ cap = 1, dir = dir }))
    expect(io.open(stale)):is_nil()
    slot:release()
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
    end
  end)
end)
