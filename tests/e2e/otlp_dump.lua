-- Prints what tests/e2e/otlp_receiver.py received (its LOG, arg[1]) one item a line, for the
-- telemetry tests to grep:
--   span <name>|<traceId>|<spanId>|<parentSpanId or ->|<status code or ->|<content type>|k=v;k=v...
--   metric <name>|<unit>|<value>;<value>...|<content type>|k=v;k=v... (a point's attributes, first point)
--   error <path>: <why>   (a body the receiver could not decode)
local json = require("sidecar.core.json")

local function value(v)
  if type(v) ~= "table" then
    return tostring(v)
  end
  if v.arrayValue then
    local out = {}
    for i, x in ipairs(v.arrayValue.values or {}) do
      out[i] = value(x)
    end
    return table.concat(out, ",")
  end
  local _, x = next(v)
  return (tostring(x):gsub("[\n|;]", " ")) -- one line, its separators kept for the dump's own
end

local function attrs(list)
  local out = {}
  for i, kv in ipairs(list or {}) do
    out[i] = kv.key .. "=" .. value(kv.value)
  end
  return table.concat(out, ";")
end

for line in io.lines(arg[1]) do
  local r = json.decode(line)
  if r.error then
    print(("error %s: %s"):format(r.path, r.error))
  end
  local b = type(r.body) == "table" and r.body or {}
  for _, rs in ipairs(b.resourceSpans or {}) do
    for _, ss in ipairs(rs.scopeSpans or {}) do
      for _, sp in ipairs(ss.spans or {}) do
        print(("span %s|%s|%s|%s|%s|%s|%s"):format(sp.name, sp.traceId, sp.spanId, sp.parentSpanId or "-",
          sp.status and sp.status.code or "-", r.content_type, attrs(sp.attributes)))
      end
    end
  end
  for _, rm in ipairs(b.resourceMetrics or {}) do
    for _, sm in ipairs(rm.scopeMetrics or {}) do
      for _, m in ipairs(sm.metrics or {}) do
        local points = (m.sum or m.histogram or m.gauge or {}).dataPoints or {}
        local values = {}
        for i, p in ipairs(points) do
          values[i] = tostring(p.asInt or p.asDouble or p.sum)
        end
        print(("metric %s|%s|%s|%s|%s"):format(m.name, m.unit or "", table.concat(values, ";"), r.content_type,
          attrs(points[1] and points[1].attributes)))
      end
    end
  end
end
