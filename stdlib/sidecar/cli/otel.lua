--- `sidecar otel`: where Sidecar's OpenTelemetry goes (the `otel` table of .agent/config.lua and the
--- OTEL_* variables: stdlib/sidecar/core/otel_settings.lua). Without flags it shows the settings;
--- `--test` sends a span and a metric point to each endpoint now and says what each answered
--- (exit 0 when every one took it, 1 otherwise).
---
--- `sidecar otel --deliver FILE` is the sender of one queued export (started detached by
--- stdlib/sidecar/run/otel.lua; stdlib/sidecar/run/otel_deliver.lua): it prints nothing.
local json = require("sidecar.core.json")
local otel = require("sidecar.run.otel")
local otel_deliver = require("sidecar.run.otel_deliver")
local out = require("sidecar.cli.output")
local service_store = require("sidecar.service.store")

local M = {}

-- The settings as data: no header values (they may hold a token), only their names.
local function shown(st)
  local function signal(e)
    if not e then
      return json.null
    end
    local names = {}
    for _, line in ipairs(e.headers) do
      names[#names + 1] = line:match("^([^:]+)")
    end
    return { url = e.url, protocol = e.protocol, timeout_ms = e.timeout_ms, headers = json.array(names) }
  end
  return { traces = signal(st.traces), metrics = signal(st.metrics), service_name = st.service_name,
    agents = st.agents, content = st.content, problems = json.array(st.problems), warnings = json.array(st.warnings) }
end

local function render_settings(d)
  for _, signal in ipairs({ "traces", "metrics" }) do
    local e = d[signal]
    if e == json.null then
      io.write(("%-8s off\n"):format(signal))
    else
      io.write(("%-8s %s (%s%s)\n"):format(signal, e.url, e.protocol,
        #e.headers > 0 and (", headers " .. table.concat(e.headers, ", ")) or ""))
    end
  end
  io.write(("service  %s\nagents   %s\ncontent  %s\n"):format(d.service_name,
    d.agents and "export their own spans there, under the run's" or "TRACEPARENT only",
    d.content and "prompts and final messages exported (redacted)" or "not exported"))
  for _, p in ipairs(d.problems) do
    io.write("problem  ", p, "\n")
  end
  for _, w in ipairs(d.warnings) do
    io.write("warning  ", w, "\n")
  end
end

-- The store's folder with its config read and checked (so what it sets is what is shown, and
-- otel.configured reads it no more), and the config; or nil and why (no store here, a config
-- with a mistake).
local function checked_root(o)
  local root = service_store.root(o)
  local s, why = require("sidecar.core.store").open(root)
  if not s then
    return nil, service_store.hint(o, why)
  end
  s:close()
  local cfg, bad = require("sidecar.core.config").load(root)
  if not cfg then
    return nil, bad
  end
  otel.remember(root, cfg)
  return root, cfg
end

-- Why nothing is exported, for people: what turned it off, else how to turn it on (and why the
-- config's own setting did not apply when it is not trusted).
local function nothing(cfg, why_none)
  return require("sidecar.core.config").untrusted_hint(cfg, "Nothing is exported: " .. (why_none
    or "set otel.endpoint in .agent/config.lua or OTEL_EXPORTER_OTLP_ENDPOINT (docs/telemetry.md)"))
end

-- `sidecar otel --test`'s answer.
local function test(o, root, cfg)
  local results = otel_deliver.test(root, out.progress)
  if not results then
    return out.fail(o, "otel", nothing(cfg, select(2, otel.configured(root))))
  end
  local failed = {}
  for _, r in ipairs(results) do
    if not r.sent then
      failed[#failed + 1] = ("%s: %s"):format(r.signal, r.why or "not sent")
    end
  end
  for _, w in ipairs(otel.configured(root).warnings) do
    out.error("otel", "warning: " .. w)
  end
  if o.json then
    out.envelope("otel", #failed == 0, json.array(results), #failed > 0 and failed or nil, o.version)
  else
    local rows = {}
    for i, r in ipairs(results) do
      rows[i] = { r.signal, r.url or "", r.sent and "sent" or "failed", r.why or "" }
    end
    io.write(out.table({ "SIGNAL", "ENDPOINT", "RESULT", "WHY" }, rows))
  end
  return #failed == 0 and 0 or 1
end

---`sidecar otel`
function M.cli(o)
  if o.deliver then
    return otel_deliver.deliver(service_store.root(o), o.deliver) and 0 or 1
  end
  local root, cfg = checked_root(o)
  if not root then
    return out.fail(o, "otel", cfg)
  end
  if o.test then
    return test(o, root, cfg)
  end
  local st, why_none = otel.configured(root)
  local d = st and shown(st) or json.null
  -- a signal configured that cannot be exported (its problem shown) fails, for a script to see
  local problems = st and #st.problems > 0 and st.problems or nil
  if o.json then
    out.envelope("otel", problems == nil, d, problems, o.version)
  elseif st then
    render_settings(d)
  else
    io.write(nothing(cfg, why_none), ".\n")
  end
  return problems and 1 or 0
end

return M
