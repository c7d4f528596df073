--- What a prompt to `sidecar acp` asks for. Plain text is a task (its first line the title, the
--- whole the goal) run once on the configured runner, read-only; a prompt that starts with a slash
--- names a command, which the client offers from `available_commands_update`:
---
---   /preset NAME key=value …   the preset, with its parameters (one command per preset too:
---                              `/precommit-classifier agent=false` is the same)
---   /write TEXT                 a task whose run may write (in a worktree of its own), once allowed
---   /approve R-0001 [note]      approve a run waiting for review, once allowed
---   /apply R-0001               apply a writing run's change to the work tree, once allowed
---
---   local req, why = commands.parse(prompt_text, { "precommit-classifier", ... })
---   -- req: {kind = "task"|"write"|"preset"|"approve"|"apply", ...}
local text = require("sidecar.core.text")

local M = {}

M.TITLE_BYTES = 80

local BUILT_IN = {
  { name = "preset", description = "Run a preset: /preset NAME key=value …", hint = "NAME key=value …" },
  { name = "write", description = "A task whose run may write, in a worktree of its own (asks first)",
    hint = "what to change" },
  { name = "approve", description = "Approve a run waiting for review (asks first)", hint = "R-0001 [note]" },
  { name = "apply", description = "Apply a writing run's change to the work tree (asks first)", hint = "R-0001" },
}

local function words(s)
  local out = {}
  for w in s:gmatch("%S+") do
    out[#out + 1] = w
  end
  return out
end

local function title_of(goal)
  local first = goal:match("[^\n]*%S[^\n]*") or goal
  return text.clip((first:gsub("^%s+", ""):gsub("%s+$", "")), M.TITLE_BYTES)
end

local function task(kind, goal)
  if not goal:find("%S") then
    return nil, kind == "write" and "/write needs the change to make: /write TEXT" or "the prompt is empty"
  end
  return { kind = kind, goal = goal, title = title_of(goal) }
end

local function preset(name, rest, known, untrusted)
  if not name then
    return nil, "/preset needs a preset's name: /preset NAME key=value … (the commands list them)"
  end
  if (untrusted or {})[name] and not known[name] then
    return nil, ("the preset %s of this repository is not trusted, so it does not run: review it, then "
      .. "`sidecar trust` the repository"):format(name)
  elseif not known[name] then
    return nil, ("no preset %s here (the commands list those of this repository)"):format(name)
  end
  local params = words(rest)
  for _, p in ipairs(params) do
    if not p:find("^[%w_%-]+=") then
      return nil, ("/%s: '%s' is not a parameter: parameters are key=value"):format(name, p)
    end
  end
  return { kind = "preset", name = name, params = params }
end

local function decision(kind, rest)
  local id, note = rest:match("^%s*(R%-%d+)%s*(.*)$")
  if not id then
    return nil, ("/%s needs a run id: /%s R-0001"):format(kind, kind)
  end
  return { kind = kind, run_id = id, note = note ~= "" and note or nil }
end

---What `prompt` asks for, or nil and why it cannot be done (said to the user as the answer).
---@param prompt string
---@param presets string[]  the presets of the repository that run, by name
---@param untrusted? table<string, boolean>  those of the repository that are not trusted
---@return table|nil request, string? why
function M.parse(prompt, presets, untrusted)
  local known = {}
  for _, name in ipairs(presets) do
    known[name] = true
  end
  local command, rest = prompt:match("^%s*/([%w_%-]+)(.*)$")
  if not command then
    return task("task", prompt)
  end
  rest = rest:gsub("^%s+", "")
  if command == "write" then
    return task("write", rest)
  elseif command == "approve" or command == "apply" then
    return decision(command, rest)
  elseif command == "preset" then
    local name, after = rest:match("^(%S+)(.*)$")
    return preset(name, after or "", known, untrusted)
  elseif known[command] then
    return preset(command, rest, known)
  elseif (untrusted or {})[command] then
    return nil, ("the preset %s of this repository is not trusted, so it does not run: review it, then "
      .. "`sidecar trust` the repository"):format(command)
  end
  return nil, ("unknown command /%s: the commands are /preset, /write, /approve, /apply and one per preset")
    :format(command)
end

---The commands to offer (`available_commands_update`): the built-in ones, then one per preset.
---@param presets {name: string, summary: string?}[]
---@return table[]  {name, description, input = {hint}}
function M.available(presets)
  local out = {}
  for _, c in ipairs(BUILT_IN) do
    out[#out + 1] = { name = c.name, description = c.description, input = { hint = c.hint } }
  end
  for _, p in ipairs(presets) do
    out[#out + 1] = { name = p.name, description = type(p.summary) == "string" and p.summary ~= "" and p.summary
      or ("The " .. p.name .. " preset"), input = { hint = "key=value …" } }
  end
  return out
end

return M
