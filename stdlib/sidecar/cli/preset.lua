--- `sidecar preset list|show|run`: each takes the options the command line parsed, prints (text,
--- or the JSON envelope with --json), and returns the exit status (0 done, 1 the preset failed or
--- could not load, 2 the command line is wrong).
local json = require("sidecar.core.json")
local out = require("sidecar.cli.output")
local preset = require("sidecar.preset.define")
local preset_context = require("sidecar.preset.context")
local presets = require("sidecar.service.presets")

local M = {}

local EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2

local failed = out.fail

---`sidecar preset list`: every preset file, a name as often as it is found, with its origin;
---a project's untrusted preset is listed by name without running it.
function M.list(o)
  return out.answer(o, "preset list", presets.list(o), function(list)
    local rows = {}
    for i, p in ipairs(list) do
      rows[i] = { p.name, p.origin, p.summary }
    end
    io.write(out.table({ "PRESET", "FROM", "WHAT IT DOES" }, rows))
  end)
end

-- Fails a command on a preset that could not be loaded; an untrusted one says so in --json too.
local function load_failed(o, command, message, code)
  if o.json and code == "untrusted" then
    out.envelope(command, false, { code = code, name = o.name, repo = preset.repo_label(o.repo) }, { message },
      o.version)
    return EXIT_FAILURE
  end
  return failed(o, command, message)
end

-- What a loaded preset replaced or passed over, on stderr: a project never silently replaces a
-- built-in, and an untrusted one is never silently skipped.
local function say_origin(command, name, source, path, info)
  if info.shadows then
    out.error(command, ("%s is the %s preset %s, which replaces the %s one of that name"):format(name, source,
      path, info.shadows))
  end
  if info.passed_over then
    out.error(command, ("%s is not trusted (%s), so the %s preset %s runs instead"):format(info.passed_over.path,
      info.passed_over.state, source, name))
  end
end

---`sidecar preset show NAME`
function M.show(o)
  local r = presets.show(o)
  if r.ok then
    local d = r.data
    say_origin("preset show", o.name, d.source, d.path, { shadows = d.shadows ~= json.null and d.shadows or nil,
      passed_over = d.passed_over ~= json.null and d.passed_over or nil })
  end
  return out.answer(o, "preset show", r, function(d)
    print(("%s (%s: %s)"):format(d.name, d.source, d.path))
    print(d.summary)
    if d.description ~= json.null then
      print("\n" .. d.description:gsub("%s+$", ""))
    end
    local rows = {}
    for i, p in ipairs(d.params) do
      local default = p.default
      if type(default) == "table" then
        default = table.concat(default, ",")
      end
      rows[i] = { p.name, p.type, default == json.null and (p.required and "(required)" or "-") or tostring(default),
        p.doc ~= json.null and p.doc or "" }
    end
    if #rows > 0 then
      print("\nParameters (--param NAME=VALUE):")
      io.write(out.table({ "NAME", "TYPE", "DEFAULT", "MEANING" }, rows))
    end
    if #d.escalates > 0 then
      print("\nEscalates:")
      for _, e in ipairs(d.escalates) do
        print("  - " .. e)
      end
    end
  end)
end

---The lines printed after a preset run that wrote in its worktree: what changed and the exact
---commands that bring the change to the user's tree or drop it ("" when it made no worktree).
---@param change? table  preset_worktree.close's answer
---@return string
function M.change_text(change)
  if not change then
    return ""
  end
  if #change.files == 0 then
    return ("\nThe writers changed no file (%s %s).\n"):format(change.run_id,
      change.state == "discarded" and "was discarded" or "has nothing to apply")
  end
  local files = table.concat(change.files, ", ")
  return ("\nChanges (made in a worktree; your work tree is untouched): %s\n  %s    # apply them to your work tree\n"
    .. "  %s  # or drop them\n"):format(files, change.apply, change.discard)
end

-- Steps that did not run, for people: "skipped: <step>: <why>" per optional one.
local function skipped_text(skipped)
  local lines = {}
  for i, step in ipairs(skipped) do
    lines[i] = ("skipped: %s: %s\n"):format(step.step, step.why)
  end
  return #lines > 0 and ("\n" .. table.concat(lines)) or ""
end

---Why a preset run failed for work that did not run: a step it needs whose CLI is not installed
---(none with --dry-run, which runs nothing by design). nil when every needed step ran.
---@param missed {step: string, why: string, run_id: string}[]  ctx.missed
---@return string|nil
function M.missed_error(missed)
  if #missed == 0 then
    return nil
  end
  local parts = {}
  for i, step in ipairs(missed) do
    parts[i] = ("%s (%s): %s"):format(step.step, step.run_id, step.why)
  end
  return ("%d step%s could not run, so the preset did not do its work: %s"):format(#missed,
    #missed == 1 and "" or "s", table.concat(parts, "; "))
end

---`sidecar preset run NAME`
function M.run(o)
  local repo = o.repo or "."
  local spec, source, path, info = preset.load(o.name, repo)
  if not spec then
    return load_failed(o, "preset run", source, path)
  end
  say_origin("preset run", o.name, source, path, info)
  local params, why = preset.params(spec, o.params)
  if not params then
    return failed(o, "preset run", why, EXIT_USAGE)
  end
  local jobs = o.jobs -- an integer: the command line checked it (cli/preset_command.cpp)
  if jobs and jobs < 1 then
    return failed(o, "preset run", ("-j %d: expected a whole number, 1 or more"):format(jobs), EXIT_USAGE)
  end
  local cfg, cfg_err = require("sidecar.core.config").load(repo .. "/.agent")
  if not cfg then
    return failed(o, "preset run", cfg_err)
  end
  require("sidecar.agent.runners").register_config(cfg) -- so --runner may name a runner of config.lua
  if o.runner then
    local ok, message = require("sidecar.agent.runners").get(o.runner)
    if not ok then
      return failed(o, "preset run", message, EXIT_USAGE)
    end
  end
  local budget, bad_budget = require("sidecar.agent.budget").from_options(cfg.budgets, o)
  if budget == nil then
    return failed(o, "preset run", bad_budget, EXIT_USAGE)
  end
  local executor, bad_executor = require("sidecar.executor").choose(cfg, o.executor)
  if not executor then
    return failed(o, "preset run", bad_executor, EXIT_USAGE)
  end
  local ctx = preset_context.new({ repo = repo, preset = spec, params = params, dry_run = o.dry_run,
    runner = o.runner, model = o.model, jobs = jobs, worktree = true, on_progress = out.progress,
    explicit = preset.explicit(o.params), budget = budget or nil, executor = executor })
  local ok, result = pcall(spec.run, ctx, params)
  local change = ctx:close()
  if not ok and require("sidecar.core.errors").is(result, "budget_exceeded") then
    return failed(o, "preset run", result.message) -- a step the budget could not cover: not started
  elseif not ok then
    error(result, 0)
  end
  result = result or {}
  local missed = not o.dry_run and M.missed_error(ctx.missed) or nil
  local good = result.ok ~= false and not missed
  if o.json then
    local errors = result.errors and { table.unpack(result.errors) } or {}
    errors[#errors + 1] = missed
    out.envelope("preset run", good, { preset = spec.name, params = params, result = result.data or json.null,
      text = result.text or json.null,
      runs = json.array(ctx.runs), skipped = json.array(ctx.skipped), change = change or json.null, source = source,
      path = path, shadows = info.shadows or json.null, passed_over = info.passed_over or json.null }, errors,
      o.version)
  else
    io.write(result.text or "", skipped_text(ctx.skipped), M.change_text(change))
    if missed then
      out.error("preset run", missed)
    end
  end
  return good and EXIT_OK or EXIT_FAILURE
end

return M
