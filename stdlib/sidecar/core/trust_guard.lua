--- What trusted code loads from its repository is trusted too. A trusted preset (or config) may
--- point package.path into the repository and `require` a helper there, or `dofile` one: those
--- files run only as `sidecar trust` recorded them (sidecar.core.trust), so a `git pull` that
--- changes a helper does not run it unreviewed. A native library (a C module through
--- package.cpath, package.loadlib) inside the repository is never loaded: nobody can review it.
---
---   trust_guard.guard(repo)         -- before the repository's config or preset runs
---   trust_guard.owner(path)         -- the guarded repository `path` lies in, and its name there
local errors = require("sidecar.core.errors")
local paths = require("sidecar.host.paths")
local trust = require("sidecar.core.trust")

local M = {}

local guarded = {} -- repository (real path) -> true: its modules are checked when they load

-- `path` made absolute from the current folder (its real path), "." and ".." taken as written.
local function lexical(path)
  local parts = {}
  local whole = path:sub(1, 1) == "/" and path or ((paths.real(".") or "") .. "/" .. path)
  for part in whole:gmatch("[^/]+") do
    if part == ".." then
      parts[#parts] = nil
    elseif part ~= "." then
      parts[#parts + 1] = part
    end
  end
  return "/" .. table.concat(parts, "/")
end

-- Sidecar's own code when it is loaded from disk (SIDECAR_STDLIB_DIR, and the built-in presets
-- beside it): the user's environment chose it, not a repository, even when it lies in one (a
-- checkout of Sidecar itself, edited all day).
local function own_folders()
  local dir = os.getenv("SIDECAR_STDLIB_DIR")
  local out = {}
  for _, folder in ipairs(dir and dir ~= "" and { dir, dir .. "/../presets" } or {}) do
    out[#out + 1] = paths.real(folder)
  end
  return out
end

local function under(path, folder)
  return path:sub(1, #folder + 1) == folder .. "/"
end

---The guarded repository `path` lies in, and the file's name relative to it; nil when it lies in
---none (or in Sidecar's own stdlib loaded from disk). Both the path as written and where it really
---leads count: `lib/x.lua -> /elsewhere/x.lua` is the repository's file (trust hashed what it
---leads to), and so is a path outside that links into a repository.
---@param path string
---@return string|nil repo, string? rel
function M.owner(path)
  local at_all = { lexical(path), paths.real(path) or false }
  for _, at in ipairs(at_all) do
    for _, own in ipairs(at and own_folders() or {}) do
      if under(at, own) then
        return nil
      end
    end
  end
  for _, at in ipairs(at_all) do
    for repo in pairs(at and guarded or {}) do
      if under(at, repo) then
        return repo, at:sub(#repo + 2)
      end
    end
  end
  return nil
end

-- The trusted text of `path` when it lies in a guarded repository: text, or nil and why (not
-- trusted); false when the file is not in one (load it as Lua would).
local function guarded_text(path)
  local repo, rel = M.owner(path)
  if not repo then
    return false
  end
  local text, why = paths.read_code(repo .. "/" .. rel)
  if not text then
    return nil, ("%s/%s: %s"):format(repo, rel, tostring(why))
  end
  local ok, state = trust.allows(repo, rel, text)
  if not ok then
    return nil, ("%s of %s is %s, so it was not loaded: review it (sidecar trust --show %s), then run "
      .. "`sidecar trust %s`"):format(rel, repo, state == "changed" and "changed since it was trusted" or
        "not trusted", repo, repo)
  end
  return text
end

-- Refuses a native library of a guarded repository (raises); nothing when `path` is elsewhere or nil.
local function refuse_native(path)
  local repo, rel = nil, nil
  if type(path) == "string" and path ~= "" then
    repo, rel = M.owner(path)
  end
  if repo then
    errors.raise("untrusted", ("%s of %s is a native library, which Sidecar never loads from a repository (nobody "
      .. "can review it, so `sidecar trust` cannot cover it): install it outside the repository, or write the "
      .. "module in Lua"):format(rel, repo), nil, 0)
  end
end

-- Lua's own loaders, wrapped once: the Lua searcher, the two C searchers, loadlib, loadfile, dofile.
local function install()
  local lua_searcher, c_searcher, croot_searcher = package.searchers[2], package.searchers[3], package.searchers[4]
  local real_loadlib, real_loadfile = package.loadlib, loadfile
  package.searchers[2] = function(name)
    local path = package.searchpath(name, package.path)
    local text, why = false, nil
    if path then
      text, why = guarded_text(path)
    end
    if text == false then
      return lua_searcher(name)
    elseif not text then
      errors.raise("untrusted", why, nil, 0) -- an error of code "untrusted": an embedding Host says not_trusted
    end
    local chunk, bad = load(text, "@" .. path)
    if not chunk then
      error(("error loading module '%s' from file '%s':\n\t%s"):format(name, path, bad), 0)
    end
    return chunk, path
  end
  package.searchers[3] = function(name)
    refuse_native(package.searchpath(name, package.cpath))
    return c_searcher(name)
  end
  package.searchers[4] = function(name)
    local top = name:match("^([^.]+)%.")
    refuse_native(top and package.searchpath(top, package.cpath))
    return croot_searcher(name)
  end
  package.loadlib = function(path, ...)
    refuse_native(path)
    return real_loadlib(path, ...)
  end
  loadfile = function(path, ...)
    local text, why = false, nil
    if type(path) == "string" then
      text, why = guarded_text(path)
    end
    if text == false then
      return real_loadfile(path, ...)
    elseif not text then
      return nil, why
    end
    -- As loadfile: an `env` given (even nil) is the chunk's environment, else the global one.
    if select("#", ...) >= 2 then
      return load(text, "@" .. path, (...), (select(2, ...)))
    end
    return load(text, "@" .. path, (...))
  end
  dofile = function(path)
    local chunk, why = loadfile(path)
    if not chunk then
      error(why, 2)
    end
    return chunk()
  end
end

---From now on, a Lua file of `repo` that code loads (require through package.path, dofile,
---loadfile) runs only if `sidecar trust` recorded it as it is, and a native library of `repo` not
---at all: a trusted preset that points package.path into the repository cannot run a helper a
---`git pull` changed. Called before a repository's config or preset runs. (Text a preset reads
---with io.open and runs with load(), or a script it starts, is its own doing, trusted with it.)
---@param repo string
function M.guard(repo)
  local key = trust.repo_key(repo)
  if not key or trust.everything() or guarded[key] then
    return
  end
  if next(guarded) == nil then
    install()
  end
  guarded[key] = true
end

return M
