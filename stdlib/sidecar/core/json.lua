--- JSON that round-trips exactly (the rules of lua-cjson, made strict).
---
--- * JSON null is `json.null`, a unique value (never nil, which a table cannot hold).
--- * Decoded arrays and objects carry a marker, so `[]` and `{}` survive decode -> encode;
---   `json.array(t)` and `json.object(t)` mark tables you build. An unmarked table is an array
---   when its keys are 1..n, an object when they are all strings; an empty one is `{}`.
--- * Integers stay integers and floats stay floats (`2.0` is written `2.0`).
--- * Object keys are written in sorted (byte) order, so files diff cleanly.
--- * Errors: NaN and infinities, mixed or sparse tables, cycles, non-string keys and invalid
---   UTF-8 name the path of the value (`$.a[3].b`, with Lua's 1-based indices); a decode error
---   gives line and column; nesting deeper than `json.max_depth` is an error, never a crash.
local host = require("sidecar.host.json")
local errors = require("sidecar.core.errors")

local M = {}

M.null = host.null
M.max_depth = host.max_depth

---Encodes a Lua value as JSON text. Raises on values JSON cannot hold.
---@param value any
---@param opts? {indent?: integer}  indent > 0 writes one element per line
---@return string
M.encode = host.encode -- bound directly so its errors point at the caller's line

---Decodes JSON text. Raises an error with code "json_decode", `line` and `column` on bad input.
---@param text string
---@return any
function M.decode(text)
  if type(text) ~= "string" then
    error("json.decode: expected a string, got " .. type(text), 2)
  end
  local value, message, line, column = host.decode(text)
  if value == nil then
    errors.raise("json_decode", message, { line = line, column = column }, 2)
  end
  return value
end

---Decodes JSON text without raising: true and the value, or false and a "json_decode" error (the
---text is not a string, or not JSON). What `pcall(json.decode, text)` gives, except that a Ctrl-C
---landing in it is never swallowed: no pcall is involved.
---@param text any
---@return boolean ok
---@return any value_or_error
function M.try_decode(text)
  if type(text) ~= "string" then
    return false, errors.new("json_decode", "json.decode: expected a string, got " .. type(text), nil, 0)
  end
  local value, message, line, column = host.decode(text)
  if value == nil then
    return false, errors.new("json_decode", message, { line = line, column = column }, 0)
  end
  return true, value
end

---Marks `t` (or a new table) as a JSON array.
---@param t? table
---@return table
function M.array(t)
  return setmetatable(t or {}, host.array_mt)
end

---Marks `t` (or a new table) as a JSON object.
---@param t? table
---@return table
function M.object(t)
  return setmetatable(t or {}, host.object_mt)
end

-- Marks the unmarked empty tables under `v` as arrays (M.empty_as_arrays); `seen`: tables walked.
local function mark_empty(v, seen)
  if type(v) ~= "table" or seen[v] then
    return
  end
  seen[v] = true
  if next(v) == nil and getmetatable(v) == nil then
    M.array(v)
  end
  for _, item in pairs(v) do
    mark_empty(item, seen)
  end
end

---Marks every empty table in `v` that has no mark (nor any metatable) as an array, at any depth, and
---returns `v`: for data whose empty tables are lists (a preset's `data`), where `{}` would say
---"an object". A table marked json.object stays `{}`.
---@param v any
---@return any
function M.empty_as_arrays(v)
  mark_empty(v, {})
  return v
end

---@param v any
---@return boolean
function M.is_array(v)
  return type(v) == "table" and getmetatable(v) == host.array_mt
end

---@param v any
---@return boolean
function M.is_object(v)
  return type(v) == "table" and getmetatable(v) == host.object_mt
end


---The shape of a table as JSON sees it: "array" or "object" by its mark (json.array,
---json.object, what decode made), else by its keys: "object" when all are strings, "array" when
---they are exactly 1..n, "empty" for an unmarked {}, "mixed" otherwise (holes, or number and
---string keys together: a table encode refuses).
---@param t table
---@return "array"|"object"|"empty"|"mixed"
function M.shape(t)
  if M.is_array(t) then
    return "array"
  elseif M.is_object(t) then
    return "object"
  elseif next(t) == nil then
    return "empty"
  end
  local n, strings = 0, true
  for k in pairs(t) do
    n = n + 1
    strings = strings and type(k) == "string"
  end
  if strings then
    return "object"
  end
  for i = 1, n do
    if rawget(t, i) == nil then
      return "mixed"
    end
  end
  return "array"
end
return M
