--- JSON-RPC 2.0, one message a line: the framing Sidecar's stdio servers share (`sidecar mcp`,
--- stdlib/sidecar/mcp/server.lua; `sidecar acp`, stdlib/sidecar/acp/server.lua). A peer writes
--- messages (redacted, one line each, flushed) and reads lines into messages, answering what breaks
--- the protocol itself: a line that is not JSON or not UTF-8 (-32700), a batch, a message that is
--- not an object, a bad `jsonrpc`, `id` or `method` (-32600), params that are not an object
--- (-32602, or nothing for a notification). What is left is the server's to handle.
---
---   local peer = jsonrpc.peer(io.stdout, log)
---   local m = peer:read(line)  -- nil, or {kind = "request"|"notification"|"answer", id, method, params, result, error}
---   peer:reply(m.id, result); peer:fail(m.id, jsonrpc.METHOD_NOT_FOUND, "method not found: x")
---   peer:handle(line, "a request", function(m) ... end) -- read, then handled under guard
local errors = require("sidecar.core.errors")
local json = require("sidecar.core.json")
local secrets = require("sidecar.core.secrets")

local M = {}

M.PARSE_ERROR, M.INVALID_REQUEST, M.METHOD_NOT_FOUND, M.INVALID_PARAMS, M.INTERNAL_ERROR =
  -32700, -32600, -32601, -32602, -32603

local Peer = {}
Peer.__index = Peer

---A peer writing to `out` (a file: the protocol's stdout); `log(line)` for diagnostics (stderr).
---@param out table
---@param log? fun(line: string)
---@return table
function M.peer(out, log)
  return setmetatable({ out = out, log = log or function() end }, Peer)
end

---Writes one message: redacted, one line, flushed. A value JSON cannot hold (a bug) becomes an
---internal error for that request, so the line written is always JSON.
function Peer:send(message)
  local ok, text = pcall(json.encode, secrets.redact_value(message))
  if not ok then
    self.log("cannot encode a message: " .. tostring(text))
    text = json.encode({ jsonrpc = "2.0", id = message.id == nil and json.null or message.id,
      error = { code = M.INTERNAL_ERROR, message = "the reply could not be encoded as JSON" } })
  end
  self.out:write(text, "\n")
  self.out:flush()
end

function Peer:reply(id, result)
  self:send({ jsonrpc = "2.0", id = id, result = result == nil and json.null or result })
end

function Peer:fail(id, code, message)
  self:send({ jsonrpc = "2.0", id = id == nil and json.null or id, error = { code = code, message = message } })
end

---Runs fn(...) and hands back its results; an error becomes nil, "internal error in WHAT: ..." (its
---traceback logged), except an interrupt (Ctrl-C, SIGTERM), which goes on up: it ends the server.
function Peer:guard(what, fn, ...)
  local ok, a, b = xpcall(fn, debug.traceback, ...)
  if ok then
    return a, b
  end
  if errors.is_interrupt(a) then
    error(a, 0)
  end
  self.log(what .. " failed: " .. tostring(a))
  return nil, ("internal error in %s: %s"):format(what, (tostring(a):match("^[^\n]*")))
end

-- A decoded value as a message, or nil once what is wrong with it has been answered.
function Peer:message(m)
  if not json.is_object(m) then
    return self:fail(nil, M.INVALID_REQUEST, json.is_array(m) and "batches are not supported: send one message a line"
      or "a message is a JSON object")
  end
  local id = m.id
  local has_id = id ~= nil and id ~= json.null
  if has_id and type(id) ~= "string" and math.type(id) ~= "integer" then
    return self:fail(nil, M.INVALID_REQUEST, "id: expected a string or an integer")
  end
  if m.method == nil and (m.result ~= nil or m.error ~= nil) then
    return has_id and { kind = "answer", id = id, result = m.result, error = m.error } or nil
  end
  if m.jsonrpc ~= "2.0" or type(m.method) ~= "string" then
    return self:fail(id, M.INVALID_REQUEST, m.jsonrpc ~= "2.0" and "jsonrpc: expected \"2.0\""
      or "method: expected a string")
  end
  local params = m.params
  if params ~= nil and not json.is_object(params) then
    return has_id and self:fail(id, M.INVALID_PARAMS, "params: expected an object") or nil
  end
  return { kind = has_id and "request" or "notification", id = has_id and id or nil, method = m.method,
    params = params or json.object({}) }
end

---Reads one line of input: the message it holds, or nil when there is nothing for the server (a
---blank line, or one whose fault was answered here).
---@param line string
---@return table|nil message
function Peer:read(line)
  if not line:find("%S") then
    return nil
  end
  local ok, m = json.try_decode(line)
  if not ok then
    return self:fail(nil, M.PARSE_ERROR, "parse error: " .. tostring(type(m) == "table" and m.message or m))
  end
  return self:message(m)
end

---Handles one line of input: the message it holds goes to `handle(m)` (guarded: an error raised
---there is answered as an internal error of that request, named `what`).
---@param line string
---@param what string
---@param handle fun(m: table)
function Peer:handle(line, what, handle)
  local m = self:read(line)
  if not m then
    return
  end
  local _, why = self:guard(what, handle, m)
  if why and m.kind == "request" then
    self:fail(m.id, M.INTERNAL_ERROR, why)
  end
end

return M
