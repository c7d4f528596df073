local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local worker_pool = require("sidecar.preset.worker_pool")

local repo
test.before_each(function()
  repo = os.tmpname()
  os.remove(repo)
  os.execute("mkdir -p '" .. repo .. "/.agent'")
end)
test.after_each(function()
  os.execute("rm -rf '" .. repo .. "'")
end)

-- The repository's config.lua, made `text`.
local function configure(text)
  local f = assert(io.open(repo .. "/.agent/config.lua", "w"))
  f:write(text)
  f:close()
end

-- Every job's result, waiting up to a minute for all `n`.
local function results(pool, n)
  local got = {}
  for _ = 1, 60 do
    for _, r in ipairs(pool:wait(1000)) do
      got[r.k] = r
    end
    if #got == n then
      break
    end
  end
  return got
end

describe("a preset's pool of workers", function()
  it("fails each job with the pool's own words when it cannot start (a config gone bad)", function()
    configure('return { colour = "red" }\n')
    local pool <close> = worker_pool.open(repo .. "/.agent", repo)
    expect({ pool:submit({ prompt = "a" }), pool:submit({ prompt = "b" }) }):equals({ 1, 2 })
    local got = results(pool, 2)
    for k = 1, 2 do
      expect(got[k].run_id):is_nil()
      expect(got[k].why):contains("the preset's workers ended: the preset's workers could not start: ")
      expect(got[k].why):contains("config.lua: colour: unknown setting")
    end
    expect(pool:wait(0)):equals({}) -- each said once
  end)

  it("spreads its jobs over its processes, the least busy first; each job's result comes once", function()
    configure("return {}\n")
    local pool <close> = worker_pool.open(repo .. "/.agent", repo, 2)
    for i = 1, 5 do
      pool:submit({ prompt = "job " .. i, runner = "nosuch", settings = {} }) -- fails in its worker, which goes on
    end
    local counts = {}
    for i, p in ipairs(pool.processes) do
      counts[i] = p.running
    end
    expect(counts):equals({ 3, 2 })
    local got = results(pool, 5)
    for k = 1, 5 do
      expect(got[k].run_id):is_nil()
      expect(got[k].why):contains("unknown runner 'nosuch'")
    end
    expect(pool:wait(0)):equals({})
  end)

  it("fails every job of processes that could not start, each once, whichever took it", function()
    configure('return { colour = "red" }\n')
    local pool <close> = worker_pool.open(repo .. "/.agent", repo, 2)
    for i = 1, 5 do
      pool:submit({ prompt = "job " .. i }) -- to a process still starting, or, once both ended, the first
    end
    local got = results(pool, 5)
    for k = 1, 5 do
      expect(got[k].why):contains("config.lua: colour: unknown setting")
    end
    expect(pool:wait(0)):equals({})
  end)

  it("hands no job to a process that died since its last wait: the others take them", function()
    configure("return {}\n")
    local pool <close> = worker_pool.open(repo .. "/.agent", repo, 2)
    local dead = pool.processes[1].handle
    dead:kill()
    for _ = 1, 200 do
      if not dead:running() then
        break
      end
      require("sidecar.host.time").sleep_ms(50)
    end
    expect(dead:running()):is_false()
    for i = 1, 3 do
      pool:submit({ prompt = "job " .. i })
    end
    expect({ pool.processes[1].running, pool.processes[2].running }):equals({ 0, 3 })
  end)

  it("gets a process per 16 jobs at once, one at least, one per core it may use at most", function()
    local machine = require("sidecar.core.machine")
    local cores = machine.cores
    machine.cores = function() return 4 end
    local ok, n = pcall(function()
      local n = { worker_pool.processes_for(1), worker_pool.processes_for(15), worker_pool.processes_for(16),
        worker_pool.processes_for(40), worker_pool.processes_for(1000) }
      machine.cores = function() return 1 end
      n[#n + 1] = worker_pool.processes_for(100)
      return n
    end)
    machine.cores = cores
    assert(ok, n)
    expect(n):equals({ 1, 1, 1, 2, 4, 1 })
  end)
end)
