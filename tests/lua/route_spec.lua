local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local route = require("sidecar.agent.route")

describe("route.resolve and the config's runner", function()
  it("keeps the built-in tiers when the config's runner is theirs (codex)", function()
    local r = route.resolve("scan", { config_runner = "codex" })
    expect(r.runner):equals("codex")
    expect(r.model):equals(route.TIERS.fast.model)
  end)

  it("sends every tier the config leaves alone to the config's runner, with the config's model", function()
    local r = route.resolve("review", { config_runner = "alice", config_model = "m1" })
    expect(r.runner):equals("alice")
    expect(r.model):equals("m1")
    expect(r.why):contains("runner alice from .agent/config.lua")
    expect(route.resolve("scan", { config_runner = "alice" }).model):is_nil()
  end)

  it("lets config's routes.tiers and the command line come first", function()
    local routes = { tiers = { strong = { runner = "claude", model = "opus" } } }
    local r = route.resolve("review", { config_runner = "alice", routes = routes })
    expect(r.runner):equals("claude")
    expect(route.resolve("scan", { config_runner = "alice", routes = routes }).runner):equals("alice")
    r = route.resolve("scan", { config_runner = "alice", runner = "bob", model = "m2" })
    expect(r.runner):equals("bob")
    expect(r.model):equals("m2")
  end)
end)
