local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local agent_events = require("sidecar.agent.events")
local json = require("sidecar.core.json")

-- Real output of codex-cli 0.169 and Claude Code 2.1 against a scripted server (docs/agent-clis.md).
local CAPTURES = "../fixtures/captures/"

local function parse(name, dialect, chunked)
  local p = agent_events.parser(require("sidecar.agent." .. dialect))
  local f = assert(io.open(CAPTURES .. name))
  local text = f:read("a")
  f:close()
  if chunked then
    for i = 1, #text, chunked do
      p:feed(text:sub(i, i + chunked - 1))
    end
  else
    p:feed(text)
  end
  return p:finish()
end

local function usage(input, cached, output, reasoning, total)
  return { input = input, cached_input = cached, output = output, reasoning_output = reasoning, total = total }
end

describe("codex events", function()
  it("read a text turn: thread id, final message, exact usage", function()
    local s = parse("codex_exec_json_text_turn.jsonl", "codex")
    expect(s.session_id):equals("01a1fddb-6319-7bd2-9e42-00be972fec02")
    expect(s.final_message):equals("Hello from the mock model.")
    expect(s.usage):equals(usage(100, 0, 20, 0, 120))
    expect(s.completed):is_true()
    expect(s.is_error):is_false()
    expect(s.unknown_types):equals({})
  end)

  it("read commands, reasoning and file changes", function()
    local s = parse("codex_exec_json_reasoning_command_filechange.jsonl", "codex", 7)
    expect(#s.commands):equals(1)
    expect(s.commands[1].command):equals("/bin/bash -c 'echo hi > out.txt && ls'")
    expect(s.commands[1].exit_code):equals(0)
    expect(s.file_changes):equals({ { path = "/home/user/ws/notes.md", kind = "add" } })
    expect(s.final_message):equals("Done: created out.txt and notes.md.")
    s = parse("codex_exec_json_failed_command.jsonl", "codex")
    expect(s.commands[1].exit_code):equals(2)
    expect(s.commands[1].status):equals("failed")
    expect(s.commands[1].output_tail):contains("No such file or directory")
  end)

  it("read a failed turn as an error with its reason and no usage", function()
    local s = parse("codex_exec_json_http500_noretry.jsonl", "codex")
    expect(s.is_error):is_true()
    expect(s.failure):contains("high demand")
    expect(s.usage.input):is(json.null)
    expect(s.final_message):is_nil()
    s = parse("codex_exec_json_bad_model_404.jsonl", "codex")
    expect(s.failure):equals("mock: model 'no-such-model' does not exist")
    expect(s.warnings[1]):contains("Model metadata")
  end)

  it("report resumed usage as cumulative (the runner subtracts)", function()
    local one = parse("codex_resume_turn1.jsonl", "codex")
    local two = parse("codex_resume_turn2_cumulative_usage.jsonl", "codex")
    expect(two.session_id):equals(one.session_id)
    expect(two.usage.input - one.usage.input):equals(7)
    expect(two.usage.output - one.usage.output):equals(3)
  end)
end)

describe("claude events", function()
  it("read a tool turn: session, tool call, command, usage and cost", function()
    local s = parse("claude_stream_json_tool_turn.jsonl", "claude", 13)
    expect(s.session_id):equals("1b03f916-f62a-4103-9f00-94070824968e")
    expect(s.final_message):equals("Created out.txt.")
    expect(s.tool_calls[1].name):equals("Bash")
    expect(s.commands[1].command):equals("echo hi > out.txt && ls")
    expect(s.commands[1].output_tail):equals("out.txt")
    expect(s.usage):equals(usage(200, 0, 40, 0, 240))
    expect(s.cost_usd):equals(0.0016)
    expect(s.is_error):is_false()
  end)

  it("read an API error although subtype says success", function()
    local s = parse("claude_stream_json_http500_noretry.jsonl", "claude")
    expect(s.is_error):is_true()
    expect(s.failure):contains("API Error: 500")
    expect(s.completed):is_true()
  end)

  it("say why a resume failed before any request: the session does not exist", function()
    local s = parse("claude_resume_missing_session.jsonl", "claude")
    expect(s.is_error):is_true()
    expect(s.failure):equals("No conversation found with session ID: 36b0f2a2-2047-4ad8-a098-88684c6b399b")
    expect(s.cost_usd):equals(0)
  end)

  it("keep permission denials", function()
    local s = parse("claude_stream_json_permission_denied.jsonl", "claude")
    expect(#s.permission_denials):equals(1)
    expect(s.warnings[1]):contains("permission denied: Bash")
    expect(s.is_error):is_false()
  end)
end)

describe("agent event streams", function()
  it("read a line with bytes that are not UTF-8 or a lone surrogate leniently, counting what was replaced", function()
    local p = agent_events.parser(require("sidecar.agent.codex"))
    p:feed('{"type":"thread.started","thread_id":"t1"}\n')
    p:feed('{"type":"item.completed","item":{"id":"i","type":"agent_message","text":"R\233sum\233 \\ud800"}}\n')
    p:feed('{"type":"turn.completed","usage":{"input_tokens":3,"output_tokens":4}}\n')
    local s = p:finish()
    expect(s.final_message):equals("R\u{FFFD}sum\u{FFFD} \u{FFFD}")
    expect(s.repaired_lines):equals(1)
    expect(s.repaired_bytes):equals(3)
    expect(s.malformed_lines):equals(0)
    expect(s.completed):is_true()
  end)

  it("read a line with a number too large for a double: null, the line odd, the result kept", function()
    local p = agent_events.parser(require("sidecar.agent.claude"))
    p:feed('{"type":"result","subtype":"success","is_error":false,"result":"ok","total_cost_usd":1e309,'
      .. '"usage":{"input_tokens":3,"output_tokens":2}}\n')
    local s = p:finish()
    expect(s.completed):is_true()
    expect(s.final_message):equals("ok")
    expect(s.cost_usd):is_nil()
    expect(s.usage.output):equals(2)
    expect(s.odd_lines):equals(1)
    expect(s.odd_sample[1].what):contains("1 number too large to read, taken as null")
  end)

  it("believe no count past a trillion and no cost past a million dollars: unknown instead", function()
    local p = agent_events.parser(require("sidecar.agent.codex"))
    p:feed('{"type":"turn.completed","usage":{"input_tokens":9223372036854775807,"output_tokens":1}}\n')
    local s = p:finish()
    expect(s.usage.input):equals(json.null)
    expect(s.usage.total):equals(json.null)
    expect(s.usage.output):equals(1)
    local c = agent_events.parser(require("sidecar.agent.claude"))
    c:feed('{"type":"result","subtype":"success","is_error":false,"result":"ok","total_cost_usd":1e308,'
      .. '"usage":{"input_tokens":1000000000001,"output_tokens":2}}\n')
    local cs = c:finish()
    expect(cs.cost_usd):is_nil()
    expect(cs.usage.input):equals(json.null)
    expect(cs.usage.output):equals(2)
  end)

  it("keep unknown types and malformed lines as data, and notice a line cut short", function()
    local seen = {}
    local p = agent_events.parser(require("sidecar.agent.codex"), { on_event = function(kind) seen[#seen + 1] = kind end })
    p:line('{"type":"thread.started","thread_id":"t1"}')
    p:line('{"type":"brand.new.event","x":1}')
    p:line("not json at all")
    p:line("[1,2]")
    p:line('{"type":"item.completed","item":{"id":"i","type":"hologram"}}')
    p:feed('{"type":"item.completed","item":{"id":"i2","type":"agent_message","text":"hi"}}\n{"type":"turn.comp')
    local s = p:finish()
    expect(s.unknown_types):equals({ ["brand.new.event"] = 1, ["item.completed/hologram"] = 1 })
    expect(s.malformed_lines):equals(3)
    expect(s.malformed_sample):equals("not json at all")
    expect(s.cut_mid_line):is_true()
    expect(s.completed):is_false()
    expect(s.final_message):equals("hi")
    expect(seen):equals({ "session", "malformed_line", "malformed_line", "message", "malformed_line" })
  end)

  it("count and sample lines of unexpected shapes, and use the good result after them", function()
    local want = { claude = { odd = 9, session = "3e883fd2-3af2-467c-af37-3eab19a5f6b9" },
      codex = { odd = 9, session = "01a1fddb-6319-7bd2-9e42-00be972fec02" } }
    for dialect, w in pairs(want) do
      local kinds = {}
      local p = agent_events.parser(require("sidecar.agent." .. dialect), { on_event = function(kind, fields)
        kinds[kind] = (kinds[kind] or 0) + 1
        json.encode(fields) -- what telemetry does with them: never a table where a string belongs
      end })
      local f = assert(io.open("../fixtures/hostile/" .. dialect .. "_odd_shapes.jsonl"))
      p:feed(f:read("a"))
      f:close()
      local s = p:finish()
      expect(s.final_message):equals("Hello from the mock model.")
      expect(s.usage):equals(usage(100, 0, 20, 0, 120))
      expect(s.is_error):is_false()
      expect(s.session_id):equals(w.session)
      expect(s.malformed_lines):equals(0)
      expect(s.odd_lines):equals(w.odd)
      expect(kinds.odd_line):equals(w.odd)
      expect(#s.odd_sample):equals(agent_events.MAX_ODD_SAMPLES)
      expect(s.odd_sample[1].line):equals(1)
      expect(s.odd_sample[1].what):contains("expected a string, got an")
      for _, list in ipairs({ "commands", "file_changes", "tool_calls", "warnings", "errors" }) do
        for _, entry in ipairs(s[list]) do
          for k, v in pairs(type(entry) == "table" and entry or { entry }) do
            if k ~= "exit_code" then
              expect(type(v)):equals("string")
            end
          end
        end
      end
    end
  end)

  it("never raise, whatever the line", function()
    local pieces = { '{"type":"', "assistant", "user", "result", "system", "item.completed", "turn.completed",
      "thread.started", "error", '","message":', '","item":', '{"content":', '"changes":', '[', ']', '{', '}',
      '1', 'null', '"x"', ',', '"type":"tool_use"', '"type":"file_change"', '"usage":', '1e308',
      '9223372036854775807', '"subtype":"init"', '"text":', '"input":', '"\\u0000"', "\n" }
    local seed = 14
    for _, dialect in ipairs({ "claude", "codex" }) do
      local p = agent_events.parser(require("sidecar.agent." .. dialect))
      for _ = 1, 2000 do
        local parts = {}
        for k = 1, 12 do
          seed = (seed * 1103515245 + 12345) % 2147483648
          parts[k] = pieces[seed % #pieces + 1]
        end
        local line = table.concat(parts)
        local ok, err = pcall(p.feed, p, line .. "\n")
        if not ok then
          error(("%s parser raised on %q: %s"):format(dialect, line, tostring(err)))
        end
      end
      expect(pcall(p.finish, p)):is_true()
    end
  end)

  it("pass the caller's own errors on, and an interruption", function()
    local p = agent_events.parser(require("sidecar.agent.codex"), { on_event = function() error("telemetry broke", 0) end })
    local ok, err = pcall(p.line, p, '{"type":"thread.started","thread_id":"t"}')
    expect(ok):is_false()
    expect(err):equals("telemetry broke")
    local dialect = { name = "x", handle = function() error("x.lua:1: interrupted!", 0) end }
    ok, err = pcall(agent_events.parser(dialect).line, agent_events.parser(dialect), '{"type":"a"}')
    expect(ok):is_false()
    expect(err):contains("interrupted!")
  end)

  it("stay bounded under a flood: lists keep their first entries and count the rest, long lines are skipped", function()
    local max_kept, max_line = agent_events.MAX_KEPT, agent_events.MAX_LINE
    agent_events.MAX_KEPT, agent_events.MAX_LINE = 3, 100
    local ok, err = pcall(function()
      local p = agent_events.parser(require("sidecar.agent.codex"))
      for i = 1, 5 do
        p:feed(('{"type":"item.completed","item":{"type":"command_execution","command":"c%d","exit_code":0}}\n'):format(i))
        p:feed(('{"type":"item.completed","item":{"type":"kind%d"}}\n'):format(i))
      end
      p:feed(string.rep("x", 60)) -- a line of 180 bytes in three pieces: skipped, never buffered whole
      p:feed(string.rep("x", 60))
      p:feed(string.rep("x", 60) .. '\n{"type":"item.completed","item":{"type":"agent_message","text":"last"}}\n')
      p:feed(string.rep("y", 150)) -- cut in the middle, and too long
      local s = p:finish()
      expect(#s.commands):equals(3)
      expect(s.commands[3].command):equals("c3")
      expect(s.dropped):equals({ commands = 2, unknown_types = 2 })
      expect(s.unknown_types):equals({ ["item.completed/kind1"] = 1, ["item.completed/kind2"] = 1,
        ["item.completed/kind3"] = 1 })
      expect(s.malformed_lines):equals(2)
      expect(s.malformed_sample):equals("(a line longer than 100 bytes, skipped)")
      expect(s.cut_mid_line):is_true()
      expect(s.final_message):equals("last")
      expect(s.messages):equals(1)
    end)
    agent_events.MAX_KEPT, agent_events.MAX_LINE = max_kept, max_line
    assert(ok, err)
  end)
end)
