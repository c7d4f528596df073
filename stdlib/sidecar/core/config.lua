--- A project's settings: `.agent/config.lua`, a Lua file returning a table, read over the
--- defaults. `sidecar init` writes it with every default shown and explained.
---
---   local cfg = assert(config.load(".agent"))    -- the defaults when there is no file
---   cfg.runner, cfg.review.auto_approve_on_all_green, cfg.queue.jobs
---
--- The file runs with nothing but `os.getenv` in reach, and an unknown key or a value of the
--- wrong type is an error naming it (a typo must not silently mean "default"). It runs only once
--- trusted (stdlib/sidecar/core/trust.lua: `sidecar trust`); until then the defaults are used and the
--- settings say so (`cfg.untrusted`).
local duration = require("sidecar.core.duration")
local secrets = require("sidecar.core.secrets")
local trust = require("sidecar.core.trust")
local trust_guard = require("sidecar.core.trust_guard")

local M = {}

M.FILE = "config.lua"

-- The defaults, and the type of each setting ("duration" is a string such as "30m").
local SCHEMA = {
  runner = { "string", "codex" },
  model = { "string", nil },
  effort = { "string", nil },
  search = { "boolean", nil },
  sandbox = { "string", "read-only" },
  timeout = { "duration", "30m" },
  idle_timeout = { "duration", "5m" },
  stuck_after = { "duration", "5m" }, -- silence that flags a run stuck (stdlib/sidecar/run/stuck.lua)
  max_log_bytes = { "size", "64MiB" },
  -- Agents at once on this machine, over every Sidecar process (stdlib/sidecar/run/agent_slots.lua);
  -- nil: derived from the machine.
  max_agents = { "agents", nil },
  -- Agents of one runner at once on this machine, by runner name ({ claude = 3 }), within max_agents.
  max_agents_per_runner = { "runner_caps", {} },
  -- Runs on a terminal (run --pty): stdlib/sidecar/core/terminal_settings.lua checks these.
  waiting_patterns = { "patterns", nil }, on_stuck = { "on_stuck", nil }, answers = { "answers", nil },
  runners = { "table", {} },
  routes = { "table", {} },
  reactions = { "reactions", {} }, -- checked by stdlib/sidecar/core/reaction_settings.lua
  -- A command (string for /bin/sh, or a list) told of background runs' ends, or a list of channels
  -- (webhook, ntfy, desktop, command) told of the events each names: stdlib/sidecar/core/notify_settings.lua.
  notify = { "notify", nil },
  -- OpenTelemetry export of runs, presets and pipelines (stdlib/sidecar/core/otel_settings.lua;
  -- the OTEL_EXPORTER_OTLP_* variables too).
  otel = { "otel", nil },
  review = { "section", { auto_approve_on_all_green = { "boolean", false } } },
  pipeline = { "section", { stop_on_failure = { "boolean", true } } },
  queue = { "section", { jobs = { "integer", 2 } } },
  executor = { "string", "local" }, -- where runs' workers run: local or slurm (stdlib/sidecar/executor)
  slurm = { "section", { partition = { "string", nil }, time = { "string", nil }, cpus = { "integer", nil },
    mem = { "string", nil }, account = { "string", nil }, sbatch_args = { "list", {} },
    array_throttle = { "integer", nil } } },
  budgets = { "section", { per_run = { "budget", nil }, per_task = { "budget", nil }, per_day = { "budget", nil },
    allow_unknown = { "boolean", false } } },
  mcp = { "section", { allow_decide = { "boolean", false } } },
  validation = { "section", { timeouts = { "table", {} } } },
  secrets = { "section", { patterns = { "list", {} }, names = { "list", {} }, allow_names = { "list", {} },
    files = { "list", {} }, allow_files = { "list", {} } } },
  -- The OS sandbox every agent and validation step runs in (stdlib/sidecar/run/sandbox.lua).
  isolation = { "section", { sandbox = { "os_sandbox", "auto" }, network = { "network", "model" },
    hosts = { "list", {} }, read = { "list", {} }, write = { "list", {} }, env = { "list", {} }, hide = { "list", {} },
    limits = { "section", { pids = { "count", 4096 }, memory = { "size", "8GiB" }, tmp = { "size", "2GiB" } } } } },
  worktree = { "section", { enabled = { "boolean", true }, copy = { "list", {} }, setup = { "string", nil },
    setup_network = { "network", nil }, setup_timeout = { "duration", "10m" }, spares = { "integer", 2 },
    max_untracked_bytes = { "size", "8MiB" } } },
  gates = { "section", { commit = { "gate", "block" }, tag = { "gate", "block" }, push = { "gate", "block" },
    avoided_files = { "gate", "block" }, scope = { "gate", "block" }, read_only_changes = { "gate", "block" },
    outside_changes = { "gate", "block" }, symlinks_out = { "gate", "block" } } },
}

-- What a per-runner entry may hold.
local RUNNER_KEYS = { program = "list", args = "list", env = "table", command = "list", acp = "list",
  dialect = "dialect", prompt = "string", describe = "string", prompt_patterns = "patterns", network = "network" }
-- The event dialects a runner of config.lua may name (stdlib/<name>_events.lua). Only these: the
-- name becomes a require, which must never reach a module outside Sidecar.
local DIALECTS = { codex = true, claude = true }

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
  stuck_after = "5m",              -- before that, flag it stuck on its run (a notice with notify)
  -- Runs on a terminal (run --pty): a quiet screen whose last line matches one of these Lua
  -- patterns marks the run waiting_input (added to the built-in ones; runners.<name>.prompt_patterns
  -- adds a runner's own); known prompts answered by themselves; on_stuck = "poke": Enter, once.
  -- waiting_patterns = { "Proceed%?" },
  -- answers = { { pattern = "Continue%? %[y/n%]", send = "y" } },
  -- on_stuck = "poke",
  max_log_bytes = "64MiB",         -- each raw log of a run (agent.jsonl or stdout.log, stderr.log):
                                   -- past it its first and last halves are kept (false or 0: no bound)
  -- max_agents = 8,               -- agents at once on this machine, over every Sidecar process and
                                   -- repository (default: one per 2 GiB of memory, at most 4 per core;
                                   -- SIDECAR_MAX_AGENTS overrides it); a run over it waits its turn
  -- max_agents_per_runner = { claude = 3 }, -- and of one runner, within max_agents

  -- Per-runner settings. `program` replaces the CLI's name (a wrapper, or a path); `args` are
  -- added to its command line; `env` to its environment. A new name with `command` defines a
  -- runner of your own: the prompt on stdin, or in the file named by "{prompt_file}".
  runners = {
    -- codex = { program = { "codex" }, args = { "-c", "model_reasoning_effort=low" } },
    -- aider = { command = { "aider", "--yes", "--message-file", "{prompt_file}" } },
  },

  -- Presets send each step to a tier by its kind (stdlib/sidecar/agent/route.lua): fast for scans, drafts and
  -- pre-reviews, strong for reviews, synthesis, implementation and anything at high risk.
  routes = {
    -- tiers = { fast = { runner = "codex", model = "gpt-5.3-codex-spark", effort = "low" },
    --           strong = { runner = "claude", model = "claude-opus-4-1", effort = "high", search = false } },
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

  -- Where runs' workers run (--executor overrides): local, or slurm: each run a batch job, the
  -- .agent folder shared with the nodes, the store kept here (docs/scale.md).
  executor = "local",
  -- slurm = { partition = "short", time = "30", cpus = 2, mem = "4G", account = "lab",
  --           sbatch_args = { "--qos=normal" }, array_throttle = 8 },

  -- Token and dollar budgets, each { tokens = N, usd = X } (either or both): a run that crosses
  -- one is stopped and recorded budget_exceeded; no run starts once one is spent. Runs report
  -- what they used (codex, claude); a runner reporting nothing is refused unless allow_unknown.
  -- --budget-tokens and --budget-usd add a budget for one command's runs.
  budgets = {
    -- per_run = { tokens = 200000 },
    -- per_task = { tokens = 1000000, usd = 10 },
    -- per_day = { usd = 50 },
    allow_unknown = false,
  },

  mcp = {
    -- `sidecar mcp`: may a main agent approve or block runs through the run_decide tool?
    -- (false: only a person decides, with sidecar run approve|block)
    allow_decide = false,
  },

  validation = {
    -- Default timeout per validation kind; `kind@30s:` or `timeout_ms` on a step overrides.
    timeouts = { typecheck = "3m", lint = "3m", test = "10m", build = "10m", custom = "5m" },
  },

  -- Secrets are redacted from every byte Sidecar writes or prints, and secret files are refused
  -- as agent inputs. These rules add to the built-in ones (stdlib/sidecar/core/secrets.lua) for this project.
  secrets = {
    patterns = {},                 -- token shapes of your own: { "acme_live_[0-9a-f]{32}" }
    names = {},                    -- variables whose values are secret: { "LOCKER_COMBINATION" }
    allow_names = {},              -- names that look secret but are not: { "SORT_KEY" }
    files = {},                    -- files refused as inputs: { "*.vault" }
    allow_files = {},              -- files the built-in rules refuse that are fine here: { "fixtures/test.pem" }
  },

  -- Every agent, and every validation step, runs in an OS sandbox (bubblewrap; docs/security.md):
  -- it writes only its worktree (nothing for a read-only run), a private /tmp and its CLI's state
  -- folder; it cannot read your keys and cloud credentials, nor the repository's .env* files;
  -- nothing it starts outlives it; and its network is one of:
  --   "model": only the runner's model endpoints and `hosts`, through Sidecar's proxy (a push
  --            to any remote fails for want of a route); "none": no network; "full": every host,
  --            through the proxy, which records each connection (git://, ssh and raw sockets have
  --            no route); "host": the host's network itself, unrecorded (a push goes unseen).
  isolation = {
    sandbox = "auto",              -- bubblewrap; where it cannot make namespaces, "landlock"; "off": none
    network = "model",             -- model | none | full | host (runners.<name>.network, --network override it)
    hosts = {},                    -- more hosts for "model": { "pypi.org", "*.githubusercontent.com:443" }
    read = {},                     -- what it may read all the same: secret files { "~/.aws", ".env.test" }, folders in /tmp
    write = {},                    -- more paths it may write: { "~/.cache/pip" }
    env = {},                      -- variables it is given beside the allow-list: { "GITHUB_TOKEN", "MYAGENT_*" }
    hide = {},                     -- more it may not read, outside the repository: { "/srv/other-app", "~/notes" }
    -- Bounds of each sandbox (the agent's, its validation steps', the setup's), far above what a
    -- real run uses; a run stopped by one says which (docs/security.md, "Limits"). false: no bound.
    limits = {
      pids = 4096,                 -- processes and threads; reaching it ends the sandbox (a fork bomb)
      memory = "8GiB",             -- resident memory; past it the largest process is killed
      tmp = "2GiB",                -- what /tmp, /dev/shm and its empty home (each) may hold; past it writes fail
    },
  },

  -- A run that may write (workspace-write, danger-full-access) works in a git worktree of its
  -- own, .agent/worktrees/R-0001 on branch sidecar/R-0001, made from HEAD plus your uncommitted
  -- changes; `sidecar run apply R-0001` brings its change into your tree, `run discard` drops it.
  worktree = {
    enabled = true,                -- false: writing runs edit your work tree in place
    copy = {},                     -- files copied from your tree into each worktree (the agent may read them): { ".env.local" }
    -- setup = "npm ci",           -- run in each new worktree before the agent, in the run's OS sandbox
                                   -- (the worktree may hold an earlier agent's work); failing fails the run
    -- setup_network = "full",     -- the setup's network: model (isolation.hosts only), none, full or host;
                                   -- default: the run's (isolation.network)
    setup_timeout = "10m",
    spares = 2,                    -- ended worktrees kept as copies to start the next ones fast (0: none)
    max_untracked_bytes = "8MiB",  -- larger untracked files (checkpoints, datasets) are copied into the
                                   -- worktree as they are, never hashed into your .git nor committed
                                   -- (false: every file goes into the run's commits)
  },

  -- What Sidecar does by itself when a run ends badly (stdlib/sidecar/task/reactions.lua; default: nothing).
  -- reactions = {
  --   validation_failed = { action = "fix", retries = 2 }, -- replays with the failing output; stops on
  --                                                        -- the same failure twice or a change of nothing
  --   blocked = { action = "escalate" },                   -- marks the run for a person, sends a notice
  --   stuck = { action = "notify" },                       -- a notice only
  -- },

  -- Who is told, and of what (docs/notifications.md; default: nobody). A command for /bin/sh (or a
  -- list, or true for notify-send) is told when a background run ends; a list of channels is told
  -- of every run's end, once for a whole preset or pipeline, and of runs that need someone:
  -- notify = {
  --   { kind = "webhook", url = "https://hooks.example/sidecar" },      -- POST of a JSON body
  --   { kind = "webhook", url = os.getenv("SLACK_WEBHOOK"), format = "slack", events = { "review" } },
  --   { kind = "ntfy", url = "https://ntfy.sh/my-topic", events = { "needs_input", "failed" } },
  --   { kind = "desktop" },                                             -- notify-send, when a session bus is there
  -- },
  -- events: review, needs_input, budget, failed, blocked, unknown (default: these six), stopped, completed.

  -- OpenTelemetry (docs/telemetry.md; default: nothing sent). A trace per run, preset and pipeline,
  -- and metrics of tokens, cost and runs, to a collector over OTLP/HTTP; the OTEL_EXPORTER_OTLP_*
  -- variables do the same and win over these.
  -- otel = {
  --   endpoint = "http://127.0.0.1:4318",  -- /v1/traces and /v1/metrics are added
  --   protocol = "http/protobuf",          -- or "http/json"
  --   agents = true,                       -- claude and codex export their own spans there, under the run's
  -- },

  -- What a run did, weighed after the agent ends (stdlib/sidecar/run/gates.lua); `run show` lists each
  -- gate's verdict. "block": the run is blocked, naming what the agent did, and never
  -- auto-approved (a person may still approve it); "warn": recorded and shown; "allow":
  -- recorded only. Pushes are refused inside every run whatever `push` says.
  gates = {
    commit = "block",              -- made commits, created/deleted/moved a branch, switched HEAD
    tag = "block",                 -- created, deleted or moved a tag
    push = "block",                -- tried to push
    avoided_files = "block",       -- changed a file the task lists under files_to_avoid
    scope = "block",               -- changed a file outside the paths of the task's scope
    read_only_changes = "block",   -- changed any file during a read-only run
    outside_changes = "block",     -- changed git config, hooks, other refs, dotfiles, Sidecar's config or trust,
                                   -- or the checkout of a run in its own worktree (docs/security.md)
    symlinks_out = "block",        -- added a symbolic link leading out of the repository (/etc/passwd,
                                   -- ../../x); `run apply` refuses to write it unless "warn" or "allow"
  },
}
]]

local function type_of(v)
  return math.type(v) == "integer" and "integer" or type(v)
end

-- A value as an error shows it: a string quoted, a number as written, else its type.
local function shown_value(v)
  if type(v) == "string" then
    return ("%q"):format(v)
  elseif type(v) == "number" then
    return math.type(v) == "integer" and tostring(v) or ("%g"):format(v)
  end
  return "a " .. type(v)
end

local function check_value(path, want, v)
  if want == "size" then -- a size such as "64MiB", a number of bytes, or false (stdlib/sidecar/core/log_caps.lua)
    local bytes, why = require("sidecar.core.log_caps").resolve(v)
    if not bytes then
      return nil, path .. ": " .. why .. " (or false: no bound)"
    end
    return true
  elseif want == "runner_caps" then -- { runner = a whole number from 1 }
    if type(v) ~= "table" then
      return nil, ("%s: expected a table of runner names and numbers ({ claude = 3 }), got %s"):format(path, type(v))
    end
    for name, n in pairs(v) do
      if type(name) ~= "string" or not name:match("^[%w][%w._-]*$") then
        return nil, ("%s: expected runner names as keys, got %s"):format(path, tostring(name))
      end
      local ok, why = check_value(path .. "." .. name, "agents", n)
      if not ok then
        return nil, why
      end
    end
    return true
  elseif want == "agents" then -- agents at once: a whole number from 1 to 1024
    if not (math.type(v) == "integer" and v >= 1 and v <= 1024) then
      return nil, ("%s: expected a whole number of agents from 1 to 1024, got %s"):format(path, shown_value(v))
    end
    return true
  elseif want == "count" then -- a positive whole number, or false (or 0): no bound
    if v ~= false and v ~= 0 and not (math.type(v) == "integer" and v > 0) then
      return nil, ("%s: expected a whole number (or false: no bound), got %s"):format(path, tostring(v))
    end
    return true
  elseif want == "duration" then
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
  elseif want == "dialect" then
    if not DIALECTS[v] then
      return nil, ("%s: expected \"codex\" or \"claude\" (the event streams Sidecar reads), got %s"):format(path,
        type(v) == "string" and ("%q"):format(v) or type(v))
    end
    return true
  elseif want == "budget" then -- {tokens = N, usd = X}
    return require("sidecar.core.budget_settings").check_limit(path, v)
  elseif want == "os_sandbox" or want == "network" then
    return require("sidecar.core.isolation_settings").check(path, want, v)
  elseif want == "gate" then
    if v ~= "block" and v ~= "warn" and v ~= "allow" then
      return nil, ("%s: expected \"block\", \"warn\" or \"allow\", got %s"):format(path,
        type(v) == "string" and ("%q"):format(v) or type(v))
    end
    return true
  elseif want == "notify" then
    if type(v) == "string" or v == true then -- true: notify-send
      return true
    end
    local notify_settings = require("sidecar.core.notify_settings")
    if notify_settings.is_channels(v) then -- a list of channels
      return notify_settings.check(path, v)
    end
    if type(v) == "table" and (v.kind ~= nil or v.url ~= nil or v.events ~= nil) then
      return nil, ("%s: one channel written without the list around it: write notify = { { kind = %s, ... } } "
        .. "(a list of channels, even of one)"):format(path, type(v.kind) == "string" and ("%q"):format(v.kind) or "...")
    end
    local ok, why = check_value(path, "list", v)
    return ok, ok == nil and (why .. " (or a string, a command for /bin/sh; or true: notify-send; or a list of "
      .. "channels: docs/notifications.md)") or nil
  elseif want == "otel" then
    return require("sidecar.core.otel_settings").check(path, v)
  elseif want == "patterns" or want == "answers" or want == "on_stuck" then
    return require("sidecar.core.terminal_settings")["check_" .. want](path, v)
  elseif want == "reactions" then
    return require("sidecar.core.reaction_settings").check(path, v)
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
    elseif not name:match("^[%w][%w._-]*$") then
      return nil, ("runners[%q]: a runner's name is letters, digits, '.', '_' and '-', starting with a letter "
        .. "or digit"):format(name)
    end
    for key, v in pairs(entry) do
      local want = RUNNER_KEYS[key]
      local path = ("runners.%s.%s"):format(name, tostring(key))
      if not want then
        return nil, path .. ": unknown setting (known: acp, args, command, describe, dialect, env, network, program, "
          .. "prompt, prompt_patterns)"
      end
      local ok, why = check_value(path, want, v)
      if not ok then
        return nil, why
      end
    end
  end
  return true
end

-- A config returns a table; one still running after this many million Lua instructions is
-- stopped (a loop would otherwise hang every command of the repository).
local MAX_MILLION_INSTRUCTIONS = 100

-- Runs the text of config.lua: its value, or nil and why.
local function evaluate(path, text)
  local chunk, why = load(text, "@" .. path, "t", { os = { getenv = os.getenv } })
  if not chunk then
    return nil, why
  end
  local co = coroutine.create(chunk)
  local budget = MAX_MILLION_INSTRUCTIONS
  debug.sethook(co, function()
    budget = budget - 1
    if budget <= 0 then
      error(("%s: still running after %d million instructions: a config returns a table of settings"):format(path,
        MAX_MILLION_INSTRUCTIONS), 0)
    end
  end, "", 1000000)
  local ok, value = require("sidecar.core.errors").keep_interrupt(coroutine.resume(co))
  if not ok then
    return nil, tostring(value)
  end
  if coroutine.status(co) ~= "dead" then
    return nil, path .. ": must return a table of settings, not yield"
  end
  if type(value) ~= "table" then
    return nil, path .. ": must return a table of settings (return { runner = \"codex\", ... })"
  end
  return value
end

---The repository a `.agent` folder belongs to, and the config's path relative to it (the
---names trust records it under).
---@param root string
---@return string repo, string rel
function M.owner(root)
  root = root:gsub("(.)/+$", "%1")
  local repo, name = root:match("^(.*)/([^/]+)$")
  if not repo then
    repo, name = ".", root
  end
  return repo == "" and "/" or repo, name .. "/" .. M.FILE
end

---`message` (a setting the user asked for was not found), saying why when the config that may
---define it did not run because it is not trusted; else `message` as it is.
---@param cfg table  what load returned
---@param message string
---@return string
function M.untrusted_hint(cfg, message)
  if not (cfg and cfg.untrusted) then
    return message
  end
  return ("%s (untrusted: %s %s, so it did not run and the defaults apply; read it, then run `sidecar trust`)")
    :format(message, cfg.untrusted.path, cfg.untrusted.state == "changed" and "changed since it was trusted"
      or "is not trusted")
end

---The settings from `root`/config.lua over the defaults (the defaults alone when there is no
---file, or when it is not trusted: then `untrusted` = {path, state = "new"|"changed"|"unknown"}
---says so, and the file did not run). Returns nil, message, code ("bad_config") when the file
---cannot be run or is wrong; the message names the file and the setting.
---@param root string  the .agent folder
function M.load(root)
  local path = root .. "/" .. M.FILE
  local given, untrusted = {}, nil
  -- A regular file of at most 1 MiB: a planted FIFO or link to /dev/zero is an error, not a hang.
  local text, unreadable, code = require("sidecar.host.paths").read_code(path)
  if not text and code ~= "ENOENT" then
    return nil, unreadable, "bad_config"
  end
  local f = text ~= nil
  if text then
    local repo, rel = M.owner(root)
    local allowed, state = trust.allows(repo, rel, text)
    if allowed then
      trust_guard.guard(repo) -- what it loads from the repository must be trusted too
      local value, why = evaluate(path, text)
      if not value then
        return nil, why, "bad_config"
      end
      given = value
    else
      untrusted = { path = path, state = state }
    end
  end
  local cfg, why = merge(SCHEMA, given, {}, "")
  if cfg then
    cfg.timeout_ms = duration.parse(cfg.timeout)
    cfg.idle_timeout_ms = duration.parse(cfg.idle_timeout)
    cfg.stuck_after_ms = duration.parse(cfg.stuck_after)
    local log_caps = require("sidecar.core.log_caps")
    cfg.max_log_bytes = log_caps.resolve(cfg.max_log_bytes) -- bytes; 0: no bound
    cfg.worktree.max_untracked_bytes = log_caps.resolve(cfg.worktree.max_untracked_bytes)
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
      -- The project's secret rules apply from here on, to everything redacted or refused.
      local applied, bad = secrets.configure(cfg.secrets)
      if not applied then
        return nil, ("%s: secrets.%s"):format(path, bad), "bad_config"
      end
      cfg.path = (f and not untrusted) and path or nil
      cfg.untrusted = untrusted
      return cfg
    end
  end
  return nil, path .. ": " .. why, "bad_config"
end

return M
