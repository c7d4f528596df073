--- A sandbox's private folder (the proxy's socket, copies of the user's state and of git config
--- files that hold credentials; a Landlock sandbox's private home and temporary folder): made named
--- after its run and after who made it, removed when the sandbox ends, and swept when its owner was
--- killed (SIGKILL leaves no time for the sandbox's end). Where it is made: M.base.
---
---   local dir, why = sandbox_folder.make("R-0003", true) -- /dev/shm/sidecar-sandbox-R-0003-1a2b3c4d-by-PID-START
---   sandbox_folder.remove(dir)
---   sandbox_folder.sweep_once()                 -- the folders of killed owners, once a process
local errors = require("sidecar.core.errors")
local files = require("sidecar.core.files")
local host = require("sidecar.host.sandbox")
local ids = require("sidecar.core.ids")
local mounts = require("sidecar.run.sandbox_mounts")
local paths = require("sidecar.host.paths")
local processes = require("sidecar.run.processes")
local view = require("sidecar.run.sandbox_view")

local M = {}

local OLD_OWNER_FILE = "owner" -- who made a private folder, before its name said (M.sweep)

-- `dir` ($XDG_RUNTIME_DIR) when it is what the XDG Base Directory spec says it is, on a file system
-- held in memory as /run/user/UID is: absolute, a folder of this user's alone (0700), and in a
-- folder no sandbox shows.
local function runtime_dir(dir)
  -- in a folder every bubblewrap sandbox replaces with a tmpfs of its own: no agent sees what another
  -- run's sandbox keeps there
  local private = type(dir) == "string" and dir:sub(1, 1) == "/" and view.within(dir, mounts.PRIVATE)
  local st = private and paths.lstat(dir)
  if st and st.kind == "directory" and st.uid == host.uid() and st.mode & 63 == 0 and paths.in_memory(dir) then
    return dir
  end
end

-- /dev/shm as every Linux system has it: a tmpfs any user may make folders in, sticky as /tmp is
-- (a user removes only what is theirs).
local function shared_memory()
  local st = paths.lstat("/dev/shm")
  if st and st.kind == "directory" and st.mode & 512 ~= 0 and paths.in_memory("/dev/shm") then
    return "/dev/shm"
  end
end

---The folder on a file system held in memory that private folders go to, given $XDG_RUNTIME_DIR
---(`runtime`): it, when it is the user's own in memory, in a folder every sandbox makes private
---(/run/user/UID); else /dev/shm; else /tmp (M.base).
---@param runtime string|nil
---@return string
function M.memory_base(runtime)
  return runtime_dir(runtime) or shared_memory() or "/tmp"
end

local memory_base -- this process's: found once

---Where a sandbox's private folder is made. `memory` (a folder that holds only Sidecar's own small
---files: a bubblewrap sandbox's proxy socket and copies of credentials and CLI state): on a file
---system held in memory, so that nothing of them is written to a disk and making and removing one
---costs no disk's inodes (docs/scale.md): the user's $XDG_RUNTIME_DIR when it is one, else /dev/shm,
---else /tmp. Otherwise (a Landlock sandbox's, which holds the agent's private home and temporary
---files: memory with no bound there) /tmp.
---@param memory boolean
---@return string
function M.base(memory)
  if not memory then
    return "/tmp"
  end
  memory_base = memory_base or M.memory_base(os.getenv("XDG_RUNTIME_DIR"))
  return memory_base
end

---The longest path of a private folder: the proxy's socket in it must fit a socket's address (108
---bytes with its end).
M.MAX_PATH = 90

---Makes a sandbox's private folder in M.base(memory), named after the run (`name`) and after who
---made it ("-by-PID-START" of this process), so that M.sweep can tell a folder whose owner was
---killed from one in use without a file to write and read (a file made costs; docs/scale.md).
---When it cannot be made in memory (or its path there would be longer than M.MAX_PATH), it is
---made in /tmp. Returns its path, or nil and why.
---@param name string|nil
---@param memory? boolean
---@return string|nil dir, string? why
function M.make(name, memory)
  local me = processes.host.self()
  local by = me and ("-by-%d-%d"):format(me.pid, me.start) or ""
  local leaf = ("sidecar-sandbox-%s-%s%s"):format(name or "run", ids.uuid():sub(1, 8), by)
  local base = M.base(memory)
  local made, why = false, nil
  if #base + 1 + #leaf <= M.MAX_PATH then
    made, why = paths.make_dirs(base .. "/" .. leaf)
  end
  if not made and base ~= "/tmp" then
    base = "/tmp"
    made, why = paths.make_dirs(base .. "/" .. leaf)
  end
  if not made then
    return nil, "cannot make the sandbox's private folder: " .. tostring(why)
  end
  return base .. "/" .. leaf
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

-- The folders private folders may be in (M.base): where this process makes them, and where one of
-- another environment (another $XDG_RUNTIME_DIR, none) or an older Sidecar made them.
local function bases()
  local list, seen = {}, {}
  for _, dir in ipairs({ runtime_dir(os.getenv("XDG_RUNTIME_DIR")) or false, shared_memory() or false, "/tmp" }) do
    if dir and not seen[dir] then
      seen[dir], list[#list + 1] = true, dir
    end
  end
  return list
end

---Removes the private folders (sidecar-sandbox-* in each folder M.base may give) of sandboxes whose
---owner is gone: a run's owner killed with SIGKILL never reaches finish. Only this user's folders,
---only the files a sandbox puts there. Returns how many were removed.
---@param tmp? string  the one folder to look in (default: every one M.base may give)
---@return integer
function M.sweep(tmp)
  if not tmp then
    local removed = 0
    for _, dir in ipairs(bases()) do
      removed = removed + M.sweep(dir)
    end
    return removed
  end
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
