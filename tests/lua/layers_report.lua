-- The figures of the stdlib's require graph (modules, edges, cycles, what requiring each run-layer
-- module loads) and what breaks the declared order; the same graph tests/lua/layers_spec.lua
-- checks.
--
--   build/sidecar script tests/lua/layers_report.lua [GROUP]   (GROUP: whose load counts, default run)
local layers = require("sidecar.dev.layers")
local require_graph = require("sidecar.dev.require_graph")

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local graph = require_graph.scan(here .. "../../stdlib", layers.group_of)
io.write(require_graph.report(require_graph.figures(graph, layers, arg and arg[1])))
for _, problem in ipairs(require_graph.check(graph, layers)) do
  io.write(problem, "\n")
end
