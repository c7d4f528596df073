--- Sizes as people write them in a config file or on a command line: 64MiB, 512KiB, 1.5GiB,
--- 100MB, 4096B, or a bare number of bytes. KiB, MiB, GiB and TiB count in 1024s; kB, MB, GB and
--- TB in 1000s; case and a space before the unit do not matter.
---
---   byte_size.parse("64MiB")    --> 67108864
---   byte_size.parse("lots")     --> nil, "'lots' is not a size (write 64MiB, 512KiB or a number of bytes)"
---   byte_size.format(67108864)  --> "64 MiB"
local M = {}

local UNIT = {
  b = 1,
  kib = 1024, mib = 1024 ^ 2, gib = 1024 ^ 3, tib = 1024 ^ 4,
  kb = 1000, mb = 1000 ^ 2, gb = 1000 ^ 3, tb = 1000 ^ 4,
}
local HINT = "write 64MiB, 512KiB or a number of bytes"
-- Beyond this a size cannot be a whole number of bytes in a Lua integer (2^53, exact in a float).
local LARGEST = 2 ^ 53

---Bytes (a positive integer), or nil and why.
---@param text string|integer
---@return integer|nil bytes, string? why
function M.parse(text)
  if math.type(text) == "integer" then
    if text > 0 then
      return text
    end
    return nil, ("%d is not a size: it must be more than 0 bytes"):format(text)
  end
  if type(text) == "number" then
    return nil, ("%s is not a size: a number of bytes is a whole number"):format(tostring(text))
  elseif type(text) ~= "string" then
    return nil, ("a %s is not a size (%s)"):format(type(text), HINT)
  end
  local number, unit = text:match("^%s*(%d+%.?%d*)%s*(%a*)%s*$")
  local scale = number and UNIT[unit:lower() == "" and "b" or unit:lower()]
  if not scale then
    return nil, ("'%s' is not a size (%s)"):format(text, HINT)
  elseif scale == 1 and number:find("%.%d*[1-9]") then
    return nil, ("'%s' is not a size: a number of bytes is a whole number"):format(text)
  end
  local bytes = math.floor(tonumber(number) * scale)
  if bytes <= 0 or bytes > LARGEST then
    return nil, ("'%s' is not a size between 1 byte and 8 PiB"):format(text)
  end
  return math.tointeger(bytes)
end

local FORMAT_UNITS = { { 1024 ^ 4, "TiB" }, { 1024 ^ 3, "GiB" }, { 1024 ^ 2, "MiB" }, { 1024, "KiB" } }

---For people: 64 MiB, 1.8 GiB, 1536 bytes (whole units stay whole; others get one decimal).
---@param bytes integer|nil
---@return string
function M.format(bytes)
  if math.type(bytes) ~= "integer" then
    return "-"
  end
  for _, u in ipairs(FORMAT_UNITS) do
    local size, name = u[1], u[2]
    if bytes >= size then
      if bytes % size == 0 then
        return ("%d %s"):format(bytes // size, name)
      end
      return ("%.1f %s"):format(bytes / size, name)
    end
  end
  return bytes == 1 and "1 byte" or ("%d bytes"):format(bytes)
end

return M
