--- An agent on a pseudo-terminal (`sidecar run T --pty`, agent_run's `pty` option): its terminal's
--- bytes, its text, its input and its prompts during one run.
---
--- - terminal.log: the raw bytes (redacted, bounded by max_log_bytes as every raw log is).
--- - The text, escape sequences removed (stdlib/sidecar/agent/screen.lua), line by line: events
---   `agent.terminal {text}` (what `run tail` shows, up to MAX_EVENT_TEXT bytes), and stdout.log
---   (the final message comes from its end) for a runner without an event dialect. A runner with
---   one (codex exec --json, claude -p stream-json) still prints its JSON lines on the terminal:
---   they go to its parser and agent.jsonl as without a terminal, so the record is as complete.
--- - Input: what `run send` and `run attach` post (stdlib/sidecar/agent/input_channel.lua) is typed
---   on the terminal from the wait loop, each recorded as an event `terminal.input` (redacted).
--- - Prompts: once the output has been quiet for QUIET_MS and the last non-empty screen line matches
---   a prompt pattern (stdlib/sidecar/agent/prompts.lua), the run is marked `attention =
---   {state = "waiting_input", since, evidence = <the line>}`; the mark clears when the screen
---   shows something else. A known prompt is answered (config `answers`), once per occurrence;
---   `on_stuck = "poke"` sends Enter once to a run marked waiting or stuck.
--- - A full-screen program's questions to its terminal (where the cursor is, its colours) are
---   answered as a terminal would (stdlib/sidecar/agent/terminal_queries.lua).
local clock = require("sidecar.host.time")
local input_channel = require("sidecar.agent.input_channel")
local input_keys = require("sidecar.core.input_keys")
local json = require("sidecar.core.json")
local logfile = require("sidecar.host.logfile")
local prompts = require("sidecar.agent.prompts")
local run_record = require("sidecar.run.record")
local screen = require("sidecar.agent.screen")
local secrets = require("sidecar.core.secrets")
local store = require("sidecar.core.store")
local terminal_queries = require("sidecar.agent.terminal_queries")
local text = require("sidecar.core.text")

local M = {}

M.QUIET_MS = 500 -- output quiet this long before the screen is read for a prompt
M.FLUSH_MS = 150 -- an unfinished line (held back for redaction) is let through after this long quiet
M.MAX_HELD = 512 -- of it, a last word this long at most waits for its end (a secret typed a key at a time)
M.MAX_EVENT_TEXT = 4 * 1024 * 1024 -- terminal text written as events per run
M.MAX_LINE = 64 * 1024 -- a line longer than this (no newline in sight) is cut there
M.MAX_ANSWERS = 20 -- automatic answers per run: a prompt that comes back forever is not fed forever
M.EVIDENCE_CHARS = 300

local function now_ms()
  return clock.monotonic_ns() // 1000000
end

local Terminal = {}
Terminal.__index = Terminal

---The terminal of one run, or nil when o.pty is not set. o: agent_run's options (pty, runner,
---prompt_patterns, answers, on_stuck, on_attention); c: {store, record, run_dir, t (telemetry),
---parser, max_log, spec, argv, how} (a runner spec'd `pty_prompt = "file"` has its argv and how
---changed so that its prompt comes from its file).
---@return table|nil
function M.open(o, c)
  if not o.pty then
    return nil
  end
  assert(input_channel.open(c.run_dir))
  local self = setmetatable({ o = o, store = c.store, record = c.record, run_dir = c.run_dir, t = c.t,
    parser = c.parser, strip = screen.stripper(), queries = terminal_queries.new(), partial = "", last_line = nil, last_output = now_ms(),
    output_seq = 0, checked_seq = -1, event_bytes = 0, events_dropped = 0, lines_seen = 0, answers = 0,
    occurrence = 0, patterns = { table.unpack(o.prompt_patterns or prompts.patterns(o.runner)) },
    size = type(o.pty) == "table" and o.pty or true }, Terminal)
  for _, a in ipairs(o.answers or {}) do -- a prompt with a known answer is a prompt
    self.patterns[#self.patterns + 1] = a.pattern
  end
  -- Bounded as the raw logs of a run without a terminal are (host/process/log_cap.hpp); terminal.log is
  -- written as it comes (`run attach` reads it as it grows).
  local max = c.max_log or 0
  self.text_log = assert(logfile.open(c.run_dir .. "/" .. (c.parser and "agent.jsonl" or "stdout.log"), max))
  self.raw_log, self.raw = assert(logfile.open(c.run_dir .. "/terminal.log", max)), ""
  c.record.pty = true
  if c.spec and c.spec.pty_prompt == "file" and c.how.prompt ~= "file" then
    -- A CLI that reads no prompt from a terminal (claude -p) gets it from its file on stdin; its
    -- output still comes on the terminal. (The argv changes in place: the caller spawns it.)
    local argv = { "/bin/sh", "-c", 'f=$1; shift; exec "$@" <"$f"', "sh", c.run_dir .. "/prompt.md" }
    table.move(c.argv, 1, #c.argv, #argv + 1, argv)
    table.move(argv, 1, #argv, 1, c.argv)
    c.how.prompt = "file"
  end
  return self
end

-- Each whole line of text: to the parser (a JSON line of a dialect's stream) or to the text.
function Terminal:line(line, shown_lines)
  line = text.repair_utf8(line)
  self.lines_seen = self.lines_seen + 1
  if self.parser and line:find("^%s*{") then
    self.text_out[#self.text_out + 1] = line .. "\n"
    self.parser:feed(line .. "\n")
    return
  end
  if not self.parser then
    self.text_out[#self.text_out + 1] = line .. "\n"
  end
  shown_lines[#shown_lines + 1] = line
  if line:find("%S") then
    self.last_line = line
  end
end

---The stdout sink for proc.spawn: the bytes go to terminal.log, the text and the parser, line by
---line. heard() is the watch's "output came"; on_result() is called once the parser has the result.
---Redacted here, a line at a time (a secret is one line's): the stream redactor of proc.spawn holds an
---unfinished line back until its end, and a prompt is exactly an unfinished line. One still
---unfinished when the output goes quiet is let through then, but for its last word (poll).
function Terminal:sink(heard, on_result)
  self.on_result = on_result
  return { collect = false, on_chunk = function(chunk)
    heard()
    local replies = self.queries:feed(chunk) -- a full-screen program waits for these
    if replies ~= "" then
      self.replies = (self.replies or "") .. replies
      if self.h then
        self.h:write(self.replies)
        self.replies = nil
      end
    end
    self.last_output, self.output_seq = now_ms(), self.output_seq + 1
    local s = self.raw .. chunk
    local nl = s:match("^.*\n()")
    if nl then
      self:bytes(s:sub(1, nl - 1))
      s = s:sub(nl)
    end
    if #s > M.MAX_LINE then
      self:bytes(s)
      s = ""
    end
    self.raw = s
  end }
end

-- Redacted bytes of the stream: to terminal.log, and read as text.
function Terminal:bytes(raw)
  raw = secrets.redact(raw)
  self.raw_log:write(raw)
  local lines, partial = screen.lines(self.partial .. self.strip:feed(raw))
  if #partial > M.MAX_LINE then
    lines[#lines + 1], partial = partial, ""
  end
  self.partial = partial
  local shown_lines = {}
  self.text_out = {}
  for _, l in ipairs(lines) do
    self:line(l, shown_lines)
  end
  self.text_log:write(table.concat(self.text_out)) -- one write per chunk, not per line
  self:event_text(shown_lines)
  if self.parser and self.parser.summary.completed then
    self.on_result()
  end
end

-- The lines for `run tail`, as one event per chunk, up to MAX_EVENT_TEXT in all.
function Terminal:event_text(lines)
  if #lines == 0 then
    return
  end
  local s = table.concat(lines, "\n")
  if self.event_bytes + #s > M.MAX_EVENT_TEXT then
    self.events_dropped = self.events_dropped + #s
    return
  end
  self.event_bytes = self.event_bytes + #s
  self.t:event("agent.terminal", { text = s })
end

---Types the prompt when the runner reads it from stdin: its text, a line end, then Ctrl-D (the
---end of input a terminal gives); the terminal stays open for what follows. A terminal reading
---lines keeps at most 4095 bytes of one (Linux's line discipline): a longer line is said so in an
---event, for a runner that should take its prompt from a file ({prompt_file}, pty_prompt).
function Terminal:type_prompt(h, prompt)
  self.h = h -- the terminal's questions are answered from here on (sink)
  if self.replies then
    h:write(self.replies)
    self.replies = nil
  end
  if not prompt then
    return
  end
  local longest = 0
  text.each_line(prompt .. "\n", function(l)
    longest = math.max(longest, #l)
  end)
  if longest >= 4096 then
    self.t:event("terminal.warning", { message = ("a prompt line of %d bytes was typed on the terminal: a program "
      .. "reading lines there gets its first 4095 bytes"):format(longest) })
  end
  h:write(prompt .. (prompt:sub(-1) == "\n" and "" or "\n") .. input_keys.BYTES["ctrl-d"])
end

-- Types `bytes` and records what it was. Text that ends mid-word (no space, no Enter: keys as
-- `run attach` forwards them, a secret typed a key at a time) waits for the word's end, up to
-- MAX_HELD bytes, and is then recorded with it as one event, redacted whole.
function Terminal:type(h, bytes, fields)
  local ok, why = h:write(bytes)
  fields.ok = ok == true
  fields.error = why
  local held = self.input_held
  if fields.text and not fields.enter and not fields.key and fields.text:find("%S$")
      and #fields.text + (held and held.bytes or 0) <= M.MAX_HELD then
    held = held or { parts = {}, bytes = 0, ok = true }
    held.parts[#held.parts + 1], held.bytes = fields.text, held.bytes + #fields.text
    held.ok, held.by, held.error = held.ok and fields.ok, held.by or fields.by, held.error or why
    self.input_held = held
    return
  end
  self.input_held = nil
  if held then -- the word's first pieces, with this input
    held.parts[#held.parts + 1] = fields.text or ""
    fields.text, fields.pieces = table.concat(held.parts), #held.parts
    fields.ok, fields.error = fields.ok and held.ok, fields.error or held.error
  end
  if fields.text then
    fields.text = secrets.redact(fields.text)
  end
  self.t:event("terminal.input", fields)
end

-- The input still waiting for its word's end, recorded (the run ended).
function Terminal:flush_input()
  local held = self.input_held
  if held then
    self.input_held = nil
    self.t:event("terminal.input", { text = secrets.redact(table.concat(held.parts)), pieces = #held.parts,
      by = held.by, ok = held.ok, error = held.error })
  end
end

-- The screen's last non-empty line: the line being written when it has text, else the last one.
function Terminal:screen_line()
  -- (the last word held back for redaction is on the screen too: "Continue? [y/n]")
  local held = self.raw ~= "" and screen.stripper():feed(self.raw) or ""
  local partial = text.repair_utf8(screen.shown(self.partial .. held))
  if partial:find("%S") then
    return partial
  end
  return self.last_line
end

-- Writes the mark (or clears it: nil) and tells the caller of a new one.
function Terminal:mark(attention)
  self.record.attention = attention or json.null
  pcall(run_record.save, self.store, self.record)
  if attention and self.o.on_attention then
    pcall(self.o.on_attention, self.record)
  end
end

-- A prompt on the screen: marked, answered when an answer is known, poked with on_stuck.
function Terminal:waiting(h, line)
  self.occurrence = self.occurrence + 1
  local evidence = text.tail(text.trim(line), M.EVIDENCE_CHARS) -- a prompt ends its line
  self.waiting_line, self.waiting_lines = line, self.lines_seen
  self:mark({ state = "waiting_input", since = store.now(), evidence = secrets.redact(evidence),
    occurrence = self.occurrence })
  local answer = prompts.answer(line, self.o.answers)
  if answer and self.answers < M.MAX_ANSWERS then
    self.answers = self.answers + 1
    self:type(h, answer.bytes, { text = answer.text, key = answer.key, enter = answer.enter, by = "answers",
      pattern = answer.pattern, prompt = secrets.redact(evidence) })
  else
    self:poke(h, "waiting_input")
  end
end

-- on_stuck = "poke": Enter, once per run.
function Terminal:poke(h, why)
  if self.o.on_stuck == "poke" and not self.poked then
    self.poked = true
    self:type(h, input_keys.BYTES.enter, { key = "enter", by = "on_stuck", reason = why })
  end
end

---Called from the wait loop: types what was posted, reads the screen for a prompt once the output
---is quiet, clears the mark once the screen shows something else, and pokes a stuck run.
function Terminal:poll(h)
  for _, e in ipairs(input_channel.take(self.run_dir)) do
    self:type(h, e.bytes, { text = e.text, key = e.key, enter = e.enter, by = e.by or "run send" })
  end
  local quiet = now_ms() - self.last_output
  if self.raw ~= "" and quiet >= M.FLUSH_MS then -- an unfinished line, quiet: a prompt, let through
    -- but for its last word, which waits for its end: a secret typed (echoed) a key at a time,
    -- pauses between keys, is then redacted whole, never written a piece at a time.
    local word = self.raw:match("[^%s]*$")
    word = #word <= M.MAX_HELD and word or ""
    if #word < #self.raw then
      self:bytes(self.raw:sub(1, #self.raw - #word))
      self.raw = word
    end
  end
  local attention = type(self.record.attention) == "table" and self.record.attention.state
  -- The screen moved on: a line ended since the prompt, or the line shows something else. A prompt
  -- redrawn as it was keeps its mark; the same prompt asked again is a new one.
  if self.waiting_line and self.output_seq ~= self.checked_seq
      and (self.lines_seen ~= self.waiting_lines or self:screen_line() ~= self.waiting_line) then
    self.waiting_line = nil
    if attention == "waiting_input" then
      self:mark(nil)
    end
  elseif attention == "stuck" then
    self:poke(h, "stuck")
  end
  if self.waiting_line or self.output_seq == self.checked_seq or quiet < M.QUIET_MS then
    return
  end
  self.checked_seq = self.output_seq
  local line = self:screen_line()
  if line and prompts.match(line, self.patterns) then
    self:waiting(h, line)
  end
end

---After the agent ended: the logs closed, the last partial line kept, the input folder gone, a
---waiting mark cleared. Returns the text log's figures and terminal.log's (as a proc result's
---stdout_log).
function Terminal:finish()
  if self.raw ~= "" then
    self:bytes(self.raw)
    self.raw = ""
  end
  local shown_lines = {}
  local rest = self.partial .. self.strip:feed("")
  if rest ~= "" then
    self.text_out = {}
    self:line(screen.shown(rest), shown_lines)
    self.text_log:write(table.concat(self.text_out))
  end
  self:event_text(shown_lines)
  if self.events_dropped > 0 then
    self.t:event("agent.terminal_dropped", { bytes = self.events_dropped, kept = self.event_bytes })
  end
  self:flush_input()
  input_channel.close(self.run_dir)
  if type(self.record.attention) == "table" and self.record.attention.state == "waiting_input" then
    self.record.attention = json.null
  end
  return self.text_log:close(), self.raw_log:close()
end

return M
