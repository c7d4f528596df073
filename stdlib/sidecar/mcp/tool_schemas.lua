--- What each tool of `sidecar mcp` takes and gives, as the JSON Schemas `tools/list` shows: the
--- input is checked against them (sidecar.mcp.schema) before a tool runs, and a client may check
--- the structuredContent of a result against the output schema. Each tool's annotations tell a
--- client what calling it does (MCP's readOnlyHint, destructiveHint, idempotentHint,
--- openWorldHint: a run reaches an agent's model): none deletes anything.
local json = require("sidecar.core.json")

local M = {}

local function str(description, extra)
  local s = { type = "string", description = description }
  for k, v in pairs(extra or {}) do
    s[k] = v
  end
  return s
end
local NULLABLE_STR = { type = json.array({ "string", "null" }) }
local STRINGS = { type = "array", items = { type = "string" } }
local function strings(description)
  return { type = "array", items = { type = "string" }, description = description }
end
local function object(props, required, extra)
  local s = { type = "object", properties = props, required = json.array(required or {}),
    additionalProperties = false }
  for k, v in pairs(extra or {}) do
    s[k] = v
  end
  return s
end
local WAIT_S = { type = "integer", minimum = 0, maximum = 3600,
  description = "Seconds to wait for the run to end (default 300); then the result has status \"running\": "
    .. "call run_wait" }
local RUN_ID = str("A run id: R-0001", { maxLength = 64 })

-- A run's bounded summary (sidecar.mcp.tools.run_summary).
local RUN = {
  type = "object",
  properties = {
    run_id = { type = "string" }, task_id = NULLABLE_STR, status = { type = "string" },
    review_state = NULLABLE_STR, runner = NULLABLE_STR, summary = NULLABLE_STR, failure_reason = NULLABLE_STR,
    changed_files = STRINGS,
    validation = { type = "array", items = { type = "object" } },
    usage = { type = json.array({ "object", "null" }) },
    cost_usd = { type = json.array({ "number", "null" }) },
    blockers = STRINGS,
    budget_exceeded = { type = json.array({ "object", "null" }) }, -- {scope, kind, limit, spent}: a budget stopped it
    attention = { type = json.array({ "object", "null" }) }, -- {state, since, evidence}: stuck, waiting_input
  },
  required = json.array({ "run_id", "status", "summary", "changed_files", "validation", "usage", "cost_usd",
    "blockers" }),
}

M.TOOLS = {
  { name = "task_create", title = "Create a task",
    annotations = { title = "Create a task", readOnlyHint = false,
      destructiveHint = false, idempotentHint = false, openWorldHint = false },
    description = "Create a task packet (T-0001, ...) in this repository's Sidecar store: a bounded piece of work "
      .. "a sidecar agent can run. Then run_task runs it.",
    input = object({
      title = str("Short title", { maxLength = 200 }), goal = str("What done looks like"),
      summary = str("What the task is about"),
      type = { type = "string", enum = json.array({ "feature", "bug", "chore", "research" }) },
      validate = str("Validation after each run, as `sidecar task create --validate-cmds`: "
        .. "\"test:npm test,lint@60s:npm run lint\""),
      read = strings("Files the agent should read first"), avoid = strings("Files the agent must not change"),
      depends_on = strings("Tasks that must be done first (T-0001)"),
    }, { "title", "goal" }),
    output = object({ task_id = { type = "string" }, status = { type = "string" }, title = { type = "string" } },
      { "task_id" }),
  },
  { name = "run_task", title = "Run a task on a sidecar agent",
    annotations = { title = "Run a task on a sidecar agent", readOnlyHint = false,
      destructiveHint = false, idempotentHint = false, openWorldHint = true },
    description = "Run a task on an agent CLI (codex, claude, or a runner of .agent/config.lua) in the background, "
      .. "and wait for it to end (at most wait_s). Gives the run's summary, changed files, validation, usage, "
      .. "cost and blockers; the run then waits for a decision (run_decide, or a person).",
    input = object({
      task_id = str("The task: T-0001"), runner = str("codex, claude, command or a runner of config.lua"),
      role = str("The agent role, passed into the prompt"), model = str("The model the runner asks for"),
      sandbox = { type = "string", enum = json.array({ "read-only", "workspace-write", "danger-full-access" }) },
      wait_s = WAIT_S,
      budget_tokens = { type = "integer", minimum = 1,
        description = "Stop the run once it reports this many tokens (status budget_exceeded)" },
      budget_usd = { type = "number", exclusiveMinimum = 0,
        description = "Stop the run once it reports this cost in US dollars (runners that report one: claude)" },
    }, { "task_id" }),
    output = RUN,
  },
  { name = "run_wait", title = "Wait for a run",
    annotations = { title = "Wait for a run", readOnlyHint = true,
      destructiveHint = false, idempotentHint = true, openWorldHint = false },
    description = "Wait for a run to end (at most wait_s) and give its summary.",
    input = object({ run_id = RUN_ID, wait_s = WAIT_S }, { "run_id" }),
    output = RUN,
  },
  { name = "run_show", title = "Show a run",
    annotations = { title = "Show a run", readOnlyHint = true,
      destructiveHint = false, idempotentHint = true, openWorldHint = false },
    description = "One run's summary: status, review state, summary, changed files, validation, usage, cost, "
      .. "blockers.",
    input = object({ run_id = RUN_ID }, { "run_id" }),
    output = RUN,
  },
  { name = "run_list", title = "List runs",
    annotations = { title = "List runs", readOnlyHint = true,
      destructiveHint = false, idempotentHint = true, openWorldHint = false },
    description = "Runs, newest first.",
    input = object({
      status = str("Only runs with this status (review, completed, blocked, running, failed, budget_exceeded, ...)"),
      task_id = str("Only runs of this task"),
      limit = { type = "integer", minimum = 1, maximum = 500, description = "At most this many (default 20)" },
    }),
    output = object({ runs = { type = "array", items = { type = "object" } } }, { "runs" }),
  },
  { name = "run_decide", title = "Approve or block a run",
    annotations = { title = "Approve or block a run", readOnlyHint = false,
      destructiveHint = false, idempotentHint = false, openWorldHint = false },
    description = "Decide on a run waiting for review: approve (its task is done) or block (its task is blocked "
      .. "with the note as the reason). Refused unless .agent/config.lua has mcp = { allow_decide = true }.",
    input = object({
      run_id = RUN_ID, decision = { type = "string", enum = json.array({ "approve", "block" }) },
      note = str("Why: the decision's rationale (a block's reason)"),
    }, { "run_id", "decision", "note" }),
    output = object({ run_id = { type = "string" }, status = { type = "string" }, review_state = NULLABLE_STR,
      reviewed_by = NULLABLE_STR }, { "run_id", "status" }),
  },
  { name = "preset_list", title = "List presets",
    annotations = { title = "List presets", readOnlyHint = true,
      destructiveHint = false, idempotentHint = true, openWorldHint = false },
    description = "Every preset (orchestration script) this repository can run: name, what it does, origin.",
    input = object({}),
    output = object({ presets = { type = "array", items = { type = "object" } } }, { "presets" }),
  },
  { name = "preset_run", title = "Run a preset",
    annotations = { title = "Run a preset", readOnlyHint = false,
      destructiveHint = false, idempotentHint = false, openWorldHint = true },
    description = "Run a preset (see preset_list) on this repository and give its report: ok, the text for "
      .. "people, its data, the runs it made.",
    input = object({
      preset = str("The preset's name"),
      params = { type = "object", description = "Parameters: {\"NAME\": value}",
        additionalProperties = { type = json.array({ "string", "number", "boolean", "array" }) } },
      runner = str("Send every agent step to this runner"),
      dry_run = { type = "boolean", description = "Record each agent step's prompt; run none" },
    }, { "preset" }),
    output = object({ ok = { type = "boolean" }, text = NULLABLE_STR, data = {}, runs = STRINGS,
      errors = STRINGS }, { "ok", "text", "data" }),
  },
  { name = "context", title = "What to know now",
    annotations = { title = "What to know now", readOnlyHint = true,
      destructiveHint = false, idempotentHint = true, openWorldHint = false },
    description = "What a main agent should know now, as `sidecar context`: runs waiting for review with their "
      .. "summaries and blockers first, then spend so far, open tasks, recent decisions.",
    input = object({}),
    output = { type = "object" },
  },
}

return M
