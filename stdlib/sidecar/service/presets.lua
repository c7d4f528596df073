--- The preset commands' work that reads, as data (sidecar.service.result): every preset, and one
--- preset's spec. `sidecar preset list|show` render it as text or `--json`; `sidecar ui` and
--- `sidecar mcp` answer with it.
---
---   local r = presets.list({ repo = "." })               -- r.data: {name, source, trusted, ...}[]
---   local r = presets.show({ repo = ".", name = "triangulated-review" })
local default_repo = require("sidecar.core.default_repo")
local json = require("sidecar.core.json")
local preset = require("sidecar.preset.define")
local result = require("sidecar.service.result")

local M = {}

-- Where a listed preset comes from, for people: "project (untrusted)", "project (replaces
-- built-in)", "built-in (replaced by project)", or the source alone.
local function origin(p)
  if not p.trusted then
    return p.source .. " (untrusted)"
  elseif p.shadows then
    return ("%s (replaces %s)"):format(p.source, p.shadows)
  elseif p.shadowed_by then
    return ("%s (replaced by %s)"):format(p.source, p.shadowed_by)
  end
  return p.source
end

---Every preset file, a name as often as it is found, with its origin; a project's untrusted preset
---is listed by name without running it. Each {name, source, origin (for people), path, summary, trusted, active,
---shadows, shadowed_by}.
---@param o {repo: string?}
function M.list(o)
  local data = {}
  for i, p in ipairs(preset.list(o.repo or default_repo.get())) do
    data[i] = { name = p.name, source = p.source, origin = origin(p), path = p.path, summary = p.summary, trusted = p.trusted,
      active = p.active, shadows = p.shadows or json.null, shadowed_by = p.shadowed_by or json.null }
  end
  return result.ok(json.array(data))
end

---Loads preset `name` of `repo` (default ".", or an embedding Host's root:
---sidecar.core.default_repo): spec, source, path, info (sidecar.preset.define.load); or nil and a
---failed result, an untrusted preset's with data {code = "untrusted", name, repo}.
---@param name string
---@param repo? string
function M.load(name, repo)
  local spec, source, path, info = preset.load(name, repo or default_repo.get())
  if spec then
    return spec, source, path, info
  elseif path == "untrusted" then
    return nil, result.fail(source, nil, { code = path, name = name, repo = preset.repo_label(repo) })
  end
  return nil, result.fail(source)
end

---One preset's spec: {name, summary, source, path, shadows, passed_over, description, params =
---{name, type, default, required, doc, choices}[] (sorted by name), escalates}. A preset that cannot
---load fails; an untrusted one fails with data {code = "untrusted", name, repo}.
---@param o {repo: string?, name: string}
function M.show(o)
  local spec, source, path, info = M.load(o.name, o.repo)
  if not spec then
    return source
  end
  local names = {}
  for name in pairs(spec.params) do
    names[#names + 1] = name
  end
  table.sort(names)
  local params = {}
  for i, name in ipairs(names) do
    local p = spec.params[name]
    params[i] = { name = name, type = p.type, default = p.default == nil and json.null or p.default,
      required = p.required == true, doc = p.doc or json.null, choices = p.choices and json.array(p.choices) or json.null }
  end
  return result.ok({ name = spec.name, summary = spec.summary, source = source, path = path,
    shadows = info.shadows or json.null, passed_over = info.passed_over or json.null,
    description = spec.description or json.null, params = json.array(params), escalates = json.array(spec.escalates) })
end

return M
