--- What a main agent should know now about a repository's Sidecar work, within a token budget
--- (`sidecar context`, and the `context` tool of `sidecar mcp`): first what needs the user, the runs
--- waiting for a decision with their summaries and blockers; then spend so far, open tasks, recent
--- decisions, and files edited in recent agent sessions. A budget is estimated at 4 characters a token; what does not fit is
--- counted, never cut silently, in the order the sections come (the first matter most).
local json = require("sidecar.core.json")
local review = require("sidecar.task.review")
local text = require("sidecar.core.text")

local M = {}

M.DEFAULT_BUDGET = 2000
M.CHARS_PER_TOKEN = 4
local RECENT_DECISIONS = 10
local LINE_BYTES = 300

local function present(v)
  return v ~= nil and v ~= json.null
end

local function clip(v)
  return present(v) and text.clip(text.visible(tostring(v)), LINE_BYTES) or nil
end

-- Token and cost totals over every run of the store.
local function spend(s)
  local rows = s:usage({ group_by = "" }) or {}
  local t = { runs = 0, input_tokens = 0, output_tokens = 0, total_tokens = 0, cost_usd = 0, cost_reported = 0 }
  for _, r in ipairs(rows) do
    t.runs = t.runs + r.runs
    t.input_tokens = t.input_tokens + r.input.sum
    t.output_tokens = t.output_tokens + r.output.sum
    t.total_tokens = t.total_tokens + r.total.sum
    t.cost_usd = t.cost_usd + r.cost_usd.sum
    t.cost_reported = t.cost_reported + r.cost_usd.reported
  end
  return t
end

local function waiting_runs(s)
  local items = review.queue(s) or {}
  local list = {}
  for i = #items, 1, -1 do -- newest first
    local r = items[i].run
    local blockers = {}
    for j, b in ipairs(type(r.blockers) == "table" and r.blockers or {}) do
      blockers[j] = clip(b)
    end
    list[#list + 1] = { run_id = r.run_id, task_id = r.task_id or json.null, task_title = clip(items[i].task_title)
      or json.null, status = r.status, why = clip(items[i].why) or json.null,
      summary = clip(r.summary or r.failure_reason) or json.null, blockers = json.array(blockers) }
  end
  return list
end

local function open_tasks(s)
  local list = {}
  for _, t in ipairs(s:list_tasks({ limit = 0 }) or {}) do
    if t.status ~= "done" then
      list[#list + 1] = { task_id = t.task_id, title = clip(t.title), status = t.status,
        priority = t.priority or json.null }
    end
  end
  return list
end

local function recent_decisions(s)
  local decided = {}
  for _, r in ipairs(s:list_runs({ limit = 200 }) or {}) do
    if present(r.reviewed_at) and (r.review_state == "approved" or r.review_state == "blocked") then
      decided[#decided + 1] = r
    end
  end
  table.sort(decided, function(a, b) return a.reviewed_at > b.reviewed_at end)
  local list = {}
  for i = 1, math.min(#decided, RECENT_DECISIONS) do
    local r = decided[i]
    list[i] = { run_id = r.run_id, task_id = r.task_id or json.null, review_state = r.review_state,
      reviewed_by = r.reviewed_by or json.null, reviewed_at = r.reviewed_at, note = clip(r.review_note) or json.null }
  end
  return list
end

---The most sessions whose edited files `context` lists.
M.RECENT_SESSIONS = 5

---The files edited in recent Claude Code sessions outside Sidecar runs, as `sidecar hook`
---recorded them (sidecar.agent.hook_record), newest session first.
---@param s table  an open store
---@return table[]  each {session, file}
function M.recent_session_files(s)
  local list = {}
  local sessions = require("sidecar.agent.hook_record").list(s.root)
  for i = 1, math.min(#sessions, M.RECENT_SESSIONS) do
    for _, file in ipairs(sessions[i].files or {}) do
      list[#list + 1] = { session = sessions[i].id, file = file }
    end
  end
  return list
end

-- The line each item makes in the text, per section.
local LINE = {
  review = function(r)
    local task = present(r.task_id) and (", task " .. r.task_id .. (present(r.task_title) and (" " .. r.task_title) or ""))
      or ""
    local l = ("- %s (%s%s): %s"):format(r.run_id, r.status, task, present(r.summary) and r.summary or "no summary")
    for _, b in ipairs(r.blockers) do
      l = l .. "\n    blocker: " .. b
    end
    return l
  end,
  tasks = function(t) return ("- %s [%s] %s"):format(t.task_id, t.status, t.title or "") end,
  decisions = function(d)
    return ("- %s %s by %s%s"):format(d.run_id, d.review_state, present(d.reviewed_by) and d.reviewed_by or "-",
      present(d.note) and (": " .. d.note) or "")
  end,
  session_files = function(f) return ("- %s (%s)"):format(f.file, f.session) end,
}
local SECTIONS = {
  { "review", "Runs waiting for a decision (sidecar run approve|block)" },
  { "tasks", "Open tasks" },
  { "decisions", "Recent decisions" },
  { "session_files", "Files edited in recent sessions" },
}

-- A cost no run reported is said so, never "$0.0000".
local function spend_line(sp)
  local cost = (sp.cost_reported or 0) > 0 and ("$%.4f"):format(sp.cost_usd) or "no cost reported"
  return ("Spend so far: %d runs, %d tokens (input %d, output %d), %s"):format(sp.runs, sp.total_tokens,
    sp.input_tokens, sp.output_tokens, cost)
end

---Gathers the context of the store at `root`, fitted to `budget` tokens. Returns {budget_tokens,
---estimated_tokens, spend, review, tasks, decisions, session_files, omitted = {section = n}},
---or nil and a message.
---@param root string  the .agent folder
---@param budget integer  tokens
function M.gather(root, budget)
  local s, message = require("sidecar.core.store").open(root)
  if not s then
    return nil, message
  end
  require("sidecar.executor.reconcile").reconcile_active(s) -- a run whose owner died waits for a decision too
  local all = { review = waiting_runs(s), tasks = open_tasks(s), decisions = recent_decisions(s),
    session_files = M.recent_session_files(s) }
  local data = { budget_tokens = budget, spend = spend(s), omitted = json.object({}) }
  s:close()
  local left = budget * M.CHARS_PER_TOKEN - #spend_line(data.spend)
  for _, section in ipairs(SECTIONS) do
    local key = section[1]
    local kept = {}
    left = left - #section[2] - 3
    for _, item in ipairs(all[key]) do
      local cost = #LINE[key](item) + 1
      if cost <= left then
        kept[#kept + 1] = item
        left = left - cost
      end
    end
    data[key] = json.array(kept)
    if #kept < #all[key] then
      data.omitted[key] = #all[key] - #kept
    end
  end
  -- The notes of what was left out cost room too: drop from the last sections until it fits.
  local function estimate()
    return (#M.render(data) + M.CHARS_PER_TOKEN - 1) // M.CHARS_PER_TOKEN
  end
  local at = #SECTIONS
  while estimate() > budget and at > 0 do
    local key = SECTIONS[at][1]
    if #data[key] > 0 then
      data[key][#data[key]] = nil
      data.omitted[key] = (data.omitted[key] or 0) + 1
    else
      at = at - 1
    end
  end
  data.estimated_tokens = estimate()
  return data
end

---The context as text for an agent (what `sidecar context` prints): what waits for a decision
---first, then the spend and the other sections.
---@param data table  gather's answer
---@return string
function M.render(data)
  local lines = {}
  for i, section in ipairs(SECTIONS) do
    local key, heading = section[1], section[2]
    local omitted = data.omitted[key]
    if #data[key] > 0 or omitted then
      lines[#lines + 1] = ("\n%s:"):format(heading)
      for _, item in ipairs(data[key]) do
        lines[#lines + 1] = LINE[key](item)
      end
      if omitted then
        lines[#lines + 1] = ("  (%d more not shown: over the budget of %d tokens)"):format(omitted, data.budget_tokens)
      end
    else
      lines[#lines + 1] = ("\n%s: none"):format(heading)
    end
    if i == 1 then
      lines[#lines + 1] = "\n" .. spend_line(data.spend)
    end
  end
  lines[1] = lines[1]:sub(2) -- no blank line above the first
  return table.concat(lines, "\n") .. "\n"
end

return M
