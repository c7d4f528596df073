--- Reading an agent CLI's JSON Lines event stream as it arrives, one line at a time, into a run
--- summary. The dialects (`codex_events`, `claude_events`) say what each event type means; this
--- module does the rest: decoding, counting, keeping unknown types and malformed lines as data
--- (never fatal), and the summary's shape.
---
---   local p = agent_events.parser(require("codex_events"), {on_event = function(kind, fields) end})
---   p:line(text)                         -- each stdout line, as it arrives
---   local s = p:finish({exit_code = 0})  -- the summary (below)
---
--- Summary: session_id, model, final_message, messages[], usage {input, cached_input, output,
--- reasoning_output, total} (whole numbers or json.null; see each dialect for the mapping),
--- usage_raw (as reported), cost_usd (or nil), commands[] {command, exit_code, status,
--- output_tail}, tool_calls[] {id, name, input}, file_changes[] {path, kind}, errors[], warnings[],
--- retries, permission_denials[], is_error, failure (a reason when the agent said it failed),
--- completed (a final result event was seen), events, unknown_types {type = count},
--- malformed_lines, malformed_sample.
local json = require("json")
local lines = require("text")

local M = {}

local OUTPUT_TAIL = 2000

---A whole number >= 0, or nil: only measurements count.
function M.count(v)
  if math.type(v) == "integer" and v >= 0 then
    return v
  end
  return nil
end

---Adds two counts; unknown when either is.
function M.plus(a, b)
  if a == nil or b == nil then
    return nil
  end
  return a + b
end

---The last `n` bytes of `text` (the whole when shorter).
function M.tail(text, n)
  n = n or OUTPUT_TAIL
  if type(text) ~= "string" then
    return nil
  end
  return #text > n and text:sub(-n) or text
end

local function null_or(v)
  if v == nil then
    return json.null
  end
  return v
end

---A usage table with every field present (json.null for unknown).
function M.usage(input, cached_input, output, reasoning_output, total)
  return {
    input = null_or(input), cached_input = null_or(cached_input), output = null_or(output),
    reasoning_output = null_or(reasoning_output), total = null_or(total),
  }
end

local Parser = {}
Parser.__index = Parser

---@param dialect table  {name, handle(summary, event, emit)}
---@param opts? {on_event: fun(kind: string, fields: table)?}
function M.parser(dialect, opts)
  opts = opts or {}
  local summary = {
    runner = dialect.name, messages = {}, commands = {}, tool_calls = {}, file_changes = {}, errors = {},
    warnings = {}, retries = 0, permission_denials = {}, is_error = false, completed = false, events = 0,
    unknown_types = {}, malformed_lines = 0, usage = M.usage(),
  }
  return setmetatable({ dialect = dialect, summary = summary, on_event = opts.on_event }, Parser)
end

-- Tells the caller (telemetry) about something the stream said.
function Parser:emit(kind, fields)
  if self.on_event then
    self.on_event(kind, fields)
  end
end

---One line of the stream (without its newline). Blank lines are skipped; a line that is not a JSON
---object is counted as malformed and kept as a sample; it never stops the run.
function Parser:line(text)
  text = text:gsub("\r$", "")
  if text:match("^%s*$") then
    return
  end
  local ok, event = pcall(json.decode, text)
  local s = self.summary
  if not ok or not json.is_object(event) then
    s.malformed_lines = s.malformed_lines + 1
    s.malformed_sample = s.malformed_sample or M.tail(text, 200)
    self:emit("malformed_line", { text = M.tail(text, 200) })
    return
  end
  s.events = s.events + 1
  local known = self.dialect.handle(s, event, function(kind, fields) self:emit(kind, fields) end)
  if not known then
    local t = type(event.type) == "string" and event.type or "(no type)"
    s.unknown_types[t] = (s.unknown_types[t] or 0) + 1
  end
end

---Feeds raw stdout text in any chunking; whole lines are parsed.
function Parser:feed(chunk)
  local text = (self.partial or "") .. chunk
  self.partial = lines.each_line(text, function(line) self:line(line) end)
end

---Ends the stream. A last line without its newline (a stream cut mid-line) is still parsed when
---it is whole JSON, else counted as malformed and reported as `cut_mid_line`.
function Parser:finish()
  local s = self.summary
  if self.partial and self.partial ~= "" then
    local before = s.malformed_lines
    self:line(self.partial)
    self.partial = ""
    s.cut_mid_line = s.malformed_lines > before
  end
  if s.final_message == nil and #s.messages > 0 then
    s.final_message = s.messages[#s.messages]
  end
  if self.dialect.finish then
    self.dialect.finish(s)
  end
  return s
end

return M
