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
    return ms and ms > 0 and ms <= 600000 or nil, ("%s.timeout: %s"):format(path, bad or "expected 1ms to 10m")
  elseif (want == "string" or want == "boolean") and type(v) ~= want then
    return nil, ("%s.%s: expected a %s, got %s"):format(path, key, want, type(v))
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

-- "k=v,k2=v2" (OTEL_EXPORTER_OTLP_HEADERS, OTEL_RESOURCE_ATTRIBUTES: values percent-encoded) as a table.
function M.pairs_of(text)
  local out = {}
  for item in (text or ""):gmatch("[^,]+") do
    local k, v = item:match("^%s*([^=]-)%s*=%s*(.-)%s*$")
    if k and k ~= "" then
      out[k] = v:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end)
    end
  end
  return out
end

-- The endpoint of one signal: its own variable (a whole URL), the common one (a base), the table's.
local function url_of(signal, t, getenv)
  local upper = signal:upper()
  local own = getenv("OTEL_EXPORTER_OTLP_" .. upper .. "_ENDPOINT")
  if own and own ~= "" then
    return own
  end
  local base = getenv("OTEL_EXPORTER_OTLP_ENDPOINT")
  if base and base ~= "" then
    return (base:gsub("/+$", "")) .. M.PATHS[signal]
  end
  if t[signal .. "_endpoint"] then
    return t[signal .. "_endpoint"]
  end
  return t.endpoint and (t.endpoint:gsub("/+$", "") .. M.PATHS[signal]) or nil
end

-- One signal's exporter: {url, protocol, headers ("Name: value" lines), timeout_ms}, or nil and why
-- it is off (nil, nil: not configured).
local function signal_of(signal, t, getenv)
  local upper = signal:upper()
  local exporter = getenv("OTEL_" .. upper .. "_EXPORTER")
  if t[signal] == false or exporter == "none" then
    return nil, nil
  end
  local url = url_of(signal, t, getenv)
  if not url then
    return nil, nil
  end
  if not url:match("^https?://[^%s/]+") or url:find("[%s%c]") then
    return nil, ("the %s endpoint is not an http:// or https:// URL: %s"):format(signal, url)
  end
  local protocol = getenv("OTEL_EXPORTER_OTLP_" .. upper .. "_PROTOCOL") or getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
    or t.protocol or M.DEFAULT_PROTOCOL
  if not M.PROTOCOLS[protocol] then
    return nil, ("the %s protocol %q is not one Sidecar sends (http/protobuf or http/json)"):format(signal, protocol)
  end
  local headers = {}
  for k, v in pairs(t.headers or {}) do
    headers[k] = v
  end
  for _, name in ipairs({ "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_" .. upper .. "_HEADERS" }) do
    for k, v in pairs(M.pairs_of(getenv(name))) do
      headers[k] = v
    end
  end
  local lines = {}
  for _, k in ipairs(option_keys.sorted(headers)) do
    if not (k:find("[^%w-]") or headers[k]:find("[\r\n]")) then
      lines[#lines + 1] = k .. ": " .. headers[k]
    end
  end
  local timeout = math.tointeger(tonumber(getenv("OTEL_EXPORTER_OTLP_" .. upper .. "_TIMEOUT")
    or getenv("OTEL_EXPORTER_OTLP_TIMEOUT") or ""))
  if not timeout and t.timeout then
    timeout = require("sidecar.core.duration").parse(t.timeout)
  end
  return { url = url, protocol = protocol, headers = lines,
    timeout_ms = math.min(math.max(timeout or M.DEFAULT_TIMEOUT_MS, 1), 600000) }
end

---The export settings of a checked `otel` table (or nil) and an environment (getenv, default
---os.getenv): {traces?, metrics? (each {url, protocol, headers, timeout_ms}), service_name,
---resource (extra resource attributes), agents, content, problems (why a configured signal is
---off)}; nil when nothing is to be exported.
---@param t table|nil
---@param getenv? fun(name: string): string|nil
---@return table|nil
function M.resolve(t, getenv)
  getenv = getenv or os.getenv
  t = type(t) == "table" and t or {}
  if (getenv("OTEL_SDK_DISABLED") or ""):lower() == "true" then
    return nil
  end
  local problems = {}
  local traces, tbad = signal_of("traces", t, getenv)
  local metrics, mbad = signal_of("metrics", t, getenv)
  problems[#problems + 1] = tbad
  problems[#problems + 1] = mbad
  if not traces and not metrics and #problems == 0 then
    return nil
  end
  return { traces = traces, metrics = metrics, problems = problems,
    service_name = getenv("OTEL_SERVICE_NAME") or t.service_name or "sidecar",
    resource = M.pairs_of(getenv("OTEL_RESOURCE_ATTRIBUTES")), agents = t.agents == true, content = t.content == true }
end

return M
