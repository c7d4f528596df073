--- The work of one prompt of `sidecar acp`, in a process of its own (`sidecar acp --turn`), so that
--- the server keeps reading its client (a cancel, other sessions) while an agent works. The request
--- comes as one JSON object on stdin; the process runs it here and now through the service layer
--- (a task created and run, or a preset), and writes to stdout one JSON object a line: the run
--- events of this process's bus as they are published ({event = {run_id, kind, fields}}, the kinds
--- the server shows), then {result = {ok, errors} (the envelope's), text = the answer, task_id?}.
--- An interrupt (the server's SIGINT when its client cancels, or its death) ends the runs as Ctrl-C
--- does: recorded `interrupted`, then {interrupted = true}.
---
---   request: {kind = "task", root, title, goal, sandbox?}
---          | {kind = "preset", root, repo, name, params = {"k=v", ...}}
local errors = require("sidecar.core.errors")
local json = require("sidecar.core.json")
local preset_run = require("sidecar.service.preset_run")
local result = require("sidecar.service.result")
local run_events = require("sidecar.core.run_events")
local run_start = require("sidecar.service.run_start")
local runs = require("sidecar.task.runs")
local store = require("sidecar.core.store")
local tasks = require("sidecar.service.tasks")
local text = require("sidecar.core.text")

local M = {}

M.ANSWER_BYTES = 256 * 1024 -- what the answer holds at most (a task's output.md, a preset's report)

-- The kinds the server turns into updates (sidecar.acp.turn); the agent's own stay in events.jsonl.
local FORWARDED = { ["run.started"] = true, ["run.finished"] = true, usage = true, cost = true,
  ["validation.started"] = true, ["validation.finished"] = true, gates = true }

-- The answer of a task's runs: each step's output.md (a pipeline's, one after the other), else
-- what the run said of its end.
local function task_answer(root, r)
  local s = store.open(root)
  local parts = {}
  for _, run in ipairs(r.steps or {}) do
    local said = s and runs.run_file(s, run, "output.md")
    if not (said and said:find("%S")) then
      said = ("%s ended %s%s"):format(run.run_id, tostring(run.status),
        type(run.failure_reason) == "string" and (": " .. run.failure_reason) or "")
    end
    parts[#parts + 1] = said
  end
  if s then
    s:close()
  end
  return table.concat(parts, "\n\n")
end

local function run_task(req, version)
  local created = tasks.create({ root = req.root, title = req.title, goal = req.goal, read = {}, avoid = {},
    depends_on = {}, tags = {}, done_when = {}, validate_cmds = {} })
  if not created.ok then
    return result.envelope(created, "task create", version)
  end
  local r = run_start.start({ root = req.root, task = created.data.task_id, sandbox = req.sandbox })
  return result.envelope(r, "run", version), task_answer(req.root, r), created.data.task_id
end

local function run_preset(req, version)
  local r = preset_run.run({ repo = req.repo, name = req.name, params = req.params })
  local said = r.data ~= json.null and type(r.data) == "table" and r.data.text or nil
  return result.envelope(r, "preset run", version), said
end

---Runs `req` and writes its lines with `write(table)`. Returns the exit status: 0 when the work
---went well, 1 when it did not, 130 when interrupted.
---@param req table
---@param write fun(message: table)
---@param version string
---@return integer
function M.run(req, write, version)
  local sub <close> = run_events.subscribe(function(e)
    if FORWARDED[e.kind] then
      write({ event = { run_id = e.run_id, kind = e.kind, fields = e.fields } })
    end
  end)
  local work = req.kind == "preset" and run_preset or run_task
  local ok, envelope, answer, task_id = pcall(work, req, version)
  if not ok then
    if errors.is_interrupt(envelope) then
      write({ interrupted = true })
      return 130
    end
    error(envelope, 0)
  end
  -- What the server says of it: whether it went well, its errors, the answer (the records are in the store).
  write({ result = { ok = envelope.ok, errors = envelope.errors }, text = answer and text.clip(answer, M.ANSWER_BYTES)
    or json.null, task_id = task_id })
  return envelope.ok and 0 or 1
end

return M
