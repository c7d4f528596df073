--- Input for a run's terminal (`run --pty`) from other processes: `sidecar run send` and `run
--- attach` drop one file per input into the run's `input/` folder (written aside, then renamed
--- in, so the reader never sees half of one); the process that owns the agent (the background
--- worker, or a foreground `sidecar run`) takes them in order from its wait loop and types their
--- bytes on the terminal. A folder rather than a FIFO: a sender never blocks on a reader that is
--- busy or gone, nothing is lost while the agent is starting, and each input is one atomic file.
---
---   input_channel.post(run_dir, {bytes = "y\r", text = "y", enter = true})   -- a sender
---   for _, e in ipairs(input_channel.take(run_dir)) do h:write(e.bytes) end  -- the owner
local json = require("sidecar.core.json")
local paths = require("sidecar.host.paths")

local M = {}

M.DIR = "input"
M.MAX_BYTES = 64 * 1024 -- one input's most bytes (a paste), and the most taken per call
local sequence = 0

---Makes the run's input folder (the owner does, when the agent starts on a terminal).
---@param run_dir string
---@return boolean|nil ok, string? why
function M.open(run_dir)
  return paths.make_dirs(run_dir .. "/" .. M.DIR)
end

---Whether the run's input folder exists (its owner serves it).
---@param run_dir string
---@return boolean
function M.exists(run_dir)
  return paths.real(run_dir .. "/" .. M.DIR) ~= nil
end

---Posts one input: {bytes = the bytes to type, and what the record says of it: text, key, enter,
---by}. Returns true, or nil and why.
---@param run_dir string
---@param entry table
---@return boolean|nil ok, string? why
function M.post(run_dir, entry)
  if #entry.bytes > M.MAX_BYTES then
    return nil, ("the input is %d bytes; at most %d are typed at once"):format(#entry.bytes, M.MAX_BYTES)
  end
  sequence = sequence + 1
  local me = require("sidecar.host.procinfo").self() or {}
  -- Sorted by name = sent in order: the clock first, then this process and its own count.
  local name = ("%020d-%d-%06d"):format(require("sidecar.host.time").wall_ms() * 1000 + sequence % 1000,
    me.pid or 0, sequence)
  local dir = run_dir .. "/" .. M.DIR .. "/"
  local f, why = io.open(dir .. name .. ".tmp", "wb")
  if not f then
    return nil, ("cannot write the run's input (%s): is the run still going?"):format(why)
  end
  f:write(json.encode(entry))
  f:close()
  local ok, err = os.rename(dir .. name .. ".tmp", dir .. name .. ".in")
  if not ok then
    os.remove(dir .. name .. ".tmp")
    return nil, "cannot post the run's input: " .. tostring(err)
  end
  return true
end

---Takes the inputs waiting in the folder, oldest first (each file removed once read): a list of
---the posted entries. Unreadable or malformed files are dropped.
---@param run_dir string
---@return table[]
function M.take(run_dir)
  local dir = run_dir .. "/" .. M.DIR
  local names = paths.entries(dir)
  local out, total = {}, 0
  for _, name in ipairs(names or {}) do
    if name:match("%.in$") then
      local f = io.open(dir .. "/" .. name, "rb")
      local body = f and f:read(M.MAX_BYTES * 8 + 1024) or ""
      if f then
        f:close()
      end
      os.remove(dir .. "/" .. name)
      local ok, e = json.try_decode(body)
      if ok and type(e) == "table" and type(e.bytes) == "string" then
        out[#out + 1] = e
        total = total + #e.bytes
        if total >= M.MAX_BYTES then
          break -- the rest next time: the loop goes on watching the agent meanwhile
        end
      end
    end
  end
  return out
end

---Removes the input folder and what is left in it (the run has ended).
---@param run_dir string
function M.close(run_dir)
  local dir = run_dir .. "/" .. M.DIR
  for _, name in ipairs(paths.entries(dir) or {}) do
    os.remove(dir .. "/" .. name)
  end
  os.remove(dir)
end

return M
