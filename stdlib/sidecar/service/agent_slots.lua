--- The machine's agent slots as data (stdlib/sidecar/run/agent_slots.lua), for `sidecar doctor` and
--- the page of `sidecar ui`: the cap on agents at once, where it comes from, who holds the slots;
--- the same for each runner capped on its own (max_agents_per_runner).
---
---   local a = agent_slots.report(cfg)
---   -- {cap, source, holders = {{number, pid, run_id, runner, since}}, runners = {{name, cap, holders}}}
---   -- or {error} when SIDECAR_MAX_AGENTS is not a number the cap takes
local json = require("sidecar.core.json")
local slots = require("sidecar.run.agent_slots")

local M = {}

---@param cfg table|nil  the config (its max_agents and max_agents_per_runner)
---@return table
function M.report(cfg)
  local cap, why, source = slots.cap(cfg and cfg.max_agents)
  if not cap then
    return { error = why }
  end
  local runners = {}
  for name, n in pairs(cfg and cfg.max_agents_per_runner or {}) do
    runners[#runners + 1] = { name = name, cap = n, holders = json.array(slots.holders(n, slots.runner_dir(name))) }
  end
  table.sort(runners, function(a, b) return a.name < b.name end)
  return { cap = cap, source = source, holders = json.array(slots.holders(cap)), runners = json.array(runners) }
end

return M
