--- Interactive prompts on an agent's terminal (`run --pty`): the patterns that say a screen line is
--- a question waiting for an answer (`waiting_input`) and the answers given to known prompts, from
--- these settings of `.agent/config.lua` (checked by stdlib/sidecar/core/terminal_settings.lua):
---
---   waiting_patterns = { "Proceed%?" },            -- added to every runner's defaults
---   runners = { codex = { prompt_patterns = { "Allow command%?" } } },   -- this runner's, added
---   answers = { { pattern = "Continue%? %[y/n%]", send = "y" } },      -- typed, then Enter
---   on_stuck = "poke",                              -- Enter, once, to a stuck or waiting run
---
--- Patterns are Lua patterns (string.find), matched against the last non-empty line of the screen
--- with escape sequences removed; an answer's pattern is a prompt pattern too. An answer's `send`
--- is typed followed by Enter unless `enter = false`; `key` (a name of input_keys) sends one key.
local keys = require("sidecar.core.input_keys")

local M = {}

-- What every runner's prompts look like; runners add their own below.
M.GENERIC = { "%[[yY]/[nN]%]", "%([yY]/[nN]%)", "%[[yY]es/[nN]o%]", "Continue%?", "Press [Ee]nter", "Approve",
  "Proceed%?", "%(y/n%)" }
M.RUNNER = {
  -- The full-screen codex's dialogs (folder trust, approvals) end with this key help line.
  codex = { "Allow command%?", "Approve", "Yes, proceed", "enter continue", "enter to confirm", "enter/esc confirm" },
  claude = { "Do you want to", "❯ 1%. Yes", "Yes, and don't ask again" },
}

---The patterns for a runner: the generic ones, the runner's defaults, the config's
---waiting_patterns and the runner's prompt_patterns.
---@param runner string
---@param cfg table|nil
---@return string[]
function M.patterns(runner, cfg)
  local out = {}
  local function add(list)
    for _, p in ipairs(list or {}) do
      out[#out + 1] = p
    end
  end
  add(M.GENERIC)
  add(M.RUNNER[runner])
  if cfg then
    add(rawget(cfg, "waiting_patterns"))
    local entry = type(cfg.runners) == "table" and cfg.runners[runner] or nil
    add(type(entry) == "table" and entry.prompt_patterns or nil)
  end
  return out
end

---The first pattern `line` matches, or nil. A pattern that cannot run is skipped.
---@param line string
---@param patterns string[]
---@return string|nil
function M.match(line, patterns)
  for _, p in ipairs(patterns) do
    local ok, found = pcall(string.find, line, p)
    if ok and found then
      return p
    end
  end
end

---The answer whose pattern `line` matches: {bytes, text, key}, or nil.
---@param line string
---@param answers table[]|nil
---@return table|nil
function M.answer(line, answers)
  for _, a in ipairs(answers or {}) do
    local ok, found = pcall(string.find, line, a.pattern)
    if ok and found then
      if a.key then
        return { bytes = keys.BYTES[a.key], key = a.key, pattern = a.pattern }
      end
      return { bytes = a.send .. (a.enter == false and "" or keys.BYTES.enter), text = a.send,
        enter = a.enter ~= false, pattern = a.pattern }
    end
  end
end

return M
