#!/usr/bin/env python3
"""An OTLP/HTTP receiver for the telemetry tests, as a collector would be: each POST to /v1/traces,
/v1/metrics or /v1/logs is decoded (application/json as it is; application/x-protobuf with the
opentelemetry-proto field numbers below, into the same JSON form: camelCase names, ids as hex,
64-bit integers as strings) and appended to LOG as one line {"path", "content_type", "headers",
"body"}; a body it cannot decode is logged with "error". /status/N/v1/... answers N (with a line
of text); /status/N/after/S/v1/... adds Retry-After: S. Prints its port on stdout once listening
(port 0: any free port)."""
import gzip
import json
import struct
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOG = sys.argv[1]

# message name -> {field number: (json name, type, repeated)}; types as in the .proto files.
M = {}
M["AnyValue"] = {1: ("stringValue", "string", False), 2: ("boolValue", "bool", False), 3: ("intValue", "int64", False),
                 4: ("doubleValue", "double", False), 5: ("arrayValue", "ArrayValue", False),
                 6: ("kvlistValue", "KeyValueList", False), 7: ("bytesValue", "bytes", False)}
M["ArrayValue"] = {1: ("values", "AnyValue", True)}
M["KeyValueList"] = {1: ("values", "KeyValue", True)}
M["KeyValue"] = {1: ("key", "string", False), 2: ("value", "AnyValue", False)}
M["Resource"] = {1: ("attributes", "KeyValue", True), 2: ("droppedAttributesCount", "uint32", False)}
M["Scope"] = {1: ("name", "string", False), 2: ("version", "string", False), 3: ("attributes", "KeyValue", True),
              4: ("droppedAttributesCount", "uint32", False)}
M["Status"] = {2: ("message", "string", False), 3: ("code", "enum", False)}
M["Event"] = {1: ("timeUnixNano", "fixed64", False), 2: ("name", "string", False), 3: ("attributes", "KeyValue", True),
              4: ("droppedAttributesCount", "uint32", False)}
M["Link"] = {1: ("traceId", "id", False), 2: ("spanId", "id", False), 3: ("traceState", "string", False),
             4: ("attributes", "KeyValue", True), 5: ("droppedAttributesCount", "uint32", False),
             6: ("flags", "fixed32", False)}
M["Span"] = {1: ("traceId", "id", False), 2: ("spanId", "id", False), 3: ("traceState", "string", False),
             4: ("parentSpanId", "id", False), 5: ("name", "string", False), 6: ("kind", "enum", False),
             7: ("startTimeUnixNano", "fixed64", False), 8: ("endTimeUnixNano", "fixed64", False),
             9: ("attributes", "KeyValue", True), 10: ("droppedAttributesCount", "uint32", False),
             11: ("events", "Event", True), 12: ("droppedEventsCount", "uint32", False), 13: ("links", "Link", True),
             14: ("droppedLinksCount", "uint32", False), 15: ("status", "Status", False), 16: ("flags", "fixed32", False)}
M["ScopeSpans"] = {1: ("scope", "Scope", False), 2: ("spans", "Span", True), 3: ("schemaUrl", "string", False)}
M["ResourceSpans"] = {1: ("resource", "Resource", False), 2: ("scopeSpans", "ScopeSpans", True),
                      3: ("schemaUrl", "string", False)}
M["Traces"] = {1: ("resourceSpans", "ResourceSpans", True)}
M["NumberDataPoint"] = {7: ("attributes", "KeyValue", True), 2: ("startTimeUnixNano", "fixed64", False),
                        3: ("timeUnixNano", "fixed64", False), 4: ("asDouble", "double", False),
                        6: ("asInt", "sfixed64", False), 8: ("flags", "uint32", False)}
M["HistogramDataPoint"] = {9: ("attributes", "KeyValue", True), 2: ("startTimeUnixNano", "fixed64", False),
                           3: ("timeUnixNano", "fixed64", False), 4: ("count", "fixed64", False),
                           5: ("sum", "double", False), 6: ("bucketCounts", "fixed64", True),
                           7: ("explicitBounds", "double", True), 10: ("flags", "uint32", False),
                           11: ("min", "double", False), 12: ("max", "double", False)}
M["Gauge"] = {1: ("dataPoints", "NumberDataPoint", True)}
M["Sum"] = {1: ("dataPoints", "NumberDataPoint", True), 2: ("aggregationTemporality", "enum", False),
            3: ("isMonotonic", "bool", False)}
M["Histogram"] = {1: ("dataPoints", "HistogramDataPoint", True), 2: ("aggregationTemporality", "enum", False)}
M["Metric"] = {1: ("name", "string", False), 2: ("description", "string", False), 3: ("unit", "string", False),
               5: ("gauge", "Gauge", False), 7: ("sum", "Sum", False), 9: ("histogram", "Histogram", False)}
M["ScopeMetrics"] = {1: ("scope", "Scope", False), 2: ("metrics", "Metric", True), 3: ("schemaUrl", "string", False)}
M["ResourceMetrics"] = {1: ("resource", "Resource", False), 2: ("scopeMetrics", "ScopeMetrics", True),
                        3: ("schemaUrl", "string", False)}
M["Metrics"] = {1: ("resourceMetrics", "ResourceMetrics", True)}
PATHS = {"/v1/traces": "Traces", "/v1/metrics": "Metrics"}


def varint(b, i):
    n = shift = 0
    while True:
        c = b[i]
        i += 1
        n |= (c & 0x7F) << shift
        shift += 7
        if not c & 0x80:
            return n, i


def scalar(t, raw):
    if t == "string":
        return raw.decode("utf-8")
    if t == "id":
        return raw.hex()
    if t == "bytes":
        return raw.hex()
    if t == "fixed64":
        return str(struct.unpack("<Q", raw)[0])
    if t == "sfixed64":
        return str(struct.unpack("<q", raw)[0])
    if t == "fixed32":
        return struct.unpack("<I", raw)[0]
    if t == "double":
        return struct.unpack("<d", raw)[0]
    raise ValueError("no scalar " + t)


def decode(name, b):
    fields, out, i = M[name], {}, 0
    while i < len(b):
        key, i = varint(b, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            raw, i = varint(b, i)
        elif wire == 1:
            raw, i = b[i:i + 8], i + 8
        elif wire == 5:
            raw, i = b[i:i + 4], i + 4
        elif wire == 2:
            n, i = varint(b, i)
            raw, i = b[i:i + n], i + n
        else:
            raise ValueError("wire type %d" % wire)
        if number not in fields:
            raise ValueError("%s has no field %d" % (name, number))
        key_name, t, repeated = fields[number]
        if t in M:
            values = [decode(t, raw)]
        elif wire == 0:
            if t == "int64" and raw >= 1 << 63:
                raw -= 1 << 64
            values = [raw != 0] if t == "bool" else [str(raw) if t in ("int64", "uint64") else raw]
        elif wire == 2 and t in ("fixed64", "double", "sfixed64"):  # packed
            values = [scalar(t, raw[j:j + 8]) for j in range(0, len(raw), 8)]
        else:
            values = [scalar(t, raw)]
        if repeated:
            out.setdefault(key_name, []).extend(values)
        else:
            out[key_name] = values[0]
    return out


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if (self.headers.get("Content-Encoding") or "") == "gzip":
            raw = gzip.decompress(raw)
        parts = self.path.split("/")
        status = 200
        path = self.path
        retry_after = None
        if len(parts) > 3 and parts[1] == "status":
            status, path = int(parts[2]), "/" + "/".join(parts[3:])
            if len(parts) > 5 and parts[3] == "after":  # /status/429/after/S/...: a Retry-After of S
                retry_after, path = parts[4], "/" + "/".join(parts[5:])
        ctype = (self.headers.get("Content-Type") or "").split(";")[0]
        entry = {"path": path, "content_type": ctype, "headers": dict(self.headers)}
        try:
            if ctype == "application/json":
                entry["body"] = json.loads(raw)
            elif path in PATHS:
                entry["body"] = decode(PATHS[path], raw)
            else:
                entry["body"] = None  # logs, and what else: kept only as seen
        except Exception as e:  # noqa: BLE001 - a body the test must see fail
            entry["error"] = "%s: %s" % (type(e).__name__, e)
        with open(LOG, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")
        answer = b"{}" if ctype == "application/json" else b""
        if status >= 400:
            answer = b"refused by the test receiver (%d)\n" % status
        self.send_response(status)
        if retry_after is not None:
            self.send_header("Retry-After", retry_after)
        self.send_header("Content-Type", ctype or "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2]) if len(sys.argv) > 2 else 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
