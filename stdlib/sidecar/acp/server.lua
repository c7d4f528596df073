--- Sidecar as an Agent Client Protocol agent on stdio (`sidecar acp`): JSON-RPC 2.0, one message a
--- line, protocol version 1. An editor (Zed, Neovim's CodeCompanion) or `acpx` starts it in a
--- repository; each prompt runs through Sidecar (sidecar.acp.turn).
---
--- Methods: `initialize`, `authenticate` (none needed), `session/new` (in a folder with a `.agent`
--- in or above it), `session/load` (its turns replayed as updates), `session/list` (the sessions
--- of sidecar.acp.sessions), `session/prompt` (answered when its turn ends; one at a time per
--- session) and the notification `session/cancel`. Sidecar asks the client
--- `session/request_permission` and sends `session/update`s. Every other method is "method not
--- found" (-32601); other notifications are let be.
---
--- Nothing a client sends ends the server but the end of its input: a line that is not JSON, not an
--- object, too long or not UTF-8 gets its JSON-RPC error, and the next line is read. When the
--- input ends, the turns still working are cancelled (their runs end `interrupted`) and waited for.
local clock = require("sidecar.host.time")
local commands = require("sidecar.acp.commands")
local json = require("sidecar.core.json")
local jsonrpc = require("sidecar.core.jsonrpc")
local paths = require("sidecar.host.paths")
local sessions = require("sidecar.acp.sessions")
local store = require("sidecar.core.store")
local turn = require("sidecar.acp.turn")

local M = {}

M.PROTOCOL_VERSION = 1
M.MAX_LINE_BYTES = 16 * 1024 * 1024
local POLL_MS = 50 -- how long the input is waited for while a turn works (each turn's poll waits too)

local Server = {}
Server.__index = Server

---A server writing to `out` (the protocol's stdout). opts: version, log(line) (stderr).
---@return table
function M.new(out, opts)
  local log = opts.log or function() end
  return setmetatable({ rpc = jsonrpc.peer(out, log), version = opts.version or "0", log = log, sessions = {},
    turns = {}, pending = {}, next_id = 0, turn_n = 0 }, Server)
end

function Server:reply(id, result)
  self.rpc:reply(id, result)
end

function Server:fail(id, code, message)
  self.rpc:fail(id, code, message)
end

function Server:guard(what, fn, ...)
  return self.rpc:guard(what, fn, ...)
end

---Sends a `session/update` notification.
function Server:update(session_id, update)
  self.rpc:send({ jsonrpc = "2.0", method = "session/update", params = { sessionId = session_id, update = update } })
end

---Sends a request to the client; `on_answer(result, error)` runs when it answers.
function Server:request(method, params, on_answer)
  self.next_id = self.next_id + 1
  self.pending[self.next_id] = on_answer
  self.rpc:send({ jsonrpc = "2.0", id = self.next_id, method = method, params = params })
end

local H = {}

function H.initialize(self, id, p)
  if math.type(p.protocolVersion) ~= "integer" then
    return self:fail(id, jsonrpc.INVALID_PARAMS, "protocolVersion: expected an integer (ACP's version: 1)")
  end
  self.initialized = true
  self.client = type(p.clientInfo) == "table" and p.clientInfo or {}
  -- Another version asked for: this one is answered, and the client decides (ACP's negotiation).
  self:reply(id, { protocolVersion = M.PROTOCOL_VERSION, agentCapabilities = { loadSession = true,
    promptCapabilities = { image = false, audio = false, embeddedContext = true },
    mcpCapabilities = { http = false, sse = false }, sessionCapabilities = { list = json.object({}) } },
    agentInfo = { name = "sidecar", title = "Sidecar", version = self.version }, authMethods = json.array({}) })
end

function H.authenticate(self, id)
  self:reply(id, json.object({}))
end

-- The store of `cwd`: the nearest `.agent` in or above it. Nil and why.
local function root_of(cwd)
  if type(cwd) ~= "string" or cwd:sub(1, 1) ~= "/" then
    return nil, "cwd: expected an absolute path"
  end
  local real = paths.real(cwd)
  if not real then
    return nil, ("cwd: %s is not a folder here"):format(cwd)
  end
  local root = paths.real(store.find_root(real))
  if not root then
    return nil, ("no .agent folder in or above %s: run `sidecar init` there first"):format(cwd)
  end
  return root, real
end

function Server:offer_commands(session)
  local list = commands.available(turn.presets_of(session.root))
  self:update(session.sessionId, { sessionUpdate = "available_commands_update", availableCommands =
    json.array(list) })
end

H["session/new"] = function(self, id, p)
  local root, cwd = root_of(p.cwd)
  if not root then
    return self:fail(id, jsonrpc.INVALID_PARAMS, cwd)
  end
  local s = sessions.new(root, cwd)
  self.sessions[s.sessionId] = s
  self:reply(id, { sessionId = s.sessionId })
  self:offer_commands(s)
end

-- A recorded session's turns as updates: the prompt, a tool call per run, the answer.
function Server:replay(s)
  for _, t in ipairs(s.turns) do
    if type(t) == "table" then
      self:update(s.sessionId, { sessionUpdate = "user_message_chunk", content = { type = "text",
        text = tostring(t.prompt) } })
      for _, run_id in ipairs(type(t.runs) == "table" and t.runs or {}) do
        self:update(s.sessionId, { sessionUpdate = "tool_call", toolCallId = tostring(run_id),
          title = tostring(run_id), kind = "execute", status = "completed" })
      end
      if type(t.text) == "string" and t.text ~= "" then
        self:update(s.sessionId, { sessionUpdate = "agent_message_chunk", content = { type = "text", text = t.text } })
      end
    end
  end
end

H["session/load"] = function(self, id, p)
  local root, cwd = root_of(p.cwd)
  if not root then
    return self:fail(id, jsonrpc.INVALID_PARAMS, cwd)
  end
  local s, why = sessions.get(root, p.sessionId)
  if not s then
    return self:fail(id, jsonrpc.INVALID_PARAMS, why)
  end
  self.sessions[s.sessionId] = s
  self:replay(s)
  self:reply(id, json.object({}))
  self:offer_commands(s)
end

H["session/list"] = function(self, id, p)
  local root, why = root_of(p.cwd or paths.real("."))
  if not root then
    return self:fail(id, jsonrpc.INVALID_PARAMS, why)
  end
  local list = sessions.list(root, type(p.cwd) == "string" and paths.real(p.cwd) or nil)
  self:reply(id, { sessions = json.array(list) })
end

-- The prompt's text: its text blocks, the text of embedded resources, and links as their URIs.
local function prompt_text(blocks)
  local parts = {}
  for _, b in ipairs(blocks) do
    if type(b) ~= "table" then
      return nil, "prompt: each block is an object"
    elseif b.type == "text" and type(b.text) == "string" then
      parts[#parts + 1] = b.text
    elseif b.type == "resource_link" and type(b.uri) == "string" then
      parts[#parts + 1] = b.uri
    elseif b.type == "resource" and type(b.resource) == "table" and type(b.resource.text) == "string" then
      parts[#parts + 1] = ("%s:\n%s"):format(tostring(b.resource.uri), b.resource.text)
    else
      return nil, ("prompt: a block of type %s is not taken (text, resource_link and resource are)"):format(
        tostring(b.type))
    end
  end
  return table.concat(parts, "\n")
end

H["session/prompt"] = function(self, id, p)
  local s = type(p.sessionId) == "string" and self.sessions[p.sessionId]
  if not s then
    return self:fail(id, jsonrpc.INVALID_PARAMS, ("no session %s (session/new or session/load first)"):format(
      tostring(p.sessionId)))
  end
  if not json.is_array(p.prompt) then
    return self:fail(id, jsonrpc.INVALID_PARAMS, "prompt: expected an array of content blocks")
  end
  if self.turns[s.sessionId] then
    return self:fail(id, jsonrpc.INVALID_REQUEST, "this session's prompt is still running: cancel it or wait")
  end
  local text, why = prompt_text(p.prompt)
  if not text then
    return self:fail(id, jsonrpc.INVALID_PARAMS, why)
  end
  self.turn_n = self.turn_n + 1
  self.turns[s.sessionId] = turn.start(self, s, id, text, self.turn_n)
end

-- A notification.
function Server:notified(method, p)
  if method == "session/cancel" and type(p.sessionId) == "string" and self.turns[p.sessionId] then
    self.turns[p.sessionId]:cancel()
  end
end

-- An answer to a request of ours.
function Server:answered(m)
  local on_answer = self.pending[m.id]
  if not on_answer then
    return self.log("an answer to no request of ours: id " .. json.encode(m.id))
  end
  self.pending[m.id] = nil
  local err = m.error ~= nil and (type(m.error) == "table" and m.error or { message = tostring(m.error) }) or nil
  on_answer(m.result, err)
end

-- One message (sidecar.core.jsonrpc's).
function Server:dispatch(m)
  if m.kind == "answer" then
    return self:answered(m)
  elseif m.kind == "notification" then
    return self:notified(m.method, m.params)
  end
  local handler = H[m.method]
  if not handler then
    return self:fail(m.id, jsonrpc.METHOD_NOT_FOUND, ("method not found: %s"):format(m.method))
  end
  if m.method ~= "initialize" and not self.initialized then
    return self:fail(m.id, jsonrpc.INVALID_REQUEST, "initialize first")
  end
  handler(self, m.id, m.params)
end

---Handles one line of input (a message, or what should have been one).
function Server:handle_line(line)
  self.rpc:handle(line, "a message", function(m) self:dispatch(m) end)
end

-- Polls each turn once; an answered one is let go.
function Server:poll_turns()
  for session_id, t in pairs(self.turns) do
    local _, why = self:guard("a prompt's turn", t.poll, t)
    if why then
      t:finish(why)
    end
    if t.done then
      self.turns[session_id] = nil
    end
  end
end

-- The input ended: the turns still working are cancelled, and waited for.
function Server:wind_down()
  if not next(self.turns) then
    return
  end
  self.log("the client closed its end: cancelling the prompts still running")
  for _, t in pairs(self.turns) do
    t:cancel()
    if t.asking then
      t:finish(nil, "cancelled")
    end
  end
  while next(self.turns) do
    self:poll_turns()
    if next(self.turns) then
      clock.sleep_ms(POLL_MS)
    end
  end
end

---Serves until the input ends. reader: host.stdio's line reader. True, or nil and why.
function Server:serve(reader)
  while true do
    local line, why, message = reader:read(next(self.turns) and POLL_MS or nil)
    if line then
      self:handle_line(line)
    elseif why == "too_long" then
      self:fail(nil, jsonrpc.PARSE_ERROR, ("a message longer than %d bytes was skipped"):format(M.MAX_LINE_BYTES))
    elseif why == "eof" then
      self:wind_down()
      return true
    elseif why == "error" then
      self:wind_down()
      return nil, message
    end
    self:poll_turns()
  end
end

return M
