--- What a full-screen program asks its terminal, answered as a terminal would: without the answers
--- a TUI such as codex's waits for them and draws nothing (it asks where the cursor is, what the
--- terminal is, its colours, its keyboard protocol). The answers describe a plain terminal of the
--- run's size, the cursor at the top left, light text on a dark background.
---
---   local q = terminal_queries.new()
---   local replies = q:feed(chunk)   -- "" when the chunk asks nothing; written to the terminal
local M = {}

-- Each query (a Lua pattern, anchored at its ESC) and its answer.
M.ANSWERS = {
  { "\27%[6n", "\27[1;1R" }, -- where is the cursor (DSR)
  { "\27%[0?c", "\27[?62;22c" }, -- what are you (primary device attributes): a VT220 with colour
  { "\27%]10;%?\27\\", "\27]10;rgb:dddd/dddd/dddd\27\\" }, -- the text colour (OSC 10)
  { "\27%]10;%?\7", "\27]10;rgb:dddd/dddd/dddd\7" },
  { "\27%]11;%?\27\\", "\27]11;rgb:1111/1111/1111\27\\" }, -- the background (OSC 11)
  { "\27%]11;%?\7", "\27]11;rgb:1111/1111/1111\7" },
  { "\27%[%?u", "\27[?0u" }, -- the keyboard protocol's flags (kitty): none
}

local CARRY = 16 -- a query cut between two chunks is found in the next
M.MAX_ANSWERS = 10000 -- per run: a program that asks without end is not fed without end

local Queries = {}
Queries.__index = Queries

---A reader of one terminal's output.
function M.new()
  return setmetatable({ carry = "", answered = 0 }, Queries)
end

---The answers to the queries in `chunk`, in order ("" when there are none).
---@param chunk string
---@return string
function Queries:feed(chunk)
  local s = self.carry .. chunk
  local from = #self.carry + 1 -- a query wholly in the carry was answered with the chunk before
  local out = {}
  local at = s:find("\27", 1, true)
  while at and self.answered < M.MAX_ANSWERS do
    for _, qa in ipairs(M.ANSWERS) do
      local _, e = s:find("^" .. qa[1], at)
      if e and e >= from then
        out[#out + 1] = qa[2]
        self.answered = self.answered + 1
        break
      end
    end
    at = s:find("\27", at + 1, true)
  end
  self.carry = s:sub(-CARRY)
  return table.concat(out)
end

return M
