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

M.MAX_MS = 366 * 86400000 -- the longest duration: a year (past it, a number is a mistake)

-- `ms` when it is a duration (1 ms to MAX_MS), else nil and why, in the words of `text`.
local function bounded(ms, text)
  if ms <= 0 then
    return nil, ("'%s' is too short: a duration is 1ms or more"):format(text)
  elseif ms > M.MAX_MS then
    return nil, ("'%s' is too long: a duration is at most 366d"):format(text)
  end
  return math.tointeger(ms) or math.floor(ms)
end

---Milliseconds (a positive integer, at most MAX_MS), or nil and why. The one parser of durations:
---options, config files and validation steps (`test@30s:…`) all read theirs here. An unknown option
---raises a bad_option error.
---@param text string|integer
---@param opts? {bare: boolean?}  bare = false: a number without a unit is refused (default: seconds)
function M.parse(text, opts)
  option_keys.check("duration.parse", opts, PARSE_OPTIONS, 2)
  local bare_ok = not (opts and opts.bare == false)
  if bare_ok and math.type(text) == "integer" then
    return bounded(text * 1000.0, tostring(text)) -- a float: a huge number cannot wrap round
  elseif type(text) ~= "string" then
    return nil, ("%s is not a duration (write 90s, 5m, 2h or 1h30m)"):format(type(text) == "number"
      and tostring(text) or "a " .. type(text))
  end
  local bad = ("'%s' is not a duration (write 90s, 5m, 2h or 1h30m)"):format(text)
  if text:match("^%d+$") then
    if not bare_ok and tonumber(text) > 0 then
      return nil, ("'%s' is not a duration: give it a unit (%ss, %sms)"):format(text, text, text)
    end
    return bounded(tonumber(text) * 1000.0, text)
  end
  local total, rest = 0, text
  while rest ~= "" do
    local n, unit, after = rest:match("^(%d+%.?%d*)(%a+)(.*)$")
    if not n or not UNIT_MS[unit] then
      return nil, bad
    end
    total, rest = total + tonumber(n) * UNIT_MS[unit], after
  end
  if text == "" then
    return nil, bad
  end
  return bounded(math.floor(total + 0.5), text)
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
