-- OpenTelemetry's pieces: the protobuf encoder (stdlib/sidecar/core/protobuf.lua) against bytes
-- worked out by hand from the wire format, OTLP's requests (stdlib/sidecar/core/otlp.lua), the
-- settings from the config and the OTEL_* variables (stdlib/sidecar/core/otel_settings.lua), W3C
-- traceparent, and the times of events. tests/e2e/otel_test.sh exports them for real.
local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local json = require("sidecar.core.json")
local otel = require("sidecar.run.otel")
local otel_settings = require("sidecar.core.otel_settings")
local otel_spans = require("sidecar.run.otel_spans")
local otlp = require("sidecar.core.otlp")
local pb = require("sidecar.core.protobuf")

local function hex(bytes)
  return (bytes:gsub(".", function(c) return ("%02x"):format(c:byte()) end))
end

describe("the protobuf encoder", function()
  it("writes varints as the wire format says", function()
    expect(hex(pb.varint(0))):equals("00")
    expect(hex(pb.varint(1))):equals("01")
    expect(hex(pb.varint(127))):equals("7f")
    expect(hex(pb.varint(128))):equals("8001")
    expect(hex(pb.varint(300))):equals("ac02")
    expect(hex(pb.varint(-1))):equals("ffffffffffffffffff01") -- ten bytes: two's complement
  end)

  it("encodes a span's fields by number and wire type, in field order", function()
    local Span = otlp.SCHEMA.traces.resourceSpans.message.scopeSpans.message.spans.message
    -- name = 5 (LEN: 0x2a), traceId = 1 (LEN: 0x0a), startTimeUnixNano = 7 (I64: 0x39), kind = 6 (VARINT: 0x30)
    local bytes = pb.encode(Span, { name = "a", traceId = "000102030405060708090a0b0c0d0e0f",
      startTimeUnixNano = "1795268701000000000", kind = 1 })
    expect(hex(bytes)):equals("0a10000102030405060708090a0b0c0d0e0f" .. "2a0161" .. "3001" .. "39"
      .. hex(string.pack("<i8", 1795268701000000000)))
  end)

  it("packs a repeated number field and writes a negative int64 in ten bytes", function()
    local Point = { bounds = { 7, "double", repeated = true }, v = { 3, "int64" } }
    expect(hex(pb.encode(Point, { bounds = { 1.0, 2.0 } }))):equals("3a10" .. hex(string.pack("<d<d", 1.0, 2.0)))
    expect(hex(pb.encode(Point, { v = "-2" }))):equals("18feffffffffffffffff01")
    expect(pb.encode(Point, { bounds = {} })):equals("") -- nothing to pack: nothing written
  end)

  it("refuses what the schema does not hold (the caller's bug)", function()
    expect(function() pb.encode({ a = { 1, "string" } }, { b = "x" }) end):raises("no field b")
    expect(function() pb.encode({ id = { 1, "hex" } }, { id = "xyz" }) end):raises("expected hex text")
    expect(function() pb.encode({ n = { 1, "fixed64" } }, { n = "soon" }) end):raises("expected an integer")
  end)
end)

describe("OTLP requests", function()
  it("makes attributes typed, sorted, without nothing", function()
    local list = otlp.attributes({ b = 2, a = "x", c = 0.5, d = true, e = json.null, f = { "p", "q" }, g = {} })
    expect(json.encode(list)):equals('[{"key":"a","value":{"stringValue":"x"}},{"key":"b","value":{"intValue":"2"}},'
      .. '{"key":"c","value":{"doubleValue":0.5}},{"key":"d","value":{"boolValue":true}},'
      .. '{"key":"f","value":{"arrayValue":{"values":[{"stringValue":"p"},{"stringValue":"q"}]}}}]')
    expect(otlp.attributes({ x = json.null })):is_nil()
  end)

  it("sends every string as valid UTF-8 without terminal escapes, as protobuf requires", function()
    local span = otlp.span({ trace_id = ("ab"):rep(16), span_id = ("cd"):rep(8), name = "invoke_workflow \xff\27[31m",
      start_ns = 1, end_ns = 2, status = "error", status_message = "bad \xfe",
      attributes = { ["k\xff"] = "a\xffb\27]0;x\7", list = { "\xc3" } } })
    local req = otlp.traces_request({ ["service.name"] = "svc\xff" }, { span })
    local body = otlp.encode("traces", req, "http/json") -- json.encode refuses invalid UTF-8
    local proto = otlp.encode("traces", req, "http/protobuf")
    expect(proto:find("a\\xFFb^[]0;x^G", 1, true) ~= nil and proto:find("svc\\xFF", 1, true) ~= nil):is_true()
    expect(body:find("\27", 1, true)):is_nil()
    expect(span.name):equals("invoke_workflow \\xFF^[[31m")
    expect(span.attributes[1].value.stringValue):equals("a\\xFFb^[]0;x^G")
  end)

  it("puts one measurement in the bucket its bounds say", function()
    local m = otlp.metric({ name = "t", unit = "{token}", kind = "histogram", bounds = { 10, 100 },
      points = { { value = 10, start_ns = 1, time_ns = 2 }, { value = 11, start_ns = 1, time_ns = 2 },
        { value = 1000, start_ns = 1, time_ns = 2 } } })
    local p = m.histogram.dataPoints
    expect(table.concat(p[1].bucketCounts, ",")):equals("1,0,0") -- (-inf, 10]
    expect(table.concat(p[2].bucketCounts, ",")):equals("0,1,0")
    expect(table.concat(p[3].bucketCounts, ",")):equals("0,0,1")
    expect(m.histogram.aggregationTemporality):equals(otlp.DELTA)
    expect(otlp.metric({ name = "c", kind = "sum", points = { { value = 3, start_ns = 1, time_ns = 2 } } })
      .sum.dataPoints[1].asInt):equals("3")
  end)

  it("encodes a request as JSON or protobuf, with the content type", function()
    local req = otlp.traces_request({ ["service.name"] = "s" }, { otlp.span({ trace_id = ("ab"):rep(16),
      span_id = ("cd"):rep(8), name = "n", start_ns = 1, end_ns = 2, status = "error", status_message = "bad" }) })
    local body, ctype = otlp.encode("traces", req, "http/json")
    expect(ctype):equals("application/json")
    expect(json.decode(body).resourceSpans[1].scopeSpans[1].spans[1].status.code):equals(2)
    body, ctype = otlp.encode("traces", req, "http/protobuf")
    expect(ctype):equals("application/x-protobuf")
    expect(body:find(("\xab"):rep(16), 1, true) ~= nil):is_true() -- the id as its 16 bytes
  end)
end)

-- A getenv of a table.
local function env(t)
  return function(name) return t[name] end
end

describe("the otel settings", function()
  it("sends nothing unless an endpoint is set", function()
    expect(otel_settings.resolve(nil, env({}))):is_nil()
    expect(otel_settings.resolve({ protocol = "http/json" }, env({}))):is_nil()
  end)

  it("takes the table's endpoint, the variables over it", function()
    local st = otel_settings.resolve({ endpoint = "http://c:4318/", protocol = "http/json" }, env({}))
    expect(st.traces.url):equals("http://c:4318/v1/traces")
    expect(st.metrics.url):equals("http://c:4318/v1/metrics")
    expect(st.traces.protocol):equals("http/json")
    st = otel_settings.resolve({ endpoint = "http://c:4318" }, env({ OTEL_EXPORTER_OTLP_ENDPOINT = "http://d:1",
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = "http://t:2/custom", OTEL_EXPORTER_OTLP_METRICS_PROTOCOL = "http/json" }))
    expect(st.traces.url):equals("http://t:2/custom") -- a signal's own variable is the whole URL
    expect(st.metrics.url):equals("http://d:1/v1/metrics")
    expect(st.traces.protocol):equals("http/protobuf") -- the default
    expect(st.metrics.protocol):equals("http/json")
  end)

  it("reads headers, the timeout, the service and resource", function()
    local st = otel_settings.resolve({ endpoint = "http://c", headers = { ["X-A"] = "1", ["X-B"] = "2" } },
      env({ OTEL_EXPORTER_OTLP_HEADERS = "X-B=two%2C%20words, Authorization=Bearer%20t", OTEL_EXPORTER_OTLP_TIMEOUT = "2500",
        OTEL_SERVICE_NAME = "svc", OTEL_RESOURCE_ATTRIBUTES = "deployment.environment=ci,team=x" }))
    expect(table.concat(st.traces.headers, "|")):equals("Authorization: Bearer t|X-A: 1|X-B: two, words")
    expect(st.traces.timeout_ms):equals(2500)
    expect(st.service_name):equals("svc")
    expect(st.resource.team):equals("x")
  end)

  it("turns a signal or everything off, and says why a configured one is off", function()
    expect(otel_settings.resolve({ endpoint = "http://c" }, env({ OTEL_SDK_DISABLED = "true" }))):is_nil()
    local st = otel_settings.resolve({ endpoint = "http://c", metrics = false }, env({ OTEL_TRACES_EXPORTER = "none" }))
    expect(st == nil or (st.traces == nil and st.metrics == nil)):is_true()
    st = otel_settings.resolve(nil, env({ OTEL_EXPORTER_OTLP_ENDPOINT = "http://c", OTEL_EXPORTER_OTLP_PROTOCOL = "grpc" }))
    expect(st.traces):is_nil()
    expect(st.problems[1]):contains("grpc")
  end)

  it("names what is wrong in the table", function()
    local cases = {
      { { protocol = "grpc" }, 'otel.protocol: expected "http/protobuf" or "http/json"' },
      { { endpont = "http://c" }, "otel.endpont: unknown setting (did you mean endpoint?)" },
      { { traces_endpoint = "file:///x" }, "otel.traces_endpoint: expected an http:// or https:// URL" },
      { { headers = { ["A B"] = "x" } }, 'otel.headers: "A B" is not a header name' },
      { { timeout = "0s" }, "otel.timeout: '0s' is too short: a duration is 1ms or more" },
      { { timeout = "11m" }, "otel.timeout: expected 1ms to 10m, got 11m" },
      { { agents = "yes" }, "otel.agents: expected a boolean" },
      { { timeout = "never" }, "otel.timeout" },
      { "http://c", "otel: expected a table" },
      { { service_name = "  " }, "otel.service_name: expected a name, got a blank string" },
    }
    for _, c in ipairs(cases) do
      local ok, why = otel_settings.check("otel", c[1])
      expect(ok):is_nil()
      expect(why):contains(c[2])
    end
    expect(otel_settings.check("otel", { endpoint = "https://c", agents = true, timeout = "5s" })):equals(true)
    -- RFC 9110's header names hold '_' and '.': a key named like a secret reads as it is, not redacted
    expect(otel_settings.check("otel", { headers = { X_Key = "x", ["x.y"] = "z" } })):equals(true)
  end)

  it("names where an endpoint that is no URL came from", function()
    local st = otel_settings.resolve({}, env({ OTEL_EXPORTER_OTLP_ENDPOINT = "127.0.0.1:4318" }))
    expect(st.problems[1]):equals("the traces endpoint (OTEL_EXPORTER_OTLP_ENDPOINT) is not an http:// or https:// "
      .. "URL: one with no scheme (write http:// or https:// before the host)")
    st = otel_settings.resolve({ endpoint = "http://c", metrics_endpoint = "ftp://m" }, env({}))
    expect(st.problems[1]):contains("the metrics endpoint (otel.metrics_endpoint) is not")
  end)

  it("takes an empty variable for an unset one", function()
    local st = otel_settings.resolve({ endpoint = "http://c", service_name = "mine" }, env({ OTEL_EXPORTER_OTLP_PROTOCOL = "",
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL = "", OTEL_SERVICE_NAME = "", OTEL_EXPORTER_OTLP_ENDPOINT = "",
      OTEL_TRACES_EXPORTER = "", OTEL_EXPORTER_OTLP_TIMEOUT = "" }))
    expect(st.traces.url):equals("http://c/v1/traces")
    expect(st.traces.protocol):equals("http/protobuf")
    expect(st.traces.timeout_ms):equals(otel_settings.DEFAULT_TIMEOUT_MS)
    expect(st.service_name):equals("mine")
    expect(#st.problems + #st.warnings):equals(0)
  end)

  it("reads the exporter's name in any case, and refuses one it does not have", function()
    local st = otel_settings.resolve({ endpoint = "http://c" }, env({ OTEL_TRACES_EXPORTER = "NONE" }))
    expect(st.traces):is_nil()
    expect(st.metrics.url):equals("http://c/v1/metrics")
    st = otel_settings.resolve({ endpoint = "http://c" }, env({ OTEL_METRICS_EXPORTER = "console" }))
    expect(st.metrics):is_nil()
    expect(st.problems[1]):contains('the metrics exporter "console" is not one Sidecar has')
    expect(otel_settings.resolve({ endpoint = "http://c" }, env({ OTEL_TRACES_EXPORTER = "OTLP" })).traces ~= nil):is_true()
  end)

  it("says what a variable held that it left out or replaced", function()
    local st = otel_settings.resolve(nil, env({ OTEL_EXPORTER_OTLP_ENDPOINT = "http://c/v1/traces",
      OTEL_EXPORTER_OTLP_HEADERS = "bad header=1,X-Nl=a%0D%0Ab,novalue,Good_One.x=2",
      OTEL_EXPORTER_OTLP_TIMEOUT = "0", OTEL_RESOURCE_ATTRIBUTES = "team=x,junk" }))
    expect(table.concat(st.traces.headers, "|")):equals("Good_One.x: 2")
    expect(st.traces.timeout_ms):equals(otel_settings.DEFAULT_TIMEOUT_MS)
    local all = table.concat(st.warnings, "\n")
    for _, want in ipairs({ 'OTEL_EXPORTER_OTLP_HEADERS: "bad …" left out',
      'OTEL_EXPORTER_OTLP_HEADERS: "X-Nl" left out', 'OTEL_EXPORTER_OTLP_HEADERS: "novalue" left out',
      "OTEL_EXPORTER_OTLP_TIMEOUT=0: expected a whole number of milliseconds",
      "OTEL_EXPORTER_OTLP_ENDPOINT ends in /v1/traces", 'OTEL_RESOURCE_ATTRIBUTES: "junk" left out' }) do
      expect(all):contains(want)
    end
    expect(select(2, all:gsub("OTEL_EXPORTER_OTLP_TIMEOUT=0", ""))):equals(1) -- each said once
    expect(st.resource.team):equals("x")
  end)

  it("lets a variable's header replace the table's whatever its case, and reads lists and cases", function()
    local st = otel_settings.resolve({ endpoint = "HTTP://c:4318/?k=1", headers = { Authorization = "Bearer table" } },
      env({ OTEL_EXPORTER_OTLP_HEADERS = " authorization=Bearer%20env ", OTEL_TRACES_EXPORTER = "otlp,console",
        OTEL_EXPORTER_OTLP_PROTOCOL = "HTTP/JSON", OTEL_EXPORTER_OTLP_TRACES_TIMEOUT = "0x10",
        OTEL_EXPORTER_OTLP_TIMEOUT = "2500" }))
    expect(table.concat(st.traces.headers, "|")):equals("authorization: Bearer env")
    expect(st.traces.url):equals("http://c:4318/v1/traces?k=1")
    expect(st.traces.protocol):equals("http/json")
    expect(st.traces.timeout_ms):equals(2500) -- a bad signal's own timeout: the common one
    expect(st.warnings[1]):contains("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT=0x10")
    local none, why = otel_settings.resolve({ endpoint = "http://c" }, env({ OTEL_SDK_DISABLED = "TRUE" }))
    expect(none):is_nil()
    expect(why):contains("OTEL_SDK_DISABLED=true")
    none, why = otel_settings.resolve({ endpoint = "http://c", traces = false, metrics = false }, env({}))
    expect(none):is_nil()
    expect(why):contains("both signals are turned off")
    local bad = otel_settings.resolve(nil, env({ OTEL_EXPORTER_OTLP_ENDPOINT = "http://:4318" }))
    expect(bad.problems[1]):contains("no host")
  end)

  it("names the service as OpenTelemetry says: the variable, the resource's, the table's", function()
    local t = { endpoint = "http://c", service_name = "table" }
    expect(otel_settings.resolve(t, env({ OTEL_RESOURCE_ATTRIBUTES = "service.name=res" })).service_name):equals("res")
    expect(otel_settings.resolve(t, env({ OTEL_RESOURCE_ATTRIBUTES = "service.name=res", OTEL_SERVICE_NAME = "var" }))
      .service_name):equals("var")
    expect(otel_settings.resolve(t, env({})).service_name):equals("table")
    local st = otel_settings.resolve(nil, env({ OTEL_EXPORTER_OTLP_ENDPOINT = "http://c",
      OTEL_RESOURCE_ATTRIBUTES = "service.name=res,team=x" }))
    local r = otel_spans.resource(st)
    expect(r["service.name"]):equals("res")
    expect(r.team):equals("x")
  end)
end)

describe("trace context", function()
  it("reads a W3C traceparent, refusing a malformed one", function()
    local p = otel.parse_traceparent("00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01")
    expect(p.trace_id):equals("4bf92f3577b34da6a3ce929d0e0e4736")
    expect(p.span_id):equals("00f067aa0ba902b7")
    expect(otel.traceparent(p)):equals("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    for _, bad in ipairs({ "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      "00-00000000000000000000000000000000-00f067aa0ba902b7-01", "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
      "00-4bf92f3577b34da6-00f067aa0ba902b7-01", "garbage", "" }) do
      expect(otel.parse_traceparent(bad)):is_nil()
    end
  end)

  it("nests under the workflow this process runs, and a joined one", function()
    otel.join({ trace_id = ("1"):rep(32), span_id = ("2"):rep(16) })
    expect(otel.parent().span_id):equals(("2"):rep(16))
    otel.join({ trace_id = "nope", span_id = "x" }) -- malformed: nothing joined
    expect(otel.parent().trace_id):equals(("1"):rep(32))
  end)

  it("makes ids of the right length", function()
    expect(otel.new_id(16)):matches("^%x+$")
    expect(#otel.new_id(16)):equals(32)
    expect(#otel.new_id(8)):equals(16)
  end)
end)

describe("the model a run's span names", function()
  it("says what answered only as the agent reported it, else what was asked when nothing was", function()
    local spans = require("sidecar.run.otel_spans")
    expect(spans.response_model({ model = "claude-req", response_model = "claude-x" }, "claude-req")):equals("claude-x")
    expect(spans.response_model({ model = "claude-req" }, "claude-req")):is_nil() -- asked, not reported: left out
    expect(spans.response_model({ model = "claude-x" }, nil)):equals("claude-x") -- nothing asked: the reported one
  end)
end)

describe("event times", function()
  it("reads ISO-8601 UTC to the millisecond, whatever the local zone", function()
    expect(otel_spans.ms_of_iso("1970-01-01T00:00:00Z")):equals(0)
    expect(otel_spans.ms_of_iso("2026-11-21T13:45:01.123Z")):equals(1795268701123)
    expect(otel_spans.ms_of_iso("2024-02-29T12:00:00Z")):equals(1709208000000)
    expect(otel_spans.ms_of_iso("2000-03-01T00:00:00Z")):equals(951868800000)
    expect(otel_spans.ms_of_iso("yesterday")):is_nil()
  end)
end)
