--- Fuzz driver: an ACP agent's stdout (stdlib/sidecar/agent/acp.lua with the run's conversation,
--- stdlib/sidecar/agent/acp_client.lua): any bytes are data. The parser and the conversation never
--- raise, a stream fed in pieces gives the same summary, events and replies as fed whole, every
--- reply Sidecar sends is a JSON-RPC 2.0 message that encodes, and a permission is never answered
--- with an `_always` option.
local agent_events = require("sidecar.agent.events")
local acp = require("sidecar.agent.acp")
local acp_client = require("sidecar.agent.acp_client")
local common = require("fuzz.common")
local json = require("sidecar.core.json")

local function parse(pieces)
  local sent, seen = {}, {}
  local p = agent_events.parser(acp, { on_event = function(kind) seen[#seen + 1] = kind end })
  local c = acp_client.new({ cwd = "/w", prompt = "p", send = function(m) sent[#sent + 1] = json.encode(m) end,
    decide = function(params)
      local kind = type(params.toolCall) == "table" and params.toolCall.kind
      return kind == "read" and "allow" or "deny", "fuzz"
    end,
    on = function(kind, fields) p:emit(kind, fields) end })
  p.summary.acp = c
  c:start()
  for _, piece in ipairs(pieces) do
    p:feed(piece)
  end
  local s = p:finish()
  s.acp = nil -- the conversation itself: compared through what it sent
  return s, seen, sent, c
end

return function(text)
  local whole, whole_events, whole_sent, c = parse({ text })
  local streamed, streamed_events, streamed_sent = parse(common.pieces(text))
  common.same(whole, streamed, "summary fed in pieces vs whole")
  common.same(whole_events, streamed_events, "events fed in pieces vs whole")
  common.same(whole_sent, streamed_sent, "replies fed in pieces vs whole")
  for _, line in ipairs(whole_sent) do
    local m = json.decode(line)
    if type(m) ~= "table" or m.jsonrpc ~= "2.0" then
      common.fail("a reply that is not JSON-RPC 2.0: %s", line:sub(1, 200))
    end
    local option = type(m.result) == "table" and type(m.result.outcome) == "table" and m.result.outcome.optionId
    if type(option) == "string" and option:find("always", 1, true) then
      common.fail("a permission answered with an _always option: %s", option)
    end
  end
  if whole.final_message ~= nil and type(whole.final_message) ~= "string" then
    common.fail("final_message is a %s", type(whole.final_message))
  end
  if c.done and whole.completed ~= true then
    common.fail("the conversation ended but the summary is not completed")
  end
end
