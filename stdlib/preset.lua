--- Presets: orchestration scripts in Lua with typed parameters. A preset file returns
--- `preset.define{...}`; Sidecar finds presets in `./.agent/presets/`, then
--- `~/.config/sidecar/presets/` ($XDG_CONFIG_HOME), then the built-in ones, the first found
--- winning, so a project can replace a built-in preset by writing one of the same name.
---
---   -- .agent/presets/todo-scan.lua
---   local preset = require("preset")
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
--- the preset did not succeed}. ctx is described in stdlib/preset_context.lua.
---
--- A parameter is {type, default, doc, choices?, required?, check?}; `check(value)` returns nil
--- when a value given on the command line is fine, else why not (a usage error, exit 2).
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

local function exists(path)
  local f = io.open(path, "rb")
  if f then
    f:close()
    return true
  end
  return false
end

local function list_lua(dir)
  local names = {}
  local ok, artifact = pcall(require, "artifact")
  if not ok then
    return names
  end
  local d = artifact.open(dir)
  if not d then
    return names
  end
  for _, path in ipairs(d:list("*.lua") or {}) do
    names[#names + 1] = path:match("([^/]+)%.lua$")
  end
  d:close()
  return names
end

---The folders searched for presets, in order: {{dir, source}...}.
function M.search_path(repo)
  local home = os.getenv("XDG_CONFIG_HOME")
  if not home or home == "" then
    home = (os.getenv("HOME") or "") .. "/.config"
  end
  return { { dir = (repo or ".") .. "/.agent/presets", source = "project" },
    { dir = home .. "/sidecar/presets", source = "user" } }
end

-- The built-in presets' names: embedded modules presets.<name>, or the presets folder beside a
-- stdlib loaded from disk (SIDECAR_STDLIB_DIR).
local function builtin_names()
  local names = {}
  local dev = os.getenv("SIDECAR_STDLIB_DIR")
  if dev and dev ~= "" then
    return list_lua(dev .. "/../presets")
  end
  for module in pairs(package.preload) do
    local name = module:match("^presets%.(.+)$")
    if name then
      names[#names + 1] = name
    end
  end
  return names
end

local function load_file(path)
  local chunk, why = loadfile(path)
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

---Every preset: {{name, summary, source ("project" | "user" | "built-in"), path}...}, by name.
function M.list(repo)
  local seen, out = {}, {}
  local function add(name, source, path)
    if not seen[name] then
      seen[name] = true
      local spec = M.load(name, repo)
      out[#out + 1] = { name = name, source = source, path = path, summary = spec and spec.summary or "(does not load)" }
    end
  end
  for _, place in ipairs(M.search_path(repo)) do
    for _, name in ipairs(list_lua(place.dir)) do
      add(name, place.source, place.dir .. "/" .. name .. ".lua")
    end
  end
  for _, name in ipairs(builtin_names()) do
    add(name, "built-in", "presets/" .. name .. ".lua")
  end
  table.sort(out, function(a, b) return a.name < b.name end)
  return out
end

---Loads a preset by name: its definition and where it came from, or nil, message, "not_found".
function M.load(name, repo)
  if type(name) ~= "string" or not name:match("^[%w][%w._-]*$") then
    return nil, ("'%s' is not a preset name"):format(tostring(name)), "not_found"
  end
  for _, place in ipairs(M.search_path(repo)) do
    local path = place.dir .. "/" .. name .. ".lua"
    if exists(path) then
      local spec, why = load_file(path)
      if not spec then
        return nil, why, "bad_preset"
      end
      return spec, place.source, path
    end
  end
  local ok, spec = pcall(require, "presets." .. name)
  if ok and type(spec) == "table" then
    return spec, "built-in", "presets/" .. name .. ".lua"
  end
  if not ok and not tostring(spec):find("module 'presets%." .. name:gsub("%p", "%%%0") .. "' not found") then
    return nil, tostring(spec), "bad_preset"
  end
  local names = {}
  for _, p in ipairs(M.list(repo)) do
    names[#names + 1] = p.name
  end
  return nil, ("no preset '%s' (presets: %s)"):format(name, table.concat(names, ", ")), "not_found"
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
