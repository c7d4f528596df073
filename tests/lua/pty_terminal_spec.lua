-- Runs on a terminal: the text of a terminal stream (stdlib/sidecar/agent/screen.lua), the prompt
-- patterns and answers with their config checks (stdlib/sidecar/agent/prompts.lua), and the input
-- channel between `run send` and the run's owner (stdlib/sidecar/agent/input_channel.lua).
local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local config = require("sidecar.core.config")
local input_channel = require("sidecar.agent.input_channel")
local prompts = require("sidecar.agent.prompts")
local screen = require("sidecar.agent.screen")

-- The text of `bytes` fed `size` bytes at a time (every split of a sequence tried).
local function stripped(bytes, size)
  local s, out = screen.stripper(), {}
  for i = 1, #bytes, size do
    out[#out + 1] = s:feed(bytes:sub(i, i + size - 1))
  end
  return table.concat(out)
end

describe("screen: a terminal stream as text", function()
  it("removes CSI, OSC, charset and other escapes, whatever the chunks", function()
    local bytes = "\27[1;32mgreen\27[0m \27]0;title\7t\27]8;;http://x\27\\link\27]8;;\27\\ \27(Bcs \27=k\27[?25l\n"
    for size = 1, 7 do
      expect(stripped(bytes, size)):equals("green tlink cs k\n")
    end
  end)

  it("keeps newlines and tabs, drops other controls, joins CRLF", function()
    expect(stripped("a\tb\7\8c\127\r\nd\n", 100)):equals("a\tbc\nd\n")
    expect(stripped("a\r", 1) .. stripped("\n", 1)):equals("a\r\n") -- the caller's lines() joins those
  end)

  it("reads lines as the screen shows them: a lone CR starts the line again", function()
    local lines, partial = screen.lines("progress 10%\rprogress 100%\nnext\r\nask? ")
    expect(lines):equals({ "progress 100%", "next" })
    expect(partial):equals("ask? ")
  end)

  it("drops an escape that never ends rather than holding it forever", function()
    local s = screen.stripper()
    expect(s:feed("a\27]0;" .. ("x"):rep(10000))):equals("a")
    expect(s:feed("b\n")):equals("b\n")
  end)

  it("is linear on a long line of escapes", function()
    local bytes = ("\27[31mx"):rep(200000)
    expect(#stripped(bytes, 65536)):equals(200000)
  end)
end)

describe("prompts", function()
  it("matches the built-in prompts and a runner's own", function()
    local p = prompts.patterns("codex", { runners = { codex = { prompt_patterns = { "^Allow edit" } } },
      waiting_patterns = { "Proceed now%?" } })
    expect(prompts.match("Continue? [y/n] ", p)):equals("%[[yY]/[nN]%]")
    expect(prompts.match("Allow edit of a.c", p)):equals("^Allow edit")
    expect(prompts.match("Proceed now?", p)):equals("Proceed now%?")
    expect(prompts.match("working on it", p)):is_nil()
  end)

  it("answers a known prompt: text then Enter, or a key", function()
    local answers = { { pattern = "Continue%? %[y/n%]", send = "y" }, { pattern = "Quit%?", key = "n" },
      { pattern = "Name:", send = "x", enter = false } }
    expect(prompts.answer("Continue? [y/n]", answers).bytes):equals("y\r")
    expect(prompts.answer("Quit?", answers).bytes):equals("n")
    expect(prompts.answer("Name:", answers).bytes):equals("x")
    expect(prompts.answer("other", answers)):is_nil()
  end)

  it("are checked in the config, saying where and what to do", function()
    local root = os.tmpname()
    os.remove(root)
    assert(os.execute("mkdir -p '" .. root .. "'"))
    local function load_with(text)
      local f = assert(io.open(root .. "/config.lua", "w"))
      f:write(text)
      f:close()
      return config.load(root)
    end
    local _, why = load_with('return { waiting_patterns = { "Continue?[" } }')
    expect(why):contains('waiting_patterns[1]: "Continue?[" is not a valid Lua pattern: a set ([...]) has no closing')
    _, why = load_with('return { waiting_patterns = { "ok", "100%" } }')
    expect(why):contains("waiting_patterns[2]: \"100%\" is not a valid Lua pattern: it ends with '%'")
    _, why = load_with('return { runners = { codex = { prompt_patterns = "x" } } }')
    expect(why):contains("runners.codex.prompt_patterns: expected a list of Lua patterns")
    _, why = load_with('return { answers = { { pattern = "y/n" } } }')
    expect(why):contains('answers[1]: give send = "text" or key = "name"')
    _, why = load_with('return { answers = { { pattern = "y/n", key = "f1" } } }')
    expect(why):contains("answers[1].key: unknown key f1 (known: backspace")
    _, why = load_with('return { on_stuck = "kick" }')
    expect(why):contains('on_stuck: expected "poke"')
    local cfg = assert(load_with('return { on_stuck = "poke", answers = { { pattern = "y/n", send = "y" } } }'))
    expect(cfg.on_stuck):equals("poke")
    os.execute("rm -rf '" .. root .. "'")
    config.load(root)
  end)
end)

describe("input channel", function()
  it("hands the owner each input once, in the order sent", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p '" .. dir .. "'"))
    assert(input_channel.open(dir))
    for i = 1, 30 do
      assert(input_channel.post(dir, { bytes = tostring(i), text = tostring(i) }))
    end
    local got = {}
    for _, e in ipairs(input_channel.take(dir)) do
      got[#got + 1] = e.bytes
    end
    expect(#got):equals(30)
    expect(got[1] .. got[2] .. got[30]):equals("1230")
    expect(#input_channel.take(dir)):equals(0)
    local _, why = input_channel.post(dir, { bytes = ("x"):rep(input_channel.MAX_BYTES + 1) })
    expect(why):contains("at most")
    input_channel.close(dir)
    expect(input_channel.exists(dir)):is_false()
    os.execute("rm -rf '" .. dir .. "'")
  end)
end)

describe("terminal: one run's screen, input and prompts (no process: a handle that records)", function()
  local terminal = require("sidecar.agent.terminal")
  local dir, events, typed, t, h, stored

  test.before_each(function()
    dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p '" .. dir .. "'"))
    events, typed, stored = {}, {}, 0
    t = { event = function(_, kind, fields) events[#events + 1] = { kind = kind, fields = fields } end }
    h = { write = function(_, bytes) typed[#typed + 1] = bytes return true end }
    terminal.QUIET_MS, terminal.FLUSH_MS = 0, 0 -- read the screen at every poll
  end)

  test.after_each(function()
    terminal.QUIET_MS, terminal.FLUSH_MS = 500, 150
    os.execute("rm -rf '" .. dir .. "'")
  end)

  local function open(o)
    o.pty = true
    local record = {}
    local store = { update_run = function() stored = stored + 1 return true end }
    local term = terminal.open(o, { store = store, record = record, run_dir = dir, t = t, max_log = 0 })
    return term, term:sink(function() end, function() end).on_chunk, record
  end

  local function kinds(kind)
    local out = {}
    for _, e in ipairs(events) do
      if e.kind == kind then
        out[#out + 1] = e.fields
      end
    end
    return out
  end

  it("marks a prompt once, keeps the mark while it is redrawn, clears it when the screen moves on", function()
    local told = 0
    local term, feed, record = open({ runner = "command", on_attention = function() told = told + 1 end })
    feed("\27[32mworking\27[0m\nContinue? [y/n] ")
    term:poll(h)
    expect(record.attention.state):equals("waiting_input")
    expect(record.attention.evidence):equals("Continue? [y/n]")
    feed("\rContinue? [y/n] ") -- the same prompt drawn again
    term:poll(h)
    expect(record.attention.state):equals("waiting_input")
    expect(told):equals(1)
    feed("y\nthanks\n")
    term:poll(h)
    expect(record.attention):equals(require("sidecar.core.json").null)
    local text_log, raw_log = term:finish()
    expect(raw_log.seen > 0):is_true()
    expect(text_log.truncated):is_false()
    local f = assert(io.open(dir .. "/stdout.log", "rb"))
    expect(f:read("a")):equals("working\nContinue? [y/n] y\nthanks\n")
    f:close()
  end)

  it("types what was posted, answers a known prompt once, pokes once", function()
    local term, feed = open({ runner = "command", on_stuck = "poke",
      answers = { { pattern = "Overwrite%?", send = "y" } } })
    assert(input_channel.post(dir, { bytes = "hello\r", text = "hello", enter = true, by = "run send" }))
    feed("Overwrite? ")
    term:poll(h)
    feed("\nPress Enter ")
    term:poll(h)
    feed("\nPress Enter ")
    term:poll(h)
    expect(typed):equals({ "hello\r", "y\r", "\r" }) -- the second Enter prompt: no second poke
    local inputs = kinds("terminal.input")
    expect(inputs[1].by .. " " .. inputs[2].by .. " " .. inputs[3].by):equals("run send answers on_stuck")
    term:finish()
    expect(input_channel.exists(dir)):is_false()
  end)

  it("warns of a prompt line a terminal cuts, and ends the prompt with Ctrl-D", function()
    local term = open({ runner = "command" })
    term:type_prompt(h, ("x"):rep(5000))
    expect(typed[1]:sub(-2)):equals("\n\4")
    expect(#kinds("terminal.warning")):equals(1)
    term:finish()
  end)

  it("redacts a secret typed a key at a time, the screen going quiet between keys, on screen and as input", function()
    local token = "ghp_" .. ("a1B2c3D4e5"):rep(4):sub(1, 36)
    local term, feed, record = open({ runner = "command" })
    feed("Continue? [y/n]")
    term:poll(h)
    expect(record.attention.evidence):equals("Continue? [y/n]") -- its last word is on the screen
    feed(" y\nPaste the token: ")
    term:poll(h)
    for i = 1, #token do -- each key typed alone (run attach), echoed, let through while quiet
      assert(input_channel.post(dir, { bytes = token:sub(i, i), text = token:sub(i, i), by = "run attach" }))
      term:poll(h)
      feed(token:sub(i, i))
      term:poll(h)
    end
    assert(input_channel.post(dir, { bytes = "\r", key = "enter", by = "run send" }))
    term:poll(h)
    feed("\r\nthanks\n")
    term:poll(h)
    term:finish()
    expect(table.concat(typed)):equals(token .. "\r")
    local inputs = kinds("terminal.input") -- the word and the Enter that ended it: one input, redacted
    expect(#inputs):equals(1)
    expect({ inputs[1].pieces, inputs[1].key, inputs[1].by, inputs[1].ok }):equals({ #token + 1, "enter", "run send", true })
    expect(inputs[1].text):contains("REDACTED")
    for _, name in ipairs({ "terminal.log", "stdout.log" }) do
      local f = assert(io.open(dir .. "/" .. name, "rb"))
      local written = f:read("a")
      f:close()
      expect(written:find(token:sub(1, 12), 1, true)):is_nil()
      expect(written):contains("Paste the token: ")
      expect(written):contains("thanks")
    end
    expect(require("sidecar.core.json").encode(events):find(token:sub(1, 12), 1, true)):is_nil()
  end)

  it("redacts what it writes and what it records", function()
    local token = "ghp_" .. ("a1B2c3D4e5"):rep(4):sub(1, 36)
    local term, feed, record = open({ runner = "command" })
    feed("the key " .. token .. "\nUse " .. token .. "? [y/n] ")
    term:poll(h)
    expect(record.attention.evidence:find(token, 1, true)):is_nil()
    term:finish()
    for _, name in ipairs({ "terminal.log", "stdout.log" }) do
      local f = assert(io.open(dir .. "/" .. name, "rb"))
      expect(f:read("a"):find(token, 1, true)):is_nil()
      f:close()
    end
    expect(require("sidecar.core.json").encode(events):find(token, 1, true)):is_nil()
  end)
end)
