#!/usr/bin/env python3
"""A local HTTP receiver for the notification tests: each POST is appended to LOG as one JSON line
{"path", "headers", "body"}; the answer is 200, or what the path asks: /status/503 answers 503,
/slow/S sleeps S seconds first. Prints its port on stdout once listening (port 0: any free port)."""
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOG = sys.argv[1]


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace")
        parts = self.path.strip("/").split("/")
        if len(parts) >= 2 and parts[0] == "slow":
            time.sleep(float(parts[1]))
        status = int(parts[1]) if len(parts) >= 2 and parts[0] == "status" else 200
        with open(LOG, "a", encoding="utf-8") as f:
            f.write(json.dumps({"path": self.path, "headers": dict(self.headers), "body": body}) + "\n")
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2]) if len(sys.argv) > 2 else 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
