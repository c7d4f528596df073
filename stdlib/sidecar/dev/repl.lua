--- What the REPL needs from Lua: turning input into a chunk, printing results, completing names.
local inspect = require("sidecar.dev.inspect")

local M = {}

---Candidates completing `word` (e.g. "string.fo" -> {"string.format"}): globals, then fields of
---tables reached through "." and methods through ":" (from the value's __index table).
---@param word string
---@param env? table  where names are looked up (default _G)
---@return string[]
function M.complete(word, env)
  env = env or _G
  local prefix, sep, partial = word:match("^(.-)([%.:])([%w_]*)$")
  local scope = env
  if prefix then
    for name in prefix:gmatch("[^%.:]+") do
      if type(scope) ~= "table" and type(scope) ~= "string" then
        return {}
      end
      local ok, v = pcall(function()
        return scope[name]
      end)
      if not ok then
        return {}
      end
      scope = v
    end
    if sep == ":" then
      local mt = getmetatable(scope)
      scope = type(mt) == "table" and type(mt.__index) == "table" and mt.__index or nil
    end
  else
    prefix, sep, partial = "", "", word
  end
  if type(scope) ~= "table" then
    return {}
  end
  local seen, out = {}, {}
  local function add(t)
    for k, v in pairs(t) do
      if type(k) == "string" and k:match("^[%a_][%w_]*$") and k:sub(1, #partial) == partial and not seen[k] then
        if sep ~= ":" or type(v) == "function" then
          seen[k] = true
          out[#out + 1] = prefix .. sep .. k
        end
      end
    end
  end
  add(scope)
  -- Globals reached through a proxy environment's __index (as in sandboxes) count too.
  local mt = getmetatable(scope)
  if sep == "" and type(mt) == "table" and type(mt.__index) == "table" then
    add(mt.__index)
  end
  table.sort(out)
  return out
end

---Text for the values a REPL line returned (nil when there are none), one inspect per value.
---@param n integer  how many values
---@return string|nil
function M.format_results(n, ...)
  if n == 0 then
    return nil
  end
  local parts = {}
  for i = 1, n do
    parts[i] = inspect.inspect((select(i, ...)))
  end
  -- A value may hold a secret or an escape sequence: shown as the terminal module shows what
  -- Sidecar prints, once it is installed (it is by the time the executable's REPL runs).
  local text = table.concat(parts, "\t")
  local terminal = package.loaded["sidecar.core.terminal"]
  return terminal and terminal.shown(text) or text
end

return M
