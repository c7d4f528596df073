-- The stdlib's layers hold: every require of stdlib/ (lazy ones too) follows the order that
-- sidecar.dev.layers declares, there is no require cycle, and no exception is stale. The figures
-- (modules, edges, cycles, what requiring a run-layer module loads) are printed by
-- `sidecar script tests/lua/layers_report.lua`, or here with SIDECAR_LAYERS_REPORT=1.
local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local layers = require("sidecar.dev.layers")
local require_graph = require("sidecar.dev.require_graph")

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local ROOT = here .. "../.."

-- sidecar.dev.layers with other exceptions (none unless given).
local function declared(edges, cycles)
  return setmetatable({ edge_exceptions = edges or {}, cycle_exceptions = cycles or {} }, { __index = layers })
end

-- A graph of made-up modules: {module = {requires...}}, each require on line 1 of its file.
local function graph_of(spec)
  local g = { modules = {}, edges = {}, unread = {} }
  for from, tos in pairs(spec) do
    local path = "stdlib/" .. from:gsub("%.", "/") .. ".lua"
    g.modules[from] = { path = path, group = layers.group_of(from) }
    for _, to in ipairs(tos) do
      g.edges[#g.edges + 1] = { from = from, to = to, path = path, line = 1 }
    end
  end
  return g
end

describe("require_graph.requires_of", function()
  local found, unread = require_graph.requires_of([=[
local a = require("sidecar.core.json")
local b = require "sidecar.core.text"
local c = require('sidecar.core.errors')
-- local d = require("sidecar.cli.run")
--[[ require("sidecar.cli.task") ]]
local s = "require('sidecar.preset.worker')" .. [[ require("sidecar.ui.api") ]]
local r = require
local e = r("sidecar.run.owner")
local function f()
  if a then
    local ok, g = pcall(require, "sidecar.run.stuck")
  end
  return require("sidecar.agent." .. s), require(s), pcall(require("sidecar.core.git").x, s)
end
local h = require("sidecar.core.proc")
]=])

  it("reads each form of require, lazy ones inside a function body too", function()
    local seen = {}
    for i, r in ipairs(found) do
      seen[i] = ("%d %s%s%s"):format(r.line, r.name, r.lazy and " lazy" or "", r.dynamic and " dynamic" or "")
    end
    expect(seen):equals({ "1 sidecar.core.json", "2 sidecar.core.text", "3 sidecar.core.errors", "8 sidecar.run.owner",
      "11 sidecar.run.stuck lazy", "13 sidecar.agent. lazy dynamic", "13 sidecar.core.git lazy",
      "15 sidecar.core.proc" })
  end)

  it("counts a require whose name it cannot read", function()
    expect(unread):equals(1)
  end)
end)

describe("require_graph.check", function()
  it("names the file, line, edge and groups of a require against the order", function()
    local g = graph_of({ ["sidecar.run.x"] = { "sidecar.task.y" }, ["sidecar.task.y"] = {} })
    expect(require_graph.check(g, declared())):equals({ "stdlib/sidecar/run/x.lua:1: sidecar.run.x -> sidecar.task.y: "
      .. "group run (step 3) may not require group task (step 5)" })
  end)

  it("allows a require down the order, within a group, of the host, and anything from dev", function()
    local g = graph_of({ ["sidecar.task.y"] = { "sidecar.run.x", "sidecar.task.z", "sidecar.host.proc" },
      ["sidecar.run.x"] = {}, ["sidecar.task.z"] = {}, ["sidecar.dev.t"] = { "sidecar.cli.c" },
      ["sidecar.cli.c"] = {} })
    expect(require_graph.check(g, declared())):equals({})
  end)

  it("refuses a require between peers, and of dev from the order", function()
    local g = graph_of({ ["sidecar.ui.a"] = { "sidecar.mcp.b" }, ["sidecar.mcp.b"] = {},
      ["sidecar.core.c"] = { "sidecar.dev.d" }, ["sidecar.dev.d"] = {} })
    local problems = require_graph.check(g, declared())
    table.sort(problems)
    expect(problems):equals({
      "stdlib/sidecar/core/c.lua:1: sidecar.core.c -> sidecar.dev.d: group core (step 1) may not require group dev "
        .. "(beside)",
      "stdlib/sidecar/ui/a.lua:1: sidecar.ui.a -> sidecar.mcp.b: group ui (step 10) may not require group mcp "
        .. "(step 10)" })
  end)

  it("finds a cycle, even within one group", function()
    local g = graph_of({ ["sidecar.core.a"] = { "sidecar.core.b" }, ["sidecar.core.b"] = { "sidecar.core.a" } })
    expect(require_graph.check(g, declared())):equals({ "a require cycle of 2 modules: sidecar.core.a sidecar.core.b" })
    expect(require_graph.check(g, declared(nil, { { modules = { "sidecar.core.a", "sidecar.core.b" } } }))):equals({})
  end)

  it("fails on an exception that no longer occurs", function()
    local g = graph_of({ ["sidecar.core.a"] = {} })
    expect(require_graph.check(g, declared({ { from = "sidecar.core.a", to = "sidecar.cli.b" } },
      { { modules = { "sidecar.core.a", "sidecar.core.c" } } }))):equals({
      "stale exception in sidecar.dev.layers: sidecar.core.a no longer requires sidecar.cli.b against the order",
      "stale exception in sidecar.dev.layers: no cycle is exactly sidecar.core.a sidecar.core.c" })
  end)

  it("fails on a require of a module that does not exist", function()
    local g = graph_of({ ["sidecar.core.a"] = { "sidecar.core.gone" } })
    expect(require_graph.check(g, declared())):equals({
      "stdlib/sidecar/core/a.lua:1: sidecar.core.a requires sidecar.core.gone, which is no module of stdlib/" })
  end)
end)

describe("the stdlib's layers", function()
  local graph = require_graph.scan(ROOT .. "/stdlib", layers.group_of)

  it("every require follows sidecar.dev.layers, with no cycle and no stale exception", function()
    local problems = require_graph.check(graph, layers)
    if #problems > 0 then -- one a line, as they are (an expectation would quote them)
      error(("%d against the order:\n%s"):format(#problems, table.concat(problems, "\n")), 0)
    end
  end)

  it("every folder of stdlib/sidecar is a declared group", function()
    for module, info in pairs(graph.modules) do
      expect(module .. " in " .. tostring(layers.rank(info.group or "?") ~= nil)):equals(module .. " in true")
    end
  end)

  it("gives every exception a reason", function()
    for _, x in ipairs(layers.edge_exceptions) do
      expect(x.why):has_type("string")
    end
    for _, x in ipairs(layers.cycle_exceptions) do
      expect(x.why):has_type("string")
    end
  end)

  if os.getenv("SIDECAR_LAYERS_REPORT") then
    io.write(require_graph.report(require_graph.figures(graph, layers)))
  end
end)

describe("docs/architecture.md", function()
  it("lists the groups in the declared order", function()
    local f = assert(io.open(ROOT .. "/docs/architecture.md", "rb"))
    local doc = f:read("a")
    f:close()
    local rows = {}
    for step, group in doc:gmatch("\n| (%S+) | `sidecar%.?([%w_]*)` |") do
      rows[#rows + 1] = step .. " " .. (group == "" and "sidecar" or group)
    end
    local want = {}
    for i, step in ipairs(layers.order) do
      for _, group in ipairs(step) do
        want[#want + 1] = i .. " " .. group
      end
    end
    for _, group in ipairs(layers.beside) do
      want[#want + 1] = "beside " .. group
    end
    expect(rows):equals(want)
  end)
end)
