--- What an agent run left behind, read into its record (stdlib/sidecar/agent/run.lua): the final
--- message, the output markers in it, and what changed in the work tree.
local agent_events = require("sidecar.agent.events")
local json = require("sidecar.core.json")
local log_caps = require("sidecar.core.log_caps")
local markers = require("sidecar.agent.markers")
local proc = require("sidecar.core.proc")
local secrets = require("sidecar.core.secrets")
local symlinks_out = require("sidecar.run.symlinks_out")
local text_lines = require("sidecar.core.text")
local worktree = require("sidecar.core.worktree")

local M = {}

local STDERR_REASON = 2000 -- the most of a stderr line a failure reason quotes
---The most of push_attempts.log kept (its end): a line per refused push.
M.MAX_PUSH_LOG = 1024 * 1024

-- The last `max` bytes of a file (the whole when shorter) and its size; nil when unreadable.
local function read_tail(path, max)
  local f = io.open(path, "rb")
  if not f then
    return nil
  end
  local size = f:seek("end")
  f:seek("set", size > max and size - max or 0)
  local text = f:read("a")
  f:close()
  return text, size
end

---The run's final message (at most its last `o.max` bytes) or nil; notes a cut in the record.
---o: spec (the runner), run_dir, parser (nil for plain output), summary (the parser's), spawn_failed, max,
---stdout_log (the proc result's, when stdout.log was bounded).
---@return string|nil
function M.final_message(record, o, warnings)
  local spec, run_dir, parser, summary, max = o.spec, o.run_dir, o.parser, o.summary, o.max
  -- Files the agent's own processes wrote into the run folder, past the redacting stream sinks
  -- (the log of refused pushes and their URLs, the CLI's final message): redacted and bounded
  -- before anything reads them (their ends are what is read), and removed when they cannot be:
  -- a link, a FIFO, a device (the stream's last message stands in).
  local cut -- what redact_file said of the final message file
  for _, f in ipairs({ { "push_attempts.log", M.MAX_PUSH_LOG }, { spec.final_message_file, max } }) do
    local name, bound = f[1], f[2]
    local redacted, info = true, nil
    if name then
      redacted, info = secrets.redact_file(run_dir .. "/" .. name, bound)
    end
    if not redacted then
      os.remove(run_dir .. "/" .. name)
      warnings[#warnings + 1] = info .. " (removed it)"
    elseif info and info.dropped > 0 then
      cut = name == spec.final_message_file and info or cut
      warnings[#warnings + 1] = ("%s was %d bytes: its first %d were dropped, the rest kept"):format(name, info.size,
        info.dropped)
    end
  end
  -- Codex's -o file, else the last message in the stream, else plain stdout; at most its last
  -- `max` bytes, so a flood of output never has to fit in memory.
  local final, size
  if spec.final_message_file then
    final, size = read_tail(run_dir .. "/" .. spec.final_message_file, cut and max + 4096 or max)
    if final and cut then -- its end only, after the marker line redact_file wrote
      final, size = final:match("^[^\n]*\n(.*)$") or "", cut.size
    end
    if final == "" then
      final = nil
    end
  end
  if final == nil then
    if parser then
      final = summary.final_message
      size = final and #final
      final = agent_events.tail(final, max)
    elseif not o.spawn_failed then
      -- A log cut by max_log_bytes ends with the stream's own tail, after the marker line: only
      -- that tail is the end of the output (stdlib/sidecar/core/log_caps.lua).
      local log = o.stdout_log
      local cut = type(log) == "table" and log.truncated
      final, size = read_tail(run_dir .. "/stdout.log", cut and math.min(max, log_caps.tail_bytes(log)) or max)
      size = cut and log.seen or size
    end
  end
  if final and size > #final then
    record.final_message_bytes = size
    warnings[#warnings + 1] = ("the final message has %d bytes: output.md, its markers and the summary use the " ..
      "last %d"):format(size, #final)
  end
  return final
end

---Reads the output markers of the final message into the record; a run the agent itself says is
---blocked (or has a question) becomes blocked. Returns what markers.parse found. `opts` goes to
---markers.parse ({deadline_ns}: the run's deadline bounds the reading).
function M.apply_markers(record, final, opts)
  local found = markers.parse(final or "", opts)
  if record.status == "review" and (found.status == "blocked" or found.status == "question") then
    record.status = "blocked"
    record.blockers = {}
    for _, b in ipairs(found.blockers) do
      record.blockers[#record.blockers + 1] = b.reason
    end
    for _, q in ipairs(found.questions) do
      record.blockers[#record.blockers + 1] = "question: " .. q.text
    end
  end
  record.markers = { status = found.status, progress = json.array(found.progress),
    files_modified = json.array(found.files_modified), complete = found.complete and found.complete.text or json.null,
    warnings = json.array(found.warnings), dropped = found.dropped, stopped_at_line = found.stopped_at_line }
  return found
end

-- record.files_check: the files the agent claims to have modified (found.files_modified) against
-- those that changed.
local function check_claims(record, found, repo)
  if #found.files_modified > 0 then
    local check = markers.check_files(found.files_modified, record.changed_files, repo)
    record.files_check = { confirmed = json.array(check.confirmed),
      claimed_not_changed = json.array(check.claimed_not_changed),
      changed_not_claimed = json.array(check.changed_not_claimed) }
  end
end

---Records what changed in the work tree since `before` (a worktree.snapshot), and whether the
---files the agent claims to have modified match it; reading the changes stops at `deadline_ns`
---(the run's deadline), and then `changes_unavailable` says so. The changed links that lead out of
---the repository go in `symlinks_out` ({{path, target}}; `symlinks_unavailable` when unread).
---`kept` (the OS sandbox that kept the tree as it was, "bwrap": a read-only run's) instead of
---`before`: nothing changed, and record.tree_kept says why it was not read.
function M.record_changes(record, repo, before, snapshot_why, found, deadline_ns, kept)
  if kept then
    record.tree_kept, record.changed_files, record.changes = kept, json.array({}), json.array({})
    check_claims(record, found, repo)
  elseif before then
    local change, change_why = worktree.changes(repo, before, { deadline_ns = deadline_ns })
    if change then
      record.head_before, record.head_after = change.head_before, change.head_after
      record.tree_after = change.tree_after -- the worktree's result, read once (stdlib/sidecar/run/worktree.lua)
      record.changed_files = json.array(worktree.paths(change))
      record.changes = json.array(change.files)
      local links, links_why = symlinks_out.of_change(repo, change.files, change.tree_after)
      record.symlinks_out = links and #links > 0 and links or nil -- the symlinks_out gate's
      record.symlinks_unavailable = links_why
      check_claims(record, found, repo)
    else
      record.changes_unavailable = change_why
    end
  else
    record.changes_unavailable = snapshot_why
  end
end

-- The reasons the run's own hooks gave for the tool calls they denied, by tool_use_id, from the
-- `hook.PreToolUse` lines of events.jsonl that say "deny" (at most its last 4 MiB are read).
local function hook_reasons(run_dir)
  local reasons = {}
  local events = run_dir and read_tail(run_dir .. "/events.jsonl", 4 * 1024 * 1024) or ""
  for line in events:gmatch("[^\n]+") do
    if line:find('"decision":"deny"', 1, true) and line:find('"kind":"hook.PreToolUse"', 1, true) then
      local ok, e = json.try_decode(line)
      local f = ok and type(e) == "table" and type(e.fields) == "table" and e.fields or {}
      if type(f.tool_use_id) == "string" then
        reasons[f.tool_use_id] = f.reason
      end
    end
  end
  return reasons
end

---record.permission_denials: the tool calls the agent was refused (claude's result lists them),
---each {tool, input (the command or file, clipped), by ("hook": the run's own hook denied it,
---with its reason; else Claude Code's permissions)}.
---@param record table
---@param denials table[]  the parser's summary.permission_denials
---@param run_dir? string
function M.record_denials(record, denials, run_dir)
  if #denials == 0 then
    return
  end
  local reasons, list = hook_reasons(run_dir), {}
  for _, d in ipairs(denials) do
    local input = type(d.tool_input) == "table" and d.tool_input or {}
    local what = input.command or input.file_path or input.notebook_path
    local reason = type(d.tool_use_id) == "string" and reasons[d.tool_use_id] or nil
    list[#list + 1] = { tool = type(d.tool_name) == "string" and text_lines.clip(d.tool_name, 100) or json.null,
      input = type(what) == "string" and text_lines.clip(what, 1000) or json.null, by = reason and "hook" or "claude",
      reason = reason }
  end
  record.permission_denials = json.array(list)
end

---record.stream: what the event parser counted (events, unknown types, malformed, odd and
---leniently read lines with samples, retries, errors). Event lines read leniently (bytes that
---were not UTF-8, lone surrogates: stdlib/sidecar/agent/events.lua) are also added to
---record.invalid_utf8, since the fields taken from them hold U+FFFD.
---@param record table
---@param summary table  the parser's
---@param run_dir? string  the run's folder (the hooks' denials: record_denials)
function M.record_stream(record, summary, run_dir)
  M.record_denials(record, summary.permission_denials, run_dir)
  record.stream = {
    events = summary.events, unknown_types = json.object(summary.unknown_types),
    malformed_lines = summary.malformed_lines, cut_mid_line = summary.cut_mid_line or false,
    retries = summary.retries, errors = json.array(summary.errors), warnings = json.array(summary.warnings),
    permission_denials = #summary.permission_denials, tool_calls = #summary.tool_calls,
    malformed_sample = summary.malformed_sample, odd_lines = summary.odd_lines,
    repaired_lines = summary.repaired_lines > 0 and summary.repaired_lines or nil,
    odd_sample = #summary.odd_sample > 0 and json.array(summary.odd_sample) or nil,
    dropped = next(summary.dropped) and json.object(summary.dropped) or nil,
  }
  if summary.repaired_bytes > 0 then
    text_lines.note_invalid_utf8(record, summary.repaired_bytes, { "stream (agent.jsonl)" })
  end
end

-- The line of stderr that says why: the last "Error: ..." line (codex follows it with a stack
-- backtrace), else the last line.
local function reason_line(text)
  if type(text) ~= "string" then
    return nil
  end
  local said
  for line in text:gmatch("[^\n]+") do
    if line:match("^%s*[Ee]rror[:%s]") then
      said = line
    end
  end
  return text_lines.clip(said or text_lines.last_line(text), STDERR_REASON)
end

---The run's outcome from what the process (`r`, proc's result) and its stream (`s`, the parser's
---summary, with a `dialect`) said, most certain first: status and failure reason. `o`: the run's
---options (its timeouts, for the reasons).
---@return string status, string|nil reason
function M.outcome(r, s, dialect, killed_after_result, o)
  if r.interrupted then
    return "interrupted", proc.interrupted_reason()
  elseif killed_after_result then
    return "outcome_unknown", ("the agent gave its final result but did not exit within %d ms; it was stopped"):format(
      o.exit_deadline_ms)
  elseif r.timed_out then
    if r.timeout_reason == "idle" then
      return "failed", ("idle timeout: no output for %d ms; the agent was stopped"):format(o.idle_timeout_ms)
    end
    return "failed", ("wall timeout: still running after %d ms; the agent was stopped"):format(o.timeout_ms)
  elseif dialect == "acp" and s.completed and not s.is_error then
    return s.stop_status or "review", s.stop_why -- the turn's end says it; Sidecar then ended the agent
  elseif dialect and s.cut_mid_line then
    return "outcome_unknown", "the event stream stopped in the middle of a line"
  elseif dialect and s.is_error then
    return "failed", s.failure or "the agent reported an error"
  elseif r.code ~= 0 then
    local why = r.code and ("exited with code " .. r.code) or ("ended by " .. tostring(r.signal_name))
    local said = reason_line(r.stderr)
    return "failed", said and (why .. ": " .. said) or why
  elseif dialect and not s.completed then
    return "outcome_unknown", "the agent exited without a final result event"
  end
  return "review", nil
end

return M
