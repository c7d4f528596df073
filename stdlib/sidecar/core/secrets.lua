--- Secrets kept away from agents and out of artifacts.
---   secrets.is_secret_file(path) -> false | true, why   (refused as task input: .env*, keys, ...)
---   secrets.redact(text) -> text, count                 (run over everything written to artifacts)
---   secrets.redact_value(v) -> a copy with every string value redacted (before encoding JSON)
---   secrets.refuse_inputs(paths, label) -> nil | message   (the same refusal for every command)
---   secrets.redact_file(path, max) -> true | nil, message, code   (a file an agent wrote, rewritten)
---   secrets.configure(rules) -> true | nil, message         (config.lua's `secrets` section)
---   secrets.stream() -> s; s:feed(chunk) -> text; s:finish() -> text, count  (a secret cut by a
---                   chunk boundary is still caught; a line is held until it ends)
---   secrets.kinds() -> the labels of the policy's shapes and the matcher's ("openai-key", ...)
---
--- What is secret is data, sidecar.core.secret_rules; the host's redactor is only the matcher.
--- The host reads that file itself, built in as text (so what it prints before any Lua runs is
--- redacted by it too); loaded from SIDECAR_STDLIB_DIR, where it may have been edited, this
--- module hands the file Lua loads to the host (host.set_policy), and that is what applies.
local host = require("sidecar.host.secrets")

-- Built in, the module is the very file the host has read: handing it over again would cost
-- every start about 0.2 ms (a table of some 250 strings copied and compiled) for nothing.
if not package.preload["sidecar.core.secret_rules"] then
  host.set_policy(require("sidecar.core.secret_rules"))
end

local MAX_DEPTH = 1000

local M = {}

M.is_secret_file = host.is_secret_file
M.redact = host.redact
M.stream = host.stream
M.kinds = host.kinds

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

---The refusal of the first secret file among `paths` (inputs a command would hand to an agent),
---or nil when there is none. `label` names the option; a "%d" in it receives the path's index:
---"--input %d" -> "--input 2: '.env' looks like a secrets file (.env*); Sidecar never passes
---such files to an agent — name a redacted copy instead". Every command refuses with it, so the
---words (the rule that matched, what to do instead) are the same everywhere.
---@param paths string[]
---@param label string
---@return string|nil message
function M.refuse_inputs(paths, label)
  for i, p in ipairs(paths or {}) do
    local denied, why = M.is_secret_file(p)
    if denied then
      return (label:find("%d", 1, true) and label:format(i) or label) .. ": " .. why
    end
  end
  return nil
end

---Adds a project's rules to the policy (sidecar.core.secret_rules), for every later redact and is_secret_file in this
---process (config.load calls it with the config's `secrets` section): patterns (token shapes),
---names (secret variable names), allow_names, files (refused input files), allow_files. Rules
---given before are replaced. Returns true, or nil and "<list>[i]: what is wrong".
---@param rules {patterns?: string[], names?: string[], allow_names?: string[], files?: string[], allow_files?: string[]}
function M.configure(rules)
  if type(rules) ~= "table" then
    error("secrets.configure: expected a table of rules, got " .. type(rules), 2)
  end
  local ok, why = require("sidecar.core.errors").keep_interrupt(pcall(host.configure, rules, ""))
  if not ok then
    return nil, tostring(why)
  end
  return true
end

---Rewrites a file that an agent's own processes wrote into its run folder (an agent CLI's final
---message, `codex -o FILE`; the push block's log) with its secrets redacted, atomically (a new
---file beside it, then a rename: a reader sees the old text or the new, never half of it), and
---at most its last `max_bytes` (0 or nil: no bound) after a marker line saying what was dropped.
---Only a regular file is read: a link, FIFO or device there is refused (nil, message; the caller
---removes it). A missing file is left missing. Returns true and {size, dropped, redacted} (nil
---for a missing file), or nil, message, code ("ELOOP", "ENOTREG", "EIO").
---@param path string
---@param max_bytes? integer
function M.redact_file(path, max_bytes)
  return host.redact_file(path, max_bytes or 0)
end

return M
