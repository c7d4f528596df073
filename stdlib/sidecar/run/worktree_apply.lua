--- Applying and discarding a writing run's change (the runs of stdlib/sidecar/run/worktree.lua).
---
---   local r = worktree_apply.apply(s, "R-0001")   -- {run, files, no_changes?, already?}
---   -- or nil, message, "conflict", {paths}: then nothing was changed
---   local run = worktree_apply.discard(s, "R-0001")
---
--- apply merges three ways and touches none of the user's files until the merge is known to be
--- clean: the user's tree as it is now (a snapshot: HEAD, staged, unstaged and untracked files)
--- is one side, the run's result the other, the run's base their merge base (git merge-tree).
--- A clean merge is written into the work tree, only the files it changes, after git has checked
--- that each of them is still as the snapshot saw it. The user's index is not touched: the
--- change shows unstaged, as an agent editing in place would have left it. Then the run's branch
--- is deleted (changes.patch stays), and runs it continued (a pipeline's earlier steps) are
--- marked applied with it: their changes are in its result.
local aside = require("sidecar.run.worktree_aside")
local git = require("sidecar.run.worktree_git")
local json = require("sidecar.core.json")
local run_record = require("sidecar.run.record")
local store = require("sidecar.core.store")
local symlinks_out = require("sidecar.run.symlinks_out")
local worktree_result = require("sidecar.run.worktree_result")
local worktree = require("sidecar.core.worktree")

local M = {}

local ACTIVE = store.ACTIVE

-- The run and its worktree record when its change can be applied or discarded now; else nil,
-- nil, why, code.
local function settled_run(s, run_id, verb)
  local run = s:get_run(run_id)
  if not run then
    return nil, nil, ("no run %s (see sidecar run list)"):format(run_id), "not_found"
  end
  local w = run.worktree
  if type(w) ~= "table" or w.in_place then
    return nil, nil, ("run %s did not run in a worktree of its own (%s): there is nothing to %s"):format(run_id,
      type(w) == "table" and tostring(w.reason) or "read-only runs work in your tree", verb), "bad_state"
  end
  if w.state == "open" then -- a crashed run's worktree is recovered first
    worktree_result.sweep(s)
    run = assert(s:get_run(run_id))
    w = run.worktree
  end
  if ACTIVE[run.status] or w.state == "open" then
    return nil, nil, ("run %s is still %s: wait for it (sidecar run wait %s)"):format(run_id,
      ACTIVE[run.status] and run.status or "being validated", run_id), "bad_state"
  end
  if w.state == "applied" or w.state == "discarded" then
    local at = w.applied_at or w.discarded_at
    return nil, nil, ("run %s was %s already%s%s"):format(run_id, w.state, at and (" at " .. at) or "",
      w.applied_with and (" (with run " .. w.applied_with .. ")") or ""), "bad_state"
  end
  if not w.result_commit then
    return nil, nil, ("run %s has no recorded result%s"):format(run_id, w.error and (": " .. w.error) or
      " (its worktree failed before the agent ran)"), "bad_state"
  end
  return run, w
end

-- The run's branch goes once its change is applied or discarded: deleted when Sidecar made it
-- (and nobody moved it since), or, for the task's own branch (tracking.branch), moved back to
-- where the run found it on discard.
local function drop_branch(dir, w, verb)
  if w.created_branch then
    w.branch_deleted = git.delete_branch(dir, w.branch, w.result_commit) ~= nil
  elseif verb == "discard" then
    w.branch_reset = git.set_branch(dir, w.branch, w.start_commit, w.result_commit) ~= nil
  end
end

-- The runs this one continued (reused_from, and theirs), still ready: their changes are part of
-- this run's result, so they are applied with it.
local function applied_with(s, dir, w, run_id)
  local id, seen = w.reused_from, {}
  while id and not seen[id] do
    seen[id] = true
    local r = s:get_run(id)
    local rw = r and r.worktree
    if type(rw) ~= "table" then
      return
    end
    if rw.state == "ready" then
      rw.state, rw.applied_at, rw.applied_with = "applied", store.now(), run_id
      drop_branch(dir, rw, "apply")
      assert(run_record.save(s, r))
    end
    id = rw.reused_from
  end
end

local function settle(s, run, w, dir, files, extra)
  w.state, w.applied_at, w.applied_files = "applied", store.now(), json.array(files)
  drop_branch(dir, w, "apply")
  applied_with(s, dir, w, run.run_id)
  assert(run_record.save(s, run))
  local result = { run = run, files = files }
  for k, v in pairs(extra or {}) do
    result[k] = v
  end
  return result
end

-- Puts back the user's files an apply of the run that crashed left aside; nil, or why it could not.
local function put_back(s, run_id, top)
  local why = aside.restore(top, s.root .. "/runs/" .. run_id .. "/aside")
  return why and ("run %s: an earlier apply left your files aside and could not put them back: %s"):format(run_id, why)
end

-- The merged tree of the user's tree `ours` and the run's change, or nil, why, code, conflicts.
local function merged_tree(dir, w, ours, run_id)
  if ours == w.base_tree then
    return w.result_tree
  end
  local m, why = git.merge(dir, w.base_tree, ours, w.result_tree)
  if not m then
    return nil, why, "git_failed"
  end
  if m.conflicts then
    return nil, ("run %s conflicts with your work tree in %s; nothing was changed (its change: .agent/%s, branch %s)")
        :format(run_id, table.concat(m.conflicts, ", "), w.patch, w.branch), "conflict", m.conflicts
  end
  return m.tree
end

-- Writes the merge into the user's tree (git.write_files). The user's large untracked files the
-- snapshot left out and the merge writes are ones the agent changed: each is moved aside for the
-- write when it is as the run found it (run_worktree_aside), else the apply is a conflict.
-- Returns true, or nil, why, code and the conflicting paths.
local function write_merge(s, run_id, w, top, ours, merged, files)
  local movable, in_the_way = aside.pick(files, ours.left_out, w.left_out)
  if #in_the_way > 0 then
    return nil, ("run %s conflicts with your work tree in %s: a large untracked file the agent changed and you "
      .. "changed too since the run (or the run never saw); nothing was changed"):format(run_id,
      table.concat(in_the_way, ", ")), "conflict", in_the_way
  end
  local dir = s.root .. "/runs/" .. run_id .. "/aside"
  local moves, why, path = aside.move(dir, top, movable)
  if not moves then
    return nil, ("run %s: nothing was applied: %s"):format(run_id, why), "conflict", { path }
  end
  local ok
  ok, why = git.write_files(top, ours.index, ours.tree, merged)
  local kept, stuck = aside.finish(top, dir, moves, ok)
  if not ok then
    return nil, ("run %s: nothing was applied: %s%s"):format(run_id, tostring(why), stuck and ("; " .. stuck) or ""),
      "write_failed"
  end
  if #kept > 0 then
    w.kept_aside = json.array(kept) -- changed while aside: kept, not removed (the note says where)
    w.kept_aside_note = stuck
  end
  return true
end

-- Refuses a change that adds a link leading out of the repository, unless the symlinks_out gate
-- allows it (as the run recorded it, or config's gates now): nil and the links, or why (and the
-- links refused; none when git failed). Read from the trees, whatever the run's record says
-- (defence in depth).
local function links_refused(run, w, top, gates)
  local links, why = symlinks_out.between(top, w.base_tree, w.result_tree)
  if not links then
    return ("run %s: its links could not be read, so nothing was applied: %s"):format(run.run_id, why)
  end
  if #links == 0 or symlinks_out.policy(run, gates) ~= "block" then
    return nil, links
  end
  local named = {}
  for i, link in ipairs(links) do
    named[i] = symlinks_out.phrase(link)
  end
  return ("run %s adds %s leading out of the repository (%s); nothing was applied. Allow such links with gates = "
    .. "{ symlinks_out = \"allow\" } in .agent/config.lua, or take the change from branch %s by hand"):format(
    run.run_id, #links == 1 and "a symbolic link" or (#links .. " symbolic links"), table.concat(named, ", "),
    w.branch), links
end

---Applies a finished writing run's change to the user's work tree, three ways. Returns {run,
---files = {{path, change}} written, no_changes = true when the run changed nothing, already =
---true when the tree held the change already, symlinks_out = the links leading out of the
---repository it wrote, when the gate allowed them}, or nil, message, code (not_found, bad_state,
---conflict, write_failed, git_failed, refused: a link leading out of the repository) and for a
---conflict the conflicting paths; nothing was changed then.
---@param s table  an open store
---@param run_id string
---@param opts? {gates: table?}  config's gates now (symlinks_out = "allow" lets such a link through)
function M.apply(s, run_id, opts)
  local run, w, why, code = settled_run(s, run_id, "apply")
  if not run then
    return nil, why, code
  end
  local p
  p, why = worktree_result.places(s)
  if not p then
    return nil, why, "git_failed"
  end
  why = put_back(s, run_id, p.top)
  if why then
    return nil, why, "write_failed"
  end
  if w.result_tree == w.base_tree then
    return settle(s, run, w, p.top, {}, { no_changes = true })
  end
  local links
  why, links = links_refused(run, w, p.top, opts and opts.gates)
  if why then
    return nil, why, links and "refused" or "git_failed"
  end
  local ours
  -- The user's untracked files too large for a run's commits are left out here too, never hashed:
  -- those the run left out while unchanged, and any other larger than the run's limit.
  ours, why = worktree.tree_snapshot(p.top, { p.own }, { keep_index = true, leave_out = w.left_out,
    max_untracked_bytes = w.max_untracked_bytes })
  if not ours then
    return nil, why, "git_failed"
  end
  local merged, conflicts
  merged, why, code, conflicts = merged_tree(p.top, w, ours.tree, run_id)
  local files = merged and git.diff_files(p.top, ours.tree, merged)
  local ok = files ~= nil
  if files and #files > 0 then
    ok, why, code, conflicts = write_merge(s, run_id, w, p.top, ours, merged, files)
  end
  os.remove(ours.index)
  if not ok then
    return nil, why or "git diff-tree failed", code or "git_failed", conflicts
  end
  return settle(s, run, w, p.top, files, { already = #files == 0 or nil, symlinks_out = #links > 0 and links or nil })
end

---Discards a finished writing run's change: its branch is deleted (or, for the task's own
---branch, moved back), changes.patch stays, and the loose blobs only its commits reached leave
---.git/objects (worktree.pruned = {blobs, bytes, kept}, or worktree.prune_error). Returns the
---run, or nil, message, code.
---@param s table  an open store
---@param run_id string
function M.discard(s, run_id)
  local run, w, why, code = settled_run(s, run_id, "discard")
  if not run then
    return nil, why, code
  end
  why = put_back(s, run_id, w.repo)
  if why then
    return nil, why, "write_failed"
  end
  drop_branch(w.repo, w, "discard")
  if (w.branch_deleted or w.branch_reset) and w.result_commit then -- what it alone wrote into .git/objects goes too
    local pruned, prune_why = git.prune_run_blobs(w.repo, { w.result_commit }, { w.start_commit })
    w.pruned = pruned and json.object(pruned) or nil
    w.prune_error = prune_why
  end
  w.state, w.discarded_at = "discarded", store.now()
  assert(run_record.save(s, run))
  return run
end

return M
