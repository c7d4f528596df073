--- Fuzz driver: an agent's event stream (stdlib/sidecar/agent/events.lua) in both dialects (claude_events,
--- codex_events). Any bytes are data: the parser never raises, a stream fed in pieces gives the
--- same summary and the same events as fed whole, and the summary keeps its shape.
local agent_events = require("sidecar.agent.events")
local common = require("fuzz.common")

local DIALECTS = { require("sidecar.agent.claude"), (require("sidecar.agent.codex")) } -- require returns two values
local LISTS = { "commands", "tool_calls", "file_changes", "errors", "warnings", "permission_denials" }

local function parse(dialect, pieces)
  local seen = {}
  local p = agent_events.parser(dialect, { on_event = function(kind) seen[#seen + 1] = kind end })
  for _, piece in ipairs(pieces) do
    p:feed(piece)
  end
  return p:finish(), seen
end

local function check_shape(s, name)
  for _, list in ipairs(LISTS) do
    if type(s[list]) ~= "table" or #s[list] > agent_events.MAX_KEPT then
      common.fail("%s: summary.%s is not a list of at most MAX_KEPT entries", name, list)
    end
  end
  for _, count in ipairs({ "messages", "events", "retries", "malformed_lines" }) do
    if math.type(s[count]) ~= "integer" or s[count] < 0 then
      common.fail("%s: summary.%s is not a count", name, count)
    end
  end
  if type(s.usage) ~= "table" then
    common.fail("%s: summary.usage is missing", name)
  end
  if s.final_message ~= nil and type(s.final_message) ~= "string" then
    common.fail("%s: final_message is a %s", name, type(s.final_message))
  end
end

return function(text)
  local pieces = common.pieces(text)
  for _, dialect in ipairs(DIALECTS) do
    local whole, whole_events = parse(dialect, { text })
    local streamed, streamed_events = parse(dialect, pieces)
    check_shape(whole, dialect.name)
    common.same(whole, streamed, dialect.name .. ": summary fed in pieces vs whole")
    common.same(whole_events, streamed_events, dialect.name .. ": events fed in pieces vs whole")
  end
end
