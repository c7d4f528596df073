--- The bound on a run's raw logs (agent.jsonl or stdout.log, and stderr.log): `max_log_bytes`
--- per log, 64 MiB unless the config or the caller says otherwise. Past it the log keeps its
--- first and last halves with a marker line between them saying how many bytes were dropped
--- (host/process/log_cap.hpp does the cutting, in the stream sink, after redaction); the parsers, the
--- idle clock and the collected stderr tail still see every byte. The run records each log that
--- was cut in `log_truncated` (counts of the log's bytes, that is after redaction):
---
---   {{stream = "stdout", file = "stdout.log", bytes_seen = 1887436800, bytes_kept = 1048576,
---     bytes_dropped = 1886388224, max_log_bytes = 1048576}}
local byte_size = require("sidecar.core.byte_size")
local json = require("sidecar.core.json")

local M = {}

---The bound when nothing sets one: 64 MiB per log.
M.DEFAULT = 64 * 1024 * 1024

---The bound in bytes from a setting: a size (64MiB, or a number of bytes), false or 0 (no bound:
---0), or nil (the default). Returns nil and why for anything else.
---@param value integer|string|boolean|nil
---@return integer|nil bytes, string? why
function M.resolve(value)
  if value == nil then
    return M.DEFAULT
  elseif value == false or value == 0 then
    return 0
  end
  return byte_size.parse(value)
end

---Records, for each log that passed its bound, what was kept and dropped: `record.log_truncated`
---(absent when none was cut) and a line in `warnings`.
---@param record table  the run record
---@param logs table[]  {stream = "stdout", file = "stdout.log", log = <a proc result's stdout_log>}
---@param warnings string[]
function M.record(record, logs, warnings)
  local cut = {}
  for _, l in ipairs(logs) do
    local log = l.log
    if type(log) == "table" and log.truncated then
      cut[#cut + 1] = { stream = l.stream, file = l.file, bytes_seen = log.seen, bytes_kept = log.kept,
        bytes_dropped = log.dropped, max_log_bytes = log.max_bytes }
      warnings[#warnings + 1] = ("%s passed max_log_bytes (%s): %d of its %d bytes were dropped from its "
        .. "middle"):format(l.file, byte_size.format(log.max_bytes), log.dropped, log.seen)
    end
  end
  record.log_truncated = #cut > 0 and json.array(cut) or nil
end

---Bytes at the end of a cut log that are the stream's own tail (after the marker line).
---@param log table  a proc result's stdout_log
---@return integer
function M.tail_bytes(log)
  return log.max_bytes - log.max_bytes // 2
end

---What `run show` says of each log of the run that was cut (nothing when none was).
---@param record table
---@return string[]
function M.lines(record)
  local out = {}
  if type(record.log_truncated) ~= "table" then
    return out
  end
  for _, c in ipairs(record.log_truncated) do
    if type(c) == "table" then
      out[#out + 1] = ("%s: %s written, %s dropped from its middle (max_log_bytes = %s)"):format(
        tostring(c.file), byte_size.format(c.bytes_seen), byte_size.format(c.bytes_dropped),
        byte_size.format(c.max_log_bytes))
    end
  end
  return out
end

return M
