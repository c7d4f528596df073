--- A project's settings: `.agent/config.lua`, a Lua file returning a table, read over the
--- defaults. `sidecar init` writes it with every default shown and explained.
---
---   local cfg = assert(config.load(".agent"))    -- the defaults when there is no file
---   cfg.runner, cfg.review.auto_approve_on_all_green, cfg.queue.jobs
---
--- The file runs with nothing but `os.getenv` in reach, and an unknown key or a value of the
--- wrong type is an error naming it (a typo must not silently mean "default").
local duration = require("duration")

local M = {}

M.FILE = "config.lua"

-- The defaults, and the type of each setting ("duration" is a string such as "30m").
local SCHEMA = {
  runner = { "string", "codex" },
  model = { "string", nil },
  sandbox = { "string", "read-only" },
  timeout = { "duration", "30m" },
  idle_timeout = { "duration", "5m" },
  runners = { "table", {} },
  routes = { "table", {} },
  review = { "section", { auto_approve_on_all_green = { "boolean", false } } },
  pipeline = { "section", { stop_on_failure = { "boolean", true } } },
  queue = { "section", { jobs = { "integer", 2 } } },
  validation = { "section", { timeouts = { "table", {} } } },
}

-- What a per-runner entry may hold.
local RUNNER_KEYS = { program = "list", args = "list", env = "table", command = "list", dialect = "string",
  prompt = "string", describe = "string" }

M.TEMPLATE = [[
-- Sidecar settings for this repository. Every setting is optional: the values below are the
-- defaults. This file is Lua; it may read environment variables with os.getenv.
return {
  -- The runner `sidecar run` uses when neither --runner nor the task names one:
  -- codex, claude, command, or one defined under `runners` below.
  runner = "codex",
  -- model = "gpt-5.5",            -- the model the runner asks for (default: the CLI's own)
  sandbox = "read-only",           -- read-only | workspace-write | danger-full-access
  timeout = "30m",                 -- wall-clock limit for the agent (90s, 30m, 2h)
  idle_timeout = "5m",             -- stop the agent after this long without output

  -- Per-runner settings. `program` replaces the CLI's name (a wrapper, or a path); `args` are
  -- added to its command line; `env` to its environment. A new name with `command` defines a
  -- runner of your own: the prompt on stdin, or in the file named by "{prompt_file}".
  runners = {
    -- codex = { program = { "codex" }, args = { "-c", "model_reasoning_effort=low" } },
    -- aider = { command = { "aider", "--yes", "--message-file", "{prompt_file}" } },
  },

  -- Presets send each step to a tier by its kind (stdlib/route.lua): fast for scans, drafts and
  -- pre-reviews, strong for reviews, synthesis, implementation and anything at high risk.
  routes = {
    -- tiers = { fast = { runner = "codex", model = "gpt-5.3-codex-spark" },
    --           strong = { runner = "claude", model = "claude-opus-4-1" } },
    -- kinds = { scan = "fast", review = "strong" },
  },

  review = {
    -- Approve a run by itself when every validation step passed. Needs at least one step:
    -- a run with no validation always waits for a person (sidecar run approve).
    auto_approve_on_all_green = false,
  },

  pipeline = {
    -- `sidecar run T-0001 --runner codex,claude`: stop at the first step that does not end
    -- in review or completed (false: run every step regardless).
    stop_on_failure = true,
  },

  queue = {
    jobs = 2,                      -- `sidecar run start-ready`: runs at a time (-j overrides)
  },

  validation = {
    -- Default timeout per validation kind; `kind@30s:` or `timeout_ms` on a step overrides.
    timeouts = { typecheck = "3m", lint = "3m", test = "10m", build = "10m", custom = "5m" },
  },
}
]]

local function type_of(v)
  return math.type(v) == "integer" and "integer" or type(v)
end

local function check_value(path, want, v)
  if want == "duration" then
    local ms, why = duration.parse(v)
    if not ms then
      return nil, path .. ": " .. why
    end
    return true
  elseif want == "list" then
    if type(v) ~= "table" then
      return nil, ("%s: expected a list of strings, got %s"):format(path, type(v))
    end
    for i, a in ipairs(v) do
      if type(a) ~= "string" then
        return nil, ("%s[%d]: expected a string, got %s"):format(path, i, type(a))
      end
    end
    return true
  elseif want == "section" or want == "table" then
    if type(v) ~= "table" then
      return nil, ("%s: expected a table, got %s"):format(path, type(v))
    end
    return true
  elseif type_of(v) ~= want and not (want == "integer" and type(v) == "number" and math.tointeger(v)) then
    return nil, ("%s: expected %s %s, got %s"):format(path, want == "integer" and "an" or "a", want, type_of(v))
  end
  return true
end

-- Fills `into` from `given` over the schema's defaults; returns nil, message on the first problem.
local function merge(schema, given, into, prefix)
  for key in pairs(given) do
    if not schema[key] then
      local known = {}
      for k in pairs(schema) do
        known[#known + 1] = k
      end
      table.sort(known)
      return nil, ("%s%s: unknown setting (known: %s)"):format(prefix, tostring(key), table.concat(known, ", "))
    end
  end
  for key, entry in pairs(schema) do
    local want, default = entry[1], entry[2]
    local v = given[key]
    if v == nil then
      if want == "section" then
        into[key] = {}
        merge(default, {}, into[key], prefix .. key .. ".")
      else
        into[key] = type(default) == "table" and {} or default
      end
    else
      local ok, why = check_value(prefix .. key, want, v)
      if not ok then
        return nil, why
      end
      if want == "section" then
        into[key] = {}
        local merged, problem = merge(default, v, into[key], prefix .. key .. ".")
        if not merged then
          return nil, problem
        end
      else
        into[key] = v
      end
    end
  end
  return into
end

local function check_runners(runners)
  for name, entry in pairs(runners) do
    if type(name) ~= "string" or type(entry) ~= "table" then
      return nil, ("runners.%s: expected a table of settings"):format(tostring(name))
    end
    for key, v in pairs(entry) do
      local want = RUNNER_KEYS[key]
      local path = ("runners.%s.%s"):format(name, tostring(key))
      if not want then
        return nil, path .. ": unknown setting (known: args, command, describe, dialect, env, program, prompt)"
      end
      local ok, why = check_value(path, want, v)
      if not ok then
        return nil, why
      end
    end
  end
  return true
end

---The settings from `root`/config.lua over the defaults (the defaults alone when there is no
---file). Returns nil, message, code ("bad_config") when the file cannot be run or is wrong; the
---message names the file and the setting.
---@param root string  the .agent folder
function M.load(root)
  local path = root .. "/" .. M.FILE
  local given = {}
  local f = io.open(path, "rb")
  if f then
    local text = f:read("a")
    f:close()
    local chunk, why = load(text, "@" .. path, "t", { os = { getenv = os.getenv } })
    if not chunk then
      return nil, why, "bad_config"
    end
    local ok, value = pcall(chunk)
    if not ok then
      return nil, tostring(value), "bad_config"
    end
    if type(value) ~= "table" then
      return nil, path .. ": must return a table of settings (return { runner = \"codex\", ... })", "bad_config"
    end
    given = value
  end
  local cfg, why = merge(SCHEMA, given, {}, "")
  if cfg then
    cfg.timeout_ms = duration.parse(cfg.timeout)
    cfg.idle_timeout_ms = duration.parse(cfg.idle_timeout)
    cfg.review.autoApproveOnAllGreen = cfg.review.auto_approve_on_all_green -- the name Sidecar's JSON used
    local ok
    ok, why = check_runners(cfg.runners)
    if ok then
      for kind, v in pairs(cfg.validation.timeouts) do
        local ms, bad = duration.parse(v)
        if not ms then
          return nil, ("%s: validation.timeouts.%s: %s"):format(path, tostring(kind), bad), "bad_config"
        end
        cfg.validation.timeouts[kind] = ms
      end
      cfg.path = f and path or nil
      return cfg
    end
  end
  return nil, path .. ": " .. why, "bad_config"
end

return M
