--- Presets: orchestration scripts in Lua with typed parameters. A preset file returns
--- `preset.define{...}`; Sidecar finds presets in `./.agent/presets/`, then
--- `~/.config/sidecar/presets/` ($XDG_CONFIG_HOME), then the built-in ones, the first found
--- winning, so a project can replace a built-in preset by writing one of the same name. A
--- project's preset runs only once trusted (stdlib/sidecar/core/trust.lua: `sidecar trust`); until then it is
--- listed by name without running it, and the next one of its name is used.
---
---   -- .agent/presets/todo-scan.lua
---   local preset = require("sidecar.preset.define")
---   return preset.define({
---     name = "todo-scan",
---     summary = "List the TODOs worth doing now",
---     params = { limit = { type = "integer", default = 10, doc = "at most this many" } },
---     run = function(ctx, p)
---       local r = ctx:agent({ kind = "scan", prompt = "List at most " .. p.limit .. " TODOs ..." })
---       return { text = r.output or "", data = { run_id = r.run_id } }
---     end,
---   })
---
--- `run(ctx, params)` returns {text = what to print, data = what --json prints, ok = false when
--- the preset did not succeed}. ctx is described in stdlib/sidecar/preset/context.lua.
---
--- A parameter is {type, default, doc, choices?, required?, check?}; `check(value)` returns nil
--- when a value given on the command line is fine, else why not (a usage error, exit 2).
local default_repo = require("sidecar.core.default_repo")
local trust = require("sidecar.core.trust")
local trust_guard = require("sidecar.core.trust_guard")

local M = {}

local TYPES = { string = true, integer = true, number = true, boolean = true, list = true }

---Checks and returns a preset's definition (raises on a malformed one: it is the author's bug).
function M.define(spec)
  assert(type(spec) == "table", "preset.define: expected a table")
  assert(type(spec.name) == "string" and spec.name:match("^[%w][%w._-]*$"),
    "preset.define: `name` must be a word (letters, digits, . _ -)")
  assert(type(spec.summary) == "string", "preset.define: `summary` must say in one line what the preset does")
  assert(type(spec.run) == "function", "preset.define: `run` must be a function(ctx, params)")
  spec.params = spec.params or {}
  for name, p in pairs(spec.params) do
    assert(type(p) == "table" and TYPES[p.type], ("preset.define: parameter '%s' needs a type: string, integer, "
      .. "number, boolean or list"):format(tostring(name)))
    assert(p.check == nil or type(p.check) == "function",
      ("preset.define: parameter '%s': check must be a function(value) -> nil or why not"):format(tostring(name)))
  end
  spec.escalates = spec.escalates or {}
  return spec
end

-- A preset's text: a regular file of at most 1 MiB (links followed); nil and why otherwise, so a
-- planted FIFO or link to /dev/zero is an error, never a hang.
local function read(path)
  return require("sidecar.host.paths").read_code(path)
end

-- The presets of a folder: each NAME.lua that can be read, symbolic links included (as load
-- finds them, and as trust.code_files lists them).
local function list_lua(dir)
  local names = {}
  for _, file in ipairs(require("sidecar.host.paths").entries(dir) or {}) do
    local name = file:match("^(.+)%.lua$")
    if name and name:match("^[%w][%w._-]*$") and read(dir .. "/" .. file) then
      names[#names + 1] = name
    end
  end
  return names
end

-- An absolute folder from an environment variable, or nil: a relative one would name a folder
-- of whatever repository the command runs in (the XDG spec says to ignore it).
local function absolute_env(name)
  local v = os.getenv(name)
  return v and v:sub(1, 1) == "/" and v or nil
end

---The folders searched for presets, in order: {{dir, source}...}.
function M.search_path(repo)
  local places = { { dir = (repo or default_repo.get()) .. "/.agent/presets", source = "project" } }
  local config_home = absolute_env("XDG_CONFIG_HOME")
  if not config_home and absolute_env("HOME") then
    config_home = absolute_env("HOME") .. "/.config"
  end
  if config_home then
    places[2] = { dir = config_home .. "/sidecar/presets", source = "user" }
  end
  return places
end

-- The folder of the built-in presets when the stdlib is loaded from disk (SIDECAR_STDLIB_DIR).
local function dev_presets()
  local dev = os.getenv("SIDECAR_STDLIB_DIR")
  return dev and dev ~= "" and (dev .. "/../presets") or nil
end

-- The built-in presets' names: embedded modules presets.<name>, or the presets folder beside a
-- stdlib loaded from disk.
local function builtin_names()
  if dev_presets() then
    return list_lua(dev_presets())
  end
  local names = {}
  for module in pairs(package.preload) do
    local name = module:match("^sidecar%.presets%.(.+)$")
    if name then
      names[#names + 1] = name
    end
  end
  return names
end

local function builtin_exists(name)
  if dev_presets() then
    return read(dev_presets() .. "/" .. name .. ".lua") ~= nil
  end
  return package.preload["sidecar.presets." .. name] ~= nil
end

-- A preset definition from a file's text (the text that was checked, never the file again).
local function define_from(path, text)
  local chunk, why = load(text, "@" .. path, "t")
  if not chunk then
    return nil, why
  end
  local ok, spec = pcall(chunk)
  if not ok then
    return nil, tostring(spec)
  end
  if type(spec) ~= "table" or type(spec.run) ~= "function" then
    return nil, path .. ": a preset file must return preset.define({...})"
  end
  return spec
end

-- A built-in preset: found only where built-ins live (never through package.path, whose "./?.lua"
-- would find a file of the repository at hand). Returns spec, or nil, why.
local function load_builtin(name)
  local module = "sidecar.presets." .. name
  if package.loaded[module] then
    return package.loaded[module]
  end
  local spec, why
  if dev_presets() then
    local path = dev_presets() .. "/" .. name .. ".lua"
    spec, why = define_from(path, read(path) or "")
  else
    local ok, value = pcall(require, module)
    spec, why = ok and value or nil, not ok and tostring(value) or nil
  end
  package.loaded[module] = spec or nil
  return spec, why
end

-- The project's preset file `path` of `repo`: its text when trusted, else nil and its trust state.
local function trusted_text(repo, name, path)
  local text = read(path)
  if not text then
    return nil, nil
  end
  local ok, state = trust.allows(repo or default_repo.get(), ".agent/presets/" .. name .. ".lua", text)
  if not ok then
    return nil, state
  end
  trust_guard.guard(repo or default_repo.get()) -- what it loads from the repository must be trusted too
  return text
end

---Every preset found, one entry per file (a name may come from several places):
---{{name, summary, source ("project" | "user" | "built-in"), path, trusted (false: a project
---file not trusted, not run, its summary not read), active (the one `preset run NAME` runs),
---shadows (the source of the next one of its name, which this one replaces), shadowed_by}...},
---by name, then in search order.
---@param repo? string
function M.list(repo)
  local out = {}
  for _, place in ipairs(M.search_path(repo)) do
    for _, name in ipairs(list_lua(place.dir)) do
      local path = place.dir .. "/" .. name .. ".lua"
      local e = { name = name, source = place.source, path = path, trusted = true }
      local text, state = read(path), nil
      if place.source == "project" then
        text, state = trusted_text(repo, name, path)
      end
      if state then
        e.trusted, e.state, e.summary = false, state, "(not run: `sidecar trust` runs it)"
      else
        local spec = text and define_from(path, text)
        e.summary = spec and spec.summary or "(does not load)"
      end
      out[#out + 1] = e
    end
  end
  for _, name in ipairs(builtin_names()) do
    local spec = load_builtin(name)
    out[#out + 1] = { name = name, source = "built-in", path = "presets/" .. name .. ".lua", trusted = true,
      summary = spec and spec.summary or "(does not load)" }
  end
  for i, e in ipairs(out) do
    e.order = i
  end
  table.sort(out, function(a, b)
    if a.name ~= b.name then
      return a.name < b.name
    end
    return a.order < b.order
  end)
  local active
  for _, e in ipairs(out) do
    if not active or active.name ~= e.name then
      active = nil
    end
    if not active and e.trusted then
      active, e.active = e, true
    elseif active then
      active.shadows = active.shadows or e.source
      e.shadowed_by, e.active = active.source, false
    else
      e.active = false
    end
    e.order = nil
  end
  return out
end

---Loads a preset by name: its definition, where it came from (source, path), and `info`:
---{shadows = the source of the preset of the same name it replaces, passed_over = {source, path,
---state} when a project preset of that name was not trusted and so not run}. Or nil, message,
---code: "not_found", "bad_preset", or "untrusted" (only an untrusted project preset has the
---name).
---@param name string
---@param repo? string
function M.load(name, repo)
  if type(name) ~= "string" or not name:match("^[%w][%w._-]*$") then
    return nil, ("'%s' is not a preset name"):format(tostring(name)), "not_found"
  end
  local info = {}
  local places = M.search_path(repo)
  for i, place in ipairs(places) do
    local path = place.dir .. "/" .. name .. ".lua"
    local text, state
    if place.source == "project" then
      text, state = trusted_text(repo, name, path)
    else
      text = read(path)
    end
    if state then
      info.passed_over = { source = place.source, path = path, state = state }
    elseif text then
      local spec, why = define_from(path, text)
      if not spec then
        return nil, why, "bad_preset"
      end
      for j = i + 1, #places do
        info.shadows = info.shadows or (read(places[j].dir .. "/" .. name .. ".lua") and places[j].source)
      end
      info.shadows = info.shadows or (builtin_exists(name) and "built-in" or nil)
      return spec, place.source, path, info
    end
  end
  if builtin_exists(name) then
    local spec, why = load_builtin(name)
    if not spec then
      return nil, why, "bad_preset"
    end
    return spec, "built-in", "presets/" .. name .. ".lua", info
  end
  if info.passed_over then
    local where = M.repo_label(repo)
    return nil, ("preset '%s' is %s, which is %s and not trusted, so it was not run: review it, then run "
      .. "`sidecar trust %s`"):format(name, info.passed_over.path,
        info.passed_over.state == "changed" and "changed since it was trusted" or "new", where), "untrusted"
  end
  local names, seen = {}, {}
  for _, p in ipairs(M.list(repo)) do
    if not seen[p.name] then
      seen[p.name] = true
      names[#names + 1] = p.name
    end
  end
  return nil, ("no preset '%s' (presets: %s)"):format(name, table.concat(names, ", ")), "not_found"
end

---How a repository is named in messages: its real path (the folder `sidecar trust` takes).
---@param repo? string
function M.repo_label(repo)
  repo = repo or default_repo.get()
  return trust.repo_key(repo) or repo
end

local function convert(p, text)
  if p.type == "string" then
    return text
  elseif p.type == "integer" then
    return math.tointeger(tonumber(text))
  elseif p.type == "number" then
    return tonumber(text)
  elseif p.type == "boolean" then
    return ({ ["true"] = true, yes = true, ["1"] = true, ["false"] = false, no = false, ["0"] = false })[text]
  end
  local list = {}
  for item in (text .. ","):gmatch("([^,]*),") do
    if item ~= "" then
      list[#list + 1] = item
    end
  end
  return list
end

---The names the `--param k=v` texts set (a set), so a preset can tell a value asked for from its
---default (ctx:given).
---@param given? string[]
---@return table<string, boolean>
function M.explicit(given)
  local names = {}
  for _, kv in ipairs(given or {}) do
    local k = kv:match("^([^=]+)=")
    if k then
      names[k] = true
    end
  end
  return names
end

---The parameters from `--param k=v` texts over the defaults; nil and a message naming the
---parameter when one is unknown or of the wrong type.
function M.params(spec, given)
  local out = {}
  for name, p in pairs(spec.params) do
    out[name] = p.default
  end
  for _, kv in ipairs(given or {}) do
    local k, v = kv:match("^([^=]+)=(.*)$")
    if not k then
      return nil, ("--param '%s': write NAME=VALUE"):format(kv)
    end
    local p = spec.params[k]
    if not p then
      local known = {}
      for n in pairs(spec.params) do
        known[#known + 1] = n
      end
      table.sort(known)
      return nil, ("--param %s: %s has no such parameter (parameters: %s)"):format(k, spec.name,
        #known > 0 and table.concat(known, ", ") or "none")
    end
    local value = convert(p, v)
    if p.type == "list" and #value == 0 then
      return nil, ("--param %s=%s: expected a list of one or more items, comma-separated (%s=a,b)"):format(k, v, k)
    end
    if value == nil then
      return nil, ("--param %s=%s: expected %s"):format(k, v, p.type == "integer" and "a whole number" or
        (p.type == "boolean" and "true or false" or ("a " .. p.type)))
    end
    if p.choices then
      local okc = false
      for _, c in ipairs(p.choices) do
        okc = okc or c == value
      end
      if not okc then
        return nil, ("--param %s=%s: expected one of %s"):format(k, v, table.concat(p.choices, ", "))
      end
    end
    local bad = p.check and p.check(value)
    if bad then
      return nil, ("--param %s=%s: %s"):format(k, v, bad)
    end
    out[k] = value
  end
  for name, p in pairs(spec.params) do
    if p.required and out[name] == nil then
      return nil, ("--param %s=... is required (%s)"):format(name, p.doc or p.type)
    end
  end
  return out
end

return M
