--- Output markers of the codex-task-executor skill (docs/formats.md §5), read from an agent's stream
--- as it arrives or from its final message:
---
---   [PROGRESS] text
---   [QUESTION] question            then "Options:" and numbered lines
---   [BLOCKED] reason               then context lines
---   [FILES_MODIFIED]               then "- path (created|modified|deleted)" lines
---   [CODEX_COMPLETE] summary
---
--- A marker starts a line; a multi-line one ends at a blank line or the next marker. Unlike the
--- original, a completion never overrides an open blocker or question: the outcome is the most
--- serious thing the agent said (blocked > question > complete > in progress).
---
---   local p = markers.parser()   -- or markers.parser({deadline_ns = t}): stops reading at t
---   p:feed(text_chunk)           -- any chunking; lines are assembled
---   local r = p:finish()         -- or markers.parse(final_message, opts)
---   r.status, r.blockers, r.questions, r.files_modified, r.complete, r.progress, r.warnings
---   r.dropped                    -- {list = count} of entries past MAX_ITEMS (absent when none)
---
--- Any text is data: the parser never raises on a string, and it is linear in the text's length
--- (no pattern backtracks over a run of spaces; an unterminated line is assembled from its pieces
--- once). What it keeps is bounded: MAX_ITEMS entries per list (the rest counted in `dropped`),
--- each text clipped to MAX_TEXT bytes.
local clock = require("sidecar.host.time")
local lines = require("sidecar.core.text")
local option_keys = require("sidecar.core.option_keys")

local M = {}

---Entries kept per list (progress, questions, blockers, files_modified, warnings, a question's
---options, a blocker's context); the rest are counted in `dropped`.
M.MAX_ITEMS = 200
---The longest text kept (a reason, an option, a path, a question's text, a warning).
M.MAX_TEXT = 4000

local KINDS = {
  PROGRESS = "progress", QUESTION = "question", BLOCKED = "blocked", FILES_MODIFIED = "files_modified",
  CODEX_COMPLETE = "complete",
}
local CHANGES = { created = true, modified = true, deleted = true }

local trim = lines.trim

local function clip(text)
  return lines.clip(text, M.MAX_TEXT)
end

local Parser = {}
Parser.__index = Parser

-- Lines read between two looks at the clock when there is a deadline.
local CLOCK_EVERY = 1024

local PARSER_OPTIONS = { "deadline_ns" }

---A parser that reads text in chunks. opts.deadline_ns (host.time.monotonic_ns): past it, the rest
---of the text is not read, and a warning says at which line reading stopped (`r.stopped_at_line`).
---Another option raises a bad_option error.
---@param opts? {deadline_ns: integer?}
function M.parser(opts)
  option_keys.check("markers.parser", opts, PARSER_OPTIONS, 2)
  return setmetatable({
    deadline_ns = opts and opts.deadline_ns, stopped = false, clock_line = 0,
    pending = {}, open = nil, line_no = 0, question_text = {},
    result = { progress = {}, questions = {}, blockers = {}, files_modified = {}, complete = nil, warnings = {} },
  }, Parser)
end

-- Appends to the list `name` (of `list`, default the result's own) unless it is full.
function Parser:add(name, entry, list)
  list = list or self.result[name]
  if #list < M.MAX_ITEMS then
    list[#list + 1] = entry
    return true
  end
  local r = self.result
  r.dropped = r.dropped or {}
  r.dropped[name] = (r.dropped[name] or 0) + 1
  return false
end

function Parser:warn(text)
  self:add("warnings", clip(text))
end

-- A marker line: `name` is the marker's word, `rest` what follows it.
function Parser:marker(kind, rest)
  local r = self.result
  rest = clip(trim(rest))
  self.open = nil
  if kind == "progress" then
    self:add("progress", rest)
  elseif kind == "question" then
    local q = { text = rest, options = {}, line = self.line_no }
    if self:add("questions", q) then
      self.question_text[q] = { rest, bytes = #rest }
    end
    self.open = { kind = kind, item = q }
  elseif kind == "blocked" then
    local b = { reason = rest, context = {}, line = self.line_no }
    self:add("blockers", b)
    self.open = { kind = kind, item = b }
  elseif kind == "files_modified" then
    self.open = { kind = kind }
  elseif r.complete then
    self:warn(("line %d: a second [CODEX_COMPLETE]; the first one stands"):format(self.line_no))
  else
    r.complete = { text = rest, line = self.line_no }
  end
end

-- A line of a question: an option ("1. REST", "2) gRPC"), the "Options:" heading, or more text
-- (kept as parts, joined once by finish: appending to a string per line would be quadratic).
function Parser:question_line(q, line, first)
  local after = line:match("^%d+[.)]()", first)
  if after then
    self:add("options", clip(trim(line:sub(after))), q.options)
    return
  end
  local t = trim(line)
  if t == "Options:" then
    return
  end
  local parts = self.question_text[q]
  if parts and parts.bytes < M.MAX_TEXT then
    parts[#parts + 1] = t
    parts.bytes = parts.bytes + #t + 1
  end
end

-- A line of a [FILES_MODIFIED] block: "- path (created|modified|deleted)".
function Parser:file_line(line)
  local t = trim(line)
  local body = t:match("^[-*]%s+()")
  body = body and t:sub(body)
  if body then
    local open = body:match("^.*()%(") -- the last "(": .* backs off to it once
    local change = open and body:match("^%((%a+)%)$", open)
    local path = change and trim(body:sub(1, open - 1))
    if path and path ~= "" and body:sub(open - 1, open - 1):find("%s") and CHANGES[change] then
      self:add("files_modified", { path = clip(path), change = change })
      return
    end
    self:add("files_modified", { path = clip(body), change = "unknown" })
  end
  self:warn(("line %d: not a '- path (created|modified|deleted)' line: %s"):format(self.line_no, clip(line)))
end

-- Whether the deadline has passed (looked at every CLOCK_EVERY lines); then reading stops.
function Parser:past_deadline()
  if self.stopped then
    return true
  end
  local n = self.line_no -- the first CLOCK_EVERY lines are always read
  if self.deadline_ns and n - self.clock_line >= CLOCK_EVERY then
    self.clock_line = n
    if clock.monotonic_ns() <= self.deadline_ns then
      return false
    end
    self.stopped = true
    self.result.stopped_at_line = self.line_no
    self:warn(("the deadline passed: markers were read up to line %d only"):format(self.line_no))
    return true
  end
  return false
end

-- One whole line (without its newline).
function Parser:line(line)
  if self:past_deadline() then
    return
  end
  self.line_no = self.line_no + 1
  if line:byte(-1) == 13 then
    line = line:sub(1, -2)
  end
  local first = line:find("%S")
  if not first then
    self.open = nil
    return
  end
  if line:byte(first) == 91 then -- "["
    local name, after = line:match("^%[([A-Z_]+)%]()", first)
    local kind = name and KINDS[name]
    if kind then
      self:marker(kind, line:sub(after))
      return
    end
  end
  local open = self.open
  if not open then
    return
  end
  if open.kind == "question" then
    self:question_line(open.item, line, first)
  elseif open.kind == "blocked" then
    self:add("context", clip(trim(line)), open.item.context)
  elseif open.kind == "files_modified" then
    self:file_line(line)
  end
end

---Feeds a chunk of text; whole lines are parsed as they complete.
function Parser:feed(chunk)
  if type(chunk) ~= "string" then
    return self
  end
  local pending = self.pending
  local start = 1
  while not self.stopped do
    if #pending == 0 and chunk:byte(start) == 10 then
      -- A run of empty lines: counted at once; like any blank line it ends an open block.
      local stop = chunk:find("[^\n]", start) or #chunk + 1
      self.line_no, self.open = self.line_no + (stop - start), nil
      start = stop
    end
    local nl = chunk:find("\n", start, true)
    if not nl then
      break
    end
    local piece = chunk:sub(start, nl - 1)
    if #pending > 0 then -- the line began in earlier chunks: joined once, now that it ended
      pending[#pending + 1] = piece
      piece = table.concat(pending)
      pending = {}
      self.pending = pending
    end
    self:line(piece)
    start = nl + 1
  end
  if start <= #chunk and not self.stopped then
    pending[#pending + 1] = chunk:sub(start)
  end
  return self
end

---Parses what is left and returns the result table with `status`.
function Parser:finish()
  if #self.pending > 0 then
    local last = table.concat(self.pending)
    self.pending = {}
    self:line(last)
  end
  local r = self.result
  for q, parts in pairs(self.question_text) do
    if #parts > 1 then
      local first = parts[1] == "" and 2 or 1
      q.text = clip(table.concat(parts, "\n", first))
    end
  end
  self.question_text = {}
  if #r.blockers > 0 then
    r.status = "blocked"
  elseif #r.questions > 0 then
    r.status = "question"
  elseif r.complete then
    r.status = "complete"
  elseif #r.progress > 0 or #r.files_modified > 0 then
    r.status = "in_progress"
  else
    r.status = "none"
  end
  if r.complete and r.status ~= "complete" then
    r.warnings[#r.warnings + 1] = clip(("[CODEX_COMPLETE] ignored: the agent also reported %s"):format(
      r.status == "blocked" and "[BLOCKED] " .. r.blockers[1].reason or "[QUESTION] " .. r.questions[1].text))
  end
  return r
end

---Parses a whole text (a final message); anything but a string reads as "". opts as parser's.
---@param opts? {deadline_ns: integer?}
function M.parse(text, opts)
  option_keys.check("markers.parse", opts, PARSER_OPTIONS, 2)
  return M.parser(opts):feed(type(text) == "string" and text or ""):finish()
end

---Compares the files an agent claims to have modified with the real change. `changed` is a list
---of paths (relative to the work tree) the snapshot diff found; claimed paths may be absolute
---under `root`. Returns {confirmed = {...}, claimed_not_changed = {...}, changed_not_claimed = {...}}.
function M.check_files(claimed, changed, root)
  local function relative(path)
    if root and path:sub(1, #root + 1) == root .. "/" then
      path = path:sub(#root + 2)
    end
    return (path:gsub("^%./", ""))
  end
  local real, said = {}, {}
  for _, p in ipairs(changed) do
    real[relative(p)] = true
  end
  local out = { confirmed = {}, claimed_not_changed = {}, changed_not_claimed = {} }
  for _, f in ipairs(claimed) do
    local p = relative(f.path or f)
    said[p] = true
    table.insert(real[p] and out.confirmed or out.claimed_not_changed, p)
  end
  for _, p in ipairs(changed) do
    local rel = relative(p)
    if not said[rel] then
      out.changed_not_claimed[#out.changed_not_claimed + 1] = rel
    end
  end
  return out
end

return M
