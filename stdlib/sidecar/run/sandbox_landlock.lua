--- The sandbox of a run where user namespaces are refused (issue 49; docs/security.md says what it
--- gives and what it does not): no bubblewrap, no namespace. sandbox-init with `--subreaper`
--- starts the agent as its child subreaper (what the agent leaves is ended with it) and confines it
--- with Landlock (host/sandbox/landlock.hpp) before exec. This module turns the view the bubblewrap
--- sandbox would give (sidecar.run.sandbox_mounts' plan) into what Landlock can do:
---   - reading: everything from `/` but what that view makes private or hides (the names in every
---     folder are listed: hidden files show, unreadable, where bubblewrap shows them empty). Landlock only
---     grants: a path beneath a granted one cannot be taken back. So what is hidden (secret files
---     and folders, /tmp, /run, the home but for what is shown of it) is left out by granting
---     everything around it instead: from `/` down, a folder that holds nothing hidden is granted
---     whole; one that does is split into its entries, each judged the same way; a hidden path is
---     never granted. What is shown again inside a hidden one (the repository under /tmp, a
---     toolchain of the home) is granted in its turn, split around what is hidden within it.
---   - writing: the worktree and its git folder (none for a read-only run), the files of the run's
---     folder it writes, a private temporary folder (TMPDIR) and a private home (HOME) whose links
---     lead to what the view shows of the home: its toolchains, git's config without credentials
---     and the CLI's state folder of the run's (sidecar.run.sandbox_state; a CLI whose folder lies
---     outside the home is moved with its variable, CODEX_HOME say);
---   - TCP (ABI 4): no connection for network "none"; for "model" and "full", the proxy's port on
---     the loopback and the loopback ports of the model's endpoints; any for "host". From ABI 6,
---     signals and abstract sockets stay within the agent's own processes.
--- What bubblewrap keeps read-only inside a writable folder cannot be kept so: files (the worktree's
--- `.git` file, its git folder's links) are kept aside and put back after the agent (`guarded`); a
--- folder (the `.git` and the store of a checkout written in place) is left out of the grant, which
--- is split around it, so nothing new can be made at the top of that checkout.
---
---   local ll = assert(sandbox_landlock.plan({ plan = view, dir = sb.dir, env = env, cli_state = st,
---     network = "model", ports = { 8080 }, abi = 6 }))
---   -- ll.args: sandbox-init's --landlock-* arguments; ll.guarded: {{path, bytes}}
---
--- What was made after the plan (a new file beside a hidden one, in a split folder) is not
--- readable: the plan is the view at the run's start.
local files = require("sidecar.core.files")
local paths = require("sidecar.host.paths")

local M = {}

M.MAX_RULES = 100000 -- a plan past this many paths is refused (folders of thousands of entries split)

local function under(path, dir)
  return path == dir or dir == "/" or path:sub(1, #dir + 1) == dir .. "/"
end

local function join(dir, name)
  return dir == "/" and ("/" .. name) or (dir .. "/" .. name)
end

-- The hidden paths beneath `dir` (itself included).
local function beneath(list, dir)
  local out = {}
  for _, p in ipairs(list) do
    if under(p, dir) then
      out[#out + 1] = p
    end
  end
  return out
end

-- Grants `dir` around `hidden` (the hidden paths beneath it) into `out`; false when past MAX_RULES.
local function grant(dir, hidden, out, entries)
  if #hidden == 0 then
    out[#out + 1] = dir
    return #out <= M.MAX_RULES
  end
  for _, h in ipairs(hidden) do
    if h == dir then
      return true -- hidden whole
    end
  end
  for _, name in ipairs(entries(dir) or {}) do
    local ok = grant(join(dir, name), beneath(hidden, join(dir, name)), out, entries)
    if not ok then
      return false
    end
  end
  return #out <= M.MAX_RULES
end

---The paths to grant for reading: everything from `/` but `hidden` (absolute, real), and `shown`
---(paths inside hidden ones shown again) but what of `hidden` lies within them. `entries(dir)`
---lists a folder (default: the file system's). nil and why when the plan would pass MAX_RULES.
---@param hidden string[]
---@param shown string[]|nil
---@param entries? fun(dir: string): string[]|nil
---@return string[]|nil paths, string? why
function M.read_paths(hidden, shown, entries)
  entries = entries or paths.entries
  local out = {}
  local roots = { "/" }
  for _, s in ipairs(shown or {}) do
    roots[#roots + 1] = s
  end
  for _, root in ipairs(roots) do
    local inside = {}
    for _, h in ipairs(beneath(hidden, root)) do
      if h ~= root or root == "/" then -- a shown path is shown, though it lies in a hidden one
        inside[#inside + 1] = h
      end
    end
    if not grant(root, inside, out, entries) then
      return nil, ("the Landlock plan passes %d paths: too many folders to split around what is hidden"):format(
        M.MAX_RULES)
    end
  end
  return out
end

M.DEVICES = { "/dev/null", "/dev/zero", "/dev/full", "/dev/tty", "/dev/ptmx", "/dev/pts" } -- written by every agent
M.TCP_ABI = 4 -- the Landlock ABI that limits TCP

local function dirname(p)
  return p:match("^(.*)/[^/]*$") or "/"
end

-- p's path relative to dir when it lies beneath it (not dir itself), else nil.
local function relative(p, dir)
  return p ~= dir and dir ~= "/" and p:sub(1, #dir + 1) == dir .. "/" and p:sub(#dir + 2) or nil
end

-- A link at `at` to `to`, its folders made; nothing when something is there already.
local function link(at, to)
  if paths.lstat(at) then
    return
  end
  paths.make_dirs(dirname(at))
  paths.symlink(to, at)
end

-- The private home: links to what the view shows of the user's, the CLI's state folders of the
-- run's and git's config copies in their places.
local function private_home(o, home, env)
  local h = o.dir .. "/home"
  paths.make_dirs(h)
  env.HOME = h
  for _, p in ipairs(o.plan.read) do
    local rel = relative(p, home)
    if rel then
      link(h .. "/" .. rel, p)
    end
  end
  for _, b in ipairs(o.plan.binds or {}) do
    local rel = relative(b.to, home)
    if rel then
      paths.remove_tree(h .. "/" .. rel) -- a folder of the run's over the link a toolchain made
      link(h .. "/" .. rel, b.from)
    end
  end
  return h
end

-- The CLI's state outside the home, or named by its variable: moved with the variable; a file in a
-- folder of the run's, linked there. The user's own files of it (`keep`) linked in the run's folder,
-- read-only beneath.
local function cli_state(o, home, env)
  local st = o.cli_state or { binds = {}, keep = {} }
  for _, b in ipairs(st.binds) do
    local given = b.env and (type(env[b.env]) == "string" or (env[b.env] == nil and os.getenv(b.env) ~= nil))
    if b.env and (given or not (home and relative(b.to, home))) then
      env[b.env] = b.from -- the variable names the folder, or the home's link would not lead there
    end
  end
  for _, b in ipairs(st.binds) do
    for _, d in ipairs(b.persistent and {} or st.binds) do
      local rel = d.persistent and relative(b.to, d.to)
      if rel then
        link(d.from .. "/" .. rel, b.from)
      end
    end
  end
  for _, k in ipairs(st.keep) do
    for _, d in ipairs(st.binds) do
      local rel = d.persistent and relative(k, d.to)
      if rel then
        link(d.from .. "/" .. rel, k)
      end
    end
  end
end

-- What bubblewrap keeps read-only inside a writable folder (`protect`), as Landlock can have it: a
-- file is kept aside ({path, bytes}) and put back after the agent; a folder (the `.git` and the
-- store of a checkout written in place) is left out of the grant, which is split around it: the
-- writable folder's entries but that one are granted each, so no new entry can be made at its top.
-- Returns the write list so made, and the files to keep; nil and why past M.MAX_RULES.
local function around_protected(protect, write)
  local keep, folders = {}, {}
  for _, p in ipairs(protect or {}) do
    for _, w in ipairs(write) do
      if relative(p, w) then
        local st = paths.lstat(p)
        if st and st.kind == "directory" then
          folders[#folders + 1] = p
        else
          keep[#keep + 1] = { path = p, bytes = st and files.read(p) or nil }
        end
        break
      end
    end
  end
  if #folders == 0 then
    return write, keep
  end
  local out = {}
  for _, w in ipairs(write) do
    local inside = beneath(folders, w)
    if #inside == 0 then
      out[#out + 1] = w
    elseif not grant(w, inside, out, paths.entries) then
      return nil, ("the Landlock plan passes %d paths: too many entries to split around %s"):format(M.MAX_RULES,
        table.concat(inside, ", "))
    end
  end
  return out, keep
end

-- sandbox-init's TCP arguments for `network`; nil and why when the kernel cannot limit TCP.
local function tcp_args(network, ports, abi)
  if network == "host" then
    return {}
  end
  if abi < M.TCP_ABI then
    return nil, ("network \"%s\" in the Landlock sandbox needs Landlock ABI %d (Linux 6.7 or later) to limit TCP; "
      .. "this kernel offers ABI %d: set isolation.network = \"host\" (no bound on the network), or run where "
      .. "bubblewrap works"):format(network, M.TCP_ABI, abi)
  end
  local args = { "--landlock-tcp" }
  for _, port in ipairs(network == "none" and {} or ports) do
    args[#args + 1], args[#args + 2] = "--landlock-connect", tostring(port)
  end
  return args
end

---The Landlock sandbox of one agent. o: {plan = the bubblewrap view (sidecar.run.sandbox_mounts.args'
---plan), dir = the sandbox's private folder, env = the agent's additions (HOME, TMPDIR and the CLI's
---state variables set in it), cli_state = sidecar.run.sandbox_state.plan's or nil, network, ports =
---the loopback ports of the model's endpoints, abi = the kernel's Landlock ABI}. Returns {args =
---sandbox-init's arguments (the paths in a file of `dir`), guarded = {{path, bytes}} to put back after
---the agent, rules = how many paths} or nil and why.
---@param o table
---@return table|nil, string?
function M.plan(o)
  local view, env = o.plan, o.env
  for _, list in ipairs({ view.binds or {}, o.cli_state and o.cli_state.binds or {} }) do
    for _, b in ipairs(list) do
      b.from = paths.real(b.from) or b.from -- a link's target, whatever the working folder
    end
  end
  local tmp = o.dir .. "/tmp"
  paths.make_dirs(tmp)
  if env.TMPDIR == nil or env.TMPDIR == "/tmp" then
    env.TMPDIR = tmp
  end
  local home = view.home
  local hidden = { table.unpack(view.private or {}) }
  local write = { tmp }
  if home then
    hidden[#hidden + 1] = home
    write[#write + 1] = private_home(o, home, env)
  end
  cli_state(o, home, env)
  table.move(view.hide_dirs or {}, 1, #(view.hide_dirs or {}), #hidden + 1, hidden)
  table.move(view.hide_files or {}, 1, #(view.hide_files or {}), #hidden + 1, hidden)
  local shown = { table.unpack(view.read or {}) }
  if o.network == "host" then -- the resolver's file, often a link into /run
    shown[#shown + 1] = paths.real("/etc/resolv.conf") or nil
  end
  for _, k in ipairs(o.cli_state and o.cli_state.keep or {}) do
    shown[#shown + 1] = k
  end
  for _, list in ipairs({ view.write or {}, view.outputs or {}, M.DEVICES }) do
    table.move(list, 1, #list, #write + 1, write)
  end
  for _, b in ipairs(view.binds or {}) do
    write[#write + 1] = b.from
  end
  local keep, why
  write, keep = around_protected(view.protect, write)
  if not write then
    return nil, keep
  end
  local read
  read, why = M.read_paths(hidden, shown)
  if not read then
    return nil, why
  end
  local args
  args, why = tcp_args(o.network, o.ports or {}, o.abi)
  if not args then
    return nil, why
  end
  -- The paths go in a file of the sandbox's (sandbox-init reads it before the agent starts): a plan
  -- of thousands of paths passes what a command line holds.
  -- Landlock's right to list a folder holds beneath it: from `/`, every folder's names are seen
  -- (as bubblewrap shows a hidden file as an empty one), what is hidden in them never read.
  local list = #hidden > 0 and { "l\0/\0" } or {}
  for _, p in ipairs(read) do
    list[#list + 1] = "r\0" .. p .. "\0"
  end
  for _, p in ipairs(write) do
    list[#list + 1] = "w\0" .. p .. "\0"
  end
  local file = o.dir .. "/landlock-paths"
  local f = io.open(file, "wb")
  if not (f and f:write(table.concat(list)) and f:close()) then
    return nil, "cannot write the Landlock plan " .. file
  end
  table.move({ "--landlock-paths", file }, 1, 2, #args + 1, args)
  return { args = args, guarded = keep, rules = #read + #write }
end

---After the agent: each guarded file it changed (or removed, or made) put back as it was. Returns
---the paths put back.
---@param list table[]  M.plan's guarded
---@return string[]
function M.restore(list)
  local back = {}
  for _, g in ipairs(list or {}) do
    local st = paths.lstat(g.path)
    local now = st and st.kind == "file" and files.read(g.path) or nil
    if now ~= g.bytes or (st and st.kind ~= "file") then
      back[#back + 1] = g.path
      if st and st.kind == "directory" then
        paths.remove_tree(g.path)
      else
        os.remove(g.path)
      end
      local f = g.bytes and io.open(g.path, "wb")
      if f then
        f:write(g.bytes)
        f:close()
      end
    end
  end
  return back
end

return M
