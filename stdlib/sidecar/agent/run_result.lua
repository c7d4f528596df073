--- What an ended agent left (stdlib/sidecar/agent/run.lua, once its wait is over), read into its
--- run's record, and the files written with the run's last record.
---
---   local final, tsum = run_result.read(record, c)
---   local files = run_result.files(o, record, run, run_dir, tsum, final)
local agent_events = require("sidecar.agent.events")
local agent_result = require("sidecar.agent.result")
local agent_session = require("sidecar.agent.session")
local json = require("sidecar.core.json")
local log_caps = require("sidecar.core.log_caps")
local run_owner = require("sidecar.run.owner")
local store = require("sidecar.core.store")
local telemetry = require("sidecar.core.telemetry")
local text_lines = require("sidecar.core.text")

local M = {}

M.SUMMARY_CHARS = 200 -- the record's summary: the final message's first line, at most this long

-- What the agent spent (its own share of a resumed session's figures) into the record and the
-- telemetry, and the agent events events.jsonl could not keep.
local function spent(record, c, summary, warnings)
  local spec, t = c.run.spec, c.t
  if c.parser then
    local usage, cost = agent_session.own_share(summary, require("sidecar.agent." .. spec.dialect), c.o.resume,
      warnings)
    t:usage(usage, spec.name)
    if cost then
      t:cost(cost, spec.name)
    end
    record.cost_usd = cost
    record.usage_reported, record.cost_reported_usd = summary.usage, summary.cost_usd
  end
  if c.events.dropped > 0 then
    record.events_dropped = c.events.dropped
    warnings[#warnings + 1] = ("events.jsonl keeps the first %d agent events; %d more were not written there "
      .. "(agent.jsonl has the stream)"):format(c.max_events, c.events.dropped)
    t:event("agent.events_dropped", { kept = c.events.kept, dropped = c.events.dropped })
  end
end

---What the ended agent left, read into its record: the outcome, the final message and its markers,
---the changes and git facts, usage and cost, gates and escapees. `c`: {o (execute's options), run
---(resolve's, with its store), run_dir, parser?, r (the wait's result), killed_after_result, refs,
---before, snapshot_why, kept (the sandbox kept the tree as it was: not read), t (telemetry), events = {kept, dropped}, escapees, deadline_ns, max_final,
---max_events}. Returns the final message (or nil) and the telemetry summary.
---@param record table
---@param c table
function M.read(record, c)
  local o, spec, r, parser, t = c.o, c.run.spec, c.r, c.parser, c.t
  local summary = parser and parser:finish() or { usage = agent_events.usage() }
  local warnings = {}
  log_caps.record(record, { { stream = "stdout", file = parser and "agent.jsonl" or "stdout.log", log = r.stdout_log },
    { stream = "stderr", file = "stderr.log", log = r.stderr_log },
    { stream = "terminal", file = "terminal.log", log = r.terminal_log } }, warnings) -- terminal: with `pty`
  local final = agent_result.final_message(record, { spec = spec, run_dir = c.run_dir, parser = parser,
    summary = summary, spawn_failed = r.spawn_failed, max = c.max_final, stdout_log = r.stdout_log }, warnings)
  if not r.spawn_failed then
    record.status, record.failure_reason = agent_result.outcome(r, summary, spec.dialect, c.killed_after_result, o)
  end
  local found = agent_result.apply_markers(record, final, { deadline_ns = c.deadline_ns })
  c.refs:after()
  agent_result.record_changes(record, c.run.repo, c.before, c.snapshot_why, found, c.deadline_ns, c.kept)
  spent(record, c, summary, warnings)
  local tsum = t:summary()
  record.usage = tsum.usage
  record.warnings = #warnings > 0 and json.array(warnings) or nil
  record.session_id = summary.session_id or record.session_id
  record.model = record.model or summary.model
  record.response_model = summary.model -- what answered, as the agent reported it (nil: it did not say)
  record.exit_code, record.signal = r.code, r.signal_name
  record.timed_out = r.timed_out or false
  record.duration_ms = r.duration_ms and math.floor(r.duration_ms) or nil
  record.completed_at = store.now()
  record.summary = text_lines.first_line(final, M.SUMMARY_CHARS) -- linear, whatever the agent wrote
  record.commands_run = json.array(summary.commands or {})
  record.git = c.refs:facts(record.head_before, record.head_after, record.commands_run)
  record.outside = c.refs.outside and require("sidecar.run.outside").compare(c.refs.outside) or nil
  if o.gates then
    local gates = require("sidecar.run.gates") -- loaded only for a run that has gates
    gates.apply(record, gates.evaluate(record, o.task, o.gates))
    t:event("gates", { blocked = #record.gates.blockers > 0, blockers = record.gates.blockers,
      warnings = record.gates.warnings })
  end
  run_owner.apply(record, c.escapees) -- a run something outlived is never a clean review
  if parser then
    agent_result.record_stream(record, summary, c.run_dir)
  end
  return final, tsum
end

---The run's files written with its last record, in one batch (each atomic, their fsyncs side by
---side): model.json, model.md and output.md, as {name, text} pairs.
function M.files(o, record, run, run_dir, tsum, final)
  local spec = run.spec
  local meta = {
    task_id = o.task_id or record.run_id, created_at = record.started_at,
    runner = spec.name == "command" and "command" or (spec.name .. "-cli"),
    model_provider = spec.provider, model = record.model or "default", sandbox = run.sandbox,
    repo = run.repo, command = record.command .. " < " .. run_dir .. "/prompt.md",
  }
  local files = {
    { "model.json", json.encode(telemetry.model_json(meta, tsum), { indent = 2 }) .. "\n" },
    { "model.md", telemetry.model_md(meta, tsum) },
  }
  if final then
    files[#files + 1] = { "output.md", final:sub(-1) == "\n" and final or final .. "\n" }
  end
  return files
end

return M
