--- Git for run worktrees (stdlib/sidecar/run/worktree.lua holds the policy): make a worktree
--- whose files are exactly a given tree, retire it, commit a result, diff two trees, merge three
--- ways and write a merge into a work tree without touching its index. All of it in-process
--- (sidecar.host.git_tree, libgit2): no `git` process runs.
---
--- Checking out every file of a big repository costs far more than the rest of a run's
--- overhead, so an ended worktree is kept as a spare copy (`.spare-N` beside the worktrees: its
--- files, and its index moved in beside them) instead of being deleted. The next worktree takes
--- a spare over by a rename and a checkout that looks at every file once and writes only those
--- whose id or stat differs from what the index says (as `git read-tree --reset -u` does): the
--- files that differ between the two trees, and any file changed after the index was written
--- (by the last agent, its validation, or a process it left behind). The index file is moved,
--- never copied, so its own time stays what the racy-file check needs. A spare is not a git
--- worktree: git knows nothing of it (`git worktree list` shows no spare).
local core_git = require("sidecar.core.git")
local git_tree = require("sidecar.host.git_tree")
local paths = require("sidecar.host.paths")
local sandbox_git = require("sidecar.run.sandbox_git")

local M = {}

M.TIMEOUT_MS = 10 * 60 * 1000 -- for the commands around a worktree (a copy, a setup's cp)
-- A spare copy's index, beside its files (moved out before git looks at the folder).
M.SPARE_INDEX = ".sidecar-spare-index"
---The largest patch a run keeps in changes.patch; a larger change is its commit alone.
M.MAX_PATCH = 64 * 1024 * 1024

local CHANGE = { A = "added", M = "modified", D = "deleted", T = "type_changed" }

---The repository holding `dir`: {top = its top folder (absolute), prefix = `dir` below it ("" or
---"sub/dir/")}, or nil and why outside git.
function M.top(dir)
  return git_tree.top(dir)
end

---The commit a branch points at, or nil when there is no such branch.
function M.branch_tip(dir, branch)
  return git_tree.peel(dir, "refs/heads/" .. branch, "commit")
end

---The tree of a commit, or nil and why.
function M.tree_of(dir, commit)
  return git_tree.peel(dir, commit, "tree")
end

---A new commit of `tree` (parent `parent` when given) by Sidecar <sidecar@localhost>, never
---signed (no key prompt in the middle of a run). Returns its id or nil, why.
function M.commit(dir, tree, parent, message)
  return git_tree.commit(dir, tree, parent, message)
end

---Points `branch` at `commit`, only when it is at `old` now (a compare-and-swap; "" for a new
---branch; nil: wherever it is).
function M.set_branch(dir, branch, commit, old)
  return git_tree.set_ref(dir, "refs/heads/" .. branch, commit, old)
end

---Deletes `branch` when it is at `old` (another commit there means someone moved it: kept).
function M.delete_branch(dir, branch, old)
  local tip = old and old:match("^%x+$") and #old == 40 and old or git_tree.peel(dir, old or "", "commit")
  if not tip then
    return nil, "not a commit: " .. tostring(old)
  end
  return git_tree.delete_ref(dir, "refs/heads/" .. branch, tip)
end

---The files that differ between two trees: {{path, change = added|modified|...}} sorted by path.
function M.diff_files(dir, from, to)
  local list, why = git_tree.diff_files(dir, from, to)
  if not list then
    return nil, why
  end
  for _, f in ipairs(list) do
    f.change, f.status = CHANGE[f.status] or f.status, nil
  end
  return list
end

---What changed from tree `from` to tree `to`: {files (as diff_files), patch (binary files
---included: `git apply` takes it), head_tree (the tree of commit `head`, when given)}, or nil
---and why. `known` (optional) holds what the caller knows already, and is not read again:
---files (the same list, from the agent run's own diff), head_tree.
function M.change(dir, from, to, head, known)
  known = known or {}
  local patch, cut = git_tree.patch(dir, from, to, M.MAX_PATCH)
  if not patch then
    return nil, cut
  end
  if cut then
    -- A patch this large is of no use to a reader: a note stands in, and the change itself is
    -- the run's commit (run apply merges that).
    patch = ("[sidecar: this change's patch is larger than %d bytes and was not kept; the change is the commit "
      .. "on the run's branch: git diff %s %s]\n"):format(M.MAX_PATCH, from, to)
  end
  local files, why = known.files, nil
  if not files then
    files, why = M.diff_files(dir, from, to)
    if not files then
      return nil, why
    end
  end
  return { files = files, patch = patch, patch_cut = cut,
    head_tree = known.head_tree or (head and git_tree.peel(dir, head, "tree")) or nil }
end

local function exists(path)
  local f = io.open(path, "rb") -- opens a folder too
  if f then
    f:close()
  end
  return f ~= nil
end

-- Deletes a folder and everything in it (a spare that could not be used).
local function delete_tree(path)
  git_tree.remove_all(path)
end

-- Takes a spare copy: renamed to `claim`, which only one process can do. True when one was taken.
local function claim_spare(spec, claim)
  for i = 1, spec.spares or 0 do
    if os.rename(spec.spares_dir .. "/.spare-" .. i, claim) then
      return true
    end
  end
  return false
end

-- Moves a claimed spare into the new worktree (which holds only its .git file) with its index.
-- True, or false and "moved" when it could not be moved (the spare is still at `claim`).
local function move_spare(path, claim, admin)
  if not os.rename(path .. "/.git", claim .. "/.git") then
    return false, "moved" -- another file system: the spare stays where it is
  end
  -- The folder git made is empty now: rename(2) puts the spare in its place in one step.
  if not os.rename(claim, path) then
    os.rename(claim .. "/.git", path .. "/.git")
    return false, "moved"
  end
  return os.rename(path .. "/" .. M.SPARE_INDEX, admin .. "/index") ~= nil
end

-- Writes every file of `tree` into the worktree (and its index), and removes whatever else is
-- there: a cold checkout, or the repair of a spare that did not match its index.
local function checkout(path, tree, dirty)
  local ok, why = git_tree.checkout(path, tree, "force", dirty)
  return ok ~= nil, why
end

-- A free spare slot's path, or nil.
local function free_slot(spec)
  for i = 1, spec.spares or 0 do
    local slot = spec.spares_dir .. "/.spare-" .. i
    if not exists(slot) then
      return slot
    end
  end
end

-- Sidecar never prunes worktrees globally (`git worktree prune`), which could take a worktree in
-- the moment its .git file moves into the spare (git gc leaves young worktrees alone): no lock
-- is needed.
local function add(dir, spec)
  return git_tree.worktree_add(dir, { path = spec.path, branch = spec.branch, start = spec.start,
    existing = spec.existing })
end

-- A claimed spare that could not be used goes back to a free slot (or away).
local function unclaim(spec, claim)
  local slot = free_slot(spec)
  if not (slot and os.rename(claim, slot)) then
    delete_tree(claim)
  end
end

---Makes a worktree at spec.path, its files and index exactly spec.tree, on spec.branch: a new
---branch at spec.start, or the existing one when spec.existing. A spare copy under
---spec.spares_dir (spec.spares slots) is used when there is one. Returns {admin = the
---worktree's git folder, warm = a spare was used} or nil, why (nothing is left behind then).
---@param dir string  the repository's top folder
---@param spec {path: string, branch: string, existing: boolean?, start: string, tree: string, name: string,
---  spares_dir: string?, spares: integer?}
function M.create(dir, spec)
  local claim = spec.spares_dir and (spec.spares_dir .. "/.claim-" .. spec.name)
  local warm = claim and claim_spare(spec, claim)
  local added, why = add(dir, spec)
  if not added then
    if warm then
      unclaim(spec, claim)
    end
    return nil, why
  end
  local admin = git_tree.admin_dir(spec.path)
  local moved, how = false, "moved"
  if warm and admin then
    moved, how = move_spare(spec.path, claim, admin)
  end
  if warm and how == "moved" then
    unclaim(spec, claim)
  end
  local ok
  ok, why = checkout(spec.path, spec.tree, warm and how ~= "moved" and not moved)
  if not ok and moved then -- a spare git could not bring to the tree: every file written afresh
    ok, why = checkout(spec.path, spec.tree, true)
  end
  if not ok then
    M.remove(dir, spec.path)
    if not spec.existing then
      M.delete_branch(dir, spec.branch, spec.start)
    end
    return nil, why
  end
  return { admin = admin, warm = moved }
end

---Brings a worktree whose files and index are its HEAD's tree to `tree`: only the files that
---differ are written (git checks them first), every file when that fails. True or nil, why.
function M.advance(path, tree)
  if git_tree.checkout(path, tree, "from_head") then
    return true
  end
  return checkout(path, tree, true)
end

---Removes a worktree: its folder and git's record of it. A folder git will not remove is
---deleted only when it is a linked worktree (a .git file naming its git folder): never a folder
---that a wrong path names.
function M.remove(dir, path)
  local admin = git_tree.admin_dir(path)
  if not git_tree.worktree_remove(dir, path) and admin then
    git_tree.worktree_forget(dir, admin)
    delete_tree(path)
  end
end

---Ends a worktree: kept as a spare copy when spec.spares_dir has a free slot (and the worktree
---lies there), else removed. Either way git forgets it (`git worktree prune` finds nothing).
---Returns "spare" or "removed".
---@param spec {spares_dir: string?, spares: integer?}
function M.retire(dir, path, spec)
  local slot = spec.spares_dir and path:sub(1, #spec.spares_dir + 1) == spec.spares_dir .. "/" and free_slot(spec)
  local admin = slot and git_tree.admin_dir(path)
  -- Untracked and ignored files (build output, copied files) go: the index then names every
  -- file there is, and the next run gets exactly its own tree.
  if admin and git_tree.clean(path) and os.rename(admin .. "/index", path .. "/" .. M.SPARE_INDEX) then
    -- git forgets it first (what `git worktree prune` would remove, and only that), its record
    -- leaving git's list in one step: another process adding a worktree never reads it half gone.
    -- A .git file naming a folder that is no record of this repository's (the agent wrote it)
    -- makes no spare: the worktree goes, the folder it names stays.
    if not git_tree.worktree_forget(dir, admin) then
      M.remove(dir, path)
      return "removed"
    end
    os.remove(path .. "/.git")
    local kept = os.rename(path, slot)
    if not kept then -- another process took the slot meanwhile
      delete_tree(path)
    end
    return kept and "spare" or "removed"
  end
  M.remove(dir, path)
  return "removed"
end

---Merges three ways: the change from tree `base` to tree `theirs`, onto tree `ours` (renames
---followed). Returns {tree = the merged tree} or {conflicts = {paths}}, or nil and why. Writes
---nothing but objects.
function M.merge(dir, base, ours, theirs)
  return git_tree.merge(dir, base, ours, theirs)
end

---Writes tree `to` into the work tree at `dir`, which holds tree `from` as the index file `index`
---records: only the files that differ, and each of them is checked before any is written (a file
---touched since but the same still is fine; one changed for real is named, and nothing is
---written). The repository's own index is not touched. Returns true or nil, why.
function M.write_files(dir, index, from, to)
  return git_tree.write_files(dir, index, from, to)
end

---Takes out of the repository's objects the loose blobs only the commits `tips` reach (down to
---`stops`, the history they started from): what a discarded run wrote into .git/objects. Nothing
---goes while another run writes in the repository (an agent's commit may name them: its private
---object folder reads the repository's). Returns {blobs, bytes, kept}, or nil and why.
---@param dir string
---@param tips string[]
---@param stops string[]
function M.prune_run_blobs(dir, tips, stops)
  local _, common = core_git.dirs(dir)
  for _, name in ipairs(common and paths.entries(common .. "/worktrees") or {}) do
    if paths.lstat(common .. "/worktrees/" .. name .. "/" .. sandbox_git.OBJECTS) then
      return nil, "another run is writing in the repository (" .. name .. "): its objects stay until git gc"
    end
  end
  return git_tree.prune_run_blobs(dir, tips, stops)
end

return M
