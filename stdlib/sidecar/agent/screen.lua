--- What a terminal program's output says, as text: escape sequences and control characters
--- removed from a byte stream that arrives in chunks (a sequence split across two chunks is held
--- back until it is whole), and the stream cut into lines as a person reads them on the screen.
---
---   local strip = screen.stripper()
---   local text = strip:feed(bytes)          -- "\n" ends a line; a lone "\r" stays as "\r"
---   local lines, partial = screen.lines(pending .. text)
---
--- Cursor moves become separators (a full-screen program places its words with them): a move to
--- another row a line end, a move along the row a space.
--- Removed: CSI sequences (ESC [ ... final: colours, cursor moves, erasing), OSC (ESC ] ... BEL or
--- ESC \: titles, links), DCS/SOS/PM/APC strings, two- and three-byte escapes (ESC 7, ESC ( B),
--- and every C0 control but "\n", "\t" and "\r" (backspace, bell, DEL...). "\r\n" is one line end;
--- a lone "\r" (a progress line redrawn) means the line starts again, which `screen.lines` applies:
--- a line keeps what was written after its last lone "\r". Invalid UTF-8 is left to the caller
--- (text.repair_utf8 on each whole line: a character split across chunks is whole there).
--- Linear: plain runs are copied with one find each, whatever the input.
local M = {}

-- The longest escape sequence held back while it is incomplete; past it, it is dropped whole.
local MAX_PENDING = 4096

local Stripper = {}
Stripper.__index = Stripper

---A stripper keeping the state between chunks.
---@return table
function M.stripper()
  return setmetatable({ pending = "" }, Stripper)
end

-- The end (index of its last byte) of the escape sequence starting at s[i] = ESC; nil when the
-- sequence is not complete in s.
local function escape_end(s, i)
  local kind = s:byte(i + 1)
  if not kind then
    return nil
  end
  if kind == 0x5B then -- CSI: parameters and intermediates, then one final byte 0x40-0x7E
    local _, e = s:find("^[\48-\63]*[\32-\47]*[\64-\126]", i + 2)
    if e then
      return e
    end
    -- Not complete yet, or malformed: a byte outside the grammar ends it there.
    local _, body = s:find("^[\48-\63]*[\32-\47]*", i + 2)
    return body < #s and body + 1 or nil
  elseif kind == 0x5D or kind == 0x50 or kind == 0x58 or kind == 0x5E or kind == 0x5F then
    -- OSC, DCS, SOS, PM, APC: a string ended by BEL (OSC) or ST (ESC \)
    local j = i + 2
    while true do
      local k = s:find("[\7\27]", j)
      if not k then
        return nil
      end
      if s:byte(k) == 7 then
        return k
      end
      if k == #s then
        return nil
      end
      if s:byte(k + 1) == 0x5C then
        return k + 1
      end
      j = k + 1
    end
  elseif kind >= 0x20 and kind <= 0x2F then -- ESC ( B and the like: intermediates, then a final byte
    local _, e = s:find("^[\32-\47]*[\48-\126]", i + 1)
    if e then
      return e
    end
    return not s:find("^[\32-\47]*$", i + 1) and i + 1 or nil
  end
  return i + 1 -- ESC 7, ESC =, ESC c ...
end

---What a cursor move stands for in the text (a full-screen program places its words with them):
---a move to another row is a line end, a move along the row a space; any other sequence nothing.
function Stripper:moved(s, from, to)
  if s:byte(from + 1) ~= 0x5B then
    return ""
  end
  local final = s:sub(to, to)
  if final == "H" or final == "f" then -- ESC [ row ; col H
    local row = tonumber(s:sub(from + 2, to - 1):match("^(%d*)") or "") or 1
    local other = row ~= self.row
    self.row = row
    return other and "\n" or " "
  elseif final == "C" or final == "G" then -- forward, or to a column of this row
    return " "
  elseif final == "A" or final == "B" or final == "E" or final == "F" or final == "d" then -- up, down, to a row
    self.row = nil
    return "\n"
  end
  return ""
end

---The text of `chunk` (with what an earlier chunk left incomplete in front of it).
---@param chunk string
---@return string
function Stripper:feed(chunk)
  local s = self.pending .. chunk
  self.pending = ""
  local out, i, n = {}, 1, #s
  while i <= n do
    local c = s:find("[%c\127]", i)
    if not c then
      out[#out + 1] = s:sub(i)
      break
    end
    if c > i then
      out[#out + 1] = s:sub(i, c - 1)
    end
    local b = s:byte(c)
    if b == 27 then
      local e = escape_end(s, c)
      if not e then
        if n - c < MAX_PENDING then
          self.pending = s:sub(c)
        end
        break
      end
      out[#out + 1] = self:moved(s, c, e)
      i = e + 1
    else
      if b == 10 or b == 9 or b == 13 then
        out[#out + 1] = string.char(b)
      end
      i = c + 1
    end
  end
  return (table.concat(out):gsub("\r\n", "\n"))
end

-- A line as the screen shows it: what was written after its last lone "\r".
local function shown(line)
  while line:byte(-1) == 13 do -- the "\r" of a "\r\n" split across two chunks
    line = line:sub(1, -2)
  end
  local last = line:match("^.*\r()")
  return last and line:sub(last) or line
end
M.shown = shown

---The whole lines of `text` ("\r" applied) and what is left after the last "\n" (raw).
---@param text string
---@return string[] lines, string partial
function M.lines(text)
  local lines, from = {}, 1
  while true do
    local nl = text:find("\n", from, true)
    if not nl then
      break
    end
    lines[#lines + 1] = shown(text:sub(from, nl - 1))
    from = nl + 1
  end
  return lines, text:sub(from)
end

return M
