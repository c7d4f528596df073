--- `sidecar acp`: Sidecar as an Agent Client Protocol agent on stdio (stdlib/sidecar/acp/server.lua),
--- for an editor or `acpx`: Zed's `agent_servers`, CodeCompanion's adapters (docs/acp.md). stdout
--- carries the protocol and nothing else; diagnostics go to stderr. Exit 0 when the client closes
--- its end, 1 when the server cannot start or its input fails.
---
--- `sidecar acp --turn` is the process that does one prompt's work (stdlib/sidecar/acp/turn_worker.lua):
--- the server starts it; its request comes on stdin, its lines go to stdout.
local json = require("sidecar.core.json")
local out = require("sidecar.cli.output")
local server = require("sidecar.acp.server")
local stdio = require("sidecar.host.stdio")
local turn_worker = require("sidecar.acp.turn_worker")

local M = {}

local function log(line)
  io.stderr:write("sidecar acp: ", line, "\n")
end

local function turn(o, protocol)
  local ok, req = json.try_decode(io.stdin:read("a") or "")
  if not (ok and type(req) == "table") then
    log("--turn: the request on stdin is not a JSON object")
    return 2
  end
  return turn_worker.run(req, function(message)
    protocol:write(json.encode(message), "\n")
    protocol:flush()
  end, o.version)
end

---`sidecar acp`
function M.serve(o)
  local protocol, why = stdio.claim_stdout()
  if not protocol then
    out.error("acp", why)
    return 1
  end
  if o.turn then
    return turn(o, protocol)
  end
  local srv = server.new(protocol, { version = o.version, log = log })
  local ok, message = srv:serve(stdio.lines(0, server.MAX_LINE_BYTES))
  if not ok then
    log(message)
    return 1
  end
  return 0
end

return M
