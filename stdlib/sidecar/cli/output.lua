--- What Sidecar's commands print: the JSON envelope of `--json`, aligned tables for people, and
--- CSV.
local json = require("sidecar.core.json")
local result = require("sidecar.service.result")

local M = {}

---Prints the envelope every command's `--json` gives (sidecar.service.result.envelope_of): {ok,
---version, command, data, errors[]}, each error {code, message} (`code`: "usage" for a command line
---that cannot be taken, "failed" unless the caller says; an error given as a table keeps its own
---code). Its values are redacted before encoding (print redacts the text too, but a secret holding
---a quote or a backslash is written escaped there).
---@param command string  e.g. "store check"
---@param data any  json.null when there is nothing
---@param errors? (string|{code: string, message: string})[]
---@param code? string  the code of errors given as strings (default "failed")
function M.envelope(command, ok, data, errors, version, code)
  print(json.encode(result.envelope_of(command, ok, data, errors, version, code), { indent = 2 }))
end

---Renders a service's result (sidecar.service.result) as the command line gives it: its warnings on
---stderr, then its envelope with --json; else `render(data)` when it went well, "sidecar: <command>: <message>" on stderr
---when not. Returns the exit status (0, 1, or 2 for a request that cannot be taken).
---@param o table  the command's options ({json, version})
---@param command string
---@param r table  the result
---@param render fun(data: any)
---@return integer
function M.answer(o, command, r, render)
  for _, w in ipairs(r.warnings or {}) do
    M.error(command, w)
  end
  if o.json then
    M.envelope(command, r.ok, r.data, r.errors, o.version)
  elseif r.ok then
    render(r.data)
  else
    for _, e in ipairs(r.errors) do
      M.error(command, e.message)
    end
  end
  return r.status
end

---Writes "sidecar: <command>: <message>" to stderr.
function M.error(command, message)
  io.stderr:write("sidecar: ", command, ": ", tostring(message), "\n")
end

---Reports a command's failure the way its output was asked for (the envelope with --json, else
---"sidecar: <command>: <message>" on stderr) and returns the exit status (default 1).
---@param o table  the command's options ({json, version})
function M.fail(o, command, message, status)
  if o.json then
    M.envelope(command, false, json.null, { message }, o.version, status == 2 and "usage" or "failed")
  else
    M.error(command, message)
  end
  return status or 1
end

---Formats rows as an aligned table: a header line, then one line per row. `right` names the
---columns (by index) to right-align (numbers).
---@param headers string[]
---@param rows string[][]
---@param right? table<integer, boolean>
---@return string
---A progress line on stderr ("sidecar: …"): the `on_progress` the commands give the library.
---@param line string
function M.progress(line)
  io.stderr:write("sidecar: ", line, "\n")
end

function M.table(headers, rows, right)
  right = right or {}
  local widths = {}
  for i, h in ipairs(headers) do
    widths[i] = utf8.len(h) or #h
  end
  local cells = {}
  for r, row in ipairs(rows) do
    cells[r] = {}
    for i = 1, #headers do
      -- each cell on its row: a line break or tab in a title (a task's, an agent's words) would make
      -- a row of its own, one that could pass for another task's or run's
      local cell = tostring(row[i] or ""):gsub("[\r\n\t]", " ")
      cells[r][i] = cell
      widths[i] = math.max(widths[i], utf8.len(cell) or #cell)
    end
  end
  rows = cells
  local function line(cells)
    local out = {}
    for i = 1, #headers do
      local cell = cells[i] or ""
      local pad = string.rep(" ", widths[i] - (utf8.len(cell) or #cell))
      out[i] = right[i] and pad .. cell or (i < #headers and cell .. pad or cell)
    end
    return table.concat(out, "  ")
  end
  local lines = { line(headers) }
  for _, row in ipairs(rows) do
    lines[#lines + 1] = line(row)
  end
  return table.concat(lines, "\n") .. "\n"
end

local function csv_cell(v)
  local s = v == nil and "" or tostring(v)
  if s:find('[,"\r\n]') then
    s = '"' .. s:gsub('"', '""') .. '"'
  end
  return s
end

---Formats rows as CSV (RFC 4180: cells with commas, quotes or line breaks are quoted).
---@param headers string[]
---@param rows any[][]  nil cells are empty
function M.csv(headers, rows)
  local lines = {}
  local function add(cells, n)
    local out = {}
    for i = 1, n do
      out[i] = csv_cell(cells[i])
    end
    lines[#lines + 1] = table.concat(out, ",")
  end
  add(headers, #headers)
  for _, row in ipairs(rows) do
    add(row, #headers)
  end
  return table.concat(lines, "\r\n") .. "\r\n"
end

---1234567 -> "1,234,567".
function M.thousands(n)
  local s = tostring(math.tointeger(n) or n)
  local sign, digits = s:match("^(-?)(%d+)$")
  if not digits then
    return s
  end
  return sign .. digits:reverse():gsub("(%d%d%d)", "%1,"):reverse():gsub("^,", "")
end

return M
