--- The `notify` setting of `.agent/config.lua`: who is told, how, and of what.
---
--- Two forms. Today's single command (a string for /bin/sh, an argv list, or true: notify-send)
--- is told when a background run ends and when a run needs someone (stdlib/sidecar/task/notices.lua).
--- A list of channels, each a table, is told of the events it names, for every run, preset and
--- pipeline (stdlib/sidecar/run/notify.lua):
---
---   notify = {
---     { kind = "webhook", url = "https://hooks.example/sidecar", events = { "review", "needs_input" } },
---     { kind = "webhook", url = os.getenv("SLACK_HOOK"), format = "slack" },
---     { kind = "ntfy", url = "https://ntfy.sh/my-topic", headers = { Authorization = "Bearer " .. os.getenv("NTFY") } },
---     { kind = "desktop" },
---     { kind = "command", command = { "my-notifier", "--quiet" }, events = { "failed" } },
---   }
---
--- `events` defaults to M.DEFAULT_EVENTS; `rate` (default 6) is the most a channel sends in a minute;
--- `timeout` (default "10s") bounds each attempt; `name` names it in records (else its kind, host and
--- a digest of its URL or command).
local option_keys = require("sidecar.core.option_keys")

local M = {}

---The events a channel may ask for, with what each means (docs/notifications.md).
M.EVENTS = {
  review = "a run is ready for review",
  needs_input = "a run needs someone: stuck, or waiting for input on its terminal",
  budget = "a run was stopped by a budget",
  failed = "a run failed",
  blocked = "a run was blocked (a gate, validation, a reviewer)",
  unknown = "a run's outcome is unknown (its owner died before it ended)",
  stopped = "a run was stopped (run kill, Ctrl-C)",
  completed = "a run was approved",
}
M.DEFAULT_EVENTS = { "review", "needs_input", "budget", "failed", "blocked", "unknown" }
M.KINDS = { webhook = "url", ntfy = "url", desktop = false, command = "command" }
M.FORMATS = { json = true, slack = true, discord = true }
M.DEFAULT_RATE = 6

local KEYS = { kind = true, name = true, url = true, format = true, events = true, headers = true, command = true,
  rate = true, timeout = true }
M.DEFAULT_TIMEOUT = "10s"

local sorted_keys = option_keys.known

---Whether `v` is the list-of-channels form (else today's single command, or nothing).
function M.is_channels(v)
  return type(v) == "table" and type(v[1]) == "table"
end

---Today's single-command form of `cfg`'s notify (a string, an argv list or true), or nil (none, an
---empty list, or a list of channels, which stdlib/sidecar/run/notify.lua tells instead).
function M.command(cfg)
  local v = type(cfg) == "table" and rawget(cfg, "notify") or nil
  if M.is_channels(v) or (type(v) == "table" and next(v) == nil) then -- `{}`: no channel, no command
    return nil
  end
  return v
end

---What is wrong with `url` as a sender's endpoint (http or https in any case, one line, a host, a
---port from 1 to 65535), or nil; it names no more of the URL than its scheme.
---@param url any
---@return string|nil
function M.url_problem(url)
  if type(url) ~= "string" then
    return "got " .. type(url) .. (url == nil and " (none: a variable it was read from, os.getenv(...), is not set?)" or "")
  end
  local scheme, authority = url:match("^(%a[%w+.-]*)://([^/?#]*)")
  if not (scheme and (scheme:lower() == "http" or scheme:lower() == "https")) then
    local other = url:match("^(%a[%w+.-]*):")
    return other and not url:match("^%a[%w+.-]*:%d") and ("got one to " .. other)
      or "got one with no scheme (write http:// or https:// before the host)"
  elseif url:find("[%s%c]") then
    return "got one holding a space or a line break"
  end
  local where = authority:gsub("^.*@", "") -- after a user and password
  local host, rest = where:match("^(%b[])(.*)$") -- an IPv6 address
  if not host then
    host, rest = where:match("^([^:]*)(.*)$")
  end
  local port = rest:match("^:(%d*)$")
  if host == "" then
    return "got one with no host"
  elseif rest ~= "" and not (port == "" or (port and tonumber(port) >= 1 and tonumber(port) <= 65535)) then
    return "got one whose port is not 1 to 65535"
  end
  return nil
end

---`url` with its scheme in lower case ("HTTPS://h/x" -> "https://h/x"), as the rest of Sidecar reads it.
---@param url string
---@return string
function M.normal_url(url)
  return (url:gsub("^(%a[%w+.-]*)://", function(scheme) return scheme:lower() .. "://" end, 1))
end

---Checks a sender's URL setting (path.url): http or https, one line, a host, a port from 1 to
---65535. True, or nil and why; the why names no more of the URL than its scheme (its path or
---query may hold a token).
function M.check_url(path, url)
  local why = M.url_problem(url)
  if why then
    return nil, ("%s.url: expected an http:// or https:// URL, %s"):format(path, why)
  end
  return true
end

local function check_events(path, events)
  if type(events) ~= "table" or #events == 0 then
    return nil, ("%s.events: expected a list of events (%s)"):format(path, sorted_keys(M.EVENTS))
  end
  for i, e in ipairs(events) do
    if not M.EVENTS[e] then
      local near = type(e) == "string" and option_keys.nearest(e, option_keys.sorted(M.EVENTS)) or nil
      return nil, ("%s.events[%d]: unknown event %s%s (known: %s)"):format(path, i, type(e) == "string"
        and ("%q"):format(e) or type(e), near and (" (did you mean " .. near .. "?)") or "", sorted_keys(M.EVENTS))
    end
  end
  return true
end

---Whether `name` may name an HTTP header (RFC 9110's token: letters, digits and !#$%&'*+-.^_`|~).
---@param name any
---@return boolean
function M.header_name(name)
  return type(name) == "string" and name:match("^[%w!#$%%&'*+%-.^_`|~]+$") ~= nil
end

---Checks a sender's headers setting (path.headers): {Name = "value"}. True, or nil and why.
function M.check_headers(path, headers)
  if type(headers) ~= "table" then
    return nil, path .. ".headers: expected a table of header names and values"
  end
  for k, v in pairs(headers) do
    if not M.header_name(k) then
      return nil, ("%s.headers: %q is not a header name (letters, digits, !#$%%&'*+-.^_`|~)"):format(path,
        tostring(k))
    elseif type(v) ~= "string" or v:find("[\r\n\0]") then -- its value is not shown: it may be a token
      return nil, ("%s.headers: the value of %q is not a string of one line (%s)"):format(path, k,
        type(v) ~= "string" and ("got " .. type(v)) or "it holds a line break or a NUL")
    end
  end
  return true
end

local function check_command(path, command)
  if type(command) == "string" and command ~= "" then
    return true
  end
  if type(command) == "table" and #command > 0 then
    for i, a in ipairs(command) do
      if type(a) ~= "string" then
        return nil, ("%s.command[%d]: expected a string"):format(path, i)
      end
    end
    return true
  end
  return nil, path .. ".command: expected a command (a string for /bin/sh, or a list of arguments)"
end

-- The settings only some kinds of channel have.
local ONLY = { url = { webhook = true, ntfy = true }, headers = { webhook = true, ntfy = true },
  command = { command = true }, format = { webhook = true } }

-- One channel's table: nil, why on the first problem.
local function check_channel(path, c)
  for k in pairs(c) do
    if not KEYS[k] then
      local near = type(k) == "string" and option_keys.nearest(k, option_keys.sorted(KEYS)) or nil
      return nil, ("%s.%s: unknown setting%s (known: %s)"):format(path, tostring(k),
        near and (" (did you mean " .. near .. "?)") or "", sorted_keys(KEYS))
    end
  end
  local needs = M.KINDS[c.kind]
  if needs == nil then
    local near = type(c.kind) == "string" and option_keys.nearest(c.kind, option_keys.sorted(M.KINDS)) or nil
    return nil, ("%s.kind: expected one of %s, got %s%s"):format(path, sorted_keys(M.KINDS), type(c.kind) == "string"
      and ("%q"):format(c.kind) or type(c.kind), near and (" (did you mean " .. near .. "?)") or "")
  end
  for key, kinds in pairs(ONLY) do
    if c[key] ~= nil and not kinds[c.kind] then
      return nil, ("%s.%s: a %s channel has none (it is a setting of %s)"):format(path, key, c.kind, sorted_keys(kinds))
    end
  end
  local ok, why = true, nil
  if needs == "url" then
    ok, why = M.check_url(path, c.url)
  elseif needs == "command" then
    ok, why = check_command(path, c.command)
  end
  if ok and c.format ~= nil and (c.kind ~= "webhook" or not M.FORMATS[c.format]) then
    ok, why = nil, ("%s.format: a webhook's body: \"json\" (the default), \"slack\" or \"discord\""):format(path)
  end
  if ok and c.events ~= nil then
    ok, why = check_events(path, c.events)
  end
  if ok and c.headers ~= nil then
    ok, why = M.check_headers(path, c.headers)
  end
  if ok and c.rate ~= nil and not (math.type(c.rate) == "integer" and c.rate >= 1) then
    ok, why = nil, ("%s.rate: expected a whole number from 1 (notifications a minute)"):format(path)
  end
  if ok and c.timeout ~= nil then
    local ms, bad = require("sidecar.core.duration").parse(c.timeout)
    ok, why = ms and ms > 0 and ms <= 600000 or nil, ("%s.timeout: %s"):format(path, bad or "expected 1ms to 10m")
  end
  if ok and c.name ~= nil and (type(c.name) ~= "string" or not c.name:find("%S") or c.name:match("^%d+:")) then
    ok, why = nil, path .. ".name: expected a name (a string that is not blank and does not begin like the names "
      .. "Sidecar gives, a number and ':')"
  end
  return ok, why
end

---Checks the `notify` setting (either form). True, or nil and why naming the setting.
---@param path string  "notify"
---@return true|nil ok, string? why
function M.check(path, v)
  if not M.is_channels(v) then
    return nil -- today's form: the config's own check
  end
  local n = 0
  while v[n + 1] ~= nil do
    n = n + 1
  end
  for k in pairs(v) do
    if math.type(k) ~= "integer" or k < 1 or k > n then
      return nil, ("%s[%s]: the list of channels has a gap or a key that is not a number before it"):format(path,
        tostring(k))
    end
  end
  local names = {}
  for i, c in ipairs(v) do
    if type(c) ~= "table" then
      return nil, ("%s[%d]: expected a channel table ({ kind = \"webhook\", url = ... })"):format(path, i)
    end
    local ok, why = check_channel(("%s[%d]"):format(path, i), c)
    if not ok then
      return nil, why
    end
    if c.name and names[c.name] then
      return nil, ("%s[%d].name: %q names channel %d too (each channel's name is its own)"):format(path, i, c.name,
        names[c.name])
    end
    if c.name then
      names[c.name] = i
    end
  end
  return true
end

-- A channel's name in records: its own, else its number, kind, host and a digest of where it goes
-- (a URL's path and query may hold a token, so only their digest is shown; two channels to the
-- same host differ by it, and so do their rates and what each was sent).
local function label(c, i, url)
  if c.name then
    return c.name
  end
  local where = url or (type(c.command) == "table" and table.concat(c.command, "\0")) or c.command
  local host = url and url:match("^https?://([^/?#]+)")
  host = host and host:gsub("^.*@", "") or nil
  local tag = where and ("#" .. require("sidecar.host.digest").sha256(where):sub(1, 8)) or ""
  return ("%d:%s%s%s"):format(i, c.kind, host and (":" .. host) or "", tag)
end

---The channels of a checked setting, each {index, label, kind, url, format, events (a set), headers
---("Name: value" lines), command, rate, timeout_ms}; nil for today's single-command form or none.
---@return table[]|nil
function M.channels(v)
  if not M.is_channels(v) then
    return nil
  end
  local out = {}
  for i, c in ipairs(v) do
    local events = {}
    for _, e in ipairs(c.events or M.DEFAULT_EVENTS) do
      events[e] = true
    end
    local headers = {}
    for k, value in pairs(c.headers or {}) do
      headers[#headers + 1] = k .. ": " .. value
    end
    table.sort(headers)
    local url = c.url and M.normal_url(c.url)
    out[i] = { index = i, label = label(c, i, url), kind = c.kind, url = url, format = c.format or "json",
      events = events, headers = headers, command = c.command, rate = c.rate or M.DEFAULT_RATE,
      timeout_ms = require("sidecar.core.duration").parse(c.timeout or M.DEFAULT_TIMEOUT) }
  end
  return out
end

return M
