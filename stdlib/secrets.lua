--- Secrets kept away from agents and out of artifacts.
---   secrets.is_secret_file(path) -> false | true, why   (refused as task input: .env*, keys, ...)
---   secrets.redact(text) -> text, count                 (run over everything written to artifacts)
local host = require("host.secrets")

local M = {}

M.is_secret_file = host.is_secret_file
M.redact = host.redact

return M
