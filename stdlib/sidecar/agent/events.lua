--- Reading an agent CLI's JSON Lines event stream as it arrives, one line at a time, into a run
--- summary. The dialects (`codex_events`, `claude_events`) say what each event type means; this
--- module does the rest: decoding, counting, keeping unknown types and malformed lines as data
--- (never fatal), and the summary's shape.
---
---   local p = agent_events.parser(require("sidecar.agent.codex"), {on_event = function(kind, fields) end})
---   p:feed(chunk)                        -- stdout as it arrives, in any chunking
---   local s = p:finish()                 -- the summary (below)
---
--- Summary: session_id, model, final_message, messages (how many), usage {input, cached_input,
--- output, reasoning_output, total} (whole numbers or json.null; see each dialect for the
--- mapping), usage_raw (as reported), cost_usd (or nil), commands[] {command, exit_code, status,
--- output_tail}, tool_calls[] {id, name}, file_changes[] {path, kind}, errors[], warnings[],
--- retries, permission_denials[], is_error, failure (a reason when the agent said it failed),
--- completed (a final result event was seen), events, unknown_types {type = count},
--- malformed_lines, malformed_sample, odd_lines, odd_sample[] {line, type, what}, dropped {list =
--- count}.
---
--- Any line is data: the parser never raises on what the agent prints. A line that is not JSON is
--- malformed (counted, one sample kept); a JSON event of a known type with an unexpected shape
--- (`"content":[1]`, a string where an object belongs, a table where a string belongs) is odd:
--- the dialect skips what it cannot read (or, should it raise, the line is dropped), the line is
--- counted in `odd_lines` with a few samples in `odd_sample`, and the stream goes on, so a good
--- result after odd lines is still used. Texts kept are clipped at a character boundary.
---
--- Memory stays bounded whatever the agent prints (a flood is data, not a crash): each list keeps
--- its first `MAX_KEPT` entries and counts the rest in `dropped`, texts kept are clipped, and a
--- line longer than `MAX_LINE` bytes is skipped as malformed without being buffered.
local host_json = require("sidecar.host.json")
local json = require("sidecar.core.json")
local lines = require("sidecar.core.text")
local option_keys = require("sidecar.core.option_keys")

local M = {}

local OUTPUT_TAIL = 2000
---Entries kept per summary list (commands, tool_calls, file_changes, errors, warnings,
---permission_denials) and distinct unknown types; the rest are counted in `dropped`.
M.MAX_KEPT = 200
---The longest line read (bytes); a longer one is skipped and counted as malformed.
M.MAX_LINE = 16 * 1024 * 1024
---The longest text kept in a list entry (a command line, an error message).
M.MAX_TEXT = 4000
---Samples of odd lines kept in `odd_sample`.
M.MAX_ODD_SAMPLES = 5

---The largest count believed (a trillion tokens, far past any run): a larger figure is unknown,
---so totals over any number of runs stay whole numbers.
M.MAX_COUNT = 1000000000000
---The largest cost believed for one run, in US dollars; a larger figure is unknown.
M.MAX_COST_USD = 1000000

---A whole number from 0 to MAX_COUNT, or nil: only measurements count.
function M.count(v)
  if math.type(v) == "integer" and v >= 0 and v <= M.MAX_COUNT then
    return v
  end
  return nil
end

---Adds two counts; unknown when either is, or when the sum would not fit an integer.
function M.plus(a, b)
  if a == nil or b == nil or a > math.maxinteger - b then
    return nil
  end
  return a + b
end

---The last `n` bytes of `text` (the whole when shorter), from a character boundary; nil for a
---non-string.
function M.tail(text, n)
  if type(text) ~= "string" then
    return nil
  end
  return lines.tail(text, n or OUTPUT_TAIL)
end

---The most of an agent message's text an event carries (events.jsonl, `run tail`): the whole
---answer is output.md; this is what a person following the run reads.
M.MESSAGE_TEXT = 2000

---The first `n` bytes of `text` (default MAX_TEXT), cut at a character boundary and marked with
---"..." when clipped; nil for a non-string (an odd shape is never passed on as a text).
function M.clip(text, n)
  if type(text) ~= "string" then
    return nil
  end
  return lines.clip(text, n or M.MAX_TEXT)
end

---Notes that the line being read has an unexpected shape (`what` says where): the parser counts
---the line once in `odd_lines` and keeps a few samples.
function M.odd(s, what)
  s.odd_now = s.odd_now or {}
  s.odd_now[#s.odd_now + 1] = what
end

-- A decoded JSON value's kind, for a note: "an array", "an object", "null", "a number"...
local function kind_of(v)
  if v == json.null then
    return "null"
  elseif type(v) == "table" then
    return json.is_array(v) and "an array" or "an object"
  end
  return "a " .. type(v)
end

---`v` when it is a string (clipped to `n` bytes, default MAX_TEXT); nil otherwise, noting an odd
---shape when `v` is present but not a string (`what` names the field).
function M.str(s, v, what, n)
  if type(v) == "string" then
    return lines.clip(v, n or M.MAX_TEXT)
  elseif v ~= nil and v ~= json.null then
    M.odd(s, what .. ": expected a string, got " .. kind_of(v))
  end
  return nil
end

---`v` when it is a table (a JSON object or array); nil otherwise, noting an odd shape when `v` is
---present but not a table.
function M.tab(s, v, what)
  if type(v) == "table" then
    return v
  elseif v ~= nil and v ~= json.null then
    M.odd(s, what .. ": expected an object or array, got " .. kind_of(v))
  end
  return nil
end

---The elements of the array `v` that are objects (tables), noting each other element as odd.
function M.objects(s, v, what)
  local out = {}
  for i, x in ipairs(M.tab(s, v, what) or {}) do
    if type(x) == "table" then
      out[#out + 1] = x
    else
      M.odd(s, ("%s[%d]: expected an object, got %s"):format(what, i, kind_of(x)))
    end
  end
  return out
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
  t = M.clip(t, 200) or "(no type)"
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

local PARSER_OPTIONS = { "on_event" }

---A parser of a runner's event stream in `dialect`; an unknown option raises a bad_option error.
---@param dialect table  {name, handle(summary, event, emit), finish?(summary)}
---@param opts? {on_event: fun(kind: string, fields: table)?}
function M.parser(dialect, opts)
  opts = opts or {}
  -- A table only: parser(require("sidecar.agent.codex")) passes require's second value, a string.
  option_keys.check("agent_events.parser", opts, PARSER_OPTIONS, 2)
  local summary = {
    runner = dialect.name, messages = 0, commands = {}, tool_calls = {}, file_changes = {}, errors = {},
    warnings = {}, retries = 0, permission_denials = {}, is_error = false, completed = false, events = 0,
    unknown_types = {}, unknown_kinds = 0, malformed_lines = 0, odd_lines = 0, odd_sample = {}, usage = M.usage(),
    dropped = {}, repaired_lines = 0, repaired_bytes = 0,
  }
  -- pending: the pieces of the line not ended yet (a list, so a long line is not copied again
  -- for every chunk); oversized: that line passed MAX_LINE and is being skipped.
  return setmetatable({ dialect = dialect, summary = summary, on_event = opts.on_event, pending = {},
    pending_bytes = 0, oversized = false, line_no = 0 }, Parser)
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
  if s.malformed_sample and not self.on_event then
    return -- a flood of bad lines costs a count each
  end
  -- The sample is raw bytes: made valid UTF-8 here, as it goes to events and the record.
  local sample = lines.repair_utf8(M.tail(text, 200))
  s.malformed_sample = s.malformed_sample or sample
  self:emit("malformed_line", { text = sample })
end

-- An error no shape of data explains: the run's interruption (Ctrl-C raises "interrupted!" in
-- whatever Lua code runs) or memory running out. These go on up; anything else is the line's.
local function fatal(err)
  return type(err) == "string" and (err:find("interrupted!$") or err:find("not enough memory", 1, true))
end

-- Counts the line just read as odd (once, whatever went wrong in it) and keeps a sample.
function Parser:odd(event, whats)
  local s = self.summary
  s.odd_lines = s.odd_lines + 1
  if #s.odd_sample < M.MAX_ODD_SAMPLES then
    s.odd_sample[#s.odd_sample + 1] = { line = self.line_no, type = M.clip(event.type, 200),
      what = lines.repair_utf8(M.clip(table.concat(whats, "; "), 500)) }
  end
  self:emit("odd_line", { line = self.line_no, what = M.clip(whats[1], 500) })
end

---One line of the stream (without its newline). Blank lines are skipped; a line that is not a JSON
---object is counted as malformed and kept as a sample; an event of an unexpected shape is counted
---as odd; neither stops the run.
function Parser:line(text)
  self.line_no = self.line_no + 1
  if text:byte(-1) == 13 then
    text = text:sub(1, -2)
  end
  local first = text:find("%S")
  if not first then
    return
  end
  -- Only an object is an event: anything else is malformed without decoding it.
  local event = text:byte(first) == 123 and host_json.decode(text) -- "{"; nil, why on bad JSON
  local s = self.summary
  local huge = 0
  if event == nil then
    -- An answer in Latin-1, or a lone \ud800: read leniently, each such byte or escape as U+FFFD,
    -- and counted (the record says so; agent.jsonl keeps the bytes as written). A number too large
    -- for a double (1e309) is read as null, which makes the line odd.
    local repaired, n
    repaired, n, huge = host_json.repair(text)
    event = (n > 0 or huge > 0) and host_json.decode(repaired)
    if event then
      s.repaired_lines, s.repaired_bytes = s.repaired_lines + 1, s.repaired_bytes + n
    end
  end
  if not json.is_object(event) then
    self:malformed(text)
    return
  end
  s.events = s.events + 1
  -- The caller's own failures (telemetry, on_event) are not the line's: they go on up.
  local emit_error
  local function emit(kind, fields)
    local sent, err = pcall(self.emit, self, kind, fields)
    if not sent then
      emit_error = emit_error or { err }
      error(err, 0)
    end
  end
  s.odd_now = huge > 0 and { ("%d number%s too large to read, taken as null"):format(huge, huge == 1 and "" or "s") }
    or nil
  local handled, known = pcall(self.dialect.handle, s, event, emit)
  local whats = s.odd_now
  s.odd_now = nil
  if not handled then
    if emit_error or fatal(known) then
      error(emit_error and emit_error[1] or known, 0)
    end
    whats = whats or {}
    whats[#whats + 1] = "unreadable: " .. tostring(type(known) == "table" and known.message or known)
  elseif not known then
    M.unknown(s, type(event.type) == "string" and event.type or "(no type)")
  end
  if whats then
    self:odd(event, whats)
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
  local start, n = 1, #chunk
  while start <= n do
    if self.pending_bytes == 0 and not self.oversized and chunk:byte(start) == 10 then
      -- A run of empty lines: counted at once (a flood of newlines costs one find).
      local stop = chunk:find("[^\n]", start) or n + 1
      self.line_no = self.line_no + (stop - start)
      start = stop
    else
      local nl = chunk:find("\n", start, true)
      if not nl then
        self:piece(chunk:sub(start), false)
        break
      end
      self:piece(chunk:sub(start, nl - 1), true)
      start = nl + 1
    end
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
