--- What `reactions = {...}` in .agent/config.lua may say (sidecar.core.config checks it here; what
--- the reactions do is stdlib/sidecar/task/reactions.lua). Kept in core: the config, at the bottom
--- layer, must not reach up into task.
local M = {}

---The events a reaction may name, and the actions each takes.
M.EVENTS = { validation_failed = { fix = true, none = true }, blocked = { escalate = true, notify = true, none = true },
  stuck = { notify = true, none = true } }

local sorted_keys = require("sidecar.core.option_keys").known

local function shown(v)
  return type(v) == "string" and ("%q"):format(v) or type(v)
end

---Checks the config's `reactions` table. Returns true, or nil and a message naming the path.
---@param path string  "reactions" (where the table sits, for messages)
---@param v any
function M.check(path, v)
  if type(v) ~= "table" then
    return nil, ("%s: expected a table such as { validation_failed = { action = \"fix\", retries = 2 } }, got %s")
      :format(path, type(v))
  end
  for event, r in pairs(v) do
    local actions = M.EVENTS[event]
    local where = path .. "." .. tostring(event)
    if not actions then
      return nil, ("%s: unknown event (known: %s)"):format(where, sorted_keys(M.EVENTS))
    elseif type(r) ~= "table" then
      return nil, ("%s: expected a table { action = ... }, got %s"):format(where, type(r))
    end
    for key in pairs(r) do
      if key ~= "action" and not (key == "retries" and event == "validation_failed") then
        return nil, ("%s.%s: unknown setting (known: %s)"):format(where, tostring(key),
          event == "validation_failed" and "action, retries" or "action")
      end
    end
    if not actions[r.action] then
      return nil, ("%s.action: expected one of %s, got %s"):format(where, sorted_keys(actions), shown(r.action))
    end
    if r.retries ~= nil and (math.type(r.retries) ~= "integer" or r.retries < 0) then
      return nil, ("%s.retries: expected a whole number 0 or more, got %s"):format(where, tostring(r.retries))
    end
  end
  return true
end

return M
