--- The repository Sidecar's functions work on when a caller names none: "." (the process's current
--- folder), or the folder a program that embeds Sidecar gave its Host (HostOptions::root), so that
--- a Host works on its repository without changing the process's folder, which every thread shares.
---
---   local repo = o.repo or default_repo.get()
local M = {}

local root -- set(): an absolute folder; nil: "."

---The repository to work on when none is given.
---@return string
function M.get()
  return root or "."
end

---Makes `path` (absolute; nil: back to ".") the repository of this Lua state's functions.
---@param path? string
function M.set(path)
  assert(path == nil or (type(path) == "string" and path:sub(1, 1) == "/"),
    "default_repo.set: expected an absolute folder or nil")
  root = path
end

return M
