--- What a Landlock sandbox lets an agent read (issue 49: the sandbox where user namespaces are
--- refused; host/sandbox/landlock.hpp applies it). Landlock only grants: a path beneath a granted
--- one cannot be taken back. So what the bubblewrap sandbox hides (secret files and folders, the
--- home but for what is shown of it) is left out by granting everything around it instead: from
--- `/` down, a folder that holds nothing hidden is granted whole; one that does is split into its
--- entries, each judged the same way; a hidden path is never granted. What is shown again inside
--- a hidden one (a toolchain of the hidden home) is granted in its turn, split around what is
--- hidden within it.
---
---   local read = sandbox_landlock.read_paths({ "/home/u", "/home/u/.ssh" }, { "/home/u/.nvm" })
---   --> { "/bin", "/etc", ..., "/home/other", "/home/u/.nvm", "/lib", ... }
---
--- What was made after the plan (a new file beside a hidden one, in a split folder) is not
--- readable: the plan is the view at the run's start.
local paths = require("sidecar.host.paths")

local M = {}

M.MAX_RULES = 4096 -- a plan past this many paths is refused (a folder of thousands of entries split)

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

return M
