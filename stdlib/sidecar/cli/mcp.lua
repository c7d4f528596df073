--- `sidecar mcp`: the MCP server on stdio (stdlib/sidecar/mcp/server.lua) with Sidecar's tools
--- (stdlib/sidecar/mcp/tools.lua), for a main agent: `claude mcp add sidecar -- sidecar mcp`, or
--- Codex's `[mcp_servers.sidecar] command = "sidecar", args = ["mcp"]`. stdout carries the
--- protocol and nothing else (anything else printed goes to stderr); diagnostics go to stderr.
--- Exit 0 when the client closes its end, 1 when the server cannot start or its input fails.
local out = require("sidecar.cli.output")
local server = require("sidecar.mcp.server")
local stdio = require("sidecar.host.stdio")
local service_store = require("sidecar.service.store")
local tools = require("sidecar.mcp.tools")

local M = {}

local INSTRUCTIONS = "Sidecar runs bounded tasks on agent CLIs with validation gates and records. "
  .. "Hand work to a sidecar: task_create, then run_task (it waits up to wait_s; run_wait picks a run up again). "
  .. "context says what is open and what waits for a decision. Runs are read-only unless a sandbox is asked for; "
  .. "the caller (or a person) decides on each run."

local function log(line)
  io.stderr:write("sidecar mcp: ", line, "\n")
end

---`sidecar mcp`
function M.serve(o)
  local protocol, why = stdio.claim_stdout()
  if not protocol then
    out.error("mcp", why)
    return 1
  end
  local root = service_store.root(o)
  if not root then
    log("no .agent folder here or above (run `sidecar init`): the tools will say so when called")
  end
  local ctx = { root = root, repo = root and (root:match("^(.*)/[^/]+$") or ".") or ".", version = o.version,
    log = log }
  local srv = server.new(protocol, { name = "sidecar", version = o.version, instructions = INSTRUCTIONS,
    tools = tools.list(ctx), log = log })
  local ok, message = srv:serve(stdio.lines(0, server.MAX_LINE_BYTES))
  if not ok then
    log(message)
    return 1
  end
  return 0
end

return M
