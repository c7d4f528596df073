--- Whole files, read at once: the few helpers every layer needs and none should write again.
---
---   local data, why = files.read(path)      -- nil, why when it cannot be opened or read
---   if files.exists(repo .. "/.git") then … end
local M = {}

---A whole file's bytes, or nil and why when it cannot be opened or read (a folder, say).
---@param path string
---@return string|nil data, string? why
function M.read(path)
  local f, why = io.open(path, "rb")
  if not f then
    return nil, why
  end
  local data = f:read("a")
  f:close()
  if data == nil then
    return nil, path .. ": not a readable file"
  end
  return data
end

---Whether `path` can be opened for reading (a file or a folder; `path .. "/."` asks for a folder).
---@param path string
---@return boolean
function M.exists(path)
  local f = io.open(path, "rb")
  if f then
    f:close()
    return true
  end
  return false
end

return M
