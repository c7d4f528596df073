--- The bubblewrap command line of a run's sandbox: what the agent sees of the file system, its
--- namespaces and its first process. Pure: it builds a list of arguments from a plan, runs nothing
--- (stdlib/sidecar/run/sandbox.lua gathers the plan and starts it).
---
---   local args = sandbox_mounts.args(plan)   -- {"--unshare-all", ..., "--chdir", cwd}
---
--- The view, in the order bwrap makes it (a later mount covers an earlier one):
---   1. every file read-only (`--ro-bind / /`), a device folder and a /proc of the sandbox's own;
---   2. /tmp, /run (and /var/run, /dev/shm) private and empty: the host's sockets there (ssh-agent,
---      tmux, D-Bus, X11, docker) cannot be reached, nor other runs' files; the home (`plan.home`)
---      too, unless the run shows it whole (stdlib/sidecar/run/sandbox_home.lua);
---   3. the paths of `plan.read` under those folders made visible again, read-only (the
---      repository, the store, the agent's program when they live in /tmp);
---   4. `plan.write` writable (the run's worktree and its git folder, the files the agent writes
---      into the run's folder), and `plan.binds` writable in place of another path (the CLI's state:
---      a folder of the run's over the user's, stdlib/sidecar/run/sandbox_state.lua);
---   5. `plan.hide_dirs` replaced by an empty read-only folder, `plan.hide_files` by /dev/null
---      (secret files: ~/.ssh, .env*, cloud credentials);
---   6. `plan.protect` read-only again inside a writable path (the user's own login and config
---      files shown in a CLI's state folder; the store and `.git` of a run that writes in place);
---   7. `plan.outputs` writable: the files of the run's folder the agent writes (codex's last
---      message, the push log, hook events), each one file;
---   8. the proxy's socket, for network = "model" and "full".
--- Namespaces: all of them (user, pid, ipc, uts, cgroup, mount) and the network unless
--- network = "host"; every capability dropped; the sandbox dies with the process that started it.
--- Root is mapped to another user id inside (`plan.uid`): a root with no capabilities could not
--- map itself again, and the CLIs' own sandboxes (codex's bubblewrap) need a user namespace of
--- their own.
local M = {}

---The folders every sandbox replaces with an empty one of its own.
M.PRIVATE = { "/tmp", "/var/tmp", "/run", "/dev/shm" }
---Where the proxy's socket appears inside.
M.SOCKET_INSIDE = "/run/sidecar/proxy.sock"

-- Whether `path` is `dir` or lies in it; no string made (a plan asks it of every pair of paths it weighs).
local function under(path, dir)
  return path == dir or dir == "/" or (path:byte(#dir + 1) == 47 and path:find(dir, 1, true) == 1) -- 47: "/"
end

-- Whether `path` lies in (or is) one of the folders of `dirs`: of the private ones, a path the
-- sandbox replaces (and so needs a mount of its own to be seen).
local function in_any(path, dirs)
  for _, dir in ipairs(dirs) do
    if under(path, dir) then
      return true
    end
  end
  return false
end

-- Whether `path` will be visible inside: outside the private folders, or under a path mounted.
local function visible(path, private, mounted)
  return not in_any(path, private) or in_any(path, mounted)
end

local function add(args, ...)
  for _, a in ipairs({ ... }) do
    args[#args + 1] = a
  end
end

-- Sorted and without duplicates, so that a parent is mounted before what lies in it.
local function ordered(list)
  local seen, out = {}, {}
  for _, p in ipairs(list or {}) do
    if not seen[p] then
      seen[p] = true
      out[#out + 1] = p
    end
  end
  table.sort(out)
  return out
end

-- The mounts made so far, to leave out one that changes nothing: a read-only bind of a path onto
-- itself where the deepest mount made above that path is one too (the host's `/`, a folder shown
-- again, a PATH folder of the home), which shows the path, and what is mounted in it, read-only
-- already (bwrap's binds take the submounts with them). Each mount costs bubblewrap a read of
-- /proc/self/mountinfo; a fan-out of agents pays it per agent.
local function made()
  local list = { { path = "/", same = true } } -- `--ro-bind / /`
  local self = {}
  function self.note(path, same)
    list[#list + 1] = { path = path, same = same }
  end
  function self.shown(path)
    local deepest
    for _, m in ipairs(list) do
      if under(path, m.path) and (not deepest or #m.path >= #deepest.path) then
        deepest = m
      end
    end
    return deepest.same
  end
  return self
end

-- What a plan does at `path` and above it, each {path, rank, seen}: a later rank covers an earlier
-- one at the same path, a deeper path what lies above it (the order M.args mounts them in).
local function covers(plan)
  local list = {}
  local function put(paths, rank, seen)
    for _, p in ipairs(paths or {}) do
      list[#list + 1] = { path = p, rank = rank, seen = seen }
    end
  end
  put(plan.private or M.PRIVATE, -1, false)
  put({ plan.home }, 0, false)
  put(plan.read, 0.5, true)
  put(plan.write, 1, true)
  put(plan.hide_dirs, 2, false)
  put(plan.hide_files, 2, false)
  put(plan.protect, 3, true)
  put(plan.outputs, 4, true)
  return list
end

---Whether `path` (absolute, real) is seen inside the sandbox of `plan` (M.args's) as it is outside:
---no private folder, hidden home or hidden path covers it, or a path shown again lies between.
---@param plan table
---@param path string
---@return boolean
function M.shows(plan, path)
  local best
  for _, c in ipairs(covers(plan)) do
    if under(path, c.path) and (not best or #c.path > #best.path or (#c.path == #best.path and c.rank > best.rank)) then
      best = c
    end
  end
  return best == nil or best.seen
end

---Whether no process in the sandbox of `plan` can change a file of `dir` (absolute, real): nothing
---the plan makes writable (plan.write, plan.outputs, either side of plan.binds, the proxy's socket)
---is `dir`, lies above it, or lies in it outside the folders of `skip` (the store, where the run's
---own files are written). Everything else is the host's `/` read-only, or a private folder, an
---emptied home or a hidden path of the sandbox's own, whose writes never reach `dir`.
---@param plan table  M.args's
---@param dir string
---@param skip? string[]
---@return boolean
function M.keeps(plan, dir, skip)
  local writable = {}
  for _, list in ipairs({ plan.write or {}, plan.outputs or {} }) do
    table.move(list, 1, #list, #writable + 1, writable)
  end
  for _, b in ipairs(plan.binds or {}) do
    writable[#writable + 1], writable[#writable + 2] = b.from, b.to
  end
  writable[#writable + 1] = plan.socket
  for _, w in ipairs(writable) do
    if under(dir, w) or (under(w, dir) and not in_any(w, skip or {})) then
      return false
    end
  end
  return true
end

---The folders made private in this sandbox: M.PRIVATE, and /var/run where it is a folder of its own.
---@param var_run_is_link boolean
---@return string[]
function M.private(var_run_is_link)
  local list = { table.unpack(M.PRIVATE) }
  if not var_run_is_link then
    list[#list + 1] = "/var/run"
  end
  return list
end

---The arguments of bwrap (without its name and the command) for `plan`:
---{network = "model"|"none"|"full"|"host", private = M.private(...), read = {paths}, write = {paths}, binds = {{from, to}},
--- hide_dirs = {paths}, hide_files = {paths}, protect = {paths}, outputs = {files}, socket = outside path or nil,
--- cwd = path, uid = number or nil (the id root is mapped to), home = the home made empty, or nil,
--- sizes = {[private folder, or "~" for the home] = bytes} (the most its tmpfs holds; none: half the
--- memory, tmpfs's own)}.
--- Every path absolute and real.
---@param plan table
---@return string[]
function M.args(plan)
  local args = { "--unshare-all", "--unshare-user" }
  if plan.network == "host" then
    add(args, "--share-net")
  end
  if plan.uid then
    add(args, "--uid", tostring(plan.uid), "--gid", tostring(plan.uid))
  end
  add(args, "--die-with-parent", "--as-pid-1", "--cap-drop", "ALL", "--ro-bind", "/", "/", "--dev", "/dev",
    "--proc", "/proc")
  local view = made()
  view.note("/dev", false)
  view.note("/proc", false)
  -- A read-only bind of `p` onto itself, unless the view shows it so already.
  local function show(p)
    if not view.shown(p) then
      add(args, "--ro-bind", p, p)
      view.note(p, true)
    end
  end
  local private = { table.unpack(plan.private or M.PRIVATE) }
  local sizes = plan.sizes or {}
  for _, dir in ipairs(private) do
    if sizes[dir] then -- bwrap's --size: a write past it fails with ENOSPC (sidecar.run.sandbox_limits)
      add(args, "--size", ("%d"):format(sizes[dir]))
    end
    add(args, "--tmpfs", dir)
    view.note(dir, false)
  end
  local roots = {}
  for _, dir in ipairs(private) do
    roots[dir] = true
  end
  -- The home, when hidden, is made empty among the plan's mounts below (it may lie in /tmp, under
  -- a folder shown again, and must cover that); what is shown again of it comes after it.
  local home = plan.home
  local in_home = {}
  if home then
    private[#private + 1], roots[home] = home, true
  end
  for _, p in ipairs(ordered(plan.read)) do
    if home and p ~= home and under(p, home) then
      in_home[#in_home + 1] = p
    elseif in_any(p, private) and not roots[p] then -- never a private folder itself: all of /tmp again
      show(p)
    end
  end
  -- Then every mount of the plan, a folder before what lies in it (sorted by path), so that a
  -- writable worktree inside the read-only store, a secret file inside the worktree and the store
  -- inside a repository written in place each cover what they must.
  local ops, mounted = {}, {}
  local function op(list, rank, make)
    for _, p in ipairs(list or {}) do
      ops[#ops + 1] = { path = p, rank = rank, make = make, seq = #ops + 1 }
    end
  end
  -- `make`, and the view that it leaves at `p`: another than the host's, read-only (same = false).
  local function other(make)
    return function(p)
      make(p)
      view.note(p, false)
    end
  end
  op({ home }, 0, other(function(p)
    if sizes["~"] then -- the home made empty is writable: bounded as /tmp is
      add(args, "--size", ("%d"):format(sizes["~"]))
    end
    add(args, "--tmpfs", p)
  end))
  -- What is shown read-only of the home comes before a writable bind of the same path (a checkout
  -- in the home written in place is also a PATH folder, say): the sort by path would give either.
  op(in_home, 0.5, show)
  op(plan.write, 1, other(function(p) add(args, "--bind", p, p) end))
  -- A folder of the run's in place of the user's (a CLI's state) comes after a writable bind of the
  -- same path (a runner's TMPDIR, isolation.write naming it): the user's own folder never shows.
  for _, b in ipairs(plan.binds or {}) do
    ops[#ops + 1] = { path = b.to, rank = 1.5, seq = #ops + 1,
      make = other(function() add(args, "--bind", b.from, b.to) end) }
  end
  op(plan.hide_dirs, 2, other(function(p) add(args, "--tmpfs", p, "--remount-ro", p) end))
  op(plan.hide_files, 2, other(function(p) add(args, "--ro-bind", "/dev/null", p) end))
  op(plan.protect, 3, show)
  op(plan.outputs, 4, other(function(p) add(args, "--bind", p, p) end))
  -- table.sort is not stable: the order the plan gave breaks the last tie, so a plan always makes
  -- the same command line.
  table.sort(ops, function(a, b)
    if a.path ~= b.path then
      return a.path < b.path
    elseif a.rank ~= b.rank then
      return a.rank < b.rank
    end
    return a.seq < b.seq
  end)
  for _, p in ipairs(plan.read or {}) do
    if in_any(p, private) then
      mounted[#mounted + 1] = p
    end
  end
  for _, o in ipairs(ops) do
    if o.rank ~= 2 and o.rank ~= 0 then
      mounted[#mounted + 1] = o.path
    end
  end
  for _, o in ipairs(ops) do
    if o.rank ~= 2 or visible(o.path, private, mounted) then -- a hidden path no mount shows needs no cover
      o.make(o.path)
    end
  end
  if plan.socket then
    add(args, "--bind", plan.socket, M.SOCKET_INSIDE)
  end
  add(args, "--chdir", plan.cwd)
  return args
end

return M
