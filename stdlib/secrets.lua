--- Secrets kept away from agents and out of artifacts.
---   secrets.is_secret_file(path) -> false | true, why   (refused as task input: .env*, keys, ...)
---   secrets.redact(text) -> text, count                 (run over everything written to artifacts)
---   secrets.redact_value(v) -> a copy with every string value redacted (before encoding JSON)
---   secrets.refuse_inputs(paths, label) -> nil | message   (the same refusal for every command)
---   secrets.redact_file(path) -> true | nil, message        (a file an agent wrote, rewritten)
---   secrets.configure(rules) -> true | nil, message         (config.lua's `secrets` section)
---   secrets.stream() -> s; s:feed(chunk) -> text; s:finish() -> text, count  (a secret cut by a
---                   chunk boundary is still caught; a line is held until it ends)
---   secrets.kinds() -> the labels of the built-in shapes ("openai-key", "private-key", ...)
local host = require("host.secrets")

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

---Adds a project's rules to the built-in ones, for every later redact and is_secret_file in this
---process (config.load calls it with the config's `secrets` section): patterns (token shapes),
---names (secret variable names), allow_names, files (refused input files), allow_files. Rules
---given before are replaced. Returns true, or nil and "<list>[i]: what is wrong".
---@param rules {patterns?: string[], names?: string[], allow_names?: string[], files?: string[], allow_files?: string[]}
function M.configure(rules)
  if type(rules) ~= "table" then
    error("secrets.configure: expected a table of rules, got " .. type(rules), 2)
  end
  local ok, why = pcall(host.configure, rules, "")
  if not ok then
    return nil, tostring(why)
  end
  return true
end

local CHUNK = 1 << 16

-- Copies `from` into `to` through the redactor; a stream (host.secrets.stream) keeps a secret cut
-- by a chunk boundary whole.
local function copy_redacted(from, to)
  local stream <close> = host.stream()
  while true do
    local chunk = from:read(CHUNK)
    if not chunk then
      break
    end
    local ok, why = to:write(stream:feed(chunk))
    if not ok then
      return nil, why
    end
  end
  return to:write((stream:finish()))
end

---Rewrites a file that someone else wrote (an agent CLI's final message, `codex -o FILE`) with its
---secrets redacted: a temporary file beside it, then a rename, so a reader sees the old text or the
---new, never half of it. A missing file is left missing (true). Returns true or nil, message.
---@param path string
function M.redact_file(path)
  local from = io.open(path, "rb")
  if not from then
    return true
  end
  local tmp = path .. ".redacting"
  local to, why = io.open(tmp, "wb")
  if not to then
    from:close()
    return nil, "cannot redact " .. path .. ": " .. tostring(why)
  end
  local ok, werr = copy_redacted(from, to)
  from:close()
  local closed, cerr = to:close()
  if ok and closed then
    ok, werr = os.rename(tmp, path)
  end
  if not ok or not closed then
    os.remove(tmp)
    return nil, ("cannot redact %s: %s"):format(path, tostring(werr or cerr))
  end
  return true
end

return M
