--- The Model Context Protocol over stdio, as `sidecar mcp` speaks it: JSON-RPC 2.0, one message
--- per line. The server answers `initialize` (with the client's protocol version when it is one
--- it knows), `ping`, `tools/list` and `tools/call`; every other request gets "method not found"
--- (-32601: Claude Code's `server/discover` probe falls back to `initialize` on it), and every
--- notification but `notifications/cancelled` is let be.
---
--- A tool is {name, description, inputSchema, outputSchema, annotations?, call = function(args, call) -> data,
--- text | nil, message | a waiter}. A waiter is a call that goes on after its request was read
--- (a run): {poll = function() -> data, text | nil, progress = function() -> message,
--- cancel = function()}; the server polls it between messages, so it keeps reading (a
--- cancellation, other requests) while a run goes on, and reports progress to a client that gave a
--- progressToken. Nothing a client sends can end the server but the end of its input: a message
--- that is not JSON, not an object, too long or not UTF-8 gets its JSON-RPC error, a tool that
--- raises gets a tool error, and the server reads the next line.
local json = require("sidecar.core.json")
local jsonrpc = require("sidecar.core.jsonrpc")
local schema = require("sidecar.mcp.schema")
local clock = require("sidecar.host.time")

local M = {}

-- The revisions this server speaks, newest first; a client asking for another gets the newest.
M.PROTOCOL_VERSIONS = { "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05" }
M.PARSE_ERROR, M.INVALID_REQUEST, M.METHOD_NOT_FOUND, M.INVALID_PARAMS, M.INTERNAL_ERROR =
  jsonrpc.PARSE_ERROR, jsonrpc.INVALID_REQUEST, jsonrpc.METHOD_NOT_FOUND, jsonrpc.INVALID_PARAMS, jsonrpc.INTERNAL_ERROR
M.MAX_LINE_BYTES = 4 * 1024 * 1024
local POLL_MS = 200           -- how often a waiter is polled while it waits
local PROGRESS_EVERY_MS = 1000 -- how often a waiting call with a progressToken is told its progress

local function now_ms()
  return clock.monotonic_ns() // 1000000
end

local Server = {}
Server.__index = Server

---A server writing to `out` (a Lua file: the protocol's stdout). opts: name, version,
---instructions, tools (a list), log(line) for diagnostics (stderr).
---@return table
function M.new(out, opts)
  local tools = {}
  for _, t in ipairs(opts.tools) do
    tools[t.name] = t
  end
  local log = opts.log or function() end
  return setmetatable({ rpc = jsonrpc.peer(out, log), name = opts.name, version = opts.version,
    instructions = opts.instructions, list = opts.tools, tools = tools, log = log, waiting = {} }, Server)
end

function Server:send(message)
  self.rpc:send(message)
end

function Server:reply(id, result)
  self.rpc:reply(id, result)
end

function Server:fail(id, code, message)
  self.rpc:fail(id, code, message)
end

-- The result of a tool call: the data as structuredContent and as JSON text, or a tool error.
local function tool_result(data, text)
  if data == nil then
    return { content = json.array({ { type = "text", text = tostring(text) } }), isError = true }
  end
  return { content = json.array({ { type = "text", text = text or json.encode(data) } }), structuredContent = data,
    isError = false }
end

function Server:guard(what, fn, ...)
  return self.rpc:guard(what, fn, ...)
end

function Server:initialize(id, params)
  local asked = params.protocolVersion
  local chosen = M.PROTOCOL_VERSIONS[1]
  for _, v in ipairs(M.PROTOCOL_VERSIONS) do
    if v == asked then
      chosen = v
    end
  end
  self:reply(id, { protocolVersion = chosen, capabilities = { tools = { listChanged = false } },
    serverInfo = { name = self.name, version = self.version }, instructions = self.instructions })
end

function Server:tools_list(id)
  local list = {}
  for i, t in ipairs(self.list) do
    list[i] = { name = t.name, title = t.title, description = t.description, inputSchema = t.inputSchema,
      outputSchema = t.outputSchema, annotations = t.annotations and json.object(t.annotations) or nil }
  end
  self:reply(id, { tools = json.array(list) })
end

function Server:tools_call(id, params)
  local tool = type(params.name) == "string" and self.tools[params.name]
  if not tool then
    return self:fail(id, M.INVALID_PARAMS, ("unknown tool %s (tools/list names them)"):format(
      type(params.name) == "string" and ("'" .. params.name .. "'") or "(params.name is not a string)"))
  end
  local args = params.arguments
  if args == nil then
    args = json.object({})
  end
  local problem = schema.check(tool.inputSchema, args)
  if problem then
    return self:reply(id, tool_result(nil, ("%s: %s"):format(tool.name, problem)))
  end
  local meta = type(params._meta) == "table" and params._meta or {}
  local a, b = self:guard(tool.name, tool.call, args, { id = id })
  if type(a) == "table" and a.poll then
    local token = meta.progressToken
    self.waiting[#self.waiting + 1] = { id = id, waiter = a, name = tool.name, progress_token = token,
      next_progress = now_ms() + PROGRESS_EVERY_MS, progress = 0 }
    return self:poll_waiting()
  end
  self:reply(id, tool_result(a, b))
end

local HANDLERS = {
  initialize = Server.initialize,
  ping = function(self, id) self:reply(id, json.object({})) end,
  ["tools/list"] = Server.tools_list,
  ["tools/call"] = Server.tools_call,
}

-- notifications/cancelled: the waiting call it names stops (its run is stopped) and gets no reply.
function Server:cancelled(params)
  for i, w in ipairs(self.waiting) do
    if w.id == params.requestId then
      table.remove(self.waiting, i)
      self:guard(w.name .. " cancel", w.waiter.cancel)
      self.log(("request %s (%s) cancelled%s"):format(json.encode(w.id), w.name,
        type(params.reason) == "string" and (": " .. params.reason) or ""))
      return
    end
  end
end

-- One message (sidecar.core.jsonrpc's): answers to requests this server never sends are let be.
function Server:dispatch(m)
  if m.kind == "notification" then
    if m.method == "notifications/cancelled" then
      self:cancelled(m.params)
    end
    return
  elseif m.kind ~= "request" then
    return
  end
  local handler = HANDLERS[m.method]
  if not handler then
    return self:fail(m.id, M.METHOD_NOT_FOUND, ("method not found: %s"):format(m.method))
  end
  handler(self, m.id, m.params)
end

---Handles one line of input (a message, or what should have been one).
function Server:handle_line(line)
  self.rpc:handle(line, "a request", function(m) self:dispatch(m) end)
end

-- Polls every waiting call once: an ended one is answered, a waiting one told of its progress.
function Server:poll_waiting()
  local i = 1
  while i <= #self.waiting do
    local w = self.waiting[i]
    local data, text = self:guard(w.name, w.waiter.poll)
    if data ~= nil or text ~= nil then
      table.remove(self.waiting, i)
      self:reply(w.id, tool_result(data, text))
    else
      if w.progress_token ~= nil and now_ms() >= w.next_progress then
        w.progress = w.progress + 1
        w.next_progress = now_ms() + PROGRESS_EVERY_MS
        local message = self:guard(w.name .. " progress", w.waiter.progress)
        self:send({ jsonrpc = "2.0", method = "notifications/progress", params = { progressToken = w.progress_token,
          progress = w.progress, message = message or json.null } })
      end
      i = i + 1
    end
  end
end

---Serves until the input ends. reader: host.stdio's line reader.
function Server:serve(reader)
  while true do
    local line, why, message = reader:read(#self.waiting > 0 and POLL_MS or nil)
    if line then
      self:handle_line(line)
    elseif why == "too_long" then
      self:fail(nil, M.PARSE_ERROR, ("a message longer than %d bytes was skipped"):format(M.MAX_LINE_BYTES))
    elseif why == "eof" then
      if #self.waiting > 0 then -- their runs go on in the background
        self.log(("the client closed its end with %d call(s) waiting: their runs go on (sidecar run list)")
          :format(#self.waiting))
      end
      return true
    elseif why == "error" then
      return nil, message
    end
    if #self.waiting > 0 then
      self:poll_waiting()
    end
  end
end

return M
