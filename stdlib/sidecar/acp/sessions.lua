--- The sessions of `sidecar acp`, one file each in the store: `.agent/acp/sessions/S-….json`, {sessionId, cwd,
--- title (the first prompt's first line), created_at, updated_at, turns = {{prompt, runs (their
--- ids), task_id?, text (the answer), stop_reason}}}. A session is the tasks and runs its prompts
--- made: `session/list` lists these files and `session/load` replays one. The server is their one
--- writer; a file that is not a session (edited by hand, cut short) is passed over.
---
---   local s = sessions.new(root, "/repo")        -- {sessionId = "S-…", cwd, turns = {}}
---   sessions.add_turn(s, turn)                    -- written at once
---   for _, info in ipairs(sessions.list(root)) do ... end  -- newest first
local artifact = require("sidecar.core.artifact")
local ids = require("sidecar.core.ids")
local json = require("sidecar.core.json")
local store = require("sidecar.core.store")
local text = require("sidecar.core.text")

local M = {}

local DIR = "acp/sessions"
M.TITLE_BYTES = 120
M.MAX_TURNS = 1000 -- of one session, what its file keeps (the oldest go first)

local function valid_id(id)
  return type(id) == "string" and id:match("^S%-[%x]+$") ~= nil
end

---Whether `id` names a session's file (S- and hex): anything else is never a path.
M.valid_id = valid_id

local function save(root, session)
  local dir, why = artifact.open(root .. "/" .. DIR, { create = true })
  if not dir then
    return nil, why
  end
  local ok
  ok, why = dir:write_json(session.sessionId .. ".json", session)
  dir:close()
  return ok, why
end

---A new session in `cwd`, not yet written (its first turn writes it).
---@param root string  the store's `.agent` folder
---@param cwd string
---@return table
function M.new(root, cwd)
  local now = store.now()
  return { sessionId = "S-" .. ids.uuid():gsub("-", ""):sub(1, 16), cwd = cwd, root = root, turns = {},
    created_at = now, updated_at = now }
end

---Records a turn's end in the session and writes its file. True, or nil and why.
---@param session table
---@param turn {prompt: string, runs: string[], task_id: string?, text: string?, stop_reason: string}
function M.add_turn(session, turn)
  if #session.turns == 0 then
    local first = (turn.prompt:match("[^\n]*%S[^\n]*") or turn.prompt):gsub("^%s+", "")
    session.title = text.clip(first, M.TITLE_BYTES)
  end
  session.turns[#session.turns + 1] = turn
  if #session.turns > M.MAX_TURNS then
    table.remove(session.turns, 1)
  end
  session.updated_at = store.now()
  local record = {}
  for k, v in pairs(session) do
    if k ~= "root" then
      record[k] = v
    end
  end
  record.turns = json.array(session.turns)
  return save(session.root, record)
end

---The session `id` of the store at `root`, or nil and why.
---@param root string
---@param id string
function M.get(root, id)
  if not valid_id(id) then
    return nil, ("%s is not a session id (Sidecar's look like S-0a1b2c3d4e5f6a7b)"):format(json.encode(id))
  end
  local dir = artifact.open(root .. "/" .. DIR)
  local s = dir and dir:read_json(id .. ".json")
  if dir then
    dir:close()
  end
  if type(s) ~= "table" or s.sessionId ~= id or type(s.turns) ~= "table" then
    return nil, ("no session %s in %s"):format(id, root)
  end
  s.root = root
  return s
end

---The sessions of the store at `root` (in `cwd` only, when given), newest first: {sessionId, cwd,
---title, updatedAt} each.
---@param root string
---@param cwd? string
---@return table[]
function M.list(root, cwd)
  local dir = artifact.open(root .. "/" .. DIR)
  if not dir then
    return {}
  end
  local out = {}
  for _, name in ipairs(dir:list("S-*.json") or {}) do
    local s = dir:read_json(name)
    if type(s) == "table" and valid_id(s.sessionId) and name == s.sessionId .. ".json" and type(s.cwd) == "string"
        and (cwd == nil or s.cwd == cwd) then
      out[#out + 1] = { sessionId = s.sessionId, cwd = s.cwd, title = type(s.title) == "string" and s.title or nil,
        updatedAt = type(s.updated_at) == "string" and s.updated_at or nil }
    end
  end
  dir:close()
  table.sort(out, function(a, b)
    if (a.updatedAt or "") ~= (b.updatedAt or "") then
      return (a.updatedAt or "") > (b.updatedAt or "")
    end
    return a.sessionId < b.sessionId
  end)
  return out
end

return M
