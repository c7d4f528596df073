--- Sidecar's public Lua API: the modules a script or preset may rely on, by their short names.
---
---   local sidecar = require("sidecar")
---   local json, proc = sidecar.json, sidecar.proc      -- loaded on first use
---   -- or each module by its full name: require("sidecar.core.json")
---
--- Every module of ours is named `sidecar.<group>.<name>`, so none shadows a user's own module:
--- `require("config")` in a script finds the user's config.lua. The groups are layers, each using
--- only those before it (their order is declared in sidecar.dev.layers): core, prompt, run, agent,
--- task, executor, formats, preset, then the surfaces mcp, ui and cli; dev (the spec runner, the
--- REPL, inspect) stands aside. Modules not listed here are internal: their functions may change
--- between versions. The REPL binds each of these to a global of its short name.

local M = {}

---Short name -> module, for the modules of the public API (docs/lua-api.md describes each).
M.public = {
  json = "sidecar.core.json",
  json_extract = "sidecar.core.json_extract",
  proc = "sidecar.core.proc",
  artifact = "sidecar.core.artifact",
  git = "sidecar.core.git",
  config = "sidecar.core.config",
  duration = "sidecar.core.duration",
  errors = "sidecar.core.errors",
  secrets = "sidecar.core.secrets",
  store = "sidecar.core.store",
  telemetry = "sidecar.core.telemetry",
  run_events = "sidecar.core.run_events",
  worktree = "sidecar.core.worktree",
  agent = "sidecar.agent.run",
  events = "sidecar.agent.events",
  budget = "sidecar.agent.budget",
  runners = "sidecar.agent.runners",
  route = "sidecar.agent.route",
  markers = "sidecar.agent.markers",
  prompt = "sidecar.prompt.compile",
  prompt_kit = "sidecar.prompt.kit",
  preset = "sidecar.preset.define",
  preset_context = "sidecar.preset.context",
  steps = "sidecar.preset.steps",
  merge = "sidecar.preset.merge",
  schema = "sidecar.preset.schema",
  task_packet = "sidecar.task.packet",
  validation = "sidecar.task.validation",
  reactions = "sidecar.task.reactions",
  inspect = "sidecar.dev.inspect",
  test = "sidecar.dev.test",
}

---Binds each public module to a field of `into` (a table such as _G) under its short name,
---leaving a field that already holds a value alone. Returns the names bound, sorted.
---@param into table
---@return string[]
function M.bind(into)
  local names = {}
  for short, module in pairs(M.public) do
    if rawget(into, short) == nil then
      into[short] = require(module)
      names[#names + 1] = short
    end
  end
  table.sort(names)
  return names
end

return setmetatable(M, {
  -- sidecar.json and the like: a public module, required on first use.
  __index = function(_, key)
    local module = M.public[key]
    return module and require(module) or nil
  end,
})
