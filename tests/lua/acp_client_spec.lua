-- Sidecar as the client of an ACP session (stdlib/sidecar/agent/acp_client.lua) and the decisions on
-- an agent's permission requests (stdlib/sidecar/agent/acp_permission.lua), against scripted and
-- hostile peers: nothing a peer sends raises; a broken protocol ends the conversation with a reason.
local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local acp_client = require("sidecar.agent.acp_client")
local acp_permission = require("sidecar.agent.acp_permission")

-- A conversation whose sent messages and events are kept; decide allows all.
local function conversation(o)
  local sent, events = {}, {}
  local c = acp_client.new({ cwd = "/w", prompt = "Do it.", resume_session_id = o and o.resume,
    send = function(m) sent[#sent + 1] = m end,
    decide = o and o.decide or function() return "allow", "ok" end,
    on = function(kind, fields) events[#events + 1] = { kind = kind, fields = fields } end })
  return c, sent, events
end

-- Answers Sidecar's last request with `result`.
local function answer(c, sent, result)
  c:message({ jsonrpc = "2.0", id = sent[#sent].id, result = result })
end

describe("acp_client", function()
  it("says initialize, opens a session in its folder, sends the prompt, and keeps the answer", function()
    local c, sent = conversation()
    c:start()
    expect(sent[1].method):equals("initialize")
    expect(sent[1].params.protocolVersion):equals(1)
    answer(c, sent, { protocolVersion = 1 })
    expect(sent[2].method):equals("session/new")
    expect(sent[2].params.cwd):equals("/w")
    answer(c, sent, { sessionId = "s1" })
    expect(sent[3].method):equals("session/prompt")
    expect(sent[3].params.prompt[1].text):equals("Do it.")
    for _, t in ipairs({ "Hel", "lo" }) do
      c:message({ jsonrpc = "2.0", method = "session/update", params = { sessionId = "s1",
        update = { sessionUpdate = "agent_message_chunk", content = { type = "text", text = t } } } })
    end
    answer(c, sent, { stopReason = "end_turn", usage = { inputTokens = 3, outputTokens = 2, totalTokens = 5 } })
    expect(c.done):is_true()
    expect(c.stop_reason):equals("end_turn")
    expect(c:answer()):equals("Hello")
    expect(c.usage.totalTokens):equals(5)
  end)

  it("goes on with a session through session/load, not counting its replayed history", function()
    local c, sent = conversation({ resume = "old" })
    c:start()
    answer(c, sent, { protocolVersion = 1, agentCapabilities = { loadSession = true } })
    expect(sent[2].method):equals("session/load")
    c:message({ jsonrpc = "2.0", method = "session/update", params = { update = { sessionUpdate = "agent_message_chunk",
      content = { type = "text", text = "old answer" } } } })
    answer(c, sent, {})
    expect(sent[3].method):equals("session/prompt")
    expect(sent[3].params.sessionId):equals("old")
    expect(c:answer()):equals("")
  end)

  it("fails, saying why, on a version it cannot speak, an error answer, or no way to go on with a session", function()
    local c, sent = conversation()
    c:start()
    answer(c, sent, { protocolVersion = 2 })
    expect(c.failure):contains("ACP version 2")
    c, sent = conversation()
    c:start()
    c:message({ jsonrpc = "2.0", id = sent[1].id, error = { code = -32603, message = "boom" } })
    expect(c.failure):equals("initialize failed: boom (-32603)")
    c, sent = conversation({ resume = "old" })
    c:start()
    answer(c, sent, { protocolVersion = 1 })
    expect(c.failure):contains("no loadSession")
  end)

  it("answers a permission with the decided option, never an _always one, and refuses what it does not offer", function()
    local c, sent = conversation({ decide = function() return "deny", "no edits here" end })
    c:start()
    answer(c, sent, { protocolVersion = 1 })
    answer(c, sent, { sessionId = "s1" })
    c:message({ jsonrpc = "2.0", id = 9, method = "session/request_permission", params = { sessionId = "s1",
      toolCall = { title = "Edit", kind = "edit" }, options = { { optionId = "a", kind = "allow_always" },
        { optionId = "r", kind = "reject_always" }, { optionId = "n", kind = "reject_once" } } } })
    expect(sent[#sent].id):equals(9)
    expect(sent[#sent].result.outcome.optionId):equals("n")
    expect(c.permissions[1].why):equals("no edits here")
    c:message({ jsonrpc = "2.0", id = 10, method = "session/request_permission", params = { options = {} } })
    expect(sent[#sent].result.outcome.outcome):equals("cancelled") -- no option to carry it out
    c:message({ jsonrpc = "2.0", id = 11, method = "terminal/create", params = {} })
    expect(sent[#sent].error.code):equals(acp_client.METHOD_NOT_FOUND)
  end)

  it("takes any shape a hostile peer sends as data", function()
    local c, sent, events = conversation()
    c:start()
    for _, m in ipairs({ "text", 42, {}, { jsonrpc = "1.0" }, { jsonrpc = "2.0", id = 77, result = {} },
      { jsonrpc = "2.0", method = 5 }, { jsonrpc = "2.0", method = "session/update", params = "x" },
      { jsonrpc = "2.0", method = "session/update", params = { update = { sessionUpdate = { 1 } } } },
      { jsonrpc = "2.0", method = "session/update", params = { update = { sessionUpdate = "tool_call", title = { 1 } } } },
      { jsonrpc = "2.0", id = sent[1].id, result = "not an object" } }) do
      c:message(m)
    end
    expect(c.failure):contains("ACP version none") -- the answer that was not an object
    c, sent = conversation()
    c:start()
    answer(c, sent, { protocolVersion = { 1 } })
    expect(c.failure):equals("the agent speaks ACP version an object; Sidecar speaks version 1") -- never an address
    local odd = 0
    for _, e in ipairs(events) do
      odd = odd + (e.kind == "odd" and 1 or 0)
    end
    expect(odd >= 5):is_true()
  end)

  it("keeps at most MAX_ANSWER bytes of the answer", function()
    local c = conversation()
    local big = string.rep("x", acp_client.MAX_ANSWER // 2 + 1)
    for _ = 1, 3 do
      c:chunk(big)
    end
    expect(#c:answer()):equals(#big)
    expect(c.dropped_bytes):equals(2 * #big)
  end)
end)

describe("acp_permission", function()
  local function decide(kind, o)
    o = o or {}
    return acp_permission.decide({ toolCall = { kind = kind, locations = o.locations, rawInput = o.raw } },
      { sandbox = o.sandbox or "read-only", root = "/w" })
  end

  it("lets a read-only run read, search, think and fetch, and nothing else", function()
    expect(decide("read")):equals("allow")
    expect(decide("search")):equals("allow")
    expect(decide("edit")):equals("deny")
    expect(decide("execute")):equals("deny")
    expect(select(2, decide("execute"))):equals("a read-only run: no command")
  end)

  it("lets a writing run change what lies in its folder, never outside, never a push or a tag", function()
    expect(decide("edit", { sandbox = "workspace-write", locations = { { path = "/w/a.txt" } } })):equals("allow")
    expect(decide("edit", { sandbox = "workspace-write", locations = { { path = "/w/../etc/x" } } })):equals("deny")
    expect(decide("edit", { sandbox = "workspace-write", locations = { { path = "/wx/a" } } })):equals("deny")
    expect(decide("edit", { sandbox = "workspace-write", locations = { { path = "a.txt" } } })):equals("deny")
    expect(decide("execute", { sandbox = "workspace-write", raw = { command = { "git", "push", "origin" } } }))
      :equals("deny")
    expect(decide("execute", { sandbox = "workspace-write", raw = { command = "git tag v1" } })):equals("deny")
    expect(decide("switch_mode", { sandbox = "danger-full-access" })):equals("deny")
  end)
end)
