--- Secrets kept away from agents and out of artifacts.
---   secrets.is_secret_file(path) -> false | true, why   (refused as task input: .env*, keys, ...)
---   secrets.redact(text) -> text, count                 (run over everything written to artifacts)
---   secrets.redact_value(v) -> a copy with every string value redacted (before encoding JSON)
local host = require("host.secrets")

local MAX_DEPTH = 1000

local M = {}

M.is_secret_file = host.is_secret_file
M.redact = host.redact

local function redacted(v, depth)
  if type(v) == "string" then
    return (host.redact(v))
  end
  if type(v) ~= "table" or depth > MAX_DEPTH then
    return v -- json.encode reports what is wrong with a table nested this deep (or a cycle)
  end
  local out = {}
  for k, x in pairs(v) do
    out[k] = redacted(x, depth + 1)
  end
  return setmetatable(out, getmetatable(v)) -- keeps json.array / json.object marks
end

---A copy of `v` with every string value redacted; keys are kept as they are (a key redacted into
---"[REDACTED:...]" could collide with another). Redacting values before encoding JSON also
---catches a secret holding a quote or backslash, which the encoded text would show escaped.
function M.redact_value(v)
  return redacted(v, 1)
end

return M
