--- The one place where Sidecar's output reaches the terminal: `terminal.install()` (called by the
--- `sidecar` executable before any command, script, `-e` chunk, spec or REPL line runs) makes
--- `print`, `io.write` and the `write` method of io.stdout and io.stderr redact what they write
--- (secrets.redact: the config's rules included, once a config is loaded), and so do the REPL's
--- shown results and the error messages the engine reports.
---
--- A user's own script is redacted too: Sidecar promises that no byte it prints shows a secret,
--- and a script run by `sidecar script` is Sidecar printing. To see a raw value, write it to a
--- file (io.open(...):write is not redacted) or run the script with plain `lua`.
---
--- Each call is redacted as one text, so a secret split across the arguments of one call is
--- caught; a secret split across two calls is not (the stored streams are redacted with
--- carry-over before anything prints them).
local config = require("config")
local secrets = require("secrets")

local M = {}

local installed = false

-- The registry key the engine's error handler looks up (lua/engine.cpp): a function(text) -> text.
M.ERROR_FILTER = "sidecar.error_filter"

-- One text from write's arguments (numbers written as liolib writes them); an argument that is
-- neither raises the error write would.
local function joined(...)
  local n = select("#", ...)
  local parts = {}
  for i = 1, n do
    local v = select(i, ...)
    local t = type(v)
    if t == "string" then
      parts[i] = v
    elseif t == "number" then
      parts[i] = math.type(v) == "integer" and ("%d"):format(v) or ("%.14g"):format(v)
    else
      error(("bad argument #%d to 'write' (string expected, got %s)"):format(i, t == "nil" and "no value" or t), 3)
    end
  end
  return (secrets.redact(table.concat(parts)))
end

-- The `.agent` folder of the nearest config.lua in or above the current folder, or nil.
local function nearest_config_root()
  local dir = "."
  for _ = 1, 32 do -- above "/", ".." is "/" again
    local f = io.open(dir .. "/.agent/" .. config.FILE, "rb")
    if f then
      f:close()
      return dir .. "/.agent"
    end
    dir = dir .. "/.."
  end
  return nil
end

---Makes everything written to the terminal through Lua pass the redactor, with the rules of the
---nearest project's config (a script or `-e` chunk loads no config of its own; a command that
---does, such as `--root X`, replaces them; a bad config is reported by the commands that need
---it). Idempotent.
function M.install()
  if installed then
    return
  end
  installed = true
  local root = nearest_config_root()
  if root then
    config.load(root)
  end
  local stdout, stderr = io.stdout, io.stderr
  local methods = getmetatable(stdout).__index
  local raw_write, raw_io_write, raw_output, raw_tostring = methods.write, io.write, io.output, tostring
  local function write_redacted(f, ...)
    return raw_write(f, joined(...))
  end
  methods.write = function(f, ...)
    if rawequal(f, stdout) or rawequal(f, stderr) then
      return write_redacted(f, ...)
    end
    return raw_write(f, ...)
  end
  io.write = function(...)
    local f = raw_output()
    if rawequal(f, stdout) or rawequal(f, stderr) then
      return write_redacted(f, ...)
    end
    return raw_io_write(...)
  end
  -- As Lua's print: tostring of each argument, tabs between, a newline, then a flush.
  print = function(...)
    local n = select("#", ...)
    local parts = {}
    for i = 1, n do
      parts[i] = raw_tostring((select(i, ...)))
    end
    parts[n + 1] = "\n"
    raw_write(stdout, (secrets.redact(table.concat(parts, "\t", 1, n) .. parts[n + 1])))
    stdout:flush()
  end
  local repl = package.loaded.repl or require("repl")
  local format_results = repl.format_results
  repl.format_results = function(...)
    local text = format_results(...)
    return text and (secrets.redact(text))
  end
  debug.getregistry()[M.ERROR_FILTER] = function(text)
    return (secrets.redact(text))
  end
end

---Whether install() has run in this Lua state.
function M.installed()
  return installed
end

return M
