--- The machine's agent slots as data (stdlib/sidecar/run/agent_slots.lua), for `sidecar doctor` and
--- the page of `sidecar ui`: the cap on agents at once, where it comes from, who holds the slots;
--- the same for each runner capped on its own (max_agents_per_runner).
---
---   local a = agent_slots.report(cfg)
---   -- {cap, source, holders = {{number, pid, run_id, runner, since}}, waiting = {{pid, cap, stopped}},
---   --  runners = {{name, cap, holders, waiting}}, problems = {why runs may go past a cap},
---   --  machine = {cores, memory_bytes} (what this process may use: the default's measure)}
---   -- or {error} when SIDECAR_MAX_AGENTS is not a number the cap takes
local json = require("sidecar.core.json")
local slots = require("sidecar.run.agent_slots")

local M = {}

-- The holders of `cap` slots in `dir` as the report gives them, or nil and why; the folder's and its
-- files' problems added to `problems`.
local function holders_of(cap, dir, problems)
  local ok, bad = slots.check(dir)
  if not ok then
    problems[#problems + 1] = bad .. ": runs go on without this cap"
    return json.array({})
  end
  local held, why, unusable = slots.holders(cap, dir)
  if not held then
    problems[#problems + 1] = why
    return json.array({})
  end
  for _, u in ipairs(unusable) do
    problems[#problems + 1] = ("%s (it lowers the cap by one: remove it)"):format(u)
  end
  return json.array(held)
end

---@param cfg table|nil  the config (its max_agents and max_agents_per_runner)
---@return table
function M.report(cfg)
  local cap, why, source = slots.cap(cfg and cfg.max_agents)
  if not cap then
    return { error = why }
  end
  local problems, machine = {}, slots.machine() -- the default's measure, as the cap was read
  local holders = holders_of(cap, nil, problems)
  local runners = {}
  local known = require("sidecar.agent.runners")
  for name, n in pairs(cfg and cfg.max_agents_per_runner or {}) do
    if known.get(name) or (cfg.runners or {})[name] ~= nil then -- a cap for no runner: a problem, no folder
      local dir = slots.runner_dir(name)
      runners[#runners + 1] = { name = name, cap = n, holders = holders_of(n, dir, problems),
        waiting = json.array(slots.waiters(dir)) }
    end
  end
  table.sort(runners, function(a, b) return a.name < b.name end)
  problems[#problems + 1] = cfg and known.uncapped_names(cfg.max_agents_per_runner, cfg.path, cfg.runners) or nil
  return { cap = cap, source = source, holders = holders, waiting = json.array(slots.waiters()),
    runners = json.array(runners), problems = json.array(problems),
    machine = { cores = machine.cores, memory_bytes = machine.memory_bytes or json.null } }
end

return M
