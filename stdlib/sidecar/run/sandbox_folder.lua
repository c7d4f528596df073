--- A sandbox's private folder in /tmp (the proxy's socket, copies of the user's state and of git
--- config files that hold credentials; a Landlock sandbox's private home and temporary folder):
--- made named after its run and after who made it, removed when the sandbox ends, and swept when
--- its owner was killed (SIGKILL leaves no time for the sandbox's end).
---
---   local dir, why = sandbox_folder.make("R-0003")   -- /tmp/sidecar-sandbox-R-0003-1a2b3c4d-by-PID-START
---   sandbox_folder.remove(dir)
---   sandbox_folder.sweep_once()                      -- the folders of killed owners, once a process
local errors = require("sidecar.core.errors")
local files = require("sidecar.core.files")
local host = require("sidecar.host.sandbox")
local ids = require("sidecar.core.ids")
local paths = require("sidecar.host.paths")
local processes = require("sidecar.run.processes")

local M = {}

local OLD_OWNER_FILE = "owner" -- who made a private folder, before its name said (M.sweep)

---Makes a sandbox's private folder, named after the run (`name`) and after who made it
---("-by-PID-START" of this process), so that M.sweep can tell a folder whose owner was killed from
---one in use without a file to write and read (a file made costs; docs/scale.md). Returns its
---path, or nil and why.
---@param name string|nil
---@return string|nil dir, string? why
function M.make(name)
  local me = processes.host.self()
  local by = me and ("-by-%d-%d"):format(me.pid, me.start) or ""
  local dir = ("/tmp/sidecar-sandbox-%s-%s%s"):format(name or "run", ids.uuid():sub(1, 8), by)
  local made, why = paths.make_dirs(dir)
  if not made then
    return nil, "cannot make the sandbox's private folder: " .. tostring(why)
  end
  return dir
end

---Removes a sandbox's private folder (links there are removed, never followed). Whether it went.
---@param dir string
---@return boolean
function M.remove(dir)
  return paths.remove_tree(dir) == true
end

-- Who made a private folder: from its name, or from the owner file an older Sidecar wrote in it.
-- nil when neither says.
local function owner_of(dir, name)
  local pid, start = name:match("%-by%-(%d+)%-(%d+)$")
  if not pid then
    pid, start = (files.read(dir .. "/" .. OLD_OWNER_FILE) or ""):match("^(%d+) (%d+)")
  end
  return math.tointeger(tonumber(pid)), math.tointeger(tonumber(start))
end

---Removes the private folders (/tmp/sidecar-sandbox-*) of sandboxes whose owner is gone: a run's
---owner killed with SIGKILL never reaches finish. Only this user's folders, only the files a
---sandbox puts there. Returns how many were removed.
---@param tmp? string  the folder holding them (default /tmp)
---@return integer
function M.sweep(tmp)
  tmp = tmp or "/tmp"
  local removed, uid = 0, host.uid()
  for _, name in ipairs(paths.entries(tmp) or {}) do
    local dir = tmp .. "/" .. name
    local st = name:find("^sidecar%-sandbox%-") and paths.lstat(dir)
    if st and st.kind == "directory" and st.uid == uid then
      local pid, start = owner_of(dir, name)
      local alive = pid and processes.same(pid, start)
      -- a folder that names no owner is an older Sidecar's being made right now, or an even older
      -- one's: left alone unless it is older than an hour
      local stale = pid and not alive or (not pid and st.mtime_ns < (os.time() - 3600) * 1000000000)
      if stale then
        removed = removed + (M.remove(dir) and 1 or 0)
      end
    end
  end
  return removed
end

-- Whether this process has swept the folders of killed owners yet: once, at its first sandbox, so a
-- folder left by an owner whose run was settled elsewhere goes too (reconciliation sweeps only
-- when it ends a run).
local swept = false

---Sweeps the folders of killed owners (M.sweep) once in this process: at its first sandbox, or
---before a preset starts its pool of workers, which is then told it was done (`done`: sweeps
---nothing, and no sandbox of this process, or of a worker it forks, sweeps again).
---@param done? boolean
function M.sweep_once(done)
  if not swept then
    swept = true
    if not done then
      errors.keep_interrupt(pcall(M.sweep))
    end
  end
end

return M
