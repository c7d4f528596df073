--- Preset runs started from `sidecar ui`: a preset can run for minutes, and the server answers one
--- request at a time, so the page's "run" starts `sidecar preset run NAME --json -p K=V…` as a
--- detached process (the same command a user types) whose envelope goes to
--- `.agent/ui/preset-runs/<id>/report.json`; the page asks for it by id until the process has ended.
---
---   local id = assert(preset_runs.start(root, "review", { base = "main" }))
---   local state = preset_runs.state(root, id) -- {id, running, report (the envelope) | null}
local artifact = require("sidecar.core.artifact")
local json = require("sidecar.core.json")
local proc = require("sidecar.core.proc")
local start_of = require("sidecar.run.processes").start_of

local M = {}

local DIR = "ui/preset-runs"

-- A new id, unique in the folder: the time, then a counter (the folder is made with one mkdir).
local function claim(dir)
  local stamp = os.date("!%Y%m%dT%H%M%S")
  for n = 1, 100 do
    local id = ("P-%s-%d"):format(stamp, n)
    if dir:create_dir(DIR .. "/" .. id) then
      return id
    end
  end
  return nil, "could not make a folder for the preset run in .agent/" .. DIR
end

---Starts `sidecar preset run name --json` with `params` ({name = text}) in the background.
---@param root string  the store's `.agent` folder
---@param name string
---@param params table<string, string>
---@return string|nil id, string? message
function M.start(root, name, params)
  local dir, message = artifact.open(root)
  if not dir then
    return nil, message
  end
  dir:make_dirs(DIR)
  local id, why = claim(dir)
  if not id then
    dir:close()
    return nil, why
  end
  local cmd = { proc.executable(), "preset", "run", name, "--json", "--repo", root .. "/.." }
  local keys = {}
  for k in pairs(params) do
    keys[#keys + 1] = k
  end
  table.sort(keys)
  for _, k in ipairs(keys) do
    cmd[#cmd + 1] = "--param"
    cmd[#cmd + 1] = k .. "=" .. params[k]
  end
  local folder = root .. "/" .. DIR .. "/" .. id
  local started, pid = pcall(proc.detach, cmd, { cwd = root .. "/..", stdout = folder .. "/report.json",
    stderr = folder .. "/progress.log" })
  if not started then
    dir:close()
    return nil, type(pid) == "table" and pid.message or tostring(pid)
  end
  dir:write_json(DIR .. "/" .. id .. "/started.json", { id = id, preset = name, params = params, pid = pid,
    start = start_of(pid) or json.null })
  dir:close()
  return id
end

---What a preset run has come to: still running, or its report (the command's envelope).
---@param root string
---@param id string
---@return table|nil state  {id, preset, running, report, progress}
---@return string? message
function M.state(root, id)
  local dir, message = artifact.open(root)
  if not dir then
    return nil, message
  end
  local started = dir:read_json(DIR .. "/" .. id .. "/started.json")
  if type(started) ~= "table" then
    dir:close()
    return nil, ("no preset run %s"):format(id)
  end
  -- Its pid and start time together: a pid reused by another process is not this run.
  local running = math.type(started.pid) == "integer" and proc.alive(started.pid)
    and start_of(started.pid) == (started.start ~= json.null and started.start or nil)
  local text = dir:read(DIR .. "/" .. id .. "/report.json") or ""
  local progress = dir:read(DIR .. "/" .. id .. "/progress.log") or ""
  dir:close()
  local report = json.null
  if not running then
    local ok, value = json.try_decode(text)
    report = ok and type(value) == "table" and value or json.null
  end
  return { id = id, preset = started.preset, params = started.params, running = running, report = report,
    progress = progress:sub(-4000) }
end

return M
