--- A task packet compiled into the prompt an agent gets: the sections Sidecar users know, in
--- order (Task, Objective, Why this matters, In scope, Out of scope, Read these first, Avoid
--- changing, Linked context, Previous runner context, Constraints, Validation, Definition of
--- done, Runner guidance, Final response format), fitted to the token budget by `prompt`.
---
---   local text, budget = task_prompt.compile(task, {agent_role = "builder", sandbox = "read-only",
---                                                  previous = previous_step})
local prompt = require("sidecar.prompt.compile")

local M = {}

local LOG_TAIL_LINES = 20

local function get(t, ...)
  for _, k in ipairs({ ... }) do
    if type(t) ~= "table" then
      return nil
    end
    t = t[k]
  end
  return t
end

local function list(t, ...)
  local v = get(t, ...)
  return type(v) == "table" and v or {}
end

local function concat(...)
  local out = {}
  for _, l in ipairs({ ... }) do
    for _, v in ipairs(l) do
      out[#out + 1] = v
    end
  end
  return out
end

local function validation_lines(task)
  local out = {}
  for _, v in ipairs(list(task, "execution", "commands", "validation")) do
    if type(v) == "string" then
      out[#out + 1] = ("custom: `%s`"):format(v)
    else
      out[#out + 1] = ("%s: `%s`"):format(v.kind or "custom", v.command)
    end
  end
  return out
end

---The "Previous runner context" of a pipeline step: what the step before it did.
---@param p table  {run_id, runner, agent_role, status, validation = {total, passed, failed}, changed_files, log}
function M.previous_context(p)
  local v = p.validation or {}
  local lines = {
    ("Run %s by %s%s ended %s."):format(p.run_id, p.runner, p.agent_role and (" as " .. p.agent_role) or "",
      p.status),
    ("Validation: %d passed, %d failed of %d."):format(v.passed or 0, v.failed or 0, v.total or 0),
  }
  local files = p.changed_files or {}
  lines[#lines + 1] = #files > 0 and ("Changed files: " .. table.concat(files, ", ") .. ".") or "Changed files: none."
  if p.log and p.log ~= "" then
    local tail = {}
    for line in (p.log .. "\n"):gmatch("([^\n]*)\n") do
      tail[#tail + 1] = line
    end
    local from = math.max(1, #tail - LOG_TAIL_LINES + 1)
    lines[#lines + 1] = "Last lines of its output:\n\n```\n" .. table.concat(tail, "\n", from) .. "\n```"
  end
  return table.concat(lines, "\n")
end

local function guidance(o)
  local edits = o.sandbox == "read-only"
      and "This run is read-only: do not edit files; report what you would change."
      or "You may edit files in the work tree; keep changes to what the task needs."
  local lines = { edits }
  if o.agent_role then
    lines[#lines + 1] = ("Act as: %s."):format(o.agent_role)
  end
  lines[#lines + 1] = "If you cannot go on without a decision, stop and say so with [BLOCKED] or [QUESTION]."
  lines[#lines + 1] = "Write the result to your final message: Sidecar saves it as the run's output.md."
  lines[#lines + 1] = "Privacy: quote no secrets, credentials or personal data, and no raw logs beyond what the task needs."
  return table.concat(lines, "\n")
end

local FINAL_FORMAT = table.concat({
  "End with a short summary of what you did and found. Use these markers, each at the start of a line:",
  "- `[PROGRESS] text` for a step done",
  "- `[BLOCKED] reason` (then context lines) when you cannot finish",
  "- `[QUESTION] question` then `Options:` and numbered lines when a decision is needed",
  "- `[FILES_MODIFIED]` then `- path (created|modified|deleted)` lines for every file you changed",
  "- `[CODEX_COMPLETE] summary` only when the task is done and nothing is blocked",
}, "\n")

---The prompt text and its budget. opts: agent_role, runner, sandbox, previous (see
---previous_context), target, max.
function M.compile(task, o)
  o = o or {}
  local head = ("# Task %s: %s"):format(task.task_id or "?", task.title or "(untitled)")
  local facts = {}
  for _, f in ipairs({ { "Type", task.type }, { "Priority", task.priority }, { "Agent role", o.agent_role },
    { "Runner", o.runner } }) do
    if f[2] then
      facts[#facts + 1] = ("%s: %s"):format(f[1], f[2])
    end
  end
  local sections = {
    { title = "Task", content = table.concat(facts, "\n"), required = true },
    { title = "Objective", content = task.goal, required = true },
    { title = "Why this matters", content = task.summary },
    { title = "In scope", list = list(task, "scope", "in_scope"), trim = "trim-last", limit = 10, strict_limit = 5,
      label = "items" },
    { title = "Out of scope", list = list(task, "scope", "out_of_scope"), trim = "trim-last", limit = 10,
      strict_limit = 5, label = "items" },
    { title = "Read these first", list = list(task, "implementation", "files_to_read"), trim = "trim-last",
      limit = 12, strict_limit = 5, label = "files" },
    { title = "Avoid changing", list = list(task, "implementation", "files_to_avoid"), trim = "keep" },
    { title = "Linked context", list = concat(list(task, "context", "related_decisions"),
      list(task, "context", "related_notes")), trim = "drop", limit = 6, strict_limit = 3, label = "notes" },
    { title = "Previous runner context", content = o.previous and M.previous_context(o.previous) or nil,
      required = true },
    { title = "Constraints", list = concat(list(task, "constraints", "technical"), list(task, "constraints", "design")),
      trim = "trim-last", limit = 10, strict_limit = 5, label = "constraints" },
    { title = "Validation", list = validation_lines(task), trim = "keep" },
    { title = "Definition of done", list = list(task, "definition_of_done"), trim = "trim-last", limit = 10,
      strict_limit = 6, label = "items" },
    { title = "Runner guidance", content = guidance(o), required = true },
    { title = "Final response format", content = FINAL_FORMAT, required = true },
  }
  return prompt.compile(sections, { header = head, target = o.target, max = o.max })
end

return M
