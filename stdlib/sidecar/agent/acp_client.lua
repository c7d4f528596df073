--- Sidecar as the client of one Agent Client Protocol session (ACP v1: JSON-RPC 2.0, one message
--- a line, on the agent's stdin and stdout): the conversation of one run, with no I/O of its own.
--- It says `initialize`, opens the session (`session/new` in the run's folder, or `session/load`
--- to go on with one), sends the prompt, and reads what comes back: answers to its requests,
--- `session/update` notifications, and the agent's own requests, which it answers at once:
--- `session/request_permission` from the run's policy (sidecar.agent.acp_permission), anything
--- else refused (Sidecar offers the agent no file system and no terminal of its own: the agent
--- works in its OS sandbox).
---
---   local c = acp_client.new({ cwd = repo, prompt = text, send = function(msg) h:write(json(msg) .. "\n") end,
---     decide = function(params) return "allow" | "deny", why end, on = function(kind, fields) end })
---   c:start()                -- initialize
---   c:message(decoded)       -- each line the agent wrote, decoded
---   c.done, c.stop_reason, c.failure, c.session_id, c:answer(), c.usage, c.cost_usd
---
--- A peer that breaks the protocol (a version Sidecar cannot speak, an error answer, a message of
--- no known shape) ends the conversation with `failure` set; nothing it sends raises.
local json = require("sidecar.core.json")
local text = require("sidecar.core.text")

local M = {}

M.PROTOCOL_VERSION = 1
M.MAX_ANSWER = 16 * 1024 * 1024 -- the answer's bytes kept (output.md); past it, counted
M.METHOD_NOT_FOUND = -32601
M.INVALID_PARAMS = -32602

local Client = {}
Client.__index = Client

-- A string of the agent's, clipped; nil for anything else (an odd shape is never passed on).
local function str(v, n)
  return type(v) == "string" and text.clip(v, n or 300) or nil
end

---A conversation. o: {cwd, prompt, send(message table), decide(params) -> "allow"|"deny", why;
---on(kind, fields)? (what happened, for the run's events), resume_session_id?, client_version?,
---usage_of(session_id)? (the session's usage in ACP's shape, for an agent whose answer has none)}.
---@param o table
function M.new(o)
  return setmetatable({ o = o, next_id = 0, pending = {}, parts = {}, bytes = 0, dropped_bytes = 0,
    permissions = {}, loading = false }, Client)
end

function Client:emit(kind, fields)
  if self.o.on then
    self.o.on(kind, fields)
  end
end

-- Ends the conversation as failed, once.
function Client:fail(why)
  if not self.done then
    self.done, self.failure = true, why
    self:emit("failed", { message = why })
  end
end

function Client:request(method, params, on_result)
  self.next_id = self.next_id + 1
  self.pending[self.next_id] = { method = method, on_result = on_result }
  self.o.send({ jsonrpc = "2.0", id = self.next_id, method = method, params = params })
end

function Client:respond(id, result, err)
  self.o.send({ jsonrpc = "2.0", id = id, result = err == nil and (result or json.object()) or nil, error = err })
end

---Starts the conversation: `initialize`, then the session and the prompt as the answers come.
function Client:start()
  self:request("initialize", { protocolVersion = M.PROTOCOL_VERSION, clientCapabilities = json.object({
    fs = json.object({ readTextFile = false, writeTextFile = false }), terminal = false }),
    clientInfo = json.object({ name = "sidecar", version = self.o.client_version or "0" }) }, function(r)
    self:initialized(r)
  end)
end

function Client:initialized(r)
  local v = r.protocolVersion
  if v ~= M.PROTOCOL_VERSION then
    -- what it said, as a number or a short string; of anything else, only its kind
    local said = math.type(v) and tostring(v) or str(v, 40) or (v == nil and "none" or type(v) == "table" and "an object"
      or type(v))
    return self:fail(("the agent speaks ACP version %s; Sidecar speaks version %d"):format(said, M.PROTOCOL_VERSION))
  end
  local caps = type(r.agentCapabilities) == "table" and r.agentCapabilities or {}
  self.can_load = caps.loadSession == true
  local mcp = json.array({})
  local resume = self.o.resume_session_id
  if resume and self.can_load then
    self.loading, self.session_id = true, resume -- the history it replays is not this run's answer
    return self:request("session/load", { sessionId = resume, cwd = self.o.cwd, mcpServers = mcp }, function()
      self.loading = false
      self:prompt()
    end)
  elseif resume then
    return self:fail("the agent cannot go on with a session (its initialize offers no loadSession)")
  end
  self:request("session/new", { cwd = self.o.cwd, mcpServers = mcp }, function(n)
    if type(n.sessionId) ~= "string" or n.sessionId == "" then
      return self:fail("session/new answered no sessionId")
    end
    self.session_id = n.sessionId
    self:emit("session", { id = n.sessionId })
    self:prompt()
  end)
end

function Client:prompt()
  self:request("session/prompt", { sessionId = self.session_id,
    prompt = json.array({ json.object({ type = "text", text = self.o.prompt }) }) }, function(r)
    self:ended(r)
  end)
end

-- The prompt's answer: how the turn stopped, and its usage when the agent reports it.
function Client:ended(r)
  self.stop_reason = type(r.stopReason) == "string" and r.stopReason or nil
  self.usage = type(r.usage) == "table" and r.usage or nil
  if not self.usage and self.o.usage_of then -- an agent that reports its usage elsewhere (codex-acp)
    self.usage = self.o.usage_of(self.session_id)
    self.usage_whole_session = self.usage ~= nil -- its session file: the thread's totals so far
  end
  self.done = true
  self:emit("stopped", { reason = self.stop_reason, usage = self.usage })
end

---Asks the agent to stop its turn (`session/cancel`); its prompt then answers `cancelled`.
function Client:cancel()
  if self.session_id and not self.done and not self.cancelled then
    self.cancelled = true
    self.o.send({ jsonrpc = "2.0", method = "session/cancel", params = { sessionId = self.session_id } })
  end
end

---The answer so far: the agent's message chunks of this run, joined.
function Client:answer()
  return table.concat(self.parts)
end

-- An agent message chunk's text, kept up to MAX_ANSWER.
function Client:chunk(t)
  if self.bytes + #t > M.MAX_ANSWER then
    self.dropped_bytes = self.dropped_bytes + #t
    return
  end
  self.parts[#self.parts + 1], self.bytes = t, self.bytes + #t
end

-- A `session/update` notification.
function Client:update(p)
  local u = type(p) == "table" and p.update
  local kind = type(u) == "table" and u.sessionUpdate
  if type(kind) ~= "string" then
    return self:emit("odd", { what = "session/update without update.sessionUpdate" })
  end
  if self.loading then
    return -- the history of a loaded session
  end
  if kind == "agent_message_chunk" then
    local c = type(u.content) == "table" and u.content or {}
    if c.type == "text" and type(c.text) == "string" then
      self:chunk(c.text)
    end
  elseif kind == "tool_call" or kind == "tool_call_update" then
    self:emit(kind, { id = str(u.toolCallId), title = str(u.title), kind = str(u.kind), status = str(u.status) })
  elseif kind == "plan" then
    self:emit("plan", { entries = type(u.entries) == "table" and #u.entries or 0 })
  elseif kind == "usage_update" then
    local cost = type(u.cost) == "table" and u.cost or {}
    if cost.currency == "USD" and type(cost.amount) == "number" and cost.amount >= 0 then
      self.cost_usd = cost.amount -- cumulative for the session
    end
    self:emit("usage_update", { used = math.type(u.used) == "integer" and u.used or nil,
      size = math.type(u.size) == "integer" and u.size or nil, cost_usd = self.cost_usd })
  else
    self:emit("update", { kind = str(kind, 200) })
  end
end

-- A request of the agent's: a permission is decided; anything else is not offered.
function Client:asked(m)
  if m.method == "session/request_permission" then
    local p = type(m.params) == "table" and m.params or {}
    local decision, why = self.o.decide(p)
    local option = M.option(p.options, decision)
    local call = type(p.toolCall) == "table" and p.toolCall or {}
    local entry = { tool = str(call.title) or str(call.kind), kind = str(call.kind), decision = decision, why = why,
      option = str(option) }
    self.permissions[#self.permissions + 1] = entry
    self:emit("permission", entry)
    local outcome = option and json.object({ outcome = "selected", optionId = option })
      or json.object({ outcome = "cancelled" })
    return self:respond(m.id, { outcome = outcome })
  end
  self:respond(m.id, nil, { code = M.METHOD_NOT_FOUND, message = "Sidecar does not offer " .. tostring(m.method) })
end

---The option of `options` that carries out `decision` ("allow": allow_once; "deny": reject_once),
---never an `_always` one: each request is decided by itself. nil when none does.
---@param options any
---@param decision string
function M.option(options, decision)
  local want = decision == "allow" and "allow_once" or "reject_once"
  for _, o in ipairs(type(options) == "table" and options or {}) do
    if type(o) == "table" and o.kind == want and type(o.optionId) == "string" then
      return o.optionId
    end
  end
  return nil
end

---One message of the agent's, decoded: an answer, a notification or a request.
---@param m table
function Client:message(m)
  if type(m) ~= "table" or m.jsonrpc ~= "2.0" then
    return self:emit("odd", { what = "not a JSON-RPC 2.0 message" })
  end
  if m.method ~= nil then
    if type(m.method) ~= "string" then
      return self:emit("odd", { what = "a method that is not a string" })
    elseif m.id ~= nil then
      return self:asked(m)
    elseif m.method == "session/update" then
      return self:update(m.params)
    end
    return self:emit("notification", { method = str(m.method, 200) })
  end
  local waiting = self.pending[m.id]
  if not waiting then
    return self:emit("odd", { what = "an answer to no request of Sidecar's" })
  end
  self.pending[m.id] = nil
  if m.error ~= nil then
    local e = type(m.error) == "table" and m.error or {}
    return self:fail(("%s failed: %s (%s)"):format(waiting.method, str(e.message, 500) or "no message",
      math.type(e.code) and tostring(e.code) or "no code"))
  end
  waiting.on_result(type(m.result) == "table" and m.result or {})
end

return M
