--- What a codex session used, from its session file (`$CODEX_HOME/sessions/YYYY/MM/DD/rollout-…-<id>.jsonl`):
--- the last `token_count` event's `total_token_usage`, the exact split codex-acp does not report
--- over ACP (it says only `usage_update.used`). In a run's OS sandbox CODEX_HOME is the run's own
--- state folder (sidecar.run.sandbox_state), so that is looked in first.
---
---   local u = codex_session_usage.find({ run_dir .. "/cli-state/1-.codex", os.getenv("CODEX_HOME") }, id)
---   -- {inputTokens, cachedReadTokens, outputTokens, thoughtTokens, totalTokens} (ACP's shape) or nil
local host_json = require("sidecar.host.json")
local paths = require("sidecar.host.paths")

local M = {}

M.MAX_BYTES = 64 * 1024 * 1024 -- a session file larger than this is not read

-- The session file of `id` under `dir` (sessions/…), or nil.
local function session_file(dir, id)
  local found
  local function walk(d, depth)
    for _, name in ipairs(paths.entries(d) or {}) do
      local p = d .. "/" .. name
      local st = paths.lstat(p)
      if found then
        return
      elseif st and st.kind == "directory" and depth < 4 then
        walk(p, depth + 1)
      elseif st and st.kind == "file" and name:sub(1, 8) == "rollout-" and name:sub(-(#id + 6)) == id .. ".jsonl" then
        found = st.size <= M.MAX_BYTES and p or nil
      end
    end
  end
  walk(dir .. "/sessions", 0)
  return found
end

local function count(v)
  return math.type(v) == "integer" and v >= 0 and v or nil
end

---The usage of session `id` in the first of `homes` (CODEX_HOME folders) that holds its file, in
---ACP's shape; nil when none does or it reports no usage.
---@param homes (string|nil)[]
---@param id string|nil
---@return table|nil
function M.find(homes, id)
  if type(id) ~= "string" or not id:match("^[%w-]+$") then
    return nil
  end
  for i = 1, #homes do
    local file = homes[i] and session_file(homes[i], id)
    local f = file and io.open(file, "rb")
    if f then
      local last
      for line in f:lines() do
        if line:find('"token_count"', 1, true) then
          local e = host_json.decode(line)
          local info = type(e) == "table" and type(e.payload) == "table" and e.payload.info
          last = type(info) == "table" and type(info.total_token_usage) == "table" and info.total_token_usage or last
        end
      end
      f:close()
      local input, cached = last and count(last.input_tokens), last and count(last.cached_input_tokens)
      if input and cached and cached <= input then
        return { inputTokens = input - cached, cachedReadTokens = cached, outputTokens = count(last.output_tokens),
          thoughtTokens = count(last.reasoning_output_tokens), totalTokens = count(last.total_tokens) }
      end
    end
  end
  return nil
end

return M
