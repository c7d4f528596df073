--- `sidecar run apply R-…`, `run discard R-…` and the apply step of `run approve --apply`: each
--- prints (text for people, or the JSON envelope with --json) and returns the exit status: 0
--- done, 1 could not be done (a conflict: nothing was changed), 2 the command line is wrong.
local byte_size = require("sidecar.core.byte_size")
local json = require("sidecar.core.json")
local out = require("sidecar.cli.output")
local worktree_apply = require("sidecar.run.worktree_apply")
local runs = require("sidecar.task.runs")
local service_store = require("sidecar.service.store")

local M = {}

local EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2

-- Calls fn(s) -> status with the store open, after checking the run id.
local function with_store(o, command, fn)
  if not (o.id or ""):match("^R%-%d+$") then
    return out.fail(o, command, ("'%s' is not a run id (run ids look like R-0001)"):format(tostring(o.id)), EXIT_USAGE)
  end
  local s, cfg = runs.open(service_store.root(o))
  if not s then
    return out.fail(o, command, service_store.hint(o, cfg))
  end
  local ok, status = pcall(fn, s, cfg)
  s:close()
  if not ok then
    error(status, 0)
  end
  return status
end

local function file_lines(files)
  local lines = {}
  for _, f in ipairs(files) do
    lines[#lines + 1] = ("  %-9s %s"):format(f.change, f.path)
  end
  return table.concat(lines, "\n")
end

-- Applies and reports; `prefix` is printed first (approve's line), `also` goes into the JSON data.
-- `cfg`: the config now (its gates.symlinks_out may let a link leading out of the repository through).
local function apply_and_report(o, command, s, cfg, prefix, also)
  local result, message, code, conflicts = worktree_apply.apply(s, o.id, { gates = cfg and cfg.gates })
  local links = result and result.symlinks_out or {}
  if o.json then
    local data = { run_id = o.id, applied = result ~= nil, files = json.array(result and result.files or {}),
      no_changes = result and result.no_changes or false, already = result and result.already or false,
      conflicts = json.array(conflicts or {}), refused = code == "refused", symlinks_out = json.array(links) }
    for k, v in pairs(also or {}) do
      data[k] = v
    end
    out.envelope(command, result ~= nil, data, result == nil and { message } or nil, o.version)
    return result and EXIT_OK or EXIT_FAILURE
  end
  if prefix then
    print(prefix)
  end
  if not result then
    out.error(command, message)
    return code == "usage" and EXIT_USAGE or EXIT_FAILURE
  end
  local w = result.run.worktree
  if result.no_changes then
    print(("%s has no changes to apply (branch %s %s)"):format(o.id, w.branch,
      w.branch_deleted and "deleted" or "kept"))
  elseif result.already then
    print(("%s: your work tree holds its change already; nothing to write"):format(o.id))
  else
    print(("%s applied to your work tree (unstaged): %d file%s\n%s"):format(o.id, #result.files,
      #result.files == 1 and "" or "s", file_lines(result.files)))
  end
  for _, link in ipairs(links) do
    print(("note: the link %s leads out of the repository (gates.symlinks_out allows it)"):format(
      require("sidecar.run.symlinks_out").phrase(link)))
  end
  return EXIT_OK
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

-- The paths of the user's untracked files the run's base snapshot left out: the secret ones
-- (reason "secret") and the large ones.
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
    local where = sb.kind == "bwrap" and (", in the OS sandbox, network " .. tostring(sb.network)) or
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
  return with_store(o, "run apply", function(s, cfg)
    return apply_and_report(o, "run apply", s, cfg)
  end)
end

---`sidecar run discard R-…`
function M.discard(o)
  return with_store(o, "run discard", function(s)
    local run, message = worktree_apply.discard(s, o.id)
    if not run then
      return out.fail(o, "run discard", message)
    end
    local w = run.worktree
    if o.json then
      out.envelope("run discard", true, { run_id = o.id, branch = w.branch, branch_deleted = w.branch_deleted or false,
        patch = ".agent/" .. tostring(w.patch), pruned = w.pruned, prune_error = w.prune_error }, nil, o.version)
    else
      print(("%s discarded: branch %s %s; its change stays in .agent/%s%s"):format(o.id, w.branch,
        w.branch_deleted and "deleted" or (w.branch_reset and "moved back" or "kept"), tostring(w.patch),
        pruned_text(w)))
    end
    return EXIT_OK
  end)
end

---The apply step of `sidecar run approve R-… --apply`, after the approval `run` (the store open,
---`cfg` the config).
function M.after_approve(o, s, run, cfg)
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
  return apply_and_report(o, "run approve", s, cfg, line, { run = run })
end

return M
