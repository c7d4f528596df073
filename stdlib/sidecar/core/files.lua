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

---How many folders lie above `start` up to "/" (the depth of its real path: 2 for /tmp/x), for a
---search upwards that stops at the root rather than trying ".." past it; nil when `start` does
---not resolve (a folder that is gone).
---@param start string
---@return integer|nil
function M.depth(start)
  local here = require("sidecar.host.paths").real(start)
  if not here then
    return nil
  end
  local _, depth = here:gsub("/[^/]+", "")
  return depth
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

---Whether `program` can be run: on PATH, or with a slash an executable file (found as proc.spawn
---finds it: host/process/program_path).
---@param program string
---@return boolean
function M.on_path(program)
  return require("sidecar.host.paths").program(program) ~= nil
end

return M
