--- `sidecar script --json FILE` (and `sidecar test --json`, stdlib/sidecar/dev/test_report.lua): code
--- of the user's run with what it prints to stdout captured, so that stdout holds one document, the
--- envelope {ok, version, command, data, errors[]}; what the code printed is `data.output`.
---
---   local status = json_run.script({ file = "tool.lua", list = {"a", "b"}, version = "0.1.0" })
local json = require("sidecar.core.json")
local out = require("sidecar.cli.output")

local M = {}

local function interrupted(err)
  return tostring(err):find("interrupted!", 1, true) ~= nil
end

---Calls fn(...) with print, io.write and io.stdout going to a temporary file. Returns whether it
---succeeded, its results packed ({n = …}; on failure [1] is the error with its traceback) and the
---text printed. An interruption (Ctrl-C) is raised again once stdout is restored.
---@return boolean ok, table results, string printed
function M.capture_stdout(fn, ...)
  local sink = assert(io.tmpfile())
  local saved_print, saved_stdout, saved_output = print, io.stdout, io.output()
  print = function(...)
    local n = select("#", ...)
    for i = 1, n do
      sink:write(tostring((select(i, ...))), i < n and "\t" or "")
    end
    sink:write("\n")
  end
  io.stdout = sink
  io.output(sink)
  -- The traceback ends at the user's code: the frames of this module are not theirs.
  local function traceback(err)
    local text = debug.traceback(tostring(err), 2)
    return (text:gsub("\n\t%[C%]: in function 'xpcall'.*$", ""))
  end
  local results = table.pack(xpcall(fn, traceback, ...))
  print, io.stdout = saved_print, saved_stdout
  io.output(saved_output)
  sink:seek("set")
  local printed = sink:read("a") or ""
  sink:close()
  if not results[1] and interrupted(results[2]) then
    error(results[2], 0)
  end
  return results[1], table.pack(table.unpack(results, 2, results.n)), printed
end

-- A value as JSON can hold it: tables encoded if they can be, anything else as text.
local function encodable(v)
  if type(v) == "table" then
    local ok = pcall(json.encode, v)
    return ok and v or tostring(v)
  elseif type(v) == "function" or type(v) == "userdata" or type(v) == "thread" then
    return tostring(v)
  end
  return v == nil and json.null or v
end

---Runs the Lua file `o.file` ("-": standard input) with `o.list` as `arg` and `...`, and prints the
---envelope: data {returned = [values the chunk returned], output = what it printed}; a raised
---error is {code = "script_error", message} with the traceback in data. Returns the exit status.
---@param o {file: string, list: string[], version: string}
---@return integer
function M.script(o)
  local file, args, version = o.file, o.list, o.version
  local chunk, load_error = loadfile(file ~= "-" and file or nil)
  if not chunk then
    out.envelope("script", false, json.null, { { code = "script_error", message = load_error } }, version)
    return 1
  end
  _G.arg = { [0] = file, table.unpack(args) }
  local ok, results, printed = M.capture_stdout(chunk, table.unpack(args))
  if not ok then
    local message = tostring(results[1]):match("^[^\n]*")
    out.envelope("script", false, { output = printed, traceback = tostring(results[1]) },
      { { code = "script_error", message = message } }, version)
    return 1
  end
  local returned = {}
  for i = 1, results.n do
    returned[i] = encodable(results[i])
  end
  out.envelope("script", true, { output = printed, returned = json.array(returned) }, nil, version)
  return 0
end

return M
