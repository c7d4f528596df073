--- `sidecar init` and `sidecar capabilities`.
local config = require("config")
local json = require("json")
local out = require("cli_output")
local runners = require("runners")
local store = require("store")

local M = {}

-- The contract version of the JSON envelope and records; raised when they change incompatibly.
M.CONTRACT_VERSION = "1.0"

M.FEATURES = {
  "tasks", "task-packets-1.0", "runs", "dry-run", "pipelines", "replay", "same-prompt-replay", "edit-prompt",
  "validation-kinds", "auto-approve", "review", "decision-md", "queue", "start-ready", "background-runs",
  "sessions", "usage", "store-check", "store-rebuild", "prepare", "doctor", "model-server", "json-envelope",
  "lua-scripts", "repl", "redaction", "secret-rules", "gates", "push-block", "worktrees", "run-apply",
  "worker-reconcile",
}

local function exists(path)
  local f = io.open(path, "rb")
  if f then
    f:close()
    return true
  end
  return false
end

-- Adds `line` to a .gitignore unless a line already says it; true when it was added.
local function ignore(gitignore, line)
  local f = io.open(gitignore, "rb")
  local text = f and f:read("a") or ""
  if f then
    f:close()
  end
  for l in (text .. "\n"):gmatch("([^\n]*)\n") do
    if l == line or l == "/" .. line or l == line .. "/" or l == "/" .. line .. "/" then
      return false
    end
  end
  local a = assert(io.open(gitignore, "ab"))
  a:write((text ~= "" and text:sub(-1) ~= "\n") and "\n" or "", line, "\n")
  a:close()
  return true
end

---`sidecar init`: the store, config.lua with the defaults, and `.agent/.gitignore` ("*").
function M.init(o)
  local root = o.root or "./.agent"
  local s, message = store.open(root, { create = true })
  if not s then
    if o.json then
      out.envelope("init", false, json.null, { message }, o.version)
    else
      out.error("init", message)
    end
    return 1
  end
  s:close()
  local cfg_path = root .. "/" .. config.FILE
  local wrote_config = false
  if o.force or not exists(cfg_path) then
    local f = assert(io.open(cfg_path, "wb"))
    f:write(config.TEMPLATE)
    f:close()
    wrote_config = true
  end
  -- The folder ignores itself (its own .gitignore says "*"): git never sees the store, and the
  -- repository's .gitignore stays the user's.
  local ignored = ignore(root .. "/.gitignore", "*")
  if o.json then
    out.envelope("init", true, { root = root, config = cfg_path, config_written = wrote_config,
      gitignore_added = ignored }, nil, o.version)
  else
    print(("initialised %s: %s%s"):format(root, wrote_config and ("wrote " .. cfg_path) or (cfg_path .. " kept"),
      ignored and (", and " .. root .. "/.gitignore so git ignores the folder") or ""))
  end
  return 0
end

---`sidecar capabilities`
function M.capabilities(o)
  local data = { contract_version = M.CONTRACT_VERSION, sidecar_version = o.version,
    features = json.array(M.FEATURES), runners = json.array(runners.names()),
    validation_kinds = json.array(require("validation").KINDS),
    run_statuses = json.array({ "queued", "running", "review", "blocked", "completed", "failed", "outcome_unknown",
      "interrupted", "dry_run" }),
    task_statuses = json.array(require("task_packet").STATUSES) }
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
