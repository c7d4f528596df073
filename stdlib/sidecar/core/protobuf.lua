--- Protocol Buffers' binary encoding, driven by a schema: what OTLP/HTTP's `http/protobuf` needs
--- (stdlib/sidecar/core/otlp.lua) without a code generator. A schema is a table of fields by name,
--- each {number, type, message = schema for "message", repeated = true}; a value is a Lua table of
--- the same names. Absent fields (nil) are not written, as proto3 leaves defaults out.
---
---   local pb = require("sidecar.core.protobuf")
---   local KeyValue = { key = { 1, "string" }, value = { 2, "message", message = AnyValue } }
---   pb.encode(KeyValue, { key = "a", value = { string_value = "b" } }) --> bytes
---
--- Types: string, bytes, hex (bytes given as hex text: OTLP/JSON's ids), bool, enum, uint32, uint64,
--- int64 (varints), fixed32, fixed64, sfixed64, double, message. A repeated scalar number field is written packed. Integers are Lua integers;
--- a 64-bit fixed field may also be given as a decimal string (OTLP's JSON form of nanoseconds).
local M = {}

local VARINT, I64, LEN, I32 = 0, 1, 2, 5

local WIRE = { string = LEN, bytes = LEN, hex = LEN, message = LEN, bool = VARINT, enum = VARINT, uint32 = VARINT,
  uint64 = VARINT, int64 = VARINT, fixed32 = I32, fixed64 = I64, sfixed64 = I64, double = I64 }

---The varint of integer n (a negative one as its two's complement, ten bytes).
function M.varint(n)
  local out = {}
  repeat
    local low = n & 0x7f
    n = n >> 7 -- logical shift: a negative number ends after ten bytes
    out[#out + 1] = string.char(n ~= 0 and (low | 0x80) or low)
  until n == 0
  return table.concat(out)
end

local function integer_of(v, name)
  if type(v) == "string" then
    v = math.tointeger(tonumber(v))
  elseif type(v) == "number" then
    v = math.tointeger(v) or math.tointeger(math.floor(v))
  end
  if not v then
    error(("protobuf: field %s: expected an integer"):format(name), 3)
  end
  return v
end

-- The bytes of one value (no key) of a field of type t.
local function scalar(t, v, name)
  if t == "hex" then
    if type(v) ~= "string" or #v % 2 == 1 or v:find("[^%x]") then
      error(("protobuf: field %s: expected hex text"):format(name), 3)
    end
    v = v:gsub("%x%x", function(h) return string.char(tonumber(h, 16)) end)
    t = "bytes"
  end
  if t == "string" or t == "bytes" then
    return M.varint(#v) .. v
  elseif t == "bool" then
    return v and "\1" or "\0"
  elseif t == "double" then
    return string.pack("<d", v)
  elseif t == "fixed32" then
    return string.pack("<I4", integer_of(v, name))
  elseif t == "fixed64" or t == "sfixed64" then
    return string.pack("<i8", integer_of(v, name))
  end
  return M.varint(integer_of(v, name)) -- enum, uint32, uint64, int64
end

local encode

-- The bytes of field f (its key and value) for value v, a list when f is repeated.
local function field(f, v, name)
  local number, t = f[1], f[2]
  if t == "message" then
    local out = {}
    for _, item in ipairs(f.repeated and v or { v }) do
      local body = encode(f.message, item)
      out[#out + 1] = M.varint(number << 3 | LEN) .. M.varint(#body) .. body
    end
    return table.concat(out)
  end
  if f.repeated and WIRE[t] ~= LEN then -- packed
    local parts = {}
    for i, item in ipairs(v) do
      parts[i] = scalar(t, item, name)
    end
    local body = table.concat(parts)
    return #v == 0 and "" or (M.varint(number << 3 | LEN) .. M.varint(#body) .. body)
  end
  local out = {}
  for _, item in ipairs(f.repeated and v or { v }) do
    out[#out + 1] = M.varint(number << 3 | WIRE[t]) .. scalar(t, item, name)
  end
  return table.concat(out)
end

---The binary encoding of `value` as a message of `schema`. Raises on a field the schema does not
---name or a value of the wrong kind (a programming error: the caller builds the value).
---@param schema table
---@param value table
---@return string
function encode(schema, value)
  local names = {}
  for name in pairs(value) do
    if not schema[name] then
      error(("protobuf: no field %s in this message"):format(tostring(name)), 2)
    end
    names[#names + 1] = name
  end
  table.sort(names, function(a, b) return schema[a][1] < schema[b][1] end)
  local out = {}
  for i, name in ipairs(names) do
    out[i] = field(schema[name], value[name], name)
  end
  return table.concat(out)
end
M.encode = encode

return M
