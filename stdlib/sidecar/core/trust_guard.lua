--- What trusted code loads from its repository is trusted too. A trusted preset (or config) may
--- point package.path into the repository and `require` a helper there, or `dofile` one: those
--- files run only as `sidecar trust` recorded them (sidecar.core.trust), so a `git pull` that
--- changes a helper does not run it unreviewed.
---
---   trust_guard.module_files(repo)  -- the Lua files `sidecar trust` records beside config and presets
---   trust_guard.guard(repo)         -- before the repository's config or preset runs
local paths = require("sidecar.host.paths")

local M = {}

M.MAX_MODULES = 5000 -- Lua files of a repository looked at by `sidecar trust`
-- Folders of .agent that hold Sidecar's records and worktrees, not code.
local AGENT_DATA = { runs = true, worktrees = true, tasks = true, sessions = true, presets = true }

---The other Lua files of `repo` that trusted code may load (`require` through a package.path into
---the repository, `dofile`, `loadfile`): the repository's own *.lua files (tracked or not, as git
---lists them, ignored ones aside) and those under .agent/ outside its records. Relative, sorted.
---What `sidecar trust` records of them is checked when they load (M.guard).
---@param repo string
---@return string[]
function M.module_files(repo)
  local out, seen = {}, {}
  local function add(rel)
    if #out < M.MAX_MODULES and not seen[rel] and rel:match("%.lua$") then
      seen[rel] = true
      out[#out + 1] = rel
    end
  end
  local r = require("sidecar.core.proc").run({ "git", "-C", repo, "ls-files", "-z", "-co", "--exclude-standard", "--",
    "*.lua" }, { timeout_ms = 20000, stderr = false })
  for rel in ((r.code == 0 and r.stdout) or ""):gmatch("[^%z]+") do
    if not rel:match("^%.agent/") then
      add(rel)
    end
  end
  local function walk(rel, depth)
    for _, name in ipairs(paths.entries(repo .. "/" .. rel) or {}) do
      local child = rel .. "/" .. name
      local st = paths.lstat(repo .. "/" .. child)
      if st and st.kind == "directory" and depth < 6 and not (depth == 1 and AGENT_DATA[name]) then
        walk(child, depth + 1)
      elseif st and st.kind ~= "directory" and child ~= ".agent/config.lua" then
        add(child)
      end
    end
  end
  walk(".agent", 1)
  table.sort(out)
  return out
end

local guarded = {} -- repository (real path) -> true: its modules are checked when they load

-- The trusted text of `path` when it lies in a guarded repository: text, or nil and why (not
-- trusted); false when the file is not in one (load it as Lua would).
local function guarded_text(path)
  local real = paths.real(path)
  if not real then
    return false
  end
  for repo in pairs(guarded) do
    if real:sub(1, #repo + 1) == repo .. "/" then
      local rel = real:sub(#repo + 2)
      local text, why = paths.read_code(real)
      if not text then
        return nil, ("%s: %s"):format(real, tostring(why))
      end
      local ok, state = require("sidecar.core.trust").allows(repo, rel, text)
      if not ok then
        return nil, ("%s of %s is %s, so it was not loaded: review it (sidecar trust --show %s), then run "
          .. "`sidecar trust %s`"):format(rel, repo, state == "changed" and "changed since it was trusted" or
            "not trusted", repo, repo)
      end
      return text
    end
  end
  return false
end

---From now on, a Lua file of `repo` that code loads (require through package.path, dofile,
---loadfile) runs only if `sidecar trust` recorded it as it is: a trusted preset that points
---package.path into the repository cannot run a helper a `git pull` changed. Called before a
---repository's config or preset runs. (Text a preset reads with io.open and runs with load() is
---its own, trusted with it.)
---@param repo string
function M.guard(repo)
  local trust = require("sidecar.core.trust")
  local key = trust.repo_key(repo)
  if not key or trust.everything() or guarded[key] then
    return
  end
  if next(guarded) == nil then
    local lua_searcher, real_loadfile = package.searchers[2], loadfile
    package.searchers[2] = function(name)
      local path = package.searchpath(name, package.path)
      if path == nil then
        return lua_searcher(name)
      end
      local text, why = guarded_text(path)
      if text == false then
        return lua_searcher(name)
      end
      if not text then
        error(why, 0)
      end
      local chunk, bad = load(text, "@" .. path)
      if not chunk then
        error(("error loading module '%s' from file '%s':\n\t%s"):format(name, path, bad), 0)
      end
      return chunk, path
    end
    loadfile = function(path, ...)
      local text, why = false, nil
      if path ~= nil then
        text, why = guarded_text(path)
      end
      if text == false then
        return real_loadfile(path, ...)
      end
      if not text then
        return nil, why
      end
      local mode, env = ...
      return load(text, "@" .. path, mode, env or _G)
    end
    dofile = function(path)
      local chunk, why = loadfile(path)
      if not chunk then
        error(why, 2)
      end
      return chunk()
    end
  end
  guarded[key] = true
end

return M
