--- `sidecar run apply R-…`, `run discard R-…` and the apply step of `run approve --apply`: each
--- prints (text for people, or the JSON envelope with --json) and returns the exit status: 0
--- done, 1 could not be done (a conflict: nothing was changed), 2 the command line is wrong.
local byte_size = require("sidecar.core.byte_size")
local out = require("sidecar.cli.output")
local run_changes = require("sidecar.service.run_changes")

local M = {}

local EXIT_OK = 0

local function file_lines(files)
  local lines = {}
  for _, f in ipairs(files) do
    lines[#lines + 1] = ("  %-9s %s"):format(f.change, f.path)
  end
  return table.concat(lines, "\n")
end

-- Renders an apply's result (sidecar.service.run_changes.apply); `prefix` is printed first (approve's
-- line), `also` goes into the JSON data.
local function report_apply(o, command, r, prefix, also)
  for k, v in pairs(also or {}) do
    r.data[k] = v
  end
  if prefix and not o.json then
    print(prefix)
  end
  return out.answer(o, command, r, function(data)
    local w = r.run.worktree
    if data.no_changes then
      print(("%s has no changes to apply (branch %s %s)"):format(o.id, w.branch,
        w.branch_deleted and "deleted" or "kept"))
    elseif data.already then
      print(("%s: your work tree holds its change already; nothing to write"):format(o.id))
    else
      print(("%s applied to your work tree (unstaged): %d file%s\n%s"):format(o.id, #data.files,
        #data.files == 1 and "" or "s", file_lines(data.files)))
    end
    for _, link in ipairs(data.symlinks_out) do
      print(("note: the link %s leads out of the repository (gates.symlinks_out allows it)"):format(
        require("sidecar.run.symlinks_out").phrase(link)))
    end
  end)
end

local function short(id)
  return type(id) == "string" and id:sub(1, 10) or "none"
end

-- Where the run's change stands, in words.
local function state_text(w, id)
  if w.state == "ready" then
    return ("ready: sidecar run apply %s, or run discard %s"):format(id, id)
  elseif w.state == "applied" then
    return ("applied at %s%s"):format(tostring(w.applied_at), w.applied_with and (" with " .. w.applied_with) or
      (" (" .. #(w.applied_files or {}) .. " files written)"))
  elseif w.state == "discarded" then
    return "discarded at " .. tostring(w.discarded_at)
  elseif w.state == "open" then
    return "open: the run is still using its worktree"
  end
  return tostring(w.state) .. (w.error and (": " .. w.error) or "")
end

-- What `run discard` took out of .git/objects, for its line: "; 3 blobs (120.0 MiB) only it wrote
-- left .git/objects", or why nothing did.
local function pruned_text(w)
  if w.prune_error then
    return "; its objects stay in .git until git gc: " .. tostring(w.prune_error)
  end
  local p = w.pruned
  if type(p) ~= "table" or (p.blobs or 0) == 0 then
    return ""
  end
  return ("; %d blob%s (%s) only it wrote left .git/objects"):format(p.blobs, p.blobs == 1 and "" or "s",
    byte_size.format(p.bytes))
end

-- The paths of the user's untracked files the run's base snapshot left out: the secret ones
-- (reason "secret") and the large ones.
local function left_out_of(w)
  local secret, large = {}, {}
  for _, f in ipairs(type(w.left_out) == "table" and w.left_out or {}) do
    if type(f) == "table" then
      local list = f.reason == "secret" and secret or large
      list[#list + 1] = tostring(f.path)
    end
  end
  return secret, large
end

-- At most 20 paths, then how many more.
local function some(list)
  local shown = table.concat(list, ", ", 1, math.min(#list, 20))
  return #list > 20 and ("%s and %d more"):format(shown, #list - 20) or shown
end

---The lines `run show` prints about a run's worktree (none for a run without one).
---@param w table|nil  record.worktree
---@param id string  the run id
---@return string[]
function M.lines(w, id)
  if type(w) ~= "table" then
    return {}
  end
  if w.in_place then
    return { "Worktree:", "  none: " .. tostring(w.reason) }
  end
  local lines = { "Worktree:" }
  local function add(label, value)
    lines[#lines + 1] = ("  %-10s %s"):format(label, value)
  end
  add("path", tostring(w.path) .. (w.state == "open" and "" or " (removed)") ..
    (w.from_spare and ", made from a spare copy" or ""))
  add("branch", ("%s at %s%s"):format(tostring(w.branch), short(w.result_commit or w.start_commit),
    w.branch_deleted and " (deleted)" or (w.branch_reset and " (moved back)" or "")))
  add("base", (w.reused_from and ("the result of %s, from "):format(w.reused_from) or "") ..
    ("HEAD %s plus uncommitted changes%s (tree %s)"):format(short(w.base_commit),
      type(w.setup) == "table" and w.setup.files and " and the setup's files" or "", short(w.base_tree)))
  local secret, large = left_out_of(w)
  if #secret > 0 then
    add("left out", ("%s: %s git does not track: never hashed into the run's objects nor committed (of yours, "
      .. "the worktree gets only what worktree.copy names)"):format(some(secret),
      #secret == 1 and "a secret file" or "secret files"))
  end
  if #large > 0 then
    add("left out", ("%s: larger than worktree.max_untracked_bytes, copied in, never hashed into git"):format(
      some(large)))
  end
  if w.patch then
    add("patch", (".agent/%s (%d file%s)"):format(w.patch, #(w.files or {}), #(w.files or {}) == 1 and "" or "s"))
  end
  if type(w.setup) == "table" then
    local sb = type(w.setup.sandbox) == "table" and w.setup.sandbox or {}
    local where = (sb.kind == "bwrap" or sb.kind == "landlock") and
        (", in the OS sandbox (" .. sb.kind .. "), network " .. tostring(sb.network)) or
        (sb.kind == "off" and ", without an OS sandbox" or "")
    add("setup", ("`%s` %s (.agent/%s%s)"):format(w.setup.command, w.setup.ok and "ok" or "failed", w.setup.log, where))
  end
  add("change", state_text(w, id))
  if w.recovered then
    add("recovered", w.recovered)
  end
  return lines
end

---`sidecar run apply R-…`
function M.apply(o)
  return report_apply(o, "run apply", run_changes.apply(o))
end

---`sidecar run discard R-…`
function M.discard(o)
  local r = run_changes.discard(o)
  return out.answer(o, "run discard", r, function()
    local w = r.run.worktree
    print(("%s discarded: branch %s %s; its change stays in .agent/%s%s"):format(o.id, w.branch,
      w.branch_deleted and "deleted" or (w.branch_reset and "moved back" or "kept"), tostring(w.patch),
      pruned_text(w)))
  end)
end

---The apply step of `sidecar run approve R-… --apply`, after the approval `run` (its record).
function M.after_approve(o, run)
  local line = ("%s %s by %s; task %s; decision in .agent/runs/%s/decision.md"):format(run.run_id, run.review_state,
    run.reviewed_by, tostring(run.task_id), run.run_id)
  local w = run.worktree
  if type(w) ~= "table" or w.in_place then
    if o.json then
      out.envelope("run approve", true, { run = run, applied = false, in_place = true }, nil, o.version)
    else
      print(line)
      print(("%s ran in your work tree: its changes are there already"):format(run.run_id))
    end
    return EXIT_OK
  end
  return report_apply(o, "run approve", run_changes.apply(o), line, { run = run })
end

return M
