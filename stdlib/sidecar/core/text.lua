--- Small text helpers shared by the stdlib: splitting a stream into lines and markdown blocks, and
--- untrusted text (an agent's output, a task's fields) made safe for where it goes.
---
--- Every helper here is one linear pass, whatever the text: no pattern that backtracks over a run
--- of spaces or of any other byte (`^%s*(.-)%s*$` on a line of 100 000 spaces is quadratic), so a
--- hostile answer costs its length and no more. Helpers never raise on any string.
---
--- Invalid UTF-8 (an agent answering in Latin-1): records hold valid text, so `repair_value`
--- rewrites each byte that is not part of a valid UTF-8 sequence as U+FFFD ("�", one per byte),
--- and `mark_invalid_utf8` also says so in the record: `invalid_utf8 = {bytes = n, fields =
--- {"summary", "markers.complete", ...}, replaced_with = "U+FFFD"}`. The raw bytes are never lost:
--- the run's raw logs (agent.jsonl, stdout.log, stderr.log) and output.md keep them as written.
local host = require("sidecar.host.text")
local json = require("sidecar.core.json")

local M = {}

---The most field paths a record's `invalid_utf8` names.
M.MAX_REPAIRED_FIELDS = 20
local MAX_DEPTH = 1000

---Calls `on_line(line)` for each complete line of `text` (without its "\n") and returns what is
---left after the last newline. Plain find, so it stays linear even for a long text without any
---newline (a gmatch over "([^\n]*)\n" would be quadratic there).
function M.each_line(text, on_line)
  local start = 1
  while true do
    local nl = text:find("\n", start, true)
    if not nl then
      break
    end
    on_line(text:sub(start, nl - 1))
    start = nl + 1
  end
  return text:sub(start)
end

---A fenced markdown code block (the text gets a final newline if it lacks one).
function M.code_block(text, lang)
  text = text or ""
  if text ~= "" and text:sub(-1) ~= "\n" then
    text = text .. "\n"
  end
  return "```" .. (lang or "text") .. "\n" .. text .. "```\n"
end

---`s` without leading and trailing white space (%s). Linear: one forward find for the first
---non-space, one greedy match that backs off only over the trailing run.
---@param s string
---@return string
function M.trim(s)
  local first = s:find("%S")
  if not first then
    return ""
  end
  return s:match("^.*%S", first)
end

---`s` without trailing white space (%s): a gsub("%s+$", "") retries at every position of a run.
---@param s string
---@return string
function M.rtrim(s)
  return s:match("^.*%S") or ""
end

---A markdown ATX heading: `line` read as "#..# title #..#" (leading white space allowed; at least
---one space after the hashes; closing hashes and spaces dropped, as `^%s*(#+)%s+(.-)%s*#*%s*$`
---reads it, in linear time). Returns the hashes, the title and the position of the first hash;
---nil when the line is not a heading.
---@param line string
---@return string|nil hashes, string? title, integer? first
function M.heading(line)
  local first = line:find("%S")
  if not first or line:byte(first) ~= 35 then -- "#"
    return nil
  end
  local after = line:match("^#+()", first)
  if not line:find("^%s", after) then
    return nil
  end
  local title = M.trim(line:sub(after))
  local body = title:match("^.*[^#]") -- without the closing hashes: .* backs off over them once
  return line:sub(first, after - 1), body and M.rtrim(body) or "", first
end

---The first line of `text` that is not blank, trimmed and clipped to `max` bytes (nil for a
---non-string).
---@param text any
---@param max? integer
---@return string|nil
function M.first_line(text, max)
  if type(text) ~= "string" then
    return nil
  end
  local first = text:find("%S")
  if not first then
    return ""
  end
  local line = text:match("^[^\n]*", first)
  return M.clip(M.trim(line), max or #line)
end

---The last line of `text` that is not empty (trailing newlines ignored), or nil.
---@param text any
---@return string|nil
function M.last_line(text)
  if type(text) ~= "string" then
    return nil
  end
  local stop = #text
  while stop > 0 and text:byte(stop) == 10 do -- from the end: a find("\n*$") would retry every run
    stop = stop - 1
  end
  if stop < 1 then
    return nil
  end
  local body = stop < #text and text:sub(1, stop) or text
  local start = body:match("^.*\n()") or 1 -- after the last newline: .* backs off to it once
  return body:sub(start)
end

---The first `n` bytes of `text`, cut at a character boundary and marked with `mark` (default
---"...") when clipped; the text itself when it fits (a non-string is returned as is).
---@param text any
---@param n integer  the most bytes returned, the mark included
---@param mark? string
function M.clip(text, n, mark)
  if type(text) ~= "string" or #text <= n then
    return text
  end
  mark = mark or "..."
  local cut = host.char_start(text, math.max(n - #mark, 0) + 1)
  return text:sub(1, cut - 1) .. mark
end

---The last `n` bytes of `text` (the whole when shorter), starting at a character boundary.
---@param text any
---@param n integer
function M.tail(text, n)
  if type(text) ~= "string" or #text <= n then
    return text
  end
  local from = #text - n + 1
  local start = host.char_start(text, from)
  if start < from then -- inside a character: start after it rather than return more than n
    start = from
    while start <= #text and (text:byte(start) & 0xC0) == 0x80 and start < from + 3 do
      start = start + 1
    end
  end
  return text:sub(start)
end

---Whether `s` is valid UTF-8; when not, also the 1-based offset of its first invalid byte.
---@param s string
---@return boolean valid, integer? offset
M.valid_utf8 = host.valid_utf8

---`s` with each byte that is not part of valid UTF-8 written U+FFFD, and how many bytes that
---was (0: `s` itself).
---@param s string
---@return string repaired, integer replaced
M.repair_utf8 = host.repair_utf8

---`s` as a terminal shows it harmlessly: newlines, tabs and CRLF stay; ESC and other C0 controls
---in caret notation (ESC -> "^[", DEL -> "^?", a lone CR -> "^M"); C1 controls, bidi overrides
---and isolates as "<U+202E>"; bytes that are not UTF-8 as "\xE9". Also returns how many were
---rewritten (0: `s` itself).
---@param s string
---@return string shown, integer changed
M.visible = host.visible

-- "a.b[2]" from the keys walked so far.
local function path_of(keys, depth, key)
  local parts = {}
  for i = 1, depth do
    parts[#parts + 1] = keys[i]
  end
  parts[#parts + 1] = key
  local out = ""
  for _, k in ipairs(parts) do
    if math.type(k) == "integer" then
      out = out .. "[" .. k .. "]"
    else
      k = host.repair_utf8(tostring(k))
      out = out == "" and k or out .. "." .. k
    end
  end
  return out
end

local function walk(t, keys, depth, state, seen)
  local renamed
  for k, v in pairs(t) do
    if type(v) == "string" then
      local fixed, n = host.repair_utf8(v)
      if n > 0 then
        t[k] = fixed -- assigning an existing field while traversing is allowed
        state.bytes = state.bytes + n
        if #state.paths < M.MAX_REPAIRED_FIELDS then
          state.paths[#state.paths + 1] = path_of(keys, depth, k)
        end
      end
    elseif type(v) == "table" and depth < MAX_DEPTH and not seen[v] then
      seen[v] = true
      keys[depth + 1] = k
      walk(v, keys, depth + 1, state, seen)
    end
    if type(k) == "string" then
      local fixed, n = host.repair_utf8(k)
      if n > 0 then
        renamed = renamed or {}
        renamed[#renamed + 1] = { k, fixed, n }
      end
    end
  end
  for _, r in ipairs(renamed or {}) do -- new keys only after the traversal
    t[r[2]], t[r[1]] = t[r[1]], nil
    state.bytes = state.bytes + r[3]
    if #state.paths < M.MAX_REPAIRED_FIELDS then
      state.paths[#state.paths + 1] = path_of(keys, depth, r[2])
    end
  end
end

---Rewrites, in place, every string value and key of `value` (a table, walked deeply) that is not
---valid UTF-8 as its repaired form. Returns the bytes replaced and the paths of the fields that
---changed (at most MAX_REPAIRED_FIELDS, e.g. "markers.blockers[1]").
---@param value table
---@return integer bytes, string[] paths
function M.repair_value(value)
  local state = { bytes = 0, paths = {} }
  if type(value) == "table" then
    walk(value, {}, 0, state, { [value] = true })
  end
  return state.bytes, state.paths
end

---Repairs `record` in place (repair_value) and, when anything was not UTF-8, adds the count and
---the fields to `record.invalid_utf8` (kept across saves: a record repaired before keeps its
---count). Returns the bytes replaced now.
---@param record table
---@return integer bytes
function M.mark_invalid_utf8(record)
  local bytes, paths = M.repair_value(record)
  return M.note_invalid_utf8(record, bytes, paths)
end

---Adds `bytes` replaced in the fields `paths` to `record.invalid_utf8` (as mark_invalid_utf8
---does; for text repaired before it reached the record, such as an event line of the agent's
---stream read leniently). Returns `bytes`.
---@param record table
---@param bytes integer
---@param paths string[]
---@return integer
function M.note_invalid_utf8(record, bytes, paths)
  if bytes == 0 then
    return 0
  end
  local before = type(record.invalid_utf8) == "table" and record.invalid_utf8 or {}
  local fields, known = json.array(), {}
  for _, list in ipairs({ type(before.fields) == "table" and before.fields or {}, paths }) do
    for _, p in ipairs(list) do
      if not known[p] and #fields < M.MAX_REPAIRED_FIELDS then
        known[p] = true
        fields[#fields + 1] = p
      end
    end
  end
  local earlier = math.type(before.bytes) == "integer" and before.bytes or 0
  record.invalid_utf8 = { bytes = earlier + bytes, fields = fields, replaced_with = "U+FFFD" }
  return bytes
end

return M
