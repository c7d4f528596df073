--- Small text helpers shared by the stdlib: splitting a stream into lines and markdown blocks.
local M = {}

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

return M
