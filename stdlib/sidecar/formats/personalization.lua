--- The personalization candidates (docs/formats.md §3), written once: the sections and their
--- columns, the template an agent answers in, the parser of an answer, the spec that checks it, and
--- the report with the writeback policy applied. Reading the inputs and the policy itself are
--- sidecar.formats.personalization_rules. The agent only proposes; nothing here writes memory or
--- any target file.
---
---   local prompt = personalization.template()                  -- the skeleton, with an example row
---   local answer = personalization.parse(agent_text)           -- lenient on the surface
---   local ok, problems = schema.check(answer, personalization.SPEC)
---   local plan = rules.plan(answer, files, { target = "" })
---   io.write(personalization.render(plan, files))
local errors = require("sidecar.core.errors")
local md = require("sidecar.formats.markdown")
local secrets = require("sidecar.core.secrets")
local text_lines = require("sidecar.core.text")

local M = {}

local trim = text_lines.trim

M.TITLE = "Personalization Candidates"

-- The inputs an agent sees (sidecar.formats.personalization_rules.read_inputs): each file cut at
-- MAX_INPUT_BYTES (at a line end), at most MAX_TOTAL_BYTES in all.
M.MAX_INPUT_BYTES = 16 * 1024
M.MAX_TOTAL_BYTES = 64 * 1024

M.SCOPES = { "private-user", "project", "public-skill-candidate", "discard" }
M.TYPES = { "workflow", "writing", "layout", "figure-style", "code-review", "git", "compute",
  "toolchain", "collaboration" }
M.CONFIDENCE = { "observed", "repeated", "user-stated", "inferred" }
M.ACTIONS = { "write", "defer", "promote", "reject" }

---The sections, in order: the field, the heading, a table's columns (a row's keys are their
---snake_case) or a list of notes, and what the template shows as an example.
M.SECTIONS = {
  { key = "recommended_writeback", title = "Recommended Writeback",
    columns = { "Preference", "Scope", "Type", "Confidence", "Evidence", "Suggested target", "Action" },
    example = { "<the preference, one line>", "<scope>", "<type>", "<confidence>",
      "<the inputs that show it, by path, paraphrased>", "<the file or memory it belongs in>", "<action>" } },
  { key = "deferred", title = "Deferred", columns = { "Candidate", "Reason deferred", "Needed evidence" } },
  { key = "reject", title = "Reject", columns = { "Candidate", "Reason rejected" } },
  { key = "privacy_notes", title = "Privacy Notes", example = "<what you left out, and why>" },
}

local SECTION, SECTION_KEY = {}, { ["rejected"] = "reject" }
for _, s in ipairs(M.SECTIONS) do
  SECTION[s.key] = s
  SECTION_KEY[s.title:lower()] = s.key
end

local ENUM_COLUMNS = { scope = M.SCOPES, type = M.TYPES, confidence = M.CONFIDENCE, action = M.ACTIONS }

---What the one re-prompt asks for (sidecar.preset.schema enforce).
M.REPLY = "Reply again with only the corrected `# " .. M.TITLE .. "` report, with its four sections and "
  .. "tables in the required format, and no other text."

-- Reading an answer ----------------------------------------------------------------------------

local function column_key(header)
  return (md.plain(header):lower():gsub("[^%w]+", "_"):gsub("^_+", ""):gsub("_+$", ""))
end

local function cells(line)
  -- "\|" is a pipe inside a cell: hidden as a NUL while splitting.
  local s = trim(line):gsub("^|", ""):gsub("\\|", "\0"):gsub("|$", "")
  local out = {}
  for cell in (s .. "|"):gmatch("([^|]*)|") do
    out[#out + 1] = trim((cell:gsub("\0", "|")))
  end
  return out
end

local function is_separator(line)
  return line:match("^%s*|?[%s:|%-]+$") ~= nil and line:find("-", 1, true) ~= nil
end

-- A section's table as a list of row objects; a section with no table is an empty list when it
-- says "none" (or nothing), else its text, so the check reports the missing table.
local function section_table(lines)
  local header, rows, other = nil, {}, {}
  for _, line in ipairs(lines) do
    if line:match("^%s*|") then
      if not header then
        header = cells(line)
      elseif not is_separator(line) then
        local row, filled = {}, false
        for i, cell in ipairs(cells(line)) do
          local key = header[i] and column_key(header[i]) or ("column_" .. i)
          if cell ~= "" and not (md.is_none(cell) and not cell:find("%a")) then -- "-" is an empty cell
            row[key] = ENUM_COLUMNS[key] and md.enum_word(cell, ENUM_COLUMNS[key]) or cell
            filled = filled or not md.is_none(cell)
          end
        end
        if filled then
          rows[#rows + 1] = row
        end
      end
    elseif line:find("%S") then
      other[#other + 1] = trim(line)
    end
  end
  if header then
    return rows
  end
  local said = table.concat(other, "\n")
  local item = said:match("^[-*+]%s+(.*)$")
  if said == "" or md.is_none(said) or (item and md.is_none(item)) then
    return {}
  end
  return said
end

local function section_notes(lines)
  local items = {}
  for _, line in ipairs(lines) do
    local indent, rest = md.bullet(line)
    if indent then
      items[#items + 1] = trim(rest)
    elseif line:find("%S") then
      if #items == 0 then
        items[1] = trim(line)
      else
        items[#items] = items[#items] .. " " .. trim(line)
      end
    end
  end
  if #items == 1 and md.is_none(items[1]) then
    return {}
  end
  return items
end

---An agent's §3 answer as fields that schema.check(value, M.SPEC) validates: each table a list of
---rows keyed by its column headers in snake_case (Suggested target -> suggested_target), Privacy
---Notes a list of notes, a section saying "None" an empty list. Lenient on the surface like
---precommit.parse; unknown sections are ignored.
---@param text string
---@return table
function M.parse(text)
  if type(text) ~= "string" then
    errors.raise("bad_argument", "personalization.parse: expected a string, got " .. type(text), nil, 2)
  end
  text = md.unwrap(text)
  local sections, current, fence = {}, nil, nil
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    line = line:gsub("\r$", "")
    if fence then
      fence = not line:match("^%s*" .. fence .. "%s*$") and fence or nil
    elseif line:match("^%s*```") then
      fence = "```"
    else
      local level, title = text_lines.heading(line)
      if level then
        local key = #level >= 2 and SECTION_KEY[md.plain(title):lower():gsub("%s+", " ")]
        current = nil
        if key and not sections[key] then
          current = {}
          sections[key] = current
        end
      elseif current then
        current[#current + 1] = line
      end
    end
  end
  local out = {}
  for key, lines in pairs(sections) do
    out[key] = key == "privacy_notes" and section_notes(lines) or section_table(lines)
  end
  return out
end

local function write_needs_support(row)
  if row.action == "write" and row.confidence ~= "user-stated" and row.confidence ~= "repeated" then
    -- "Write back automatically only what the user stated or what is repeated in at least two artifacts."
    return ('action "write" needs confidence user-stated or repeated (in at least two artifacts), got %s; '
      .. "use defer instead"):format(("%q"):format(tostring(row.confidence))), "action"
  end
end

local function text_cell()
  return { type = "string", non_empty = true, required = true }
end

-- "quotes no raw logs or secrets": evidence names where a preference was seen, never a secret.
local function no_secret(text)
  local _, found = secrets.redact(text)
  if found > 0 then
    return "quotes what looks like a secret (a key or token); name where the preference was seen instead"
  end
end

local function table_of(key, row_spec)
  local columns = table.concat(SECTION[key].columns, " | ")
  return { type = "array", required = true, items = row_spec, what = "a table with columns " .. columns }
end

---The spec (sidecar.preset.schema's language) of a parsed answer. Two rules of §3 are checked
---too: a row whose action is write needs confidence user-stated or repeated, and evidence never
---quotes a secret.
M.SPEC = {
  type = "object",
  fields = {
    recommended_writeback = table_of("recommended_writeback", {
      type = "object",
      fields = {
        preference = text_cell(),
        scope = { type = "enum", enum = M.SCOPES, required = true },
        type = { type = "enum", enum = M.TYPES, required = true },
        confidence = { type = "enum", enum = M.CONFIDENCE, required = true },
        evidence = { type = "string", non_empty = true, required = true, check = no_secret },
        suggested_target = text_cell(),
        action = { type = "enum", enum = M.ACTIONS, required = true },
      },
      check = write_needs_support,
    }),
    deferred = table_of("deferred", {
      type = "object",
      fields = { candidate = text_cell(), reason_deferred = text_cell(), needed_evidence = text_cell() },
    }),
    reject = table_of("reject", {
      type = "object",
      fields = { candidate = text_cell(), reason_rejected = text_cell() },
    }),
    privacy_notes = { type = "array", items = { type = "string", non_empty = true }, required = true },
  },
}

-- Writing ----------------------------------------------------------------------------------------

local function cell(s)
  return (tostring(s or ""):gsub("[\r\n]+", " "):gsub("|", "\\|"))
end

local function row_md(cells)
  return "| " .. table.concat(cells, " | ") .. " |"
end

local function md_table(headers, keys, rows)
  if #rows == 0 then
    return "None."
  end
  local out = { row_md(headers), "|" .. ("---|"):rep(#headers) }
  for _, row in ipairs(rows) do
    local cells = {}
    for i, k in ipairs(keys) do
      cells[i] = cell(row[k])
    end
    out[#out + 1] = row_md(cells)
  end
  return table.concat(out, "\n")
end

---The skeleton an agent answers in: the title, then each section with its table's header (and
---separator, and the example row) or its example note, blank lines between. opts.compact: only
---the headings and the header rows, one per line. No final newline.
---@param opts? {compact?: boolean}
---@return string
function M.template(opts)
  local compact = opts and opts.compact
  local out = { "# " .. M.TITLE }
  for _, s in ipairs(M.SECTIONS) do
    out[#out + 1] = "## " .. s.title
    local body = {}
    if s.columns then
      body[1] = row_md(s.columns)
      if not compact then
        body[2] = "|" .. ("---|"):rep(#s.columns)
        body[3] = s.example and row_md(s.example) or nil
      end
    elseif not compact then
      body[1] = "- " .. s.example
    end
    out[#out + 1] = #body > 0 and table.concat(body, "\n") or nil
  end
  return table.concat(out, compact and "\n" or "\n\n")
end

-- A §3 table of the report: the section's columns, rows keyed by their snake_case.
local function section_md(key, rows)
  local columns, keys = SECTION[key].columns, {}
  for i, c in ipairs(columns) do
    keys[i] = column_key(c)
  end
  return md_table(columns, keys, rows)
end

local function plural(n, word)
  return n .. " " .. word .. (n == 1 and "" or "s")
end

---The §3 report (the tables with the policy applied) and the writeback plan, as markdown.
---@param plan table  personalization_rules.plan
---@param files table  personalization_rules.read_inputs
---@return string
function M.render(plan, files)
  local redacted = 0
  for _, f in ipairs(files) do
    redacted = redacted + f.redactions
  end
  local notes = {}
  for i, n in ipairs(plan.privacy_notes) do
    notes[i] = "- " .. n
  end
  notes[#notes + 1] = ("- The scanner saw only the listed inputs (%s, each cut at %d bytes); %s redacted "
    .. "before it saw them."):format(plural(#files, "file"), M.MAX_INPUT_BYTES, plural(redacted, "secret"))
  local writes = {}
  for i, w in ipairs(plan.writes) do
    writes[i] = { target = w.target, preference = w.preference, scope = w.scope, type = w.type,
      confidence = w.confidence, inputs = table.concat(w.inputs, ", ") }
  end
  local not_written = #plan.recommended_writeback - #plan.writes
  return table.concat({
    "# " .. M.TITLE, "",
    "## Recommended Writeback", "", section_md("recommended_writeback", plan.recommended_writeback), "",
    "## Deferred", "", section_md("deferred", plan.deferred), "",
    "## Reject", "", section_md("reject", plan.reject), "",
    "## Privacy Notes", "",
    table.concat(notes, "\n"), "",
    "## Writeback plan", "",
    ("Nothing was written: this preset only proposes. %s would be written back, %s not:")
      :format(plural(#plan.writes, "candidate"), plural(not_written, "recommended candidate")), "",
    md_table({ "Target", "Preference", "Scope", "Type", "Confidence", "Seen in" },
      { "target", "preference", "scope", "type", "confidence", "inputs" }, writes),
  }, "\n") .. "\n"
end

return M
