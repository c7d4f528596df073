--- The keys `sidecar run send --key NAME` (and config answers' `key`) type on a run's terminal, as
--- the bytes a terminal sends for them. Enter is "\r": the terminal turns it into the end of a line
--- for a program reading lines, and a program in raw mode sees the key itself.
local M = {}

M.BYTES = {
  enter = "\r", tab = "\t", esc = "\27", space = " ", backspace = "\127",
  ["ctrl-c"] = "\3", ["ctrl-d"] = "\4", ["ctrl-z"] = "\26",
  up = "\27[A", down = "\27[B", right = "\27[C", left = "\27[D",
  y = "y", n = "n",
}

---The key names, sorted and comma-separated (for messages).
---@return string
function M.names()
  local names = {}
  for k in pairs(M.BYTES) do
    names[#names + 1] = k
  end
  table.sort(names)
  return table.concat(names, ", ")
end

return M
