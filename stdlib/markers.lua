--- Output markers of the codex-task-executor skill (FORMATS.md §5), read from an agent's stream
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
---   local p = markers.parser()
---   p:feed(text_chunk)           -- any chunking; lines are assembled
---   local r = p:finish()         -- or markers.parse(final_message)
---   r.status, r.blockers, r.questions, r.files_modified, r.complete, r.progress, r.warnings
local lines = require("text")

local M = {}

local KINDS = {
  PROGRESS = "progress", QUESTION = "question", BLOCKED = "blocked", FILES_MODIFIED = "files_modified",
  CODEX_COMPLETE = "complete",
}
local CHANGES = { created = true, modified = true, deleted = true }

local Parser = {}
Parser.__index = Parser

---A parser that reads text in chunks.
function M.parser()
  return setmetatable({
    partial = "", open = nil, line_no = 0,
    result = { progress = {}, questions = {}, blockers = {}, files_modified = {}, complete = nil, warnings = {} },
  }, Parser)
end

local function trim(s)
  return (s:gsub("^%s+", ""):gsub("%s+$", ""))
end

-- One whole line (without its newline).
function Parser:line(line)
  self.line_no = self.line_no + 1
  line = line:gsub("\r$", "")
  local r = self.result
  local name, rest = line:match("^%s*%[([A-Z_]+)%]%s?(.*)$")
  local kind = name and KINDS[name]
  if kind then
    rest = trim(rest)
    self.open = nil
    if kind == "progress" then
      r.progress[#r.progress + 1] = rest
    elseif kind == "question" then
      local q = { text = rest, options = {}, line = self.line_no }
      r.questions[#r.questions + 1] = q
      self.open = { kind = kind, item = q }
    elseif kind == "blocked" then
      local b = { reason = rest, context = {}, line = self.line_no }
      r.blockers[#r.blockers + 1] = b
      self.open = { kind = kind, item = b }
    elseif kind == "files_modified" then
      self.open = { kind = kind }
    else
      if r.complete then
        r.warnings[#r.warnings + 1] = ("line %d: a second [CODEX_COMPLETE]; the first one stands"):format(self.line_no)
      else
        r.complete = { text = rest, line = self.line_no }
      end
    end
    return
  end
  if trim(line) == "" then
    self.open = nil
    return
  end
  local open = self.open
  if not open then
    return
  end
  if open.kind == "question" then
    local option = line:match("^%s*%d+[.)]%s*(.-)%s*$")
    if option then
      open.item.options[#open.item.options + 1] = option
    elseif not line:match("^%s*Options:%s*$") then
      open.item.text = open.item.text == "" and trim(line) or open.item.text .. "\n" .. trim(line)
    end
  elseif open.kind == "blocked" then
    open.item.context[#open.item.context + 1] = trim(line)
  elseif open.kind == "files_modified" then
    local path, change = line:match("^%s*[-*]%s+(.-)%s+%((%a+)%)%s*$")
    if path and CHANGES[change] then
      r.files_modified[#r.files_modified + 1] = { path = path, change = change }
    else
      local bare = line:match("^%s*[-*]%s+(.-)%s*$")
      if bare and bare ~= "" then
        r.files_modified[#r.files_modified + 1] = { path = bare, change = "unknown" }
      end
      r.warnings[#r.warnings + 1] = ("line %d: not a '- path (created|modified|deleted)' line: %s"):format(
        self.line_no, line)
    end
  end
end

---Feeds a chunk of text; whole lines are parsed as they complete.
function Parser:feed(chunk)
  local text = self.partial .. chunk
  self.partial = lines.each_line(text, function(line) self:line(line) end)
  return self
end

---Parses what is left and returns the result table with `status`.
function Parser:finish()
  if self.partial ~= "" then
    self:line(self.partial)
    self.partial = ""
  end
  local r = self.result
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
    r.warnings[#r.warnings + 1] = ("[CODEX_COMPLETE] ignored: the agent also reported %s"):format(
      r.status == "blocked" and "[BLOCKED] " .. r.blockers[1].reason or "[QUESTION] " .. r.questions[1].text)
  end
  return r
end

---Parses a whole text (a final message).
function M.parse(text)
  return M.parser():feed(text or ""):finish()
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
