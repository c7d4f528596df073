--- A readable rendering of any Lua value, for people (the REPL prints results with it).
---
--- Tables print with their sequence first and then their other keys in sorted order, on one line
--- when they fit in `width` columns and indented otherwise; a table inside itself prints as
--- `<cycle>`, tables deeper than `depth` as `{...}`. Strings are quoted with escapes, so what you
--- see can be pasted back into Lua. Empty JSON-marked tables show as `json.array()` /
--- `json.object()` so `[]` and `{}` stay distinguishable.
local option_keys = require("sidecar.core.option_keys")

local M = {}

local json_marker -- name of the JSON marker metatable of a table, if any (loaded lazily)
do
  local ok, host = pcall(require, "sidecar.host.json")
  json_marker = function(t)
    local mt = ok and getmetatable(t)
    if mt == host.array_mt then
      return "json.array()"
    elseif mt == host.object_mt then
      return "json.object()"
    end
  end
end

local escapes = { ['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }

local function quote(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return escapes[c] or string.format("\\%03d", c:byte())
  end) .. '"'
end

local keywords = {}
for w in ([[and break do else elseif end false for function goto if in local nil not or
  repeat return then true until while]]):gmatch("%a+") do
  keywords[w] = true
end

local function is_identifier(k)
  return type(k) == "string" and k:match("^[%a_][%w_]*$") ~= nil and not keywords[k]
end

local type_order = { number = 1, string = 2, boolean = 3 }

local function key_less(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then
    return (type_order[ta] or 9) < (type_order[tb] or 9) or
      ((type_order[ta] or 9) == (type_order[tb] or 9) and ta < tb)
  end
  if ta == "number" or ta == "string" then
    return a < b
  end
  return tostring(a) < tostring(b)
end

local function scalar(v)
  local t = type(v)
  if t == "string" then
    return quote(v)
  elseif t == "number" then
    if math.type(v) == "float" then
      if v ~= v then
        return "0/0"
      elseif v == math.huge then
        return "math.huge"
      elseif v == -math.huge then
        return "-math.huge"
      end
      local s
      for digits = 14, 17 do -- the shortest form that reads back as the same float
        s = string.format("%." .. digits .. "g", v)
        if tonumber(s) == v then
          break
        end
      end
      return s:find("[%.eE]") and s or s .. ".0"
    end
    if v == math.mininteger then
      return "math.mininteger" -- its digits would read back as a float
    end
    return tostring(v)
  end
  return tostring(v)
end

-- `lead`: columns already used on the line before this value (its key, "key = ").
local function render(v, opts, level, open, lead)
  if type(v) ~= "table" then
    return scalar(v)
  end
  if open[v] then
    return "<cycle>"
  end
  if next(v) == nil then
    return json_marker(v) or "{}"
  end
  if level >= opts.depth then
    return "{...}"
  end
  open[v] = true

  local parts = {}
  local n = #v
  for i = 1, n do
    parts[#parts + 1] = render(v[i], opts, level + 1, open, 0)
  end
  local keys = {}
  for k in pairs(v) do
    if not (math.type(k) == "integer" and k >= 1 and k <= n) then
      keys[#keys + 1] = k
    end
  end
  table.sort(keys, key_less)
  for _, k in ipairs(keys) do
    local name = is_identifier(k) and k or "[" .. scalar(k) .. "]"
    parts[#parts + 1] = name .. " = " .. render(v[k], opts, level + 1, open, #name + 3)
  end
  open[v] = nil

  local one_line = "{ " .. table.concat(parts, ", ") .. " }"
  local pad = opts.indent:rep(level)
  -- +1: the comma that may follow it inside its parent
  if #pad + lead + #one_line + (level > 0 and 1 or 0) <= opts.width and not one_line:find("\n", 1, true) then
    return one_line
  end
  local inner = pad .. opts.indent
  return "{\n" .. inner .. table.concat(parts, ",\n" .. inner) .. "\n" .. pad .. "}"
end

local INSPECT_OPTIONS = { "depth", "indent", "width" }

---Renders `value` as text; an unknown option raises a bad_option error.
---@param value any
---@param opts? {depth?: integer, indent?: string, width?: integer}
---@return string
function M.inspect(value, opts)
  opts = opts or {}
  option_keys.check("inspect", opts, INSPECT_OPTIONS, 2)
  return render(value, {
    depth = opts.depth or 8,
    indent = opts.indent or "  ",
    width = opts.width or 80,
  }, 0, {}, 0)
end

return setmetatable(M, {
  __call = function(_, value, opts)
    return M.inspect(value, opts)
  end,
})
