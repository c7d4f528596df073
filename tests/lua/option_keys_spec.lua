-- A misspelt key in an options table is refused by every public function that takes one: a
-- bad_option error naming the function, the key, the known ones, and the caller's line. (proc and
-- validation.run check theirs in their own words: proc_options_spec.lua, validation_spec.lua.)
local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect

local errors = require("sidecar.core.errors")
local option_keys = require("sidecar.core.option_keys")

-- The error `fn` raises: a bad_option error with `text` in its message, raised at a line of this file.
local function refused(fn, text)
  local err = expect(fn):raises(text)
  expect(errors.is(err, "bad_option")):is_true()
  expect(tostring(err.where)):contains("option_keys_spec.lua:")
  return err
end

describe("option_keys", function()
  it("names the key, the one it was likely meant to be, and the known ones", function()
    expect(option_keys.unknown_message("f", "timout_ms", { "timeout_ms", "cwd" }))
      :equals("f: unknown option `timout_ms` (did you mean `timeout_ms`?) (known: timeout_ms, cwd)")
    expect(option_keys.unknown_message("f", "zzz", { "cwd" })):equals("f: unknown option `zzz` (known: cwd)")
  end)
end)

describe("the public functions refuse an unknown option", function()
  it("proc: spawn, run, detach, signal, parallel and its specs", function()
    local proc = require("sidecar.core.proc")
    refused(function() proc.run({ "true" }, { timout_ms = 5 }) end, "proc.run: unknown option 'timout_ms' (options: ")
    refused(function() proc.spawn({ "true" }, { timout_ms = 5 }) end, "proc.spawn: unknown option 'timout_ms'")
    refused(function() proc.detach({ "true" }, { timeout_ms = 5 }) end,
      "proc.detach: unknown option 'timeout_ms' (options: clear_env, cwd, env, stderr, stdout)")
    refused(function() proc.signal(2147483647, "TERM", { grup = true }) end,
      "proc.signal: unknown option 'grup' (options: group)")
    refused(function() proc.parallel({}, { max_job = 2 }) end,
      "proc.parallel: unknown option 'max_job' (options: fail_fast, max_jobs)")
    refused(function() proc.parallel({ { "true", timout_ms = 5 } }) end,
      "proc.parallel: specs[1]: unknown option 'timout_ms'")
  end)

  it("duration.parse", function()
    local duration = require("sidecar.core.duration")
    refused(function() duration.parse("5m", { bar = false }) end,
      "duration.parse: unknown option `bar` (did you mean `bare`?) (known: bare)")
    expect(duration.parse("5m", { bare = false })):equals(300000)
  end)

  it("artifact.open and telemetry.open", function()
    local root = test.temp_dir()
    refused(function() require("sidecar.core.artifact").open(root, { craete = true }) end,
      "artifact.open: unknown option `craete` (did you mean `create`?) (known: create)")
    refused(function() require("sidecar.core.telemetry").open(root, { runid = "R-0001" }) end,
      "telemetry.open: unknown option `runid` (did you mean `run_id`?) (known: file, run_id)")
  end)

  it("worktree: tree_snapshot, start_snapshot, snapshot, changes", function()
    local worktree = require("sidecar.core.worktree")
    local root = test.temp_dir()
    refused(function() worktree.tree_snapshot(root, nil, { keep_idx = true }) end,
      "worktree.tree_snapshot: unknown option `keep_idx` (did you mean `keep_index`?) "
      .. "(known: keep_index, max_untracked_bytes, leave_out)")
    refused(function() worktree.start_snapshot(root, nil, { keep_index = true }) end,
      "worktree.start_snapshot: unknown option `keep_index` (known: max_untracked_bytes, leave_out)")
    refused(function() worktree.snapshot(root, nil, { deadline = 1 }) end,
      "worktree.snapshot: unknown option `deadline` (did you mean `deadline_ns`?) (known: max_hash_bytes, deadline_ns)")
    refused(function() worktree.changes(root, {}, { max_hash_bytes = 1 }) end,
      "worktree.changes: unknown option `max_hash_bytes` (known: deadline_ns)")
  end)

  it("store: open, create_run and the query tables", function()
    local store = require("sidecar.core.store")
    local root = test.temp_dir() .. "/.agent"
    refused(function() store.open(root, { craete = true }) end,
      "store.open: unknown option `craete` (did you mean `create`?) (known: create, durable_fsync, ")
    local s <close> = assert(store.open(root, { create = true }))
    refused(function() s:create_run({}, nil, { copy_latter = true }) end,
      "store:create_run: unknown option `copy_latter` (did you mean `copy_later`?) (known: copy_later)")
    refused(function() s:list_tasks({ statu = "draft" }) end,
      "store:list_tasks: unknown option `statu` (did you mean `status`?) (known: status, text, limit)")
    refused(function() s:count_tasks({ test = "x" }) end,
      "store:count_tasks: unknown option `test` (did you mean `text`?)")
    refused(function() s:list_runs({ task = "T-0001" }) end,
      "store:list_runs: unknown option `task` (did you mean `task_id`?) (known: status, statuses, task_id, runner, "
      .. "preset, text, before, after, review_states, oldest_first, limit)")
    refused(function() s:count_runs({ statuss = { "review" } }) end, "store:count_runs: unknown option `statuss`")
    refused(function() s:usage({ by = "runner" }) end,
      "store:usage: unknown option `by` (known: since, until, group_by, task_id, budget_group)")
    expect(s:usage({ group_by = "", task_id = "T-0001", budget_group = "g" })):equals({})
    expect(s:count_runs({ status = "review", limit = 1 })):equals(0) -- a list's query counts as it is
  end)

  it("agent: events.parser, route.resolve, markers.parser and parse", function()
    refused(function() require("sidecar.agent.events").parser(require("sidecar.agent.codex"), { onevent = print }) end,
      "agent_events.parser: unknown option `onevent` (did you mean `on_event`?) (known: on_event)")
    local route = require("sidecar.agent.route")
    refused(function() route.resolve("scan", { rsik = "high" }) end,
      "route.resolve: unknown option `rsik` (did you mean `risk`?) (known: risk, routes, runner, model, sandbox, ")
    local markers = require("sidecar.agent.markers")
    refused(function() markers.parser({ deadline = 1 }) end,
      "markers.parser: unknown option `deadline` (did you mean `deadline_ns`?) (known: deadline_ns)")
    refused(function() markers.parse("[PROGRESS] x", { deadline = 1 }) end, "markers.parse: unknown option `deadline`")
  end)

  it("prompt: compile, and prompt_kit's worker_preamble, template and compile", function()
    local sections = { { title = "A", content = "x" } }
    refused(function() require("sidecar.prompt.compile").compile(sections, { taget = 10 }) end,
      "prompt.compile: unknown option `taget` (did you mean `target`?) (known: target, max, header)")
    local kit = require("sidecar.prompt.kit")
    refused(function() kit.worker_preamble({ roll = "x" }) end,
      "prompt_kit.worker_preamble: unknown option `roll` (did you mean `role`?) (known: role, edits_allowed, ")
    refused(function() kit.template("reviewer", { goal = "g", lenses = { "x" } }) end,
      "prompt_kit.template: unknown option `lenses` (did you mean `lens`?) (known: goal, non_goals, ")
    refused(function() kit.compile("reviewer", { goal = "g", non_goal = { "x" } }) end,
      "prompt_kit.compile: unknown option `non_goal` (did you mean `non_goals`?)")
  end)

  it("preset: steps.answer, merge.combine, schema.enforce", function()
    refused(function() require("sidecar.preset.steps").answer({}, {}, { status = "review" }, { fromat = "json" }) end,
      "steps.answer: unknown option `fromat` (did you mean `format`?) (known: format, spec)")
    refused(function() require("sidecar.preset.merge").combine({}, { line_windows = 1 }) end,
      "merge.combine: unknown option `line_windows` (did you mean `line_window`?) (known: similarity, line_window)")
    local schema = require("sidecar.preset.schema")
    refused(function() schema.enforce(function() return "{}" end, {}, { formats = "json" }) end,
      "schema.enforce: unknown option `formats` (did you mean `format`?) (known: format)")
  end)

  it("validation.run", function()
    refused(function() require("sidecar.task.validation").run({}, { stop_on_fail = true }) end,
      "validation.run: unknown option 'stop_on_fail' (options: cwd, env, on_escapees, ")
  end)

  it("inspect", function()
    local inspect = require("sidecar.dev.inspect")
    refused(function() inspect.inspect({}, { widht = 10 }) end,
      "inspect: unknown option `widht` (did you mean `width`?) (known: depth, indent, width)")
    refused(function() inspect({}, { deep = 1 }) end, "inspect: unknown option `deep`")
  end)
end)
