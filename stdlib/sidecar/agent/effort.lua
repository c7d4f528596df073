--- Reasoning effort and web search, mapped to each agent CLI's own setting. A route (config
--- `routes.tiers.fast = {runner, model, effort = "low", search = false}`), the config (`effort`,
--- `search`) or the command line (`--effort`, `--search`, `--no-search`) asks for them; this module
--- turns the request into the runner's arguments, checked against the levels its CLI takes:
---
---   codex:  -c model_reasoning_effort=LEVEL (minimal, low, medium, high, xhigh);
---           -c web_search=live | disabled
---   claude: --effort LEVEL (low, medium, high, xhigh, max);
---           search off: --disallowedTools WebSearch,WebFetch (on: the CLI's default)
---
--- (each checked against the real CLI's request to our scripted model server: codex sends
--- `reasoning.effort` and drops or keeps its `web_search` tool, claude sends `output_config.effort`).
---
---   local args, why = effort.args("codex", "high", false)
---   -- {"-c", "model_reasoning_effort=high", "-c", "web_search=disabled"}
local M = {}

-- Per dialect (the runner spec's `dialect`): the levels and the arguments.
M.DIALECTS = {
  codex = {
    levels = { "minimal", "low", "medium", "high", "xhigh" },
    effort = function(level) return { "-c", "model_reasoning_effort=" .. level } end,
    search = function(on) return { "-c", "web_search=" .. (on and "live" or "disabled") } end,
  },
  claude = {
    levels = { "low", "medium", "high", "xhigh", "max" },
    effort = function(level) return { "--effort", level } end,
    search = function(on) return not on and { "--disallowedTools", "WebSearch,WebFetch" } or {} end,
  },
}

local function dialect_of(runner)
  local spec = require("sidecar.agent.runners").get(runner)
  return spec and spec.dialect and M.DIALECTS[spec.dialect], spec
end

---Whether `runner`'s CLI has effort and search settings this module maps.
---@param runner string
---@return boolean
function M.applies(runner)
  return dialect_of(runner) ~= nil
end

---The arguments that ask `runner` for `level` effort and search on/off (nil: the CLI's default),
---to add after the runner's own; nil and why when the runner's CLI has no such setting or not
---that level.
---@param runner string
---@param level? string
---@param search? boolean
---@return string[]|nil args, string? why
function M.args(runner, level, search)
  local args = {}
  if level == nil and search == nil then
    return args
  end
  local d = dialect_of(runner)
  if not d then
    return nil, ("runner '%s' has no effort or search setting Sidecar knows: give its own flags in runners.%s.args "
      .. "(.agent/config.lua)"):format(runner, runner)
  end
  if level ~= nil then
    local known = false
    for _, l in ipairs(d.levels) do
      known = known or l == level
    end
    if not known then
      return nil, ("effort '%s' is not one %s takes: %s"):format(tostring(level), runner, table.concat(d.levels, ", "))
    end
    table.move(d.effort(level), 1, 2, #args + 1, args)
  end
  if search ~= nil then
    local more = d.search(search)
    table.move(more, 1, #more, #args + 1, args)
  end
  return args
end

---One line for --explain and dry runs: "effort high, search off" (nil when neither is set).
---@param level? string
---@param search? boolean
---@return string|nil
function M.describe(level, search)
  local parts = {}
  if level then
    parts[#parts + 1] = "effort " .. level
  end
  if search ~= nil then
    parts[#parts + 1] = "search " .. (search and "on" or "off")
  end
  return #parts > 0 and table.concat(parts, ", ") or nil
end

return M
