--- What an ACP agent may do when it asks (`session/request_permission`), decided from the run's
--- sandbox level, as the OS sandbox would have it anyway, so that the agent hears no before it
--- tries rather than a failure after:
---   - a read-only run: reading, searching, thinking and fetching; no edit, deletion, move or
---     command (a command may write);
---   - a writing run: anything whose files (the request's `locations`) lie inside the run's folder
---     (its worktree);
---   - never: a file outside the run's folder, a `git push` or `git tag`, a switch of the agent's
---     own mode (it would lift its own bounds).
--- Each decision says why; sidecar.agent.acp_client records it with the request.
---
---   local decision, why = acp_permission.decide(params, { sandbox = "read-only", root = worktree })
local M = {}

M.READING = { read = true, search = true, think = true, fetch = true }

-- The command a tool call would run, as one string ("" when it names none).
local function command_of(call)
  local raw = type(call.rawInput) == "table" and call.rawInput or {}
  local cmd = raw.command or raw.cmd
  if type(cmd) == "table" then
    local words = {}
    for _, w in ipairs(cmd) do
      words[#words + 1] = type(w) == "string" and w or nil
    end
    cmd = table.concat(words, " ")
  end
  return type(cmd) == "string" and cmd or ""
end

-- Whether `path` lies in `root` (after removing `.` and `..` steps).
local function inside(path, root)
  local parts = {}
  for step in path:gmatch("[^/]+") do
    if step == ".." then
      if #parts == 0 then
        return false
      end
      parts[#parts] = nil
    elseif step ~= "." then
      parts[#parts + 1] = step
    end
  end
  local p = "/" .. table.concat(parts, "/")
  return p == root or p:sub(1, #root + 1) == root .. "/"
end

---"allow" or "deny", and why. params: the request's; run: {sandbox (the run's level), root (the
---folder it works in, real and absolute)}.
---@param params table
---@param run {sandbox: string, root: string}
---@return string decision, string why
function M.decide(params, run)
  local call = type(params.toolCall) == "table" and params.toolCall or {}
  local kind = type(call.kind) == "string" and call.kind or "other"
  local cmd = command_of(call)
  if cmd:find("git%s+push") or cmd:find("git%s+tag") then
    return "deny", "no push or tag leaves a run"
  end
  if kind == "switch_mode" then
    return "deny", "the agent's mode is the run's"
  end
  for _, loc in ipairs(type(call.locations) == "table" and call.locations or {}) do
    local path = type(loc) == "table" and loc.path
    if type(path) ~= "string" or path:sub(1, 1) ~= "/" or not inside(path, run.root) then
      return "deny", ("%s lies outside the run's folder"):format(type(path) == "string" and path or "a location")
    end
  end
  if run.sandbox == "read-only" and not M.READING[kind] then
    return "deny", ("a read-only run: no %s"):format(kind == "execute" and "command" or kind)
  end
  return "allow", run.sandbox == "read-only" and "reading" or "inside the run's folder"
end

return M
