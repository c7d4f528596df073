--- A writing run's change brought to the user's tree or dropped, as data (sidecar.service.result):
--- `sidecar run apply|discard` (and `run approve --apply`) render it; `sidecar ui` answers with it.
---
---   local r = run_changes.apply({ root = root, id = "R-0001" })
---   -- r.data: {run_id, applied, files, no_changes, already, conflicts, refused, symlinks_out}
---   local r = run_changes.discard({ root = root, id = "R-0001" })
---   -- r.data: {run_id, branch, branch_deleted, patch, pruned, prune_error}
local json = require("sidecar.core.json")
local result = require("sidecar.service.result")
local runs = require("sidecar.service.runs")
local worktree_apply = require("sidecar.run.worktree_apply")

local M = {}

---Applies a finished writing run's change to the user's work tree (unstaged), by the config's gates
---now (gates.symlinks_out may let a link leading out of the repository through). A refused or
---conflicting apply changes nothing and fails with the same data (conflicts, refused). The result
---also carries `run` (the record after it), for the command line's lines.
---@param o {root: string?, id: string}
function M.apply(o)
  return runs.with_run(o, function(s, cfg)
    local done, message, code, conflicts = worktree_apply.apply(s, o.id, { gates = cfg and cfg.gates })
    local data = { run_id = o.id, applied = done ~= nil, files = json.array(done and done.files or {}),
      no_changes = done and done.no_changes or false, already = done and done.already or false,
      conflicts = json.array(conflicts or {}), refused = code == "refused",
      symlinks_out = json.array(done and done.symlinks_out or {}) }
    local r = done and result.ok(data) or result.fail(message, nil, data)
    r.run = done and done.run
    return r
  end)
end

---Discards a finished writing run's change: its branch goes (or moves back), changes.patch stays,
---and the blobs only it wrote leave .git/objects (sidecar.run.worktree_apply.discard). The result
---also carries `run`, the record after it.
---@param o {root: string?, id: string}
function M.discard(o)
  return runs.with_run(o, function(s)
    local run, message = worktree_apply.discard(s, o.id)
    if not run then
      return result.fail(message)
    end
    local w = run.worktree
    local r = result.ok({ run_id = o.id, branch = w.branch, branch_deleted = w.branch_deleted or false,
      patch = ".agent/" .. tostring(w.patch), pruned = w.pruned, prune_error = w.prune_error })
    r.run = run
    return r
  end)
end

return M
