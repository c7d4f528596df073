--- Durations as people write them on a command line or in a config file: 1500ms, 30s, 5m, 2h,
--- 1d, or a combination such as 1h30m; a bare number is seconds.
---
---   duration.parse("5m")      --> 300000 (milliseconds)
---   duration.parse("soon")    --> nil, "'soon' is not a duration (write 90s, 5m, 2h or 1h30m)"
---   duration.format(65000)    --> "1m05s"
local option_keys = require("sidecar.core.option_keys")

local M = {}

local UNIT_MS = { ms = 1, s = 1000, m = 60000, h = 3600000, d = 86400000 }

local PARSE_OPTIONS = { "bare" }

---Milliseconds (a positive integer), or nil and why. The one parser of durations: options,
---config files and validation steps (`test@30s:…`) all read theirs here. An unknown option raises
---a bad_option error.
---@param text string|integer
---@param opts? {bare: boolean?}  bare = false: a number without a unit is refused (default: seconds)
function M.parse(text, opts)
  option_keys.check("duration.parse", opts, PARSE_OPTIONS, 2)
  local bare_ok = not (opts and opts.bare == false)
  if bare_ok and math.type(text) == "integer" and text > 0 then
    return text * 1000
  end
  local short = ("'%s' is too short: a duration is 1ms or more"):format(tostring(text))
  if bare_ok and math.type(text) == "integer" then
    return nil, short
  elseif type(text) ~= "string" then
    return nil, ("%s is not a duration (write 90s, 5m, 2h or 1h30m)"):format(type(text) == "number"
      and tostring(text) or "a " .. type(text))
  end
  local bad = ("'%s' is not a duration (write 90s, 5m, 2h or 1h30m)"):format(text)
  if text:match("^%d+$") then
    if not bare_ok then
      return nil, ("'%s' is not a duration: give it a unit (%ss, %sms)"):format(text, text, text)
    end
    local n = math.tointeger(tonumber(text))
    return n and n > 0 and n * 1000 or nil, n and n > 0 and nil or (n and short or bad)
  end
  local total, rest = 0, text
  while rest ~= "" do
    local n, unit, after = rest:match("^(%d+%.?%d*)(%a+)(.*)$")
    if not n or not UNIT_MS[unit] then
      return nil, bad
    end
    total, rest = total + tonumber(n) * UNIT_MS[unit], after
  end
  total = math.floor(total + 0.5)
  if total <= 0 then
    return nil, text == "" and bad or short
  end
  return total
end

---For people: 850ms, 12.3s, 3m05s, 2h04m.
---@param ms number|nil
function M.format(ms)
  if type(ms) ~= "number" then
    return "-"
  end
  if ms < 1000 then
    return ("%dms"):format(math.floor(ms))
  elseif ms < 60000 then
    return ("%.1fs"):format(ms / 1000)
  elseif ms < 3600000 then
    return ("%dm%02ds"):format(ms // 60000, (ms % 60000) // 1000)
  end
  return ("%dh%02dm"):format(ms // 3600000, (ms % 3600000) // 60000)
end

return M
