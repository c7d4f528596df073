--- `sidecar preset list|show|run`: each takes the options the command line parsed, prints (text,
--- or the JSON envelope with --json), and returns the exit status (0 done, 1 the preset failed or
--- could not load, 2 the command line is wrong).
local json = require("sidecar.core.json")
local out = require("sidecar.cli.output")
local preset_run = require("sidecar.service.preset_run")
local presets = require("sidecar.service.presets")

local M = {}

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

-- What a loaded preset replaced or passed over, on stderr (sidecar.service.preset_run.origin_notes).
local function say_origin(command, name, source, path, info)
  for _, note in ipairs(preset_run.origin_notes(name, source, path, info)) do
    out.error(command, note)
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
      local doc = p.doc ~= json.null and p.doc or ""
      if type(p.choices) == "table" and #p.choices > 0 then -- the values it takes, said where it is explained
        doc = doc .. (doc == "" and "" or " ") .. "(one of: " .. table.concat(p.choices, ", ") .. ")"
      end
      rows[i] = { p.name, p.type, default == json.null and (p.required and "(required)" or "-") or tostring(default),
        doc }
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

---`sidecar preset run NAME`
function M.run(o)
  o.on_progress = out.progress
  o.on_note = function(note)
    out.error("preset run", note)
  end
  local r
  do
    -- Its runs' progress lines (an agent waiting for a slot, the sandbox chosen), as `sidecar run` says them.
    local lines <close> = require("sidecar.service.run_progress").follow(out.progress)
    r = preset_run.run(o)
  end
  if o.json or not r.skipped then -- the envelope, or a preset that could not run
    return out.answer(o, "preset run", r)
  end
  io.write(r.text or "", skipped_text(r.skipped), M.change_text(r.change))
  if r.missed then
    out.error("preset run", r.missed)
  end
  for _, e in ipairs(r.errors) do -- a step the budget could not cover: the report stands, the stop is said
    if e.code == "budget_exceeded" then
      out.error("preset run", e.message)
    elseif e.code == "preset_error" then -- a bug of the preset's Lua: where, for its author
      out.error("preset run", e.message .. (r.data.traceback:match("\n.*") or ""))
    end
  end
  return r.status
end

return M
