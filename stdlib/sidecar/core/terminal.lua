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
---
--- What is written is also neutralised (text.visible): an agent's answer or a task's title with
--- escape sequences cannot recolour, move, retitle or clear the terminal, nor reorder what it
--- shows. Newlines, tabs and CRLF stay; ESC and the other C0 controls show in caret notation
--- (ESC [31m -> "^[[31m", a lone CR -> "^M"), C1 controls and bidi overrides as "<U+202E>", bytes
--- that are not UTF-8 as "\xE9". Sidecar's own output holds none of these, and --json output
--- holds none either (the JSON writer escapes them), so both pass unchanged. Each call is
--- rendered alone: a UTF-8 character split across two writes shows as its bytes. Sidecar's own
--- control sequences (the live progress line) go through `write_raw`.
local real = require("sidecar.host.paths").real
local secrets = require("sidecar.core.secrets")
-- sidecar.core.text's visible is this one; that module (and the JSON modules under it) is not
-- loaded here, as every start, `-e ''` included, runs install().
local visible = require("sidecar.host.text").visible

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

-- What reaches the terminal: redacted, then every control shown rather than obeyed.
local function shown(s)
  return (visible((secrets.redact(s))))
end

-- The write method of files before install() wrapped it (write_raw uses it).
local raw_file_write

-- sidecar.core.config's FILE, named here so that a start without a config never loads that
-- module (and the trust store and digests under it): install() runs before every `-e ''`.
local CONFIG_FILE = "config.lua"

-- The `.agent` folder of the nearest config.lua in or above the current folder, or nil.
local function nearest_config_root()
  local here = real(".")
  if not here then
    return nil -- the current folder is gone: nothing above it can be found either
  end
  -- One look per folder up to "/" (above it, ".." is "/" again): ".." is the physical parent,
  -- as the real path's components are. (files.depth does the same; not loaded here, as every
  -- start, `-e ''` included, runs this.)
  local _, depth = here:gsub("/[^/]+", "")
  local dir = "."
  for _ = 0, depth do
    -- Looked up, not opened: a planted FIFO would block an open (config.load refuses it).
    if real(dir .. "/.agent/" .. CONFIG_FILE) then
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
    require("sidecar.core.config").load(root)
  end
  local stdout, stderr = io.stdout, io.stderr
  local methods = getmetatable(stdout).__index
  local raw_write, raw_io_write, raw_output, raw_tostring = methods.write, io.write, io.output, tostring
  raw_file_write = raw_write
  local function write_redacted(f, ...)
    return raw_write(f, (visible(joined(...))))
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
    raw_write(stdout, shown(table.concat(parts, "\t", 1, n) .. parts[n + 1]))
    stdout:flush()
  end
  debug.getregistry()[M.ERROR_FILTER] = shown
end

---What reaches the terminal for `s` once install() has run: redacted, every control shown rather
---than obeyed (the REPL's shown results pass it; sidecar.dev.repl reads it only when loaded, so a
---start that runs no REPL does not load the REPL's modules). `s` itself before install().
---@param s string
---@return string
function M.shown(s)
  return installed and shown(s) or s
end

---Writes to `f` (io.stdout or io.stderr) redacted but not neutralised: for Sidecar's own control
---sequences (a progress line redrawn with "\r\27[K"), never for text from an agent or a user.
---@param f file*
function M.write_raw(f, ...)
  if raw_file_write and (rawequal(f, io.stdout) or rawequal(f, io.stderr)) then
    return raw_file_write(f, joined(...))
  end
  return f:write(...)
end

---Whether install() has run in this Lua state.
function M.installed()
  return installed
end

return M
