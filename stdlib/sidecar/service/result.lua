--- What a service function answers, and the envelope every surface gives of it. A service
--- function (stdlib/sidecar/service/*.lua) does a command's work and returns a result instead of
--- printing: the command line renders it as text or `--json`, `sidecar ui` and `sidecar mcp` send
--- it as they are, none of them reads another's output.
---
---   local result = require("sidecar.service.result")
---   return result.ok(json.array(runs))                       -- {ok = true, data, errors = {}, status = 0, warnings}
---   return result.fail("--limit '-1': expected ...", "usage") -- {ok = false, data = null, errors, status = 2}
---   local envelope = result.envelope(r, "run list", version)  -- {ok, version, command, data, errors[]}
local json = require("sidecar.core.json")
local secrets = require("sidecar.core.secrets")

local M = {}

---A result with `data` (json.null when nil), and `warnings`: what went wrong beside the work, for
---people (the command line writes them on stderr; they are not in the envelope).
---@param data any
---@param warnings? string[]
---@return {ok: boolean, data: any, errors: table[], status: integer, warnings: string[]}
function M.ok(data, warnings)
  return { ok = true, data = data == nil and json.null or data, errors = {}, status = 0, warnings = warnings or {} }
end

---A failed result: one error {code, message}; code "usage" (a request that cannot be taken: exit
---status 2), else "failed" (exit status 1), whatever code a callee gave (an unknown id, a run in
---the wrong state: the message says which; README's codes). `data`: what a caller may still use
---(what was refused, and why), json.null when nil.
---@param message string
---@param code? string
---@param data? any
function M.fail(message, code, data)
  code = code == "usage" and "usage" or "failed"
  return { ok = false, data = data == nil and json.null or data, errors = { { code = code, message = tostring(message) } },
    status = code == "usage" and 2 or 1, warnings = {} }
end

-- The envelope's errors: each {code, message}. A string is a message with the default code; a
-- failure always has at least one (a command that gave no reason gets one saying so).
local function error_entries(command, ok, errors, code)
  local list = {}
  for i, e in ipairs(errors or {}) do
    if type(e) == "table" then
      list[i] = { code = tostring(e.code or code), message = tostring(e.message or e[1] or "") }
    else
      list[i] = { code = code, message = tostring(e) }
    end
  end
  if not ok and #list == 0 then
    list[1] = { code = code, message = command .. " failed (it gave no reason)" }
  end
  return json.array(list)
end

---The envelope of every command's `--json`, of the UI's API and of MCP's results: {ok, version,
---command, data, errors[]}, each error {code, message} (`code` for errors given as strings:
---"failed" unless given). Its values are redacted.
---@param command string  e.g. "store check"
---@param data any  json.null when there is nothing
---@param errors? (string|{code: string, message: string})[]
function M.envelope_of(command, ok, data, errors, version, code)
  return secrets.redact_value({
    ok = ok, version = version or json.null, command = command,
    data = data == nil and json.null or data, errors = error_entries(command, ok, errors, code or "failed"),
  })
end

---The envelope of a result.
---@param r table  a result (M.ok, M.fail)
---@param command string
---@param version? string
function M.envelope(r, command, version)
  return M.envelope_of(command, r.ok, r.data, r.errors, version)
end

return M
