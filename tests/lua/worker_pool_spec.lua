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
    local f = assert(io.open(repo .. "/.agent/config.lua", "w"))
    f:write('return { colour = "red" }\n')
    f:close()
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
end)
