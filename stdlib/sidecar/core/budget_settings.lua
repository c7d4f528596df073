--- The check of a budget limit in `.agent/config.lua` (`budgets.per_run`, `per_task`, `per_day`):
--- {tokens = N, usd = X}, either or both (stdlib/sidecar/agent/budget.lua applies them).
local M = {}

---Checks one limit ({tokens = N, usd = X}); true, or nil and a message naming `path`.
---@param path string  where it came from ("budgets.per_run")
---@return boolean|nil ok, string? message
function M.check_limit(path, v)
  if type(v) ~= "table" then
    return nil, ("%s: expected a table such as { tokens = 200000, usd = 5 }, got %s"):format(path, type(v))
  end
  for key, value in pairs(v) do
    if key == "tokens" then
      if math.type(value) ~= "integer" or value <= 0 then
        return nil, ("%s.tokens: expected a whole number > 0, got %s"):format(path, tostring(value))
      end
    elseif key == "usd" then
      if type(value) ~= "number" or value ~= value or value <= 0 or value == math.huge then
        return nil, ("%s.usd: expected a number of US dollars > 0, got %s"):format(path, tostring(value))
      end
    else
      return nil, ("%s.%s: unknown setting (known: tokens, usd)"):format(path, tostring(key))
    end
  end
  return true
end

return M
