--- Where Sidecar keeps the lock files its processes share on this machine: the user's runtime folder
--- (`$XDG_RUNTIME_DIR/sidecar/NAME`: private, and gone at logout; where the variable is not set, as
--- under cron or a systemd unit, the login's own `/run/user/<uid>` when it is there and the user's,
--- so that those processes count with the session's), else the state folder
--- (`$XDG_STATE_HOME/sidecar/NAME`, or ~/.local/state/sidecar/NAME). Never in a repository or a
--- store, which an agent may read, and so could lock (flock needs only a read).
---
---   local dir = user_locks.dir("agent-slots")   -- nil, why when there is neither folder
local paths = require("sidecar.host.paths")

local M = {}

-- Whether `path` is not a link, nor a folder another user owns or may write into (a file there is
-- no folder to use, which opening it says).
local function own_or_none(path, uid)
  local st = paths.lstat(path)
  if st == nil or (st.kind ~= "directory" and st.kind ~= "symlink") then
    return true
  end
  return st.kind == "directory" and st.uid == uid and st.mode & 18 == 0 -- 18: 0o022
end

-- Why the folders `list` (on the way to a lock folder, the last) must not be used: one is a link,
-- or another user's, or open to others (a `sudo -E` run given another user's runtime or state
-- folder, where that user could plant links to have root make files anywhere); nil when they may.
local function unsafe(list, uid)
  for _, p in ipairs(list) do
    if not own_or_none(p, uid) then
      return ("%s is not a folder of yours alone (a link, another user's, or open to others), so Sidecar "
        .. "keeps no lock there"):format(p)
    end
  end
  return nil
end

---@param name string  the folder's name under sidecar/
---@return string|nil dir, string? why
function M.dir(name)
  local uid = require("sidecar.host.sandbox").uid()
  local runtime = os.getenv("XDG_RUNTIME_DIR")
  if runtime and runtime:sub(1, 1) == "/" then
    local dir = runtime .. "/sidecar/" .. name
    local why = unsafe({ runtime, runtime .. "/sidecar", dir }, uid)
    if why then
      return nil, why
    end
    return dir
  end
  local login = ("/run/user/%d"):format(uid)
  local st = paths.lstat(login)
  if st and st.kind == "directory" and st.uid == uid and st.mode & 0x3f == 0 then -- the user's alone (0700)
    local dir = login .. "/sidecar/" .. name
    local why = unsafe({ login .. "/sidecar", dir }, uid)
    if why then
      return nil, why
    end
    return dir
  end
  local state, why = paths.state_dir()
  why = state and unsafe({ state, state .. "/" .. name }, uid) or why
  if why then
    return nil, why
  end
  return state .. "/" .. name
end

return M
