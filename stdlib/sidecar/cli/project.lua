--- `sidecar init` and `sidecar capabilities`.
local config = require("sidecar.core.config")
local json = require("sidecar.core.json")
local out = require("sidecar.cli.output")
local runners = require("sidecar.agent.runners")
local store = require("sidecar.core.store")

local M = {}

-- The contract version of the JSON envelope and records; raised when they change incompatibly.
M.CONTRACT_VERSION = "1.0"

M.FEATURES = {
  "tasks", "task-packets-1.0", "runs", "dry-run", "pipelines", "replay", "same-prompt-replay", "edit-prompt",
  "validation-kinds", "auto-approve", "review", "decision-md", "queue", "start-ready", "background-runs",
  "sessions", "usage", "store-check", "store-rebuild", "prepare", "doctor", "model-server", "json-envelope",
  "lua-scripts", "repl", "redaction", "secret-rules", "gates", "push-block", "worktrees", "run-apply",
  "worker-reconcile", "trust", "log-caps", "run-owners", "escapees",
  "record-revisions",
}

-- `name` in the .agent folder `dir` (a host.artifact handle): its text, nil when absent, or
-- nil, why when it cannot be read as a plain file (a link, a FIFO: a cloned repository may
-- plant either).
local function read_own(dir, name)
  local text, why, code = dir:read(name)
  if text or code == "ENOENT" then
    return text
  end
  return nil, why
end

-- The .gitignore of `dir` with `line` added unless a line already says it: the new text, or nil
-- when nothing is to be added; nil, why when it cannot be read.
local function ignored(dir, line)
  local text, why = read_own(dir, ".gitignore")
  if why then
    return nil, why
  end
  text = text or ""
  for l in (text .. "\n"):gmatch("([^\n]*)\n") do
    if l == line or l == "/" .. line or l == line .. "/" or l == "/" .. line .. "/" then
      return nil
    end
  end
  return text .. ((text ~= "" and text:sub(-1) ~= "\n") and "\n" or "") .. line .. "\n"
end

local function init_failed(o, message)
  if o.json then
    out.envelope("init", false, json.null, { message }, o.version)
  else
    out.error("init", message)
  end
  return 1
end

---`sidecar init`: the store, config.lua with the defaults, and `.agent/.gitignore` ("*").
---Files are written through the store's folder handle (host.artifact): atomically, and never
---through a symbolic link, so a cloned repository's `.agent/.gitignore -> ~/.bashrc` is refused,
---not appended to.
function M.init(o)
  local root = o.root -- "./.agent" unless given (cli/project_command.cpp)
  local fresh = not require("sidecar.core.files").exists(root .. "/.") -- the store makes it ignore itself
  local s, message = store.open(root, { create = true })
  if not s then
    return init_failed(o, message)
  end
  s:close()
  local dir <close>, why = require("sidecar.host.artifact").open(root, false)
  if not dir then
    return init_failed(o, why)
  end
  local cfg_path = root .. "/" .. config.FILE
  local present, unreadable = read_own(dir, config.FILE)
  if unreadable and not o.force then
    return init_failed(o, unreadable .. " (remove it, or run `sidecar init --force` to replace it)")
  end
  -- The folder ignores itself (its own .gitignore says "*"): git never sees the store, and the
  -- repository's .gitignore stays the user's. Read before anything is written.
  local gitignore, bad = ignored(dir, "*")
  if bad then
    return init_failed(o, bad)
  end
  local wrote_config = false
  if o.force or not present then
    local ok, bad = dir:write(config.FILE, config.TEMPLATE)
    if not ok then
      return init_failed(o, bad)
    end
    wrote_config = true
    -- Sidecar wrote this file itself: it runs without `sidecar trust` (until someone edits it);
    -- not inside a run, where an agent may run `init` (nothing is trusted from there).
    local repo, rel = config.owner(root)
    local trust = require("sidecar.core.trust")
    local recorded, record_why = false, trust.inside_run()
    if record_why then
      record_why = trust.refusal_inside_run(record_why, "trusting it")
    else
      recorded, record_why = trust.record(repo, rel, config.TEMPLATE)
    end
    if not recorded then
      out.error("init", ("could not record %s as trusted (%s); run `sidecar trust` once you have read it")
        :format(cfg_path, record_why))
    end
  end
  if gitignore then
    local ok, write_why = dir:write(".gitignore", gitignore)
    if not ok then
      return init_failed(o, write_why)
    end
  end
  local added = gitignore ~= nil or fresh
  if o.json then
    out.envelope("init", true, { root = root, config = cfg_path, config_written = wrote_config,
      gitignore_added = added }, nil, o.version)
  else
    print(("initialised %s: %s%s"):format(root, wrote_config and ("wrote " .. cfg_path) or (cfg_path .. " kept"),
      added and (", and " .. root .. "/.gitignore so git ignores the folder") or ""))
  end
  return 0
end

---`sidecar capabilities`
function M.capabilities(o)
  local data = { contract_version = M.CONTRACT_VERSION, sidecar_version = o.version,
    features = json.array(M.FEATURES), runners = json.array(runners.names()),
    validation_kinds = json.array(require("sidecar.task.validation").KINDS),
    run_statuses = json.array({ table.unpack(store.RUN_STATUSES) }),
    task_statuses = json.array(require("sidecar.task.packet").STATUSES) }
  if o.json then
    out.envelope("capabilities", true, data, nil, o.version)
  else
    print(("sidecar %s, contract %s"):format(o.version, M.CONTRACT_VERSION))
    print("features: " .. table.concat(M.FEATURES, ", "))
    print("runners: " .. table.concat(runners.names(), ", "))
  end
  return 0
end

return M
