--- The machine's agent slots as data (stdlib/sidecar/run/agent_slots.lua), for `sidecar doctor` and
--- the page of `sidecar ui`: the cap on agents at once, where it comes from, who holds the slots;
--- the same for each runner capped on its own (max_agents_per_runner).
---
---   local a = agent_slots.report(cfg)
---   -- {cap, source, holders = {{number, pid, run_id, runner, since}}, waiting = {{pid, cap, stopped}},
---   --  runners = {{name, cap, holders}}}
---   -- or {error} when SIDECAR_MAX_AGENTS is not a number the cap takes, or a slots' folder cannot be used
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
  local holders, bad = slots.holders(cap)
  if not holders then
    return { error = bad .. ": runs go on without the cap" }
  end
  local runners = {}
  for name, n in pairs(cfg and cfg.max_agents_per_runner or {}) do
    local held, broken = slots.holders(n, slots.runner_dir(name))
    if not held then
      return { error = broken .. ": " .. name .. "'s agents go on without their runner's cap" }
    end
    runners[#runners + 1] = { name = name, cap = n, holders = json.array(held) }
  end
  table.sort(runners, function(a, b) return a.name < b.name end)
  return { cap = cap, source = source, holders = json.array(holders), waiting = json.array(slots.waiters()),
    runners = json.array(runners) }
end

return M
