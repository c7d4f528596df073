--- What the REPL needs from Lua: its globals, printing results, completing names, and a line of
--- progress for each step of an agent run it starts.
local inspect = require("sidecar.dev.inspect")

local M = {}

local shown -- the text the REPL's inspect() returned last: printed as it is, not quoted

-- The REPL's inspect: the module (inspect.inspect and the rest), callable as before, whose result
-- the REPL prints as the rendering it is rather than as a quoted string.
local repl_inspect = setmetatable({}, {
  __index = inspect,
  __call = function(_, value, opts)
    shown = inspect.inspect(value, opts)
    return shown
  end,
})

local progress_sub -- the subscription printing progress lines; nil when off

---Turns the progress lines of agent runs on (the default) or off: one line on stderr per step of
---a run this REPL starts (started, each command the agent runs, validation, its end).
---@param on boolean
function M.progress(on)
  if on == false then
    if progress_sub then
      progress_sub:close()
      progress_sub = nil
    end
  elseif not progress_sub then
    progress_sub = require("sidecar.core.run_events").subscribe(function(e)
      local line = require("sidecar.service.run_progress").step_line(e)
      if line then
        io.stderr:write(line, "\n")
      end
    end)
  end
end

---The REPL's globals in `env` (_G): each public module under its short name, `sidecar` (the index),
---`help` (sidecar.dev.help), `inspect` whose results print as they are, and `progress(on)`.
---@param env table
function M.install(env)
  local sidecar = require("sidecar")
  sidecar.bind(env)
  env.sidecar = env.sidecar or sidecar
  env.help = env.help or require("sidecar.dev.help").help
  env.inspect = repl_inspect
  env.progress = env.progress or M.progress
  M.progress(true)
end

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
    local v = select(i, ...)
    parts[i] = (v == shown and type(v) == "string") and v or inspect.inspect(v)
  end
  -- A value may hold a secret or an escape sequence: shown as the terminal module shows what
  -- Sidecar prints, once it is installed (it is by the time the executable's REPL runs).
  local text = table.concat(parts, "\t")
  local terminal = package.loaded["sidecar.core.terminal"]
  return terminal and terminal.shown(text) or text
end

return M
