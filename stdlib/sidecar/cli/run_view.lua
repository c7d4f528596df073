--- How runs look for people: the table of `sidecar run list`, the detail of `sidecar run show`
--- (its --json data is sidecar.service.run_data's), one line per pipeline step, and the review queue.
---
---   local run_view = require("sidecar.cli.run_view")
---   io.write(run_view.list_table(assert(s:list_runs({task_id = "T-0001"}))))
---   io.write(assert(run_view.show(s, "R-0002")))
---   print(run_view.pipeline_line(run))  -- step 1/2  codex  builder  R-0001  review  12.3s  3 files
---
--- Absent values print as "-", unknown token counts as "unknown". Times are the records' UTC
--- ISO-8601 text; STARTED in tables is shortened to "2026-01-02 03:04".
--- Operational failures (a run the store does not hold) return nil, message, code.
local duration = require("sidecar.core.duration")
local gates = require("sidecar.run.gates")
local git_refs = require("sidecar.run.git_refs")
local json = require("sidecar.core.json")
local out = require("sidecar.cli.output")
local run_data = require("sidecar.service.run_data")
local stuck = require("sidecar.run.stuck")

local M = {}

local LABEL_WIDTH = 15 -- "Previous step: "

local present = require("sidecar.service.run_lineage").present

local function text_or_dash(v)
  return present(v) and tostring(v) or "-"
end

-- Small formatters -------------------------------------------------------------------------------

-- "2026-01-02T03:04:05Z" -> "2026-01-02 03:04".
local function short_time(iso)
  if type(iso) ~= "string" then
    return "-"
  end
  local day, hm = iso:match("^(%d%d%d%d%-%d%d%-%d%d)T(%d%d:%d%d)")
  return day and (day .. " " .. hm) or iso
end

local function count(n, noun)
  return n == 1 and ("1 " .. noun) or (n .. " " .. noun .. "s")
end

-- Lines aligned into columns (no header), each prefixed with `indent`.
local function aligned(rows, indent, right)
  if #rows == 0 then
    return {}
  end
  local text = out.table(rows[1], table.move(rows, 2, #rows, 1, {}), right)
  local lines = {}
  for line in text:gmatch("([^\n]*)\n") do
    lines[#lines + 1] = indent .. line
  end
  return lines
end

-- run list ------------------------------------------------------------------------------------------

M.LIST_HEADERS = { "RUN", "TASK", "RUNNER", "ROLE", "STATUS", "REVIEW", "STARTED", "DURATION", "FILES" }

---One row of `sidecar run list` per run (strings, in LIST_HEADERS order).
---@param runs table[]
---@return string[][]
function M.list_rows(runs)
  local rows = {}
  for i, r in ipairs(runs) do
    local files = run_data.files_count(r)
    rows[i] = { text_or_dash(r.run_id), text_or_dash(r.task_id), text_or_dash(r.runner_type),
      text_or_dash(r.agent_role), -- "running (stuck)", "running (waiting_input)"
      text_or_dash(r.status) .. (stuck.text(r) and (" (" .. tostring(r.attention.state) .. ")") or ""),
      text_or_dash(r.review_state),
      short_time(r.started_at or r.created_at), duration.format(run_data.duration_ms(r)), files and tostring(files) or "-" }
  end
  return rows
end

---The table `sidecar run list` prints (DURATION and FILES right-aligned).
---@param runs table[]
---@return string
function M.list_table(runs)
  return out.table(M.LIST_HEADERS, M.list_rows(runs), { [8] = true, [9] = true })
end

-- Pipelines -------------------------------------------------------------------------------------------

local function step_cells(run)
  local files = run_data.files_count(run)
  return { ("step %s/%s"):format(text_or_dash(run.pipeline_step), text_or_dash(run.pipeline_total)),
    text_or_dash(run.runner_type), text_or_dash(run.agent_role), text_or_dash(run.run_id),
    text_or_dash(run.status), duration.format(run_data.duration_ms(run)),
    files and count(files, "file") or "files unknown" }
end

---One line per pipeline step: runner, role, run id, status, duration, changed-file count.
---@param run table
---@return string  e.g. "step 1/2  codex  builder  R-0001  review  12.3s  3 files"
function M.pipeline_line(run)
  return table.concat(step_cells(run), "  ")
end

---The lines of several steps, aligned into columns.
---@param runs table[]
---@return string  one line per run, each ending in "\n"
function M.pipeline_lines(runs)
  local rows = {}
  for i, r in ipairs(runs) do
    rows[i] = step_cells(r)
  end
  local lines = aligned(rows, "", { [6] = true })
  return #lines > 0 and table.concat(lines, "\n") .. "\n" or ""
end

-- run show --------------------------------------------------------------------------------------------

local function add(lines, label, value)
  if present(value) then
    lines[#lines + 1] = ("%-" .. LABEL_WIDTH .. "s%s"):format(label .. ":", tostring(value))
  end
end

local function tokens(v)
  return math.type(v) and out.thousands(v) or "unknown"
end

---Token usage as one line: "input 12,345 (cached 1,000), output 2,345 (reasoning 300), total
---14,690"; "unknown" when nothing was reported.
---@param usage table|nil
---@return string
function M.usage_text(usage)
  if type(usage) ~= "table" then
    return "unknown"
  end
  local known = false
  for _, k in ipairs({ "input", "cached_input", "output", "reasoning_output", "total" }) do
    known = known or math.type(usage[k]) ~= nil
  end
  if not known then
    return "unknown"
  end
  return ("input %s (cached %s), output %s (reasoning %s), total %s"):format(tokens(usage.input),
    tokens(usage.cached_input), tokens(usage.output), tokens(usage.reasoning_output), tokens(usage.total))
end

local function cost_text(cost)
  return type(cost) == "number" and ("$%.4f"):format(cost) or "unknown"
end

-- exit 0 | exit 1 | timed out after 10m00s | no exit code
local function exit_text(v)
  if v.not_run then
    return "not run (untrusted)"
  elseif v.timed_out then
    return math.type(v.timeout_ms) and ("timed out after " .. duration.format(v.timeout_ms)) or "timed out"
  elseif math.type(v.exit_code) then
    return "exit " .. v.exit_code
  end
  return "no exit code"
end

---The validation results of a run: one line per step (ok/FAIL, kind, command, exit code or
---timeout, duration), then a count line.
---@param results table[]
---@return string[]  lines
function M.validation_lines(results)
  if #results == 0 then
    return { "Validation:    none recorded" }
  end
  local rows, failed, timed_out = {}, 0, 0
  for i, v in ipairs(results) do
    local ok = v.ok == true and not v.timed_out
    failed = failed + (ok and 0 or 1)
    timed_out = timed_out + (v.timed_out and 1 or 0)
    rows[i] = { ok and "ok" or (v.not_run and "SKIP" or "FAIL"), text_or_dash(v.kind), text_or_dash(v.command or v.name), exit_text(v),
      duration.format(v.duration_ms) }
  end
  local lines = { "Validation:" }
  table.move(aligned(rows, "  ", { [5] = true }), 1, #rows, 2, lines)
  local summary = ("  %s: %d passed, %d failed"):format(count(#results, "step"), #results - failed, failed)
  if timed_out > 0 then
    summary = summary .. (" (%d timed out)"):format(timed_out)
  end
  lines[#lines + 1] = summary
  return lines
end

local function runner_text(run)
  local extra = {}
  for _, k in ipairs({ "agent_role", "model", "sandbox" }) do
    if present(run[k]) then
      extra[#extra + 1] = (k == "agent_role" and "role" or k) .. " " .. tostring(run[k])
    end
  end
  local name = text_or_dash(run.runner_type)
  return #extra > 0 and (name .. " (" .. table.concat(extra, ", ") .. ")") or name
end

local function review_text(run)
  local state = present(run.review_state) and run.review_state or "pending"
  if not present(run.reviewed_by) then
    return state
  end
  local decision = present(run.review_decision) and (" (" .. run.review_decision .. ")") or ""
  return ("%s%s by %s at %s"):format(state, decision, run.reviewed_by, text_or_dash(run.reviewed_at))
end

local function list_section(lines, heading, items, bullet)
  if type(items) ~= "table" or #items == 0 then
    return
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = heading
  for _, item in ipairs(items) do
    lines[#lines + 1] = "  " .. bullet .. tostring(item)
  end
end

local function lineage_lines(lines, run, l)
  local start = #lines
  if l.replay_of then
    local reason = present(run.replay_reason) and (" (reason: " .. run.replay_reason .. ")") or ""
    add(lines, "Replay of", l.replay_of .. reason)
  end
  if #l.replayed_as > 0 then
    add(lines, "Replayed as", table.concat(l.replayed_as, ", "))
  end
  local r = type(run.reaction) == "table" and run.reaction or nil
  if r then -- stdlib/sidecar/task/reactions.lua
    add(lines, "Reaction", ("%s -> %s%s%s"):format(tostring(r.event), tostring(r.action),
      present(r.stopped) and ("; stopped: " .. r.stopped) or "", r.needs_person and "; needs a person" or ""))
  end
  if l.answer_of then
    local said = text_or_dash(run.answer):gsub("%s+", " ")
    add(lines, "Answer", ("answers %s: %s"):format(l.answer_of, said:sub(1, 200)))
  end
  if #l.answered_by > 0 then
    add(lines, "Answered", "answered by " .. table.concat(l.answered_by, ", "))
  end
  if present(run.pipeline_id) then
    add(lines, "Pipeline", ("%s step %s of %s"):format(run.pipeline_id, text_or_dash(run.pipeline_step),
      text_or_dash(run.pipeline_total)))
    for i, step in ipairs(l.steps) do
      if step.run_id == run.run_id then
        if l.steps[i - 1] then
          add(lines, "Previous step", M.pipeline_line(l.steps[i - 1]))
        end
        if l.steps[i + 1] then
          add(lines, "Next step", M.pipeline_line(l.steps[i + 1]))
        end
      end
    end
  end
  if #lines > start then
    table.insert(lines, start + 1, "")
  end
end

---The text of `sidecar run show R-0001`.
---@param s table  an open store
---@param run table|string  a run record or id
---@return string|nil text, string? message, string? code
---The agent slot a run took (run.json's agent_slot) as one line: "3 of 8 (max_agents), waited 4.7s",
---or why it took none; nil when the record has none.
---@param a table|nil
---@return string|nil
function M.slot_text(a)
  if type(a) ~= "table" then
    return nil
  end
  if a.none then
    return ("none: it ran without the cap on agents (%s)"):format(tostring(a.none))
  end
  local source = require("sidecar.run.agent_slots").source_text(a.source)
  local line = ("%s of %s (%s)"):format(tostring(a.number), tostring(a.cap), source)
  local r = type(a.runner) == "table" and a.runner or nil
  if r then
    line = line .. (r.none and ("; none of %s's own (%s)"):format(tostring(r.name), tostring(r.none))
      or ("; %s of %s of %s's own"):format(tostring(r.number), tostring(r.cap), tostring(r.name)))
  end
  local waited = tonumber(a.waited_ms) or 0
  return line .. (waited > 0 and (", waited " .. duration.format(waited)) or "")
end

function M.show(s, run)
  local r, l, code = run_data.resolve(s, run)
  if not r then
    return nil, l, code
  end
  local lines = {}
  add(lines, "Run", r.run_id)
  if present(r.task_id) then
    local task = s:get_task(r.task_id)
    add(lines, "Task", r.task_id .. (task and present(task.title) and ("  " .. task.title) or ""))
  end
  add(lines, "Runner", runner_text(r))
  add(lines, "Sandbox", M.sandbox_text(r.os_sandbox))
  add(lines, "Limits", require("sidecar.run.sandbox_limits").text(type(r.os_sandbox) == "table" and r.os_sandbox.limits))
  add(lines, "Status", text_or_dash(r.status) .. (r.dry_run == true and r.status ~= "dry_run" and " (dry run)" or "")
    .. (r.phase == "finishing" and (" (finishing: the agent ended %s; its worktree's result and validation are "
      .. "under way)"):format(text_or_dash(r.outcome)) or ""))
  add(lines, "Attention", stuck.text(r))
  add(lines, "Review", review_text(r))
  add(lines, "Note", r.review_note)
  if present(r.prompt_path) then
    add(lines, "Prompt", (s.root and (s.root .. "/") or "") .. r.prompt_path)
  end
  add(lines, "Created", r.created_at)
  add(lines, "Started", r.started_at)
  add(lines, "Completed", r.completed_at)
  add(lines, "Duration", run_data.duration_ms(r) and duration.format(run_data.duration_ms(r)))
  add(lines, "Agent slot", M.slot_text(r.agent_slot))
  add(lines, "Failure", r.failure_reason)
  add(lines, "Summary", r.summary)
  for _, cut in ipairs(require("sidecar.core.log_caps").lines(r)) do -- logs past max_log_bytes
    add(lines, "Log cut", cut)
  end
  lineage_lines(lines, r, l)

  lines[#lines + 1] = ""
  for _, line in ipairs(M.validation_lines(run_data.validation_of(s, r))) do
    lines[#lines + 1] = line
  end
  local files = run_data.files_count(r)
  if files == 0 then
    lines[#lines + 1] = ""
    add(lines, "Changed files", r.tree_kept and ("none (the OS sandbox, " .. tostring(r.tree_kept) ..
      ", kept the work tree read-only)") or "none")
  elseif files then
    list_section(lines, "Changed files (" .. files .. "):", r.changed_files, "")
  else
    lines[#lines + 1] = ""
    add(lines, "Changed files", present(r.changes_unavailable) and ("unknown (" .. r.changes_unavailable .. ")") or "unknown")
  end
  local where = require("sidecar.cli.run_worktree").lines(r.worktree, r.run_id) -- its worktree, patch and branch
  for _, part in ipairs({ where, git_refs.lines(r.git), gates.lines(r.gates) }) do -- what the run did, and its gates
    if #part > 0 then
      lines[#lines + 1] = ""
      table.move(part, 1, #part, #lines + 1, lines)
    end
  end
  list_section(lines, "Blockers:", r.blockers, "- ")
  list_section(lines, "Follow-ups:", r.follow_ups, "- ")
  local details = require("sidecar.cli.run_details").lines(r) -- session, files check, commands, denials, stream
  table.move(details, 1, #details, #lines + 1, lines)
  lines[#lines + 1] = ""
  add(lines, "Usage", M.usage_text(r.usage))
  add(lines, "Cost", cost_text(r.cost_usd))
  return table.concat(lines, "\n") .. "\n"
end


---The OS sandbox of a run (record.os_sandbox), in a line: "bwrap, network model (host:port, ...);
---3 secret files hidden; 12 variables withheld; ~/.claude's writes in …/cli-state/1-.claude;
---reached host:port ×2; 1 connection refused", "off (asked by --os-sandbox)"; nil for a run without.
---@param sb table|nil
function M.sandbox_text(sb)
  if type(sb) ~= "table" then
    return nil
  end
  if sb.kind ~= "bwrap" and sb.kind ~= "landlock" then
    return ("%s (asked by %s)"):format(tostring(sb.kind), tostring(sb.asked_by or "the config"))
  end
  local hosts = type(sb.hosts) == "table" and #sb.hosts > 0 and (" (" .. table.concat(sb.hosts, ", ") .. ")") or ""
  local why = type(sb.network_why) == "string" and (" (" .. sb.network_why .. ")") or ""
  local parts = { ("%s, network %s%s%s"):format(sb.kind, tostring(sb.network), sb.network == "model" and hosts or "", why) }
  if type(sb.chosen) == "string" then
    parts[1] = parts[1] .. " (" .. sb.chosen .. ")"
  end
  if type(sb.put_back) == "table" and #sb.put_back > 0 then
    parts[#parts + 1] = ("the agent changed %s, which Landlock could not keep read-only: put back"):format(
      table.concat(sb.put_back, ", "))
  end
  local hidden = type(sb.hidden) == "table" and ((sb.hidden.files or 0) + (sb.hidden.folders or 0)) or 0
  if hidden > 0 then
    parts[#parts + 1] = ("%d secret file%s or folder%s hidden"):format(hidden, hidden == 1 and "" or "s",
      hidden == 1 and "" or "s")
  end
  local sockets = type(sb.hidden) == "table" and type(sb.hidden.sockets) == "number" and sb.hidden.sockets or 0
  if sockets > 0 then
    parts[#parts + 1] = ("%d socket%s out of reach"):format(sockets, sockets == 1 and "" or "s")
  end
  local withheld = type(sb.withheld_env) == "table" and #sb.withheld_env or 0
  if withheld > 0 then
    parts[#parts + 1] = ("%d variable%s withheld"):format(withheld, withheld == 1 and "" or "s")
  end
  for _, st in ipairs(type(sb.cli_state) == "table" and sb.cli_state or {}) do
    local folder = tostring(st.folder)
    parts[#parts + 1] = ("%s's writes in %s"):format(tostring(st.path), folder:sub(1, 1) == "/" and folder or
      (".agent/" .. folder))
  end
  local reached = {}
  for i, c in ipairs(type(sb.connections) == "table" and sb.connections or {}) do
    if i > 3 then
      reached[#reached + 1] = ("%d more in os_sandbox.connections"):format(#sb.connections - 3)
      break
    end
    reached[#reached + 1] = ("%s:%s ×%s"):format(tostring(c.host), tostring(c.port), tostring(c.count))
  end
  if #reached > 0 then
    parts[#parts + 1] = "reached " .. table.concat(reached, ", ")
  end
  local refused = type(sb.refused) == "table" and #sb.refused or 0
  if refused > 0 then
    parts[#parts + 1] = ("%d connection%s refused"):format(refused, refused == 1 and "" or "s")
  end
  local sockets_refused = type(sb.sockets_refused) == "table" and #sb.sockets_refused or 0
  if sockets_refused > 0 then
    local first = type(sb.sockets_refused[1]) == "table" and tostring(sb.sockets_refused[1].path) or "?"
    parts[#parts + 1] = ("connect refused to %s%s"):format(first, sockets_refused > 1 and
      (" and %d more socket%s"):format(sockets_refused - 1, sockets_refused == 2 and "" or "s") or "")
  end
  if type(sb.socket_guard_off) == "string" then
    parts[#parts + 1] = "no connect guard (" .. sb.socket_guard_off .. ")"
  end
  return table.concat(parts, "; ")
end

-- The review queue ------------------------------------------------------------------------------------

M.QUEUE_HEADERS = { "RUN", "TASK", "TITLE", "RUNNER", "STATUS", "FINISHED", "WHY" }

---The table of the review queue (review.queue's items, oldest first).
---@param items table[]  each {run, task_title?, why}
---@return string
function M.queue_table(items)
  local rows = {}
  for i, item in ipairs(items) do
    local r = item.run
    rows[i] = { text_or_dash(r.run_id), text_or_dash(r.task_id), text_or_dash(item.task_title),
      text_or_dash(r.runner_type), text_or_dash(r.status), short_time(r.completed_at), text_or_dash(item.why) }
  end
  return out.table(M.QUEUE_HEADERS, rows)
end

return M
