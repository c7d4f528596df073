--- The agent's program in its OS sandbox: what the runner will execute, resolved before it starts
--- (found on PATH as the spawn finds it, through its symbolic links; the interpreter its `#!` line
--- names, `env node` included; for an npm install, the package tree it belongs to, where the
--- platform package holding the real binary lies beside it), shown read-only wherever it lives,
--- and checked: a program the sandbox would still not show (a hidden folder) is Sidecar's error
--- before anything starts, naming the path and the setting that shows it, never the agent's own
--- confusing message ("Missing optional dependency", "exec: codex: not found").
---
---   local prog = sandbox_program.resolve(argv[1], cwd)  -- {path, real, interpreter?, package?}
---   sandbox_program.folders(prog)                       -- what to show: {paths}
---   local why = sandbox_program.unseen(prog, shows)     -- shows(path): the mount plan's answer
local paths = require("sidecar.host.paths")

local M = {}

M.MAX_SHEBANG = 256 -- bytes of a program read for its `#!` line

local function dirname(p)
  return p:match("^(.*)/[^/]*$") or "/"
end

-- The npm package tree `file` belongs to (the outermost node_modules: a global install's whole
-- tree, where a CLI's platform package lies beside it), else its folder.
local function package_of(file)
  return file:match("^(.-/node_modules)/") or dirname(file)
end

-- The interpreter `file`'s `#!` line names ({path, real}), `env NAME` resolved on PATH; nil for none.
local function interpreter_of(file)
  local h = io.open(file, "rb")
  local head = h and h:read(M.MAX_SHEBANG) or ""
  if h then
    h:close()
  end
  local line = head:match("^#!%s*([^\n]*)")
  if not line then
    return nil
  end
  local words = {}
  for w in line:gmatch("%S+") do
    words[#words + 1] = w
  end
  local path = words[1]
  if path and path:match("/env$") then -- `#!/usr/bin/env [-S] node`: the program env runs
    for i = 2, #words do
      if not words[i]:match("^%-") and not words[i]:find("=", 1, true) then
        path = paths.program(words[i])
        break
      end
    end
  end
  if not path or path:sub(1, 1) ~= "/" then
    return nil
  end
  return { path = path, real = paths.real(path) or path }
end

---What running `name` (argv[1]) in `cwd` executes: {name, path (found on PATH), real (through its
---links), package (the folder shown with it), interpreter = {path, real}?}; nil when it is not found
---(the run then fails to start, as it would without a sandbox).
---@param name string
---@param cwd string|nil
---@return table|nil
function M.resolve(name, cwd)
  local path = paths.program(name, cwd)
  if not path then
    return nil
  end
  local real = paths.real(path) or path
  return { name = name, path = path, real = real, package = package_of(real), interpreter = interpreter_of(real) }
end

---The folders to show read-only for `prog` (its package, its interpreter's folder).
---@param prog table|nil  M.resolve's
---@return string[]
function M.folders(prog)
  if not prog then
    return {}
  end
  local list, seen = {}, {}
  for _, p in ipairs({ prog.package, dirname(prog.path), prog.interpreter and package_of(prog.interpreter.real) }) do
    if not seen[p] then
      seen[p], list[#list + 1] = true, p
    end
  end
  return list
end

M.MAX_PATH_LINKS = 1000 -- entries of one PATH folder looked at for links out of it
M.RACY_S = 2 -- a folder changed this recently is listed again each time (see links_in)
M.MAX_REMEMBERED = 64 -- PATH folders whose links a process remembers

-- Which PATH folders' links this process remembers: folder -> {mtime_ns, ctime_ns, links}.
local remembered, n_remembered = {}, 0

-- The names of the links among PATH folder `dir`'s first MAX_PATH_LINKS entries (a pyenv shims
-- folder holds a hundred files; each is looked at). Remembered with the folder's times, which
-- an entry added, removed or replaced moves, so a remembered list is the folder's still; one
-- changed within RACY_S seconds is listed again each time (two changes within one tick of the
-- file system's clock leave it the same time). Where each link leads is read every time.
local function links_in(dir)
  local st = paths.lstat(dir)
  local m = st and remembered[dir]
  if m and m.mtime_ns == st.mtime_ns and m.ctime_ns == st.ctime_ns then
    return m.links
  end
  local names, links = paths.entries(dir) or {}, {}
  for i = 1, math.min(#names, M.MAX_PATH_LINKS) do
    local e = paths.lstat(dir .. "/" .. names[i])
    if e and e.kind == "symlink" then
      links[#links + 1] = names[i]
    end
  end
  local settled = (os.time() - M.RACY_S) * 1000000000
  if st and st.mtime_ns < settled and st.ctime_ns < settled then
    if not remembered[dir] and n_remembered >= M.MAX_REMEMBERED then
      remembered, n_remembered = {}, 0
    end
    n_remembered = n_remembered + (remembered[dir] and 0 or 1)
    remembered[dir] = { mtime_ns = st.mtime_ns, ctime_ns = st.ctime_ns, links = links }
  end
  return links
end

---The folders the programs of the PATH folders `dirs` lead to, for those `private(dir)` says the
---sandbox replaces (/tmp, a hidden home): a folder shown again shows its links (`codex` ->
---../lib/node_modules/@openai/codex/bin/codex.js) but not what they lead to, so each link's
---target is shown with its package tree. Other PATH folders are seen as they are. A preset's
---pool asks this once before it forks its workers, which then list again only the folders that
---changed meanwhile.
---@param dirs string[]  real paths
---@param private fun(dir: string): boolean
---@return string[]
function M.path_folders(dirs, private)
  local out, seen, looked = {}, {}, {}
  for _, dir in ipairs(dirs) do
    local names = not looked[dir] and private(dir) and links_in(dir) or {} -- a folder PATH names twice: once
    looked[dir] = true
    for _, name in ipairs(names) do
      local target = paths.real(dir .. "/" .. name)
      local folder = target and not target:find(dir .. "/", 1, true) and package_of(target)
      if folder and not seen[folder] then
        seen[folder], out[#out + 1] = true, folder
      end
    end
  end
  return out
end

---nil when every file `prog` needs is seen inside (`shows(path)`: the mount plan's answer), else
---why not: the path and the setting that shows it.
---@param prog table|nil
---@param shows fun(path: string): boolean
---@return string|nil why
function M.unseen(prog, shows)
  if not prog then
    return nil
  end
  for _, f in ipairs({ prog.real, prog.interpreter and prog.interpreter.real }) do
    if not shows(f) then
      return ("the agent's program %s%s is at %s, which the OS sandbox hides: show it with isolation = { read = "
        .. "{ %q } } in .agent/config.lua, or install it elsewhere (docs/security.md)"):format(prog.name,
        f ~= prog.real and (" (its interpreter " .. f .. ")") or "", f, dirname(f))
    end
  end
end

---What the run's record keeps of `prog` (os_sandbox.program): what was shown for it and why.
function M.record(prog)
  if not prog then
    return nil
  end
  return { name = prog.name, path = prog.path, real = prog.real, shown = M.folders(prog),
    interpreter = prog.interpreter and prog.interpreter.real or nil }
end

return M
