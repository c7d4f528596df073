--- Where Sidecar's OpenTelemetry goes (docs/telemetry.md): the `otel` table of .agent/config.lua and
--- the standard OTEL_* variables of Sidecar's own environment, a variable over the table's setting.
--- Nothing is exported unless an endpoint is set by one of them.
---
---   otel = {
---     endpoint = "http://127.0.0.1:4318",   -- the collector: /v1/traces and /v1/metrics are added
---     protocol = "http/protobuf",           -- or "http/json"
---     headers = { Authorization = "Bearer ..." },
---     agents = true,    -- the agents export to the same collector (claude's and codex's own telemetry)
---     content = false,  -- prompts and final messages as span attributes (redacted) when true
---   }
---
--- Variables: OTEL_SDK_DISABLED, OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_{TRACES,METRICS}_ENDPOINT,
--- OTEL_EXPORTER_OTLP_[{TRACES,METRICS}_]PROTOCOL, OTEL_EXPORTER_OTLP_[{TRACES,METRICS}_]HEADERS,
--- OTEL_EXPORTER_OTLP_[{TRACES,METRICS}_]TIMEOUT (ms), OTEL_TRACES_EXPORTER / OTEL_METRICS_EXPORTER
--- ("none" turns one off), OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES.
local notify_settings = require("sidecar.core.notify_settings")
local option_keys = require("sidecar.core.option_keys")

local M = {}

M.KEYS = { endpoint = "url", traces_endpoint = "url", metrics_endpoint = "url", protocol = "protocol",
  headers = "headers", timeout = "duration", service_name = "string", traces = "boolean", metrics = "boolean",
  agents = "boolean", content = "boolean" }
M.PROTOCOLS = { ["http/protobuf"] = true, ["http/json"] = true }
M.DEFAULT_PROTOCOL = "http/protobuf"
M.DEFAULT_TIMEOUT_MS = 10000
M.PATHS = { traces = "/v1/traces", metrics = "/v1/metrics" }

local function check_key(path, key, v)
  local want = M.KEYS[key]
  if want == "url" then
    return notify_settings.check_url(path, v) -- "path.url: ...", named by its key below
  elseif want == "headers" then
    return notify_settings.check_headers(path, v)
  elseif want == "protocol" and not M.PROTOCOLS[v] then
    return nil, ("%s.protocol: expected \"http/protobuf\" or \"http/json\" (OTLP over HTTP), got %s"):format(path,
      type(v) == "string" and ("%q"):format(v) or type(v))
  elseif want == "duration" then
    local ms, bad = require("sidecar.core.duration").parse(v)
    return ms and ms > 0 and ms <= 600000 or nil, ("%s.timeout: %s"):format(path,
      bad or ("expected 1ms to 10m, got %s"):format(tostring(v)))
  elseif (want == "string" or want == "boolean") and type(v) ~= want then
    return nil, ("%s.%s: expected a %s, got %s"):format(path, key, want, type(v))
  elseif want == "string" and not v:find("%S") then -- a blank service name names nothing
    return nil, ("%s.%s: expected a name, got a blank string"):format(path, key)
  end
  return true
end

---Checks the `otel` setting. True, or nil and why naming the setting.
---@param path string  "otel"
---@return true|nil ok, string? why
function M.check(path, v)
  if type(v) ~= "table" then
    return nil, ("%s: expected a table ({ endpoint = \"http://127.0.0.1:4318\" }), got %s"):format(path, type(v))
  end
  for k, value in pairs(v) do
    if not M.KEYS[k] then
      local near = type(k) == "string" and option_keys.nearest(k, option_keys.sorted(M.KEYS)) or nil
      return nil, ("%s.%s: unknown setting%s (known: %s)"):format(path, tostring(k),
        near and (" (did you mean " .. near .. "?)") or "", option_keys.known(M.KEYS))
    end
    local ok, why = check_key(path, k, value)
    if not ok then
      return nil, (why:gsub("%.url:", "." .. k .. ":", 1))
    end
  end
  return true
end

-- "k=v,k2=v2" (OTEL_EXPORTER_OTLP_HEADERS, OTEL_RESOURCE_ATTRIBUTES: values percent-encoded) as a
-- table; each item that is not `key=value` is named in `bad` (when given).
function M.pairs_of(text, bad)
  local out = {}
  for item in (text or ""):gmatch("[^,]+") do
    local k, v = item:match("^%s*([^=]-)%s*=%s*(.-)%s*$")
    if k and k ~= "" then
      out[k] = v:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end)
    elseif bad and item:find("%S") then
      bad[#bad + 1] = item
    end
  end
  return out
end

-- A variable of the environment, trimmed, an empty one as unset (as OpenTelemetry reads them).
local function var(getenv, name)
  local v = getenv(name)
  v = v and v:match("^%s*(.-)%s*$")
  return v ~= "" and v or nil
end

-- What a warning shows of an item that is no header: its name, never what may be its value (a key
-- written "name:value" or "name value" by mistake).
local function name_only(item)
  local name = item:match("^%s*([^:=%s]*)") or ""
  return name .. (#name < #item:match("^%s*(.-)%s*$") and " …" or "")
end

-- The endpoint of one signal: its own variable (a whole URL), the common one (a base), the table's.
-- A base that already ends in a signal's path is said in `warnings`: the path is added again.
local function url_of(signal, t, getenv, warnings)
  local upper = signal:upper()
  local own = var(getenv, "OTEL_EXPORTER_OTLP_" .. upper .. "_ENDPOINT")
  if own then
    return own, "OTEL_EXPORTER_OTLP_" .. upper .. "_ENDPOINT"
  end
  local base, from = var(getenv, "OTEL_EXPORTER_OTLP_ENDPOINT"), "OTEL_EXPORTER_OTLP_ENDPOINT"
  if not base and t[signal .. "_endpoint"] then
    return t[signal .. "_endpoint"], "otel." .. signal .. "_endpoint"
  elseif not base then
    base, from = t.endpoint, "otel.endpoint"
  end
  if not base then
    return nil
  end
  local path, query = base:match("^([^?#]*)(.*)$") -- the signal's path goes before a query
  path = path:gsub("/+$", "")
  if path:match("/v1/%a+$") then
    warnings[#warnings + 1] = ("%s ends in %s, but it is the collector's base: /v1/traces and /v1/metrics are "
      .. "added to it (a whole URL goes in a signal's own endpoint)"):format(from, path:match("/v1/%a+$"))
  end
  return path .. M.PATHS[signal] .. query, from
end

-- The timeout of one signal in ms: its variable (a whole number of ms), the table's, the default.
local function timeout_of(signal, t, getenv, warnings)
  for _, name in ipairs({ "OTEL_EXPORTER_OTLP_" .. signal:upper() .. "_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT" }) do
    local v = var(getenv, name)
    local ms = v and v:match("^%d+$") and math.tointeger(tonumber(v))
    if ms and ms >= 1 and ms <= 600000 then
      return ms
    elseif v then
      warnings[#warnings + 1] = ("%s=%s: expected a whole number of milliseconds from 1 to 600000; left out")
        :format(name, v)
    end
  end
  return t.timeout and require("sidecar.core.duration").parse(t.timeout) or M.DEFAULT_TIMEOUT_MS
end

-- The headers of one signal as "Name: value" lines, sorted: the table's, then each variable's over
-- them. What a variable holds that cannot be a header is left out and said in `warnings`.
local function headers_of(signal, t, getenv, warnings)
  local headers, named = {}, {} -- named: each header's name as set, by its lower case (names match in any case)
  local function set(k, v)
    if named[k:lower()] then
      headers[named[k:lower()]] = nil
    end
    headers[k], named[k:lower()] = v, k
  end
  for k, v in pairs(t.headers or {}) do
    set(k, v)
  end
  for _, name in ipairs({ "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_" .. signal:upper() .. "_HEADERS" }) do
    local bad = {}
    for k, v in pairs(M.pairs_of(var(getenv, name), bad)) do
      if notify_settings.header_name(k) and not v:find("[\r\n\0]") then
        set(k, v)
      else
        bad[#bad + 1] = k
      end
    end
    for _, item in ipairs(bad) do
      warnings[#warnings + 1] = ("%s: %q left out: not name=value with a header name (letters, digits, "
        .. "!#$%%&'*+-.^_`|~) and a one-line value"):format(name, name_only(item))
    end
  end
  local lines = {}
  for _, k in ipairs(option_keys.sorted(headers)) do
    lines[#lines + 1] = k .. ": " .. headers[k]
  end
  return lines
end

-- One signal's exporter: {url, protocol, headers ("Name: value" lines), timeout_ms}, or nil and why
-- it is off (nil, nil: not configured). What it had to correct is added to `warnings`.
local function signal_of(signal, t, getenv, warnings)
  local upper = signal:upper()
  local exporter = var(getenv, "OTEL_" .. upper .. "_EXPORTER") -- a list: otlp among them is Sidecar's
  exporter = exporter and exporter:lower():gsub("%s", "")
  if exporter and ("," .. exporter .. ","):find(",otlp,", 1, true) then
    exporter = "otlp"
  end
  if t[signal] == false or exporter == "none" then
    return nil, nil
  end
  local url, from = url_of(signal, t, getenv, warnings)
  if not url then
    return nil, nil
  end
  if exporter and exporter ~= "otlp" then
    return nil, ("the %s exporter %q is not one Sidecar has (otlp, or none: OTEL_%s_EXPORTER)"):format(signal,
      exporter, upper)
  end
  local bad = notify_settings.url_problem(url)
  if bad then
    return nil, ("the %s endpoint (%s) is not an http:// or https:// URL: %s"):format(signal, from,
      (bad:gsub("^got ", "")))
  end
  url = notify_settings.normal_url(url)
  local protocol = (var(getenv, "OTEL_EXPORTER_OTLP_" .. upper .. "_PROTOCOL")
    or var(getenv, "OTEL_EXPORTER_OTLP_PROTOCOL") or t.protocol or M.DEFAULT_PROTOCOL):lower()
  if not M.PROTOCOLS[protocol] then
    return nil, ("the %s protocol %q is not one Sidecar sends (http/protobuf or http/json)"):format(signal, protocol)
  end
  return { url = url, protocol = protocol, headers = headers_of(signal, t, getenv, warnings),
    timeout_ms = timeout_of(signal, t, getenv, warnings) }
end

-- Each warning once, in the order said.
local function once(list)
  local out, seen = {}, {}
  for _, w in ipairs(list) do
    if not seen[w] then
      seen[w], out[#out + 1] = true, w
    end
  end
  return out
end

---The export settings of a checked `otel` table (or nil) and an environment (getenv, default
---os.getenv; an empty variable is an unset one): {traces?, metrics? (each {url, protocol, headers,
---timeout_ms}), service_name, resource (extra resource attributes), agents, content, problems (why
---a configured signal is off), warnings (what a variable held that was left out or replaced)};
---nil, and why when something turns an endpoint off, when nothing is to be exported. service.name: OTEL_SERVICE_NAME, else OTEL_RESOURCE_ATTRIBUTES'
---service.name, else the table's service_name, else "sidecar".
---@param t table|nil
---@param getenv? fun(name: string): string|nil
---@return table|nil settings, string? why_none
function M.resolve(t, getenv)
  getenv = getenv or os.getenv
  t = type(t) == "table" and t or {}
  if (var(getenv, "OTEL_SDK_DISABLED") or ""):lower() == "true" then
    return nil, "OTEL_SDK_DISABLED=true turns it off"
  end
  local problems, warnings = {}, {}
  local traces, tbad = signal_of("traces", t, getenv, warnings)
  local metrics, mbad = signal_of("metrics", t, getenv, warnings)
  problems[#problems + 1] = tbad
  problems[#problems + 1] = mbad
  if not traces and not metrics and #problems == 0 then
    local off = url_of("traces", t, getenv, {}) or url_of("metrics", t, getenv, {})
    return nil, off and "both signals are turned off (OTEL_TRACES_EXPORTER and OTEL_METRICS_EXPORTER none, or "
      .. "the table's traces and metrics false)" or nil
  end
  local bad = {}
  local resource = M.pairs_of(var(getenv, "OTEL_RESOURCE_ATTRIBUTES"), bad)
  for _, item in ipairs(bad) do
    warnings[#warnings + 1] = ("OTEL_RESOURCE_ATTRIBUTES: %q left out: not key=value"):format(item)
  end
  local named = resource["service.name"] ~= "" and resource["service.name"] or nil
  resource["service.name"] = nil
  return { traces = traces, metrics = metrics, problems = problems, warnings = once(warnings),
    service_name = var(getenv, "OTEL_SERVICE_NAME") or named or t.service_name or "sidecar",
    resource = resource, agents = t.agents == true, content = t.content == true }
end

return M
