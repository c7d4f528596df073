--- The JSON value in an agent's answer, found whatever prose and markdown surround it.
---
---   local json_extract = require("sidecar.core.json_extract")
---   local value, where = json_extract.extract(final_message)   -- where: "text", "json block", ...
---   if value == nil then report(where) end                      -- on failure, `where` says why
---   for _, b in ipairs(json_extract.fenced_blocks(text)) do print(b.lang, b.body) end
---
--- Every pass is linear or bounded, whatever the agent wrote: a message full of unclosed brackets
--- gives up after MAX_SPAN_ATTEMPTS spans and MAX_SPAN_STEPS steps in all, and passes over a span
--- whole once the spans it decoded add up to twice the text (nested spans can each decode far
--- before failing). No JSON in a message is a value (nil, why); a text that is not a string raises.
local errors = require("sidecar.core.errors")
local json = require("sidecar.core.json")
local text_lines = require("sidecar.core.text")

local M = {}

-- How many {...}/[...] spans extract tries to decode, and how many brackets and quotes it
-- steps over in all, before it gives up: a message full of unclosed brackets would otherwise cost
-- time quadratic in its length.
local MAX_SPAN_ATTEMPTS = 200
local MAX_SPAN_STEPS = 1000000
-- How many bytes of spans it decodes in all: twice the text, and this. Spans nested in one another
-- each decode their whole length before failing (`[[[ 1,1,... x ]]]`): 150 of them over 8 MB took
-- 42 s before this bound; at most three such decodes are made now, and the spans after still tried.
local MIN_DECODE_BUDGET = 65536

-- Linear, whatever the agent wrote (stdlib/sidecar/core/text.lua): a gsub("%s+$", "") is quadratic on a run of
-- spaces, and every pass over an answer here must stay linear.
local trim = text_lines.trim

-- A fence line of `char` ("`" or "~"): the run of that character after the indentation and the
-- rest of the line, trimmed; nil when the line does not start with it.
local function fence_line(line, char)
  local first = line:find("%S")
  if not first or line:sub(first, first) ~= char then
    return nil
  end
  local stop = line:find(char == "`" and "[^`]" or "[^~]", first) or #line + 1
  return line:sub(first, stop - 1), trim(line:sub(stop))
end

-- true, value; or false and the decode error.
local function decode(text)
  local ok, v = json.try_decode(text)
  if ok then
    return true, v
  end
  return false, type(v) == "table" and v.message or tostring(v)
end

---The fenced code blocks of a markdown text, in order: {lang = "json" | "" | ..., body = text}.
---A fence may be indented (inside a list item); an unclosed last fence runs to the end.
---@param text string
---@return {lang: string, body: string}[]
function M.fenced_blocks(text)
  local blocks, open = {}, nil
  if not text:find("```", 1, true) and not text:find("~~~", 1, true) then
    return blocks -- no fence: no line to look at (eight million empty lines took 1.9 s)
  end
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    line = line:gsub("\r$", "")
    if open then
      local fence, rest = fence_line(line, open.char)
      if fence and rest == "" and #fence >= open.len then
        blocks[#blocks + 1] = { lang = open.lang, body = table.concat(open.lines, "\n") }
        open = nil
      else
        open.lines[#open.lines + 1] = line
      end
    else
      local fence, info = fence_line(line, "`")
      if fence and (#fence < 3 or info:find("`", 1, true)) then
        fence = nil
      elseif not fence then
        fence, info = fence_line(line, "~")
        fence = fence and #fence >= 3 and fence or nil
      end
      if fence then
        open = { char = fence:sub(1, 1), len = #fence, lang = (info:match("^(%S*)") or ""):lower(), lines = {} }
      end
    end
  end
  if open then
    blocks[#blocks + 1] = { lang = open.lang, body = table.concat(open.lines, "\n") }
  end
  return blocks
end

-- The index of the bracket closing the one at `i`, skipping JSON strings; nil when unbalanced or
-- when budget.steps runs out.
local function span_end(text, i, budget)
  local stack = { text:sub(i, i) }
  local j = i + 1
  while true do
    budget.steps = budget.steps - 1
    if budget.steps < 0 then
      return nil
    end
    j = text:find('[%[%]{}"]', j)
    if not j then
      return nil
    end
    local c = text:sub(j, j)
    if c == '"' then
      repeat
        budget.steps = budget.steps - 1
        j = text:find('["\\]', j + 1)
        if not j or budget.steps < 0 then
          return nil
        end
        local q = text:sub(j, j)
        if q == "\\" then
          j = j + 1
        end
      until q == '"'
    elseif c == "{" or c == "[" then
      stack[#stack + 1] = c
    else
      if (c == "}") ~= (stack[#stack] == "{") then
        return nil
      end
      stack[#stack] = nil
      if #stack == 0 then
        return j
      end
    end
    j = j + 1
  end
end

-- The longest {...} or [...] span that decodes (the last of equal ones), or nil; and true when a
-- bound stopped the search before the end of the text, or made it pass over a span undecoded.
local function best_span(text)
  local best, best_len, skipped
  local pos, attempts, budget = 1, 0, { steps = MAX_SPAN_STEPS }
  local decode_left = 2 * #text + MIN_DECODE_BUDGET
  while true do
    local i = text:find("[%[{]", pos)
    if not i then
      return best, skipped == true
    elseif attempts >= MAX_SPAN_ATTEMPTS or budget.steps <= 0 then
      return best, true
    end
    attempts = attempts + 1
    local j = span_end(text, i, budget)
    local ok, v = false, nil
    if j and j - i + 1 > decode_left then
      skipped, i = true, j -- past the decode budget: passed over whole, and the spans after it still tried
    elseif j then
      decode_left = decode_left - (j - i + 1)
      ok, v = decode(text:sub(i, j))
    end
    if ok then
      if not best_len or j - i + 1 >= best_len then
        best, best_len = { value = v }, j - i + 1
      end
      pos = j + 1
    else
      pos = i + 1
    end
  end
end

---The JSON value in an agent's final message, and where it was found ("text", "json block",
---"block" or "span"). Tried in order: the whole text; else the last ```json block (when it does
---not decode, that is the answer: nil and the decode error); else the last fenced block that
---decodes; else the longest {...} or [...] span that decodes. A decoded null is json.null.
---@param text string
---@return any value, string where_or_why  on failure: nil, why
function M.extract(text)
  if type(text) ~= "string" then
    errors.raise("bad_argument", "json_extract.extract: expected a string, got " .. type(text), nil, 2)
  end
  if not text:find("%S") then
    return nil, "the answer is empty"
  end
  local ok, v = decode(trim(text))
  if ok then
    return v, "text"
  end
  local blocks = M.fenced_blocks(text)
  for i = #blocks, 1, -1 do
    if blocks[i].lang == "json" then
      ok, v = decode(blocks[i].body)
      if ok then
        return v, "json block"
      end
      return nil, "the last ```json block is not valid JSON: " .. v
    end
  end
  for i = #blocks, 1, -1 do
    if blocks[i].body:find("%S") then -- a blank body never decodes: a million empty fences cost no decode
      ok, v = decode(blocks[i].body)
      if ok then
        return v, "block"
      end
    end
  end
  local span, stopped = best_span(text)
  if span then
    return span.value, "span"
  end
  return nil, "no JSON found: the answer is not JSON and has no ```json block, fenced block or {...} / [...] "
    .. "that is valid JSON" .. (stopped and (" (the span search gave up on part of the answer: it has more "
    .. "unbalanced or invalid brackets than are examined; give the JSON in a ```json block)") or "")
end

return M
