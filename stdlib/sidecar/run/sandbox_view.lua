--- What a run's OS sandbox shows of the file system (stdlib/sidecar/run/sandbox.lua gathers the
--- rest of its plan; stdlib/sidecar/run/sandbox_mounts.lua turns it into bubblewrap's mounts, Landlock
--- its rules): the paths shown again read-only, the writable ones, those kept read-only inside them,
--- and the files of the run's folder the agent writes. Every path through its links.
local files = require("sidecar.core.files")
local git_tree = require("sidecar.host.git_tree")
local mounts = require("sidecar.run.sandbox_mounts")
local paths = require("sidecar.host.paths")
local program = require("sidecar.run.sandbox_program")
local sandbox_host = require("sidecar.run.sandbox_host")

local M = {}

---`p` through its links, or nil (p nil, or nothing there).
function M.real(p)
  return p and (paths.real(p) or nil)
end

local function dirname(p)
  return p:match("^(.*)/[^/]*$") or "/"
end

---Whether path `p` lies in (or is) one of the folders of `list`.
function M.within(p, list)
  for _, d in ipairs(p and list or {}) do
    if p == d or (p:byte(#d + 1) == 47 and p:find(d, 1, true) == 1) then -- 47: "/"; no string made
      return true
    end
  end
  return false
end

-- PATH's folders, each through its links (`real`: M.real, or a plan's memo of it).
local function path_dirs(real)
  local dirs = {}
  for dir in (os.getenv("PATH") or ""):gmatch("[^:]+") do
    dirs[#dirs + 1] = real(dir)
  end
  return dirs
end

-- M.real remembered for one plan: a path, and what it leads to, resolved once (a plan names the
-- same folders many times, and each resolution reads every link on the way).
local function real_once()
  local known = {}
  return function(p)
    if p and known[p] == nil then
      local r = M.real(p)
      known[p] = r or false
      if r then
        known[r] = r
      end
    end
    return p and known[p] or nil
  end
end

---The folders to show again read-only: the repository, the store, Sidecar and the agent's
---program (and PATH's folders) where they live in a folder the sandbox makes private. Sidecar's
---binary and the program's files right in such a folder (/tmp/sidecar) come as files: the folder
---itself is never shown whole.
function M.read(o, settings, home_plan)
  local real = real_once()
  local private = mounts.private(false)
  private[#private + 1] = home_plan.hidden and real(o.home) or nil
  local roots = {}
  for _, p in ipairs(private) do
    roots[p] = true
  end
  local function file_of(f)
    return f and roots[dirname(f)] and f or nil
  end
  local exe = paths.real(require("sidecar.core.proc").executable()) or "/"
  local init = sandbox_host.init_command()[1] -- sidecar-sandbox-init beside it, where it is
  local list = { o.repo_top, o.store_root, o.run_dir, dirname(exe) }
  list[#list + 1] = file_of(exe)
  list[#list + 1] = init ~= exe and file_of(init) or nil
  if not home_plan.hidden then
    list[#list + 1] = o.home
  end
  table.move(home_plan.read, 1, #home_plan.read, #list + 1, list)
  -- The program, with the package it lives in (an npm CLI's binary is in a sibling package) and
  -- its `#!` interpreter's (sidecar.run.sandbox_program).
  local shown = program.folders(o.program)
  table.move(shown, 1, #shown, #list + 1, list)
  list[#list + 1] = file_of(o.program and o.program.real)
  list[#list + 1] = file_of(o.program and o.program.interpreter and o.program.interpreter.real)
  for i = 2, #o.argv do -- the command's own files (`sh /tmp/agent.sh`): the config named them
    local a = o.argv[i]
    if a:find("/", 1, true) and not a:find("^%-") and paths.lstat(a) then
      list[#list + 1] = dirname(real(a) or a)
    end
  end
  local dirs = path_dirs(real)
  table.move(dirs, 1, #dirs, #list + 1, list)
  -- What PATH's programs lead to where a PATH folder is replaced (an npm prefix under /tmp).
  local links = program.path_folders(dirs, function(dir) return M.within(dir, private) end)
  table.move(links, 1, #links, #list + 1, list)
  for _, p in ipairs(settings.read) do
    list[#list + 1] = real((p:gsub("^~", o.home or "~")))
  end
  local out = {}
  for _, p in ipairs(list) do
    out[#out + 1] = real(p)
  end
  return out
end

---Lists, before a preset's pool forks its workers, the PATH folders a sandbox may replace (the
---private folders and the home), so that each worker's M.read lists again only those that changed
---since (sidecar.run.sandbox_program.path_folders).
---@param home string|nil
function M.warm_path(home)
  local private = mounts.private(false)
  private[#private + 1] = M.real(home)
  program.path_folders(path_dirs(M.real), function(dir) return M.within(dir, private) end)
end

---What the agent may write, and what stays read-only within it (write, protect, outputs). o.level:
---the run's sandbox.
function M.write(o, settings)
  local write, protect, outputs = {}, {}, {}
  if o.level ~= "read-only" then
    if o.worktree then
      write[#write + 1] = M.real(o.worktree.path)
      local admin = M.real(git_tree.admin_dir(o.worktree.path))
      if admin then
        write[#write + 1] = admin
        protect[#protect + 1] = M.real(admin .. "/commondir")
        protect[#protect + 1] = M.real(admin .. "/gitdir")
      end
      protect[#protect + 1] = M.real(o.worktree.path .. "/.git")
    else
      write[#write + 1] = M.real(o.cwd)
      protect[#protect + 1] = M.real(o.repo_top and (o.repo_top .. "/.git") or nil)
    end
  end
  protect[#protect + 1] = M.real(o.store_root) -- in place, the store lies in the writable repository
  for _, p in ipairs(o.cli_state and o.cli_state.keep or {}) do
    protect[#protect + 1] = p -- the user's own login and config, shown in the run's state folder
  end
  for _, p in ipairs(settings.write) do
    write[#write + 1] = M.real(p:gsub("^~", o.home or "~"))
  end
  for _, f in ipairs(o.outputs or {}) do
    if not files.exists(f) then
      local h = io.open(f, "ab")
      if h then
        h:close()
      end
    end
    outputs[#outputs + 1] = M.real(f)
  end
  return write, protect, outputs
end

return M
