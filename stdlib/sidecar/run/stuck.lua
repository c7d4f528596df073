--- Stuck detection that flags before it kills: an agent silent for `stuck_after` (config, default
--- 5 min) is marked on its run record, `attention = {state = "stuck", since, silence_ms, evidence}`,
--- visible in `run list`, `run show`, `--json` and the MCP tools' run answers, and the caller is told
--- (a notice); the mark clears when output resumes (kept in attention_history). Nothing is stopped
--- here: the idle timeout still ends the agent later (stdlib/sidecar/agent/watch.lua calls `flag`
--- and `clear` from its wait loop).
---
---   local watch = stuck.watcher(store, record, { stuck_after_ms = 300000, on_attention = f })
local json = require("sidecar.core.json")
local run_record = require("sidecar.run.record")
local store = require("sidecar.core.store")

local M = {}

---When a run ends, or its agent speaks again: the mark of attention it carries ends, kept in
---record.attention_history (each {state, since, silence_ms, evidence, ended_at}), so an ended run is
---never shown as stuck and every mark it had stays in its history. Returns the record.
---@param record table
function M.settle(record)
  local a = record.attention
  if type(a) == "table" and a.state then
    local history = type(record.attention_history) == "table" and record.attention_history or json.array({})
    history[#history + 1] = { state = a.state, since = a.since, silence_ms = a.silence_ms, evidence = a.evidence,
      ended_at = store.now() }
    record.attention_history = history
  end
  if a ~= nil then
    record.attention = json.null
  end
  return record
end

---The watcher of one run (nil when stuck_after_ms is not a positive number): {after_ms, flag(ms),
---clear()}. Each writes the record through the store; on_attention(record) hears of a flag.
---@param s table  the open store
---@param record table  the run's record (the one the run goes on updating)
---@param o {stuck_after_ms: integer?, on_attention: fun(record: table)?}
---@return table|nil
function M.watcher(s, record, o)
  local after = o.stuck_after_ms
  if math.type(after) ~= "integer" or after <= 0 then
    return nil
  end
  return {
    after_ms = after,
    flag = function(silence_ms)
      record.attention = { state = "stuck", since = store.now(), silence_ms = silence_ms,
        evidence = ("no output for %d s"):format(silence_ms // 1000) }
      run_record.save(s, record)
      if o.on_attention then
        pcall(o.on_attention, record)
      end
    end,
    clear = function()
      run_record.save(s, M.settle(record))
    end,
  }
end

---"stuck: no output for 300 s" for a running run that has the mark, else nil.
---@param run table
---@return string|nil
function M.text(run)
  local a = type(run.attention) == "table" and run.attention or nil
  if not a or (run.status ~= "running" and run.status ~= "queued") then
    return nil
  end
  return ("%s: %s (since %s)"):format(tostring(a.state), tostring(a.evidence), tostring(a.since))
end

return M
