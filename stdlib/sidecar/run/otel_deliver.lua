--- The sender of one OpenTelemetry export: `sidecar otel --deliver FILE`, started detached by
--- stdlib/sidecar/run/otel.lua when a run or a workflow ends. It builds the spans and metrics
--- (stdlib/sidecar/run/otel_spans.lua), encodes them as the settings ask (OTLP/HTTP, protobuf or
--- JSON) and posts each signal to its endpoint: up to three tries (M.BACKOFF_MS), each bounded by the
--- timeout; a 4xx answer other than 408 and 429 is not tried again. Each attempt is a line of
--- otel/log.jsonl. The settings (and so the headers, which may hold a token) are read here, from
--- the config and Sidecar's environment: the queued file holds none.
local artifact = require("sidecar.core.artifact")
local detached_sender = require("sidecar.run.detached_sender")
local duration = require("sidecar.core.duration")
local http_retry = require("sidecar.run.http_retry")
local otlp = require("sidecar.core.otlp")
local otel = require("sidecar.run.otel")
local otel_spans = require("sidecar.run.otel_spans")
local store = require("sidecar.core.store")

local M = {}

M.BACKOFF_MS = { 1000, 4000 } -- after the first attempt, after the second: three in all
M.LOG = "log.jsonl"
M.LOG_LINES = 2000

local function host_of(url)
  return ((url:match("^https?://([^/?#]+)") or "?"):gsub("^.*@", ""))
end

-- Keeps the log to its last M.LOG_LINES attempts (now and then: one sender in fifty).
local function trim(d)
  if math.random(50) ~= 1 then
    return
  end
  d:keep_last_lines(M.LOG, M.LOG_LINES)
end

---Posts one request of `signal` to exporter `e` ({url, protocol, headers, timeout_ms}), each attempt
---logged in `d` (nil: not logged) with `what` (the run or workflow); tried again after each of
---`backoff_ms` (default M.BACKOFF_MS). True, or false and why.
---@return boolean sent, string? why
function M.send(d, signal, e, request, what, backoff_ms)
  local body, content_type = otlp.encode(signal, request, e.protocol)
  local headers = { "Content-Type: " .. content_type, table.unpack(e.headers) }
  return http_retry.attempts(backoff_ms or M.BACKOFF_MS, function()
    return http_retry.post(e.url, body, headers, e.timeout_ms)
  end,
    function(facts)
      return d and d:append_jsonl(M.LOG, { at = store.now(), signal = signal, what = what, host = host_of(e.url),
        attempt = facts.attempt, http_status = facts.http_status, error = facts.error, bytes = #body })
    end)
end

-- The requests of a queued item: {traces = request?, metrics = request?} and what it is.
local function requests_of(root, item, st)
  local resource = otel_spans.resource(st)
  local spans, metrics, what
  if type(item.run) == "table" and type(item.run.trace) == "table" then
    what = item.run.run_id
    spans = otel_spans.run_spans(root, item.run, st, item.ended_ms)
    metrics = otel_spans.run_metrics(item.run, item.ended_ms)
  elseif type(item.workflow) == "table" then
    local s <close> = assert(store.open(root))
    what = item.workflow.kind .. " " .. tostring(item.workflow.name)
    spans = { otel_spans.workflow_span(s, item.workflow) }
  end
  return { traces = st.traces and spans and otlp.traces_request(resource, spans) or nil,
    metrics = st.metrics and metrics and otlp.metrics_request(resource, metrics) or nil }, what
end

---Sends the queued export `file` (relative to the store's otel folder), then removes it. True when
---every signal's endpoint took its part.
---@param root string  the store folder
---@param file string  "queue/<id>.json"
---@return boolean sent, string? why
function M.deliver(root, file)
  if not file:match("^queue/[%w-]+%.json$") then
    return false, "not a queued export: " .. file
  end
  local d <close> = artifact.open(root .. "/" .. otel.DIR, { create = true })
  local claimed = d and detached_sender.claim(d, file) -- one sender sends it; one killed leaves it
  if not claimed then
    return false, "cannot read " .. file
  end
  local item = d:read_json(claimed)
  if type(item) ~= "table" then -- said in the log, and done with: never sent again and again
    d:append_jsonl(M.LOG, { at = store.now(), what = file, error = "not sent: it is not a queued export" })
    detached_sender.done(d, claimed)
    return false, file .. " is not a queued export"
  end
  local what = type(item.run) == "table" and item.run.run_id or "workflow"
  local st = otel.settings(root)
  if not st then -- said in the log, not lost silently
    d:append_jsonl(M.LOG, { at = store.now(), what = what,
      error = "not sent: nothing is exported any more (no endpoint)" })
    detached_sender.done(d, claimed)
    return false, "nothing is exported any more (no endpoint)"
  end
  local done, all, why = require("sidecar.core.errors").keep_interrupt(pcall(function()
    local requests, what = requests_of(root, item, st)
    local sent, bad = true, nil
    for _, signal in ipairs({ "traces", "metrics" }) do
      if requests[signal] then
        local ok, said = M.send(d, signal, st[signal], requests[signal], what)
        sent, bad = sent and ok, bad or said
      end
    end
    return sent, bad
  end))
  if not done then -- a record this sender cannot make spans of: said in the log, not lost silently
    why = "not sent: " .. tostring(type(all) == "table" and all.message or all)
    d:append_jsonl(M.LOG, { at = store.now(), what = what, error = why })
    all = false
  end
  detached_sender.done(d, claimed)
  trim(d)
  return all, why
end

---`sidecar otel --test`: one span and one metric point sent now to each configured endpoint.
---Returns {signal, url, protocol, sent, why} for each, or nil and why when nothing is configured.
---`on_progress`, when given, is told of each send before it starts (an endpoint that does not answer
---is waited for up to its timeout).
---@param root string
---@param on_progress? fun(line: string)
---@return table[]|nil results, string? why
function M.test(root, on_progress)
  local st = otel.configured(root)
  if not st then
    return nil, "nothing is exported: set otel.endpoint in .agent/config.lua or OTEL_EXPORTER_OTLP_ENDPOINT"
  end
  local now = require("sidecar.host.time").wall_ms()
  local resource = otel_spans.resource(st)
  local requests = {
    traces = otlp.traces_request(resource, { otlp.span({ trace_id = otel.new_id(16), span_id = otel.new_id(8),
      name = "sidecar otel --test", start_ns = now * 1000000, end_ns = now * 1000000,
      attributes = { ["sidecar.test"] = true } }) }),
    metrics = otlp.metrics_request(resource, { otlp.metric({ name = "sidecar.test", unit = "{test}", kind = "sum",
      points = { { value = 1, start_ns = now * 1000000, time_ns = now * 1000000 } } }) }),
  }
  local d <close> = artifact.open(root .. "/" .. otel.DIR, { create = true })
  local results = {}
  for _, signal in ipairs({ "traces", "metrics" }) do
    local e = st[signal]
    if e then
      if on_progress then
        on_progress(("otel: sending a test of %s to %s (its answer awaited up to %s)"):format(signal, e.url,
          duration.format(e.timeout_ms)))
      end
      local sent, why = M.send(d, signal, e, requests[signal], "test", {}) -- once: what it answers now
      results[#results + 1] = { signal = signal, url = e.url, protocol = e.protocol, sent = sent, why = why }
    end
  end
  for _, problem in ipairs(st.problems) do
    results[#results + 1] = { signal = problem:match("^the (%a+)") or "?", sent = false, why = problem }
  end
  return results
end

return M
