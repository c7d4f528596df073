--- The `.agent` folder a request works on, and opening its store: what every service function
--- that reads the store does first (the command line's `--root`, the UI's and MCP's own root).
---
---   local s, message = service_store.open(o)        -- nil and a message for people
---   local s, cfg = service_store.open_runs(o)       -- with the run machinery's config; nil, message
---   return service_store.with_runs(o, function(s, cfg) ... return result.ok(data) end)
local store = require("sidecar.core.store")

local M = {}

---The `.agent` folder a request works on: o.root, else the nearest one in or above the current
---folder.
function M.root(o)
  return o.root or store.find_root(".")
end

---A store-opening failure for people: a missing store gets the way out.
function M.hint(o, message)
  if message:find("^no Sidecar store at") then
    message = message .. " (run `sidecar init` in the repository first" ..
        (o.root and "" or "; looked in the current folder and those above it") .. ")"
  end
  return message
end

---Loads the config of the nearest `.agent` (or o.root), so that its secret rules apply to what
---the request refuses, writes and answers. Returns true (also when there is no `.agent`), or nil
---and the message of a bad config.
function M.apply_config(o)
  local root = M.root(o)
  if not root then
    return true
  end
  local cfg, message = require("sidecar.core.config").load(root)
  if not cfg then
    return nil, message
  end
  return true
end

---Opens the store of the nearest `.agent` (or o.root), its config applied. Returns it, or nil
---and the message.
function M.open(o)
  local s, message = store.open(M.root(o))
  if not s then
    return nil, M.hint(o, message)
  end
  local applied, why = M.apply_config(o)
  if not applied then
    s:close()
    return nil, why
  end
  return s
end

---The store and config for a run request (sidecar.task.runs.open), or nil and the message.
function M.open_runs(o)
  local s, cfg = require("sidecar.task.runs").open(M.root(o))
  if not s then
    return nil, M.hint(o, cfg)
  end
  return s, cfg
end

---Calls fn(s, cfg) -> result with the run store of `o` open (M.open_runs), and closes it whatever
---happens; a store that cannot be opened is a failed result (sidecar.service.result).
---@param o table
---@param fn fun(s: table, cfg: table): table
function M.with_runs(o, fn)
  local s, cfg = M.open_runs(o)
  if not s then
    return require("sidecar.service.result").fail(cfg)
  end
  local ok, r = pcall(fn, s, cfg)
  s:close()
  if not ok then
    error(r, 0)
  end
  return r
end

return M
