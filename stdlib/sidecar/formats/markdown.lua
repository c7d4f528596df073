--- Reading an agent's markdown leniently: the surface it may vary (bold labels, backticks, the case
--- of an enum word, "None" or "n/a" for nothing, an answer wrapped in a ```markdown block) taken
--- off, so that the format's check reports only what is really missing or wrong. Shared by the
--- formats' parsers (sidecar.formats.precommit, sidecar.formats.personalization).
---
--- Every helper is linear on any text (sidecar.core.text) and never raises on a string.
local json_extract = require("sidecar.core.json_extract")
local text_lines = require("sidecar.core.text")

local M = {}

local trim = text_lines.trim

---Bold, italics and code marks off a short value: "**`Code`**" -> "Code".
---@param s string
---@return string
function M.plain(s)
  s = trim(s):gsub("%*%*", ""):gsub("__", "")
  s = trim(s)
  local inner = s:match("^`(.*)`$") or s:match("^%*(.*)%*$") or s:match("^_(.*)_$")
  return inner and trim(inner) or s
end

---An enum-like word, lowercased, without a final period: one of `values` when the value is one or
---starts with one ("Code (scripts changed)" -> "code"), else the lowercased text, so that the
---check names what was written.
---@param s string
---@param values string[]
---@return string
function M.enum_word(s, values)
  local v = M.plain(s):lower():gsub("%.$", "")
  local first = v:match("^([%w%-]+)")
  local whole, word = false, false
  for _, x in ipairs(values) do
    whole = whole or x == v
    word = word or x == first
  end
  if word and not whole then
    return first
  end
  return v
end

local NONE = { ["none"] = true, ["n/a"] = true, ["na"] = true, ["-"] = true, ["—"] = true, ["(none)"] = true,
  ["nothing"] = true, ["no"] = true, [""] = true }

---Whether a value says "nothing": None, n/a, -, (none), no, an empty text...
---@param s string
---@return boolean
function M.is_none(s)
  return NONE[M.plain(s):lower():gsub("[%.!]$", "")] == true
end

---A list item's indentation (tabs count four) and its text: "  - x" -> 2, "x"; "1. y" -> 0, "y";
---nil when the line is not a list item.
---@param line string
---@return integer? indent, string? rest
function M.bullet(line)
  local indent, rest = line:match("^(%s*)[-*+]%s+(.*)$")
  if not indent then
    indent, rest = line:match("^(%s*)%d+[.)]%s+(.*)$")
  end
  if indent then
    return #indent:gsub("\t", "    "), rest
  end
end

---"**Why this path:** text" -> "why this path", "text"; nil when the text has no "Label:".
---@param text string
---@return string? label, string? value
function M.label_value(text)
  local s = text:gsub("%*%*", ""):gsub("__", "")
  -- The label is what comes before the first colon (a lazy label matched with spaces retries
  -- every run of them: quadratic).
  local colon = s:find(":", 1, true)
  local label = colon and trim(s:sub(1, colon - 1))
  label = label and label:match("^[%a][%w %-/']*$")
  local value = label and s:sub(colon + 1)
  if label then
    return label:lower():gsub("%s+", " "), trim(value)
  end
end

---The answer itself: when it is wrapped in a ```markdown (or ```md) block, the last such block's
---body, else the text.
---@param text string
---@return string
function M.unwrap(text)
  local blocks = json_extract.fenced_blocks(text)
  for i = #blocks, 1, -1 do
    if blocks[i].lang == "markdown" or blocks[i].lang == "md" then
      return blocks[i].body
    end
  end
  return text
end

return M
