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

---@param name string  the folder's name under sidecar/
---@return string|nil dir, string? why
function M.dir(name)
  local runtime = os.getenv("XDG_RUNTIME_DIR")
  if runtime and runtime:sub(1, 1) == "/" then
    return runtime .. "/sidecar/" .. name
  end
  local uid = require("sidecar.host.sandbox").uid()
  local login = ("/run/user/%d"):format(uid)
  local st = paths.lstat(login)
  if st and st.kind == "directory" and st.uid == uid and st.mode & 0x3f == 0 then -- the user's alone (0700)
    return login .. "/sidecar/" .. name
  end
  local state, why = paths.state_dir()
  return state and (state .. "/" .. name) or nil, why
end

return M
