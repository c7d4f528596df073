-- The claude dialect's own rules (stdlib/sidecar/agent/claude.lua), on lines written for each
-- rule; tests/lua/agent_events_spec.lua reads real captures of both dialects.
local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local agent_events = require("sidecar.agent.events")
local claude = require("sidecar.agent.claude")
local json = require("sidecar.core.json")

-- The summary of these event tables, each written as one line; and the events emitted.
local function read(lines)
  local emitted = {}
  local p = agent_events.parser(claude, { on_event = function(kind, fields)
    emitted[#emitted + 1] = { kind = kind, fields = fields }
  end })
  for _, e in ipairs(lines) do
    p:feed(json.encode(e) .. "\n")
  end
  return p:finish(), emitted
end

local function kinds(emitted)
  local out = {}
  for i, e in ipairs(emitted) do
    out[i] = e.kind
  end
  return out
end

local function result(fields)
  local e = { type = "result", subtype = "success", is_error = false, result = "done" }
  for k, v in pairs(fields or {}) do
    e[k] = v
  end
  return e
end

describe("claude dialect", function()
  it("counts every input token, cache writes and reads included; reads are the cached part", function()
    local s = read({ result({ usage = { input_tokens = 10, cache_creation_input_tokens = 200,
      cache_read_input_tokens = 3000, output_tokens = 40, output_tokens_details = { thinking_tokens = 15 } } }) })
    expect(s.usage):equals({ input = 3210, cached_input = 3000, output = 40, reasoning_output = 15, total = 3250 })
    expect(s.final_message):equals("done")
    expect(s.completed):is_true()
  end)

  it("says the session's cost is cumulative, its usage not (a resumed run subtracts the cost)", function()
    expect(claude.cumulative):equals({ usage = false, cost = true })
    local s = read({ result({ total_cost_usd = 0.25, usage = { input_tokens = 1, output_tokens = 1 } }) })
    expect(s.cost_usd):equals(0.25)
  end)

  it("fails a result whose subtype says success when is_error or terminal_reason says otherwise", function()
    local s = read({ result({ is_error = true, result = "", errors = { "session not found" } }) })
    expect(s.is_error):is_true()
    expect(s.failure):equals("session not found")
    local cut = read({ result({ result = "", terminal_reason = "max_turns", api_error_status = 529 }) })
    expect(cut.is_error):is_true()
    expect(cut.failure):equals("API error 529 (max_turns)")
    local fine = read({ result({ terminal_reason = "completed" }) })
    expect(fine.is_error):is_false()
  end)

  it("reads the session and model from init, and the last text as the message so far", function()
    local s, emitted = read({
      { type = "system", subtype = "init", session_id = "S-1", model = "claude-x" },
      { type = "assistant", message = { model = "claude-x", content = {
        { type = "thinking", thinking = "hm" }, { type = "text", text = "first" }, { type = "text", text = "second" } } } },
    })
    expect(s.session_id):equals("S-1")
    expect(s.model):equals("claude-x")
    expect(s.last_message):equals("second")
    expect(s.messages):equals(2)
    expect(kinds(emitted)):equals({ "session", "reasoning", "message", "message" })
  end)

  it("pairs a Bash call with its result into a command, and an edit into a file change", function()
    local s = read({
      { type = "assistant", message = { content = {
        { type = "tool_use", id = "t1", name = "Bash", input = { command = "make test" } },
        { type = "tool_use", id = "t2", name = "Write", input = { file_path = "src/a.c" } } } } },
      { type = "user", message = { content = {
        { type = "tool_result", tool_use_id = "t1", is_error = true, content = "1 failed" } } } },
    })
    expect(#s.commands):equals(1)
    expect(s.commands[1].command):equals("make test")
    expect(s.commands[1].status):equals("failed")
    expect(s.file_changes):equals({ { path = "src/a.c", kind = "write" } })
    expect(#s.tool_calls):equals(2)
  end)

  it("keeps a permission denial as a warning, and counts API retries", function()
    local s = read({
      { type = "system", subtype = "api_retry" },
      { type = "system", subtype = "permission_denied", tool_name = "Bash", message = "not allowed" },
    })
    expect(s.retries):equals(1)
    expect(s.warnings[1]):equals("permission denied: Bash: not allowed")
  end)

  it("leaves an event type it does not know to the parser (counted, never fatal)", function()
    expect(claude.handle({}, { type = "stream_event" }, function() end)):is_false()
    local s = read({ { type = "stream_event" }, result() })
    expect(s.completed):is_true()
    expect(s.unknown_types):equals({ stream_event = 1 })
  end)
end)
