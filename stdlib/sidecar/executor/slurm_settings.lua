--- The config's `slurm` section, checked: what a Slurm run, job array, preset step and doctor probe
--- are submitted with (stdlib/sidecar/executor/slurm.lua).
---
---   slurm = { partition = "gpu", time = "1-02:00:00", cpus = 4, mem = "16G", account = "lab",
---             array_throttle = 8, sbatch_args = { "--qos=short" } }
local M = {}

-- What the section may hold, and how each value must look.
local CHECKS = {
  partition = { "string", "^[%w_.-]+$", "a partition's name" },
  time = { "string", "^[%d:-]+$", "a Slurm time limit: minutes, MM:SS, HH:MM:SS or D-HH:MM:SS" },
  cpus = { "number", nil, "a whole number of CPUs of at least 1" },
  mem = { "string", "^%d+[KMGT]?$", "a Slurm memory size: 4G, 500M" },
  account = { "string", "^[%w_.-]+$", "an account's name" },
  array_throttle = { "number", nil, "a whole number of at least 1" },
}

local function bad_value(v, check)
  return type(v) ~= check[1] or (check[2] and not tostring(v):match(check[2]))
    or (check[1] == "number" and (math.tointeger(v) == nil or v < 1))
end

---The settings, or nil and what is wrong with them (naming the setting in .agent/config.lua).
---@param cfg table
---@return table|nil settings, string? why
function M.check(cfg)
  local given = rawget(cfg, "slurm") or cfg.slurm or {}
  local out = {}
  for key, check in pairs(CHECKS) do
    local v = given[key]
    if v ~= nil then
      if bad_value(v, check) then
        return nil, ("slurm.%s = %s in .agent/config.lua: expected %s"):format(key,
          type(v) == "string" and ("%q"):format(v) or tostring(v), check[3])
      end
      out[key] = v
    end
  end
  local args = given.sbatch_args or {}
  for i, a in ipairs(args) do
    if type(a) ~= "string" or a:sub(1, 1) ~= "-" then
      return nil, ("slurm.sbatch_args[%d] in .agent/config.lua: expected an sbatch option such as \"--qos=short\", "
        .. "got %s"):format(i, tostring(a))
    end
  end
  out.sbatch_args = args
  return out
end

return M
