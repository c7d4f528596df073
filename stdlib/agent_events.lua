--- Reading an agent CLI's JSON Lines event stream as it arrives, one line at a time, into a run
--- summary. The dialects (`codex_events`, `claude_events`) say what each event type means; this
--- module does the rest: decoding, counting, keeping unknown types and malformed lines as data
--- (never fatal), and the summary's shape.
---
---   local p = agent_events.parser(require("codex_events"), {on_event = function(kind, fields) end})
---   p:feed(chunk)                        -- stdout as it arrives, in any chunking
---   local s = p:finish()                 -- the summary (below)
---
--- Summary: session_id, model, final_message, messages (how many), usage {input, cached_input,
--- output, reasoning_output, total} (whole numbers or json.null; see each dialect for the
--- mapping), usage_raw (as reported), cost_usd (or nil), commands[] {command, exit_code, status,
--- output_tail}, tool_calls[] {id, name}, file_changes[] {path, kind}, errors[], warnings[],
--- retries, permission_denials[], is_error, failure (a reason when the agent said it failed),
--- completed (a final result event was seen), events, unknown_types {type = count},
--- malformed_lines, malformed_sample, dropped {list = count}.
---
--- Memory stays bounded whatever the agent prints (a flood is data, not a crash): each list keeps
--- its first `MAX_KEPT` entries and counts the rest in `dropped`, texts kept are clipped, and a
--- line longer than `MAX_LINE` bytes is skipped as malformed without being buffered.
local json = require("json")
local lines = require("text")

local M = {}

local OUTPUT_TAIL = 2000
---Entries kept per summary list (commands, tool_calls, file_changes, errors, warnings,
---permission_denials) and distinct unknown types; the rest are counted in `dropped`.
M.MAX_KEPT = 200
---The longest line read (bytes); a longer one is skipped and counted as malformed.
M.MAX_LINE = 16 * 1024 * 1024
---The longest text kept in a list entry (a command line, an error message).
M.MAX_TEXT = 4000

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

---The first `n` bytes of `text` (default MAX_TEXT), marked with "..." when clipped.
function M.clip(text, n)
  n = n or M.MAX_TEXT
  if type(text) ~= "string" or #text <= n then
    return text
  end
  return text:sub(1, n - 3) .. "..."
end

---Appends `entry` to the summary list `name` unless it is full; then only counts it.
function M.keep(s, name, entry)
  local list = s[name]
  if #list < M.MAX_KEPT then
    list[#list + 1] = entry
    return true
  end
  s.dropped[name] = (s.dropped[name] or 0) + 1
  return false
end

---Counts an event type the dialect does not know (distinct types up to MAX_KEPT).
function M.unknown(s, t)
  local known = s.unknown_types
  if known[t] then
    known[t] = known[t] + 1
  elseif s.unknown_kinds < M.MAX_KEPT then
    s.unknown_kinds = s.unknown_kinds + 1
    known[t] = 1
  else
    s.dropped.unknown_types = (s.dropped.unknown_types or 0) + 1
  end
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

---@param dialect table  {name, handle(summary, event, emit), finish?(summary)}
---@param opts? {on_event: fun(kind: string, fields: table)?}
function M.parser(dialect, opts)
  opts = opts or {}
  local summary = {
    runner = dialect.name, messages = 0, commands = {}, tool_calls = {}, file_changes = {}, errors = {},
    warnings = {}, retries = 0, permission_denials = {}, is_error = false, completed = false, events = 0,
    unknown_types = {}, unknown_kinds = 0, malformed_lines = 0, usage = M.usage(), dropped = {},
  }
  -- pending: the pieces of the line not ended yet (a list, so a long line is not copied again
  -- for every chunk); oversized: that line passed MAX_LINE and is being skipped.
  return setmetatable({ dialect = dialect, summary = summary, on_event = opts.on_event, pending = {},
    pending_bytes = 0, oversized = false }, Parser)
end

-- Tells the caller (telemetry) about something the stream said.
function Parser:emit(kind, fields)
  if self.on_event then
    self.on_event(kind, fields)
  end
end

function Parser:malformed(text)
  local s = self.summary
  s.malformed_lines = s.malformed_lines + 1
  s.malformed_sample = s.malformed_sample or M.tail(text, 200)
  self:emit("malformed_line", { text = M.tail(text, 200) })
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
    self:malformed(text)
    return
  end
  s.events = s.events + 1
  local known = self.dialect.handle(s, event, function(kind, fields) self:emit(kind, fields) end)
  if not known then
    M.unknown(s, type(event.type) == "string" and event.type or "(no type)")
  end
end

-- A piece of the current line; `ends` when its newline came after it.
function Parser:piece(text, ends)
  if not self.oversized then
    if self.pending_bytes + #text > M.MAX_LINE then
      self.oversized, self.pending, self.pending_bytes = true, {}, 0
    elseif ends and self.pending_bytes == 0 then
      self:line(text) -- the common case: a whole line in one chunk
      return
    else
      self.pending[#self.pending + 1] = text
      self.pending_bytes = self.pending_bytes + #text
    end
  end
  if ends then
    if self.oversized then
      self:malformed(("(a line longer than %d bytes, skipped)"):format(M.MAX_LINE))
    else
      self:line(table.concat(self.pending))
    end
    self.oversized, self.pending, self.pending_bytes = false, {}, 0
  end
end

---Feeds raw stdout text in any chunking; whole lines are parsed.
function Parser:feed(chunk)
  local rest = lines.each_line(chunk, function(line) self:piece(line, true) end)
  if rest ~= "" then
    self:piece(rest, false)
  end
end

---Ends the stream. A last line without its newline (a stream cut mid-line) is still parsed when
---it is whole JSON, else counted as malformed and reported as `cut_mid_line`.
function Parser:finish()
  local s = self.summary
  if self.oversized or self.pending_bytes > 0 then
    local before = s.malformed_lines
    self:piece("", true)
    s.cut_mid_line = s.malformed_lines > before
  end
  if s.final_message == nil then
    s.final_message = s.last_message
  end
  if self.dialect.finish then
    self.dialect.finish(s)
  end
  return s
end

return M
