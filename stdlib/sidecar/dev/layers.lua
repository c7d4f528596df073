--- The order of the stdlib's groups, declared once. A module `sidecar.<group>.<name>` (the file
--- stdlib/sidecar/<group>/<name>.lua) may require modules of its own group, of the groups before
--- it in `order`, and `sidecar.host.*`; the groups of one step (the surfaces) do not use each
--- other. A group `beside` the order may require anything and nothing in the order requires it.
--- tests/lua/layers_spec.lua reads every require of stdlib/ (sidecar.dev.require_graph) and fails
--- on an edge against this order, on a require cycle, and on an exception that no longer occurs;
--- docs/architecture.md's layer table is checked against it by the same spec.
---
---   local layers = require("sidecar.dev.layers")
---   layers.rank("task") --> 5
local M = {}

---The groups, bottom first; each step a list of groups (more than one: peers that do not use
---each other). `service` holds the commands' work as functions returning data, which the command
---line renders and the MCP server, the UI and the ACP agent answer with. The surfaces come last:
---the MCP server, the UI and the ACP agent, then the command line, which starts them (`sidecar mcp`,
---`sidecar acp`) besides being a surface of its own.
M.order = {
  { "core" },
  { "prompt" },
  { "run" },
  { "agent" },
  { "task" },
  { "executor" },
  { "formats" },
  { "preset" },
  { "service" },
  { "mcp", "ui", "acp" },
  { "cli" },
}

---Groups outside the order: `dev` (spec runner, REPL, inspect, docs) and `sidecar`, the public
---API's index (stdlib/sidecar/init.lua), which loads the modules it lists on first use.
M.beside = { "dev", "sidecar" }

---Edges allowed against the order, each {from, to, why}: a module and the module it requires
---(`sidecar.<group>.*` for a require whose name is built at run time). The goal is none.
M.edge_exceptions = {}

---Require cycles allowed, each {modules (sorted), why}: one strongly connected component of
---the require graph exactly. The goal is none.
M.cycle_exceptions = {}

---Modules that are not files of stdlib/: the host puts them in package.preload.
M.provided = {
  ["sidecar.cli.declared"] = "the command line's declared commands and flags (cli/lua_command.cpp)",
}

---The group a module belongs to: `sidecar.<group>.…`, `sidecar` itself; nil for another name.
---@param module string
---@return string?
function M.group_of(module)
  if module == "sidecar" then
    return "sidecar"
  end
  return module:match("^sidecar%.([%w_]+)")
end

local rank_of -- group -> step in `order` (host 0, beside groups math.huge)

---The step of a group in the order: 0 for `host`, math.huge for a group beside, nil for a name
---that is not declared.
---@param group string
---@return number?
function M.rank(group)
  if not rank_of then
    rank_of = { host = 0 }
    for i, step in ipairs(M.order) do
      for _, g in ipairs(step) do
        rank_of[g] = i
      end
    end
    for _, g in ipairs(M.beside) do
      rank_of[g] = math.huge
    end
  end
  return rank_of[group]
end

---Whether group `from` may require group `to` by the order alone (exceptions aside).
---@param from string
---@param to string
---@return boolean
function M.allowed(from, to)
  local a, b = M.rank(from), M.rank(to)
  if from == to or to == "host" or a == math.huge then
    return true
  end
  return a ~= nil and b ~= nil and b < a
end

---Every group, in order, then those beside.
---@return string[]
function M.groups()
  local out = {}
  for _, step in ipairs(M.order) do
    table.move(step, 1, #step, #out + 1, out)
  end
  table.move(M.beside, 1, #M.beside, #out + 1, out)
  return out
end

return M
