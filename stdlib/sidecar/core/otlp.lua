--- OTLP, the OpenTelemetry protocol's export requests (traces and metrics), built in its JSON form
--- and sent as JSON (`http/json`) or as Protocol Buffers (`http/protobuf`), whose schema below
--- uses the JSON form's names (opentelemetry-proto: trace/v1, metrics/v1, common/v1, resource/v1).
---
---   local otlp = require("sidecar.core.otlp")
---   local req = otlp.traces_request({ ["service.name"] = "sidecar" }, { otlp.span({ trace_id = t, span_id = s,
---     name = "invoke_agent claude", start_ns = a, end_ns = b, attributes = { ["gen_ai.agent.name"] = "claude" } }) })
---   local body, content_type = otlp.encode("traces", req, "http/protobuf")
local json = require("sidecar.core.json")
local pb = require("sidecar.core.protobuf")
local text = require("sidecar.core.text")

local M = {}

M.SCOPE = { name = "sidecar", version = "1" }
M.SPAN_KIND = { internal = 1, server = 2, client = 3 }
M.STATUS = { unset = 0, ok = 1, error = 2 }
M.DELTA = 1 -- AggregationTemporality: each export says what happened since the last

-- The schema (JSON names, field numbers of the .proto files).
local AnyValue, KeyValue = {}, {}
local ArrayValue = { values = { 1, "message", message = AnyValue, repeated = true } }
local KeyValueList = { values = { 1, "message", message = KeyValue, repeated = true } }
for k, v in pairs({ stringValue = { 1, "string" }, boolValue = { 2, "bool" }, intValue = { 3, "int64" },
  doubleValue = { 4, "double" }, arrayValue = { 5, "message", message = ArrayValue },
  kvlistValue = { 6, "message", message = KeyValueList }, bytesValue = { 7, "bytes" } }) do
  AnyValue[k] = v
end
KeyValue.key, KeyValue.value = { 1, "string" }, { 2, "message", message = AnyValue }
local function attributes(n)
  return { n, "message", message = KeyValue, repeated = true }
end
local Resource = { attributes = attributes(1) }
local Scope = { name = { 1, "string" }, version = { 2, "string" }, attributes = attributes(3) }
local Status = { message = { 2, "string" }, code = { 3, "enum" } }
local Event = { timeUnixNano = { 1, "fixed64" }, name = { 2, "string" }, attributes = attributes(3) }
local Span = { traceId = { 1, "hex" }, spanId = { 2, "hex" }, traceState = { 3, "string" },
  parentSpanId = { 4, "hex" }, name = { 5, "string" }, kind = { 6, "enum" }, startTimeUnixNano = { 7, "fixed64" },
  endTimeUnixNano = { 8, "fixed64" }, attributes = attributes(9),
  events = { 11, "message", message = Event, repeated = true }, status = { 15, "message", message = Status },
  flags = { 16, "fixed32" } }
local ScopeSpans = { scope = { 1, "message", message = Scope }, spans = { 2, "message", message = Span, repeated = true } }
local ResourceSpans = { resource = { 1, "message", message = Resource },
  scopeSpans = { 2, "message", message = ScopeSpans, repeated = true } }
local NumberDataPoint = { startTimeUnixNano = { 2, "fixed64" }, timeUnixNano = { 3, "fixed64" },
  asDouble = { 4, "double" }, asInt = { 6, "sfixed64" }, attributes = attributes(7) }
local HistogramDataPoint = { startTimeUnixNano = { 2, "fixed64" }, timeUnixNano = { 3, "fixed64" },
  count = { 4, "fixed64" }, sum = { 5, "double" }, bucketCounts = { 6, "fixed64", repeated = true },
  explicitBounds = { 7, "double", repeated = true }, attributes = attributes(9), min = { 11, "double" },
  max = { 12, "double" } }
local Sum = { dataPoints = { 1, "message", message = NumberDataPoint, repeated = true },
  aggregationTemporality = { 2, "enum" }, isMonotonic = { 3, "bool" } }
local Histogram = { dataPoints = { 1, "message", message = HistogramDataPoint, repeated = true },
  aggregationTemporality = { 2, "enum" } }
local Metric = { name = { 1, "string" }, description = { 2, "string" }, unit = { 3, "string" },
  sum = { 7, "message", message = Sum }, histogram = { 9, "message", message = Histogram } }
local ScopeMetrics = { scope = { 1, "message", message = Scope },
  metrics = { 2, "message", message = Metric, repeated = true } }
local ResourceMetrics = { resource = { 1, "message", message = Resource },
  scopeMetrics = { 2, "message", message = ScopeMetrics, repeated = true } }
M.SCHEMA = {
  traces = { resourceSpans = { 1, "message", message = ResourceSpans, repeated = true } },
  metrics = { resourceMetrics = { 1, "message", message = ResourceMetrics, repeated = true } },
}

-- An attribute's value (AnyValue), or nil for nothing (nil, json.null, a NaN). A string as a terminal
-- would show it harmlessly (text.visible): valid UTF-8, as OTLP's strings must be, without escapes.
local function any_value(v)
  local t = type(v)
  if t == "string" then
    return { stringValue = (text.visible(v)) }
  elseif t == "boolean" then
    return { boolValue = v }
  elseif math.type(v) == "integer" then
    return { intValue = tostring(v) } -- int64: a decimal string in OTLP/JSON
  elseif t == "number" and v == v then
    return { doubleValue = v }
  elseif t == "table" and v ~= json.null and #v > 0 then
    local values = {}
    for _, item in ipairs(v) do
      values[#values + 1] = any_value(item)
    end
    return { arrayValue = { values = values } }
  end
  return nil
end

---The KeyValue list of a table of attributes (sorted by key; nil and json.null values left out).
---@param t table<string, any>|nil
---@return table[]|nil
function M.attributes(t)
  local keys = {}
  for k, v in pairs(t or {}) do
    if any_value(v) then
      keys[#keys + 1] = k
    end
  end
  table.sort(keys)
  local out = {}
  for i, k in ipairs(keys) do
    out[i] = { key = (text.visible(tostring(k))), value = any_value(t[k]) }
  end
  return #out > 0 and out or nil
end

---A span in OTLP/JSON form. s: {trace_id, span_id, parent_span_id? (hex), name, kind? (M.SPAN_KIND's
---name, default internal), start_ns, end_ns, attributes?, status? ("ok"|"error"), status_message?,
---events? ({name, time_ns, attributes?})}.
---@param s table
---@return table
function M.span(s)
  local events
  for _, e in ipairs(s.events or {}) do
    events = events or {}
    events[#events + 1] = { name = (text.visible(e.name)), timeUnixNano = tostring(e.time_ns),
      attributes = M.attributes(e.attributes) }
  end
  local status = s.status and { code = M.STATUS[s.status],
    message = s.status_message and (text.visible(s.status_message)) } or nil
  return { traceId = s.trace_id, spanId = s.span_id, parentSpanId = s.parent_span_id, name = (text.visible(s.name)),
    kind = M.SPAN_KIND[s.kind or "internal"], startTimeUnixNano = tostring(s.start_ns),
    endTimeUnixNano = tostring(s.end_ns), attributes = M.attributes(s.attributes), events = events, status = status }
end

local function scope()
  return { name = M.SCOPE.name, version = M.SCOPE.version }
end

---An ExportTraceServiceRequest of spans (M.span's) from one resource.
---@param resource table<string, any>
---@param spans table[]
function M.traces_request(resource, spans)
  return { resourceSpans = { { resource = { attributes = M.attributes(resource) },
    scopeSpans = { { scope = scope(), spans = spans } } } } }
end

---A metric in OTLP/JSON form. m: {name, unit, description, kind = "sum"|"histogram", points = {{value,
---attributes, start_ns, time_ns}}}: a sum's points monotonic deltas; a histogram's one measurement
---each (count 1), with m.bounds its buckets' explicit bounds.
---@param m table
---@return table
function M.metric(m)
  local points = {}
  for i, p in ipairs(m.points) do
    local point = { attributes = M.attributes(p.attributes), startTimeUnixNano = tostring(p.start_ns),
      timeUnixNano = tostring(p.time_ns) }
    if m.kind == "histogram" then
      local counts = {}
      for b = 1, #m.bounds + 1 do
        local low, high = m.bounds[b - 1], m.bounds[b]
        counts[b] = ((not low or p.value > low) and (not high or p.value <= high)) and "1" or "0"
      end
      point.count, point.sum, point.min, point.max = "1", p.value, p.value, p.value
      point.bucketCounts, point.explicitBounds = counts, m.bounds
    elseif math.type(p.value) == "integer" then
      point.asInt = tostring(p.value)
    else
      point.asDouble = p.value
    end
    points[i] = point
  end
  local metric = { name = m.name, unit = m.unit, description = m.description }
  if m.kind == "histogram" then
    metric.histogram = { dataPoints = points, aggregationTemporality = M.DELTA }
  else
    metric.sum = { dataPoints = points, aggregationTemporality = M.DELTA, isMonotonic = true }
  end
  return metric
end

---An ExportMetricsServiceRequest of metrics (M.metric's) from one resource.
function M.metrics_request(resource, metrics)
  return { resourceMetrics = { { resource = { attributes = M.attributes(resource) },
    scopeMetrics = { { scope = scope(), metrics = metrics } } } } }
end

---The body of a request of `signal` ("traces" or "metrics") in `protocol`, and its content type.
---@param signal "traces"|"metrics"
---@param request table
---@param protocol "http/protobuf"|"http/json"
---@return string body, string content_type
function M.encode(signal, request, protocol)
  if protocol == "http/json" then
    return json.encode(request), "application/json"
  end
  return pb.encode(M.SCHEMA[signal], request), "application/x-protobuf"
end

return M
