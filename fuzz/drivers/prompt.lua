--- Fuzz driver: the prompt compiler. Task fields from the input go into a compile three ways: a
--- task packet read from the whole input (task_prompt), `task create` fields made from its lines
--- (task_packet.new, then task_prompt), and a worker template of each kind (prompt_kit). Budgets
--- come from the first bytes, small enough that every pass (untrimmed, trimmed, strict) runs.
--- Properties: a compile of fields of the right types never raises; its budget tells the truth
--- about its text; required sections are never cut; lint reads any prompt.
local common = require("fuzz.common")
local prompt = require("sidecar.prompt.compile")
local prompt_kit = require("sidecar.prompt.kit")
local task_packet = require("sidecar.task.packet")
local task_prompt = require("sidecar.task.prompt")

local PASSES = { untrimmed = true, trimmed = true, strict = true }

-- A line's items: it split at ';' (empty items dropped), so one line can hold a long list.
local function items(line)
  local out = {}
  for item in (line or ""):gmatch("[^;]+") do
    out[#out + 1] = item
  end
  return out
end

local function check_budget(text, budget, what)
  if type(text) ~= "string" or type(budget) ~= "table" then
    common.fail("%s: no text and budget", what)
  end
  if budget.estimated_tokens ~= prompt.estimate(text) or not PASSES[budget.pass]
      or budget.over_budget ~= (budget.estimated_tokens > budget.max) then
    common.fail("%s: the budget does not describe the text (pass %s)", what, tostring(budget.pass))
  end
  prompt.explain(budget)
end

local function compile_task(packet, f, b)
  local opts = {
    agent_role = f[16] ~= "" and f[16] or nil, runner = "codex", sandbox = b % 2 == 0 and "read-only" or nil,
    target = 40 + b * 8, max = 60 + b * 12,
    previous = b % 3 == 0 and { run_id = "R-0001", runner = "claude", status = "review",
      validation = { total = 2, passed = 1, failed = 1 }, changed_files = items(f[17]), log = f[18] } or nil,
  }
  local text, budget = task_prompt.compile(packet, opts)
  check_budget(text, budget, "task_prompt.compile")
  local goal = packet.goal
  if type(goal) == "string" and goal ~= "" and not text:find("## Objective\n\n" .. goal, 1, true) then
    common.fail("task_prompt.compile cut the goal, a required section")
  end
  prompt_kit.lint_text(prompt_kit.lint(text))
end

local function from_fields(f, b)
  local packet, problems = task_packet.new({
    title = f[1], goal = f[2], summary = f[3], type = task_packet.TYPES[b % 5 + 1],
    priority = task_packet.PRIORITIES[b % 4 + 1], in_scope = items(f[4]), out_of_scope = items(f[5]),
    files_to_read = items(f[6]), files_to_avoid = items(f[7]), definition_of_done = items(f[8]),
    tags = items(f[9]), validation = f[10],
  })
  if packet then
    compile_task(packet, f, b)
  elseif type(problems) ~= "table" or #problems == 0 then
    common.fail("task_packet.new refused the fields without saying why")
  end
end

local function templates(f, b)
  local o = {
    goal = f[2], non_goals = items(f[3]), constraints = items(f[4]), pointers = items(f[6]),
    prior_decisions = items(f[8]), success_check = b % 2 == 0 and f[11] or items(f[11]), inputs = items(f[12]),
    edits_allowed = ({ true, false })[b % 3 + 1], output_path = f[13], output_format = f[14],
    escalate_when = items(f[15]), privacy = f[16], lens = items(f[17]), target = 40 + b * 8, max = 60 + b * 12,
  }
  for _, kind in ipairs(prompt_kit.KINDS) do
    local text, budget = prompt_kit.compile(kind, o)
    check_budget(text, budget, "prompt_kit.compile " .. kind)
    if not text:find("CONTEXT: WORKER", 1, true) then
      common.fail("prompt_kit.compile %s: the preamble is missing", kind)
    end
    prompt_kit.lint_text(prompt_kit.lint(text))
  end
end

return function(text)
  local b = common.byte(text, 1) % 64
  local packet = task_packet.decode(text)
  local f = common.fields(text, 18)
  if packet then
    compile_task(packet, f, b)
  end
  from_fields(f, b)
  templates(f, b)
end
