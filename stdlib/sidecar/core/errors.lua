--- Structured errors for the stdlib: tables with `code`, `message` and context fields that print
--- as "file:line: message" (through __tostring), so callers can both read and branch on them.
local M = {}

local Error = {}
Error.__index = Error
Error.__name = "sidecar.error"

function Error:__tostring()
  return (self.where or "") .. tostring(self.message)
end

---Builds an error value.
---@param code string      short machine-readable kind, e.g. "json_decode"
---@param message string   what went wrong and what to do, for people
---@param context? table   extra fields copied into the error (line, path, ...)
---@param level? integer   as in error(): 1 = the function calling new, 2 = its caller; 0 = no position
---@return table
function M.new(code, message, context, level)
  local e = {}
  for k, v in pairs(context or {}) do
    e[k] = v
  end
  e.code, e.message = code, message -- context never overrides these
  level = level or 1
  if level > 0 then
    local info = debug.getinfo(level + 1, "Sl")
    if info and info.currentline and info.currentline > 0 then
      e.where = info.short_src .. ":" .. info.currentline .. ": "
    end
  end
  return setmetatable(e, Error)
end

---Raises an error built by new(); `level` counts from the caller of raise.
---@param code string
---@param message string
---@param context? table
---@param level? integer
function M.raise(code, message, context, level)
  level = level or 1
  error(M.new(code, message, context, level > 0 and level + 1 or 0), 0)
end

---True when `err` is the interruption Ctrl-C or SIGTERM raises in the running chunk ("interrupted!",
---lua/engine.cpp): a pcall that catches it must raise it again, never report it as its own failure.
---@param err any
---@return boolean
function M.is_interrupt(err)
  return type(err) == "string" and err:find("interrupted!", 1, true) ~= nil
end

---A pcall's results, passed through: `errors.keep_interrupt(pcall(f, ...))`. When the call failed
---with the interruption (is_interrupt), it is raised again instead, so a pcall that turns failures
---into data never swallows a Ctrl-C that landed inside it.
---@param ok boolean
---@return boolean ok, any ...
function M.keep_interrupt(ok, ...)
  if not ok and M.is_interrupt((...)) then
    error((...), 0)
  end
  return ok, ...
end

---True when `err` is a stdlib error (optionally of the given code).
---@param err any
---@param code? string
---@return boolean
function M.is(err, code)
  return getmetatable(err) == Error and (code == nil or err.code == code)
end

---The messages of a command's JSON envelope's errors ({errors = {text | {message}, ...}}, as
---sidecar.cli.output writes them), for people: `sidecar mcp`, and a queue reading its children.
---@param envelope any  a decoded envelope (anything else: no messages)
---@return string[]
function M.messages(envelope)
  local list = {}
  for i, e in ipairs(type(envelope) == "table" and type(envelope.errors) == "table" and envelope.errors or {}) do
    list[i] = type(e) == "table" and tostring(e.message) or tostring(e)
  end
  return list
end

return M
