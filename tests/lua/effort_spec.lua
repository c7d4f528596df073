local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect

local effort = require("sidecar.agent.effort")
local route = require("sidecar.agent.route")
local runners = require("sidecar.agent.runners")

describe("effort.args", function()
  it("maps effort and search to codex's config overrides", function()
    expect(effort.args("codex", "high", false)):equals({ "-c", "model_reasoning_effort=high", "-c", "web_search=disabled" })
    expect(effort.args("codex", nil, true)):equals({ "-c", "web_search=live" })
  end)

  it("maps them to claude's flags: --effort, and the web tools denied when search is off", function()
    expect(effort.args("claude", "max", nil)):equals({ "--effort", "max" })
    expect(effort.args("claude", nil, false)):equals({ "--disallowedTools", "WebSearch,WebFetch" })
    expect(effort.args("claude", nil, true)):equals({})
  end)

  it("asks nothing when neither is set, even of a runner without the settings", function()
    expect(effort.args("command", nil, nil)):equals({})
  end)

  it("refuses a level the CLI does not take, naming the ones it does", function()
    local args, why = effort.args("claude", "minimal")
    expect(args):equals(nil)
    expect(why):matches("effort 'minimal' is not one claude takes: low, medium, high, xhigh, max")
    expect(select(2, effort.args("codex", "max"))):matches("minimal, low, medium, high, xhigh")
  end)

  it("refuses a runner without the settings, saying where its own flags go", function()
    runners.register("effort-spec-agent", { command = function() return { "x" } end })
    local args, why = effort.args("effort-spec-agent", "high")
    expect(args):equals(nil)
    expect(why):matches("runners%.effort%-spec%-agent%.args")
    expect(effort.applies("effort-spec-agent")):equals(false)
    expect(effort.applies("codex")):equals(true)
  end)

  it("describes what was asked", function()
    expect(effort.describe("low", false)):equals("effort low, search off")
    expect(effort.describe(nil, true)):equals("search on")
    expect(effort.describe(nil, nil)):equals(nil)
  end)
end)

describe("route tiers with effort", function()
  local routes = { tiers = { fast = { runner = "codex", model = "m", effort = "low", search = false },
    strong = { runner = "claude", effort = "minimal" } } }

  it("carry the tier's effort and search", function()
    local r = route.resolve("scan", { routes = routes })
    expect({ r.runner, r.effort, r.search }):equals({ "codex", "low", false })
  end)

  it("leave out an effort the routed runner does not take, and say why", function()
    local r = route.resolve("review", { routes = routes })
    expect(r.effort):equals(nil)
    expect(r.why):matches("effort 'minimal' is not one claude takes.*left out")
  end)

  it("built-in tiers ask for nothing", function()
    local r = route.resolve("scan")
    expect({ r.effort, r.search }):equals({})
  end)
end)
