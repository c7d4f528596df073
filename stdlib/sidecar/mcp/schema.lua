--- The part of JSON Schema the MCP tools' input schemas use, checked: an object's properties,
--- `required`, `additionalProperties: false`; types string, integer, number, boolean, array
--- (`items`), object; `enum`, `minimum`, `maximum`, `maxLength`. One problem is reported, naming
--- the field: "wait_s: expected an integer from 0 to 3600, got \"soon\"".
local json = require("sidecar.core.json")

local M = {}

local function shown(v)
  if v == json.null then
    return "null"
  end
  local ok, text = pcall(json.encode, v)
  text = ok and text or ("a " .. type(v))
  return #text > 60 and (text:sub(1, 57) .. "...") or text
end

local TYPE_OK = {
  string = function(v) return type(v) == "string" end,
  integer = function(v) return math.type(v) == "integer" end,
  number = function(v) return type(v) == "number" end,
  boolean = function(v) return type(v) == "boolean" end,
  null = function(v) return v == json.null end,
  array = function(v) return json.is_array(v) or (type(v) == "table" and next(v) == nil and not json.is_object(v)) end,
  object = function(v) return json.is_object(v) or (type(v) == "table" and next(v) == nil and not json.is_array(v)) end,
}

local function expected(s)
  local what = ({ integer = "an integer", number = "a number", array = "an array", object = "an object" })[s.type]
    or ("a " .. s.type)
  if s.enum then
    local names = {}
    for i, e in ipairs(s.enum) do
      names[i] = ("%q"):format(e)
    end
    what = "one of " .. table.concat(names, ", ")
  elseif s.minimum and s.maximum then
    what = ("%s from %s to %s"):format(what, s.minimum, s.maximum)
  elseif s.minimum then
    what = ("%s >= %s"):format(what, s.minimum)
  end
  return what
end

local check

local function check_object(s, v, path)
  for _, name in ipairs(s.required or {}) do
    if v[name] == nil or v[name] == json.null then
      return ("%s: required"):format(path .. name)
    end
  end
  local props = s.properties or {}
  local names = {}
  for k in pairs(v) do
    names[#names + 1] = k
  end
  table.sort(names)
  for _, k in ipairs(names) do
    if props[k] then
      local problem = check(props[k], v[k], path .. k)
      if problem then
        return problem
      end
    elseif s.additionalProperties == false then
      local known = {}
      for p in pairs(props) do
        known[#known + 1] = p
      end
      table.sort(known)
      return ("%s: unknown field (fields: %s)"):format(path .. k, table.concat(known, ", "))
    elseif type(s.additionalProperties) == "table" then
      local problem = check(s.additionalProperties, v[k], path .. k)
      if problem then
        return problem
      end
    end
  end
end

-- The problem with `v` at `path`, or nil.
check = function(s, v, path)
  if type(s.type) == "table" then -- a union: ["string", "number"]
    for _, t in ipairs(s.type) do
      if TYPE_OK[t](v) then
        return nil
      end
    end
    return ("%s: expected one of %s, got %s"):format(path, table.concat(s.type, ", "), shown(v))
  end
  if s.type and not TYPE_OK[s.type](v) then
    return ("%s: expected %s, got %s"):format(path, expected(s), shown(v))
  end
  if s.enum then
    local found = false
    for _, e in ipairs(s.enum) do
      found = found or e == v
    end
    if not found then
      return ("%s: expected %s, got %s"):format(path, expected(s), shown(v))
    end
  end
  if (s.minimum and v < s.minimum) or (s.maximum and v > s.maximum) then
    return ("%s: expected %s, got %s"):format(path, expected(s), shown(v))
  end
  if s.maxLength and utf8.len(v) and utf8.len(v) > s.maxLength then
    return ("%s: longer than %d characters"):format(path, s.maxLength)
  end
  if s.type == "array" and s.items then
    for i, item in ipairs(v) do
      local problem = check(s.items, item, ("%s[%d]"):format(path, i - 1))
      if problem then
        return problem
      end
    end
  elseif s.type == "object" then
    return check_object(s, v, path == "" and "" or (path .. "."))
  end
end

---The first problem of `value` against `schema` ("title: required"), or nil when it fits.
---@param schema table
---@param value any
---@return string|nil
function M.check(schema, value)
  local problem = check(schema, value, "")
  return problem and (problem:gsub("^: ", "arguments: ")) or nil
end

return M
