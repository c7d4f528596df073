--- What a run changed in a git work tree: a snapshot before, another after, and the difference.
---
---   local before = worktree.snapshot(repo, {".agent"}) -- {head, snap} or nil, why
---   ... the agent runs ...
---   local change = worktree.changes(repo, before)      -- {head_before, head_after, files = {...}}
---
--- A snapshot is read in-process (sidecar.host.git) as `git status` reads a work tree: the work
--- tree is read against the index's stat data on a few threads (host/git/work_tree_walk.hpp), which
--- tells which files to hash; hashing happens in memory with git's filters, .gitignore is git's
--- (libgit2), and nothing is written into the repository (no object, no index, no lock).
--- Untracked files are hashed too, unless larger than max_hash_bytes: those are compared by
--- their stat data (`by_stat`).
---
--- Writing runs, whose result becomes a commit, use tree snapshots instead (tree_snapshot,
--- start_snapshot): a tree object of every file, written in-process (sidecar.host.git_tree) as
--- `git add --all` into a private copy of the index and `git write-tree` would: the repository's
--- own index and files are never touched, and the index's stat data spares hashing every file.
--- Untracked files larger than opts.max_untracked_bytes (a checkpoint, a dataset) are left out
--- of such a tree, so never hashed nor written into the repository: the snapshot lists them
--- (left_out: {path, size, mtime_ns}, paths from the top of the work tree), and a later snapshot
--- given them as opts.leave_out leaves them out again while they are unchanged. Untracked files
--- the secret-file rules name (.env, .envrc, a private key, credentials, terraform.tfstate: the
--- rules of sidecar.core.secret_rules and the project's secrets.files) are always left out, and
--- listed with reason = "secret"; tracked ones are the user's choice, and stay.
local clock = require("sidecar.host.time")
local git = require("sidecar.core.git")
local git_tree = require("sidecar.host.git_tree")
local option_keys = require("sidecar.core.option_keys")
local paths = require("sidecar.host.paths")

local M = {}

-- The options of each function; an unknown one raises a bad_option error naming them.
local TREE_OPTIONS = { "keep_index", "max_untracked_bytes", "leave_out" }
local START_OPTIONS = { "max_untracked_bytes", "leave_out" }
local SNAPSHOT_OPTIONS = { "max_hash_bytes", "deadline_ns" }
local CHANGES_OPTIONS = { "deadline_ns" }

-- Paths relative to the repository (Sidecar's own ".agent") as the host takes them: relative to
-- the top of the work tree (`repo` may be a folder inside it).
local function tree_options(repo, exclude, extra, opts)
  local o = extra or {}
  o.max_untracked_bytes = opts and opts.max_untracked_bytes or nil
  o.leave_out = opts and opts.leave_out or nil
  o.exclude = {}
  local t = exclude and #exclude > 0 and git_tree.top(repo)
  for i, path in ipairs(exclude or {}) do
    o.exclude[i] = (t and t.prefix or "") .. path
  end
  return o
end

---HEAD (nil in a repository without commits) and the id of a tree holding every file of the work
---tree as it is now, except those under `exclude` (paths relative to the repository, such as
---Sidecar's own ".agent"), ignored ones and untracked ones left out (opts.max_untracked_bytes,
---opts.leave_out: see above; the result's left_out lists them). Nil and why outside a git
---repository. With `opts.keep_index` the private index that describes the tree (with each file's
---stat) is kept for the caller, who removes it: the result's `index` names it. Writes the tree's
---objects into the repository: for writing runs, whose result is a commit; M.snapshot writes
---nothing.
---@param opts? {keep_index: boolean?, max_untracked_bytes: integer?, leave_out: table[]?}
function M.tree_snapshot(repo, exclude, opts)
  option_keys.check("worktree.tree_snapshot", opts, TREE_OPTIONS, 2)
  if git.dirs(repo) == nil then
    return nil, "not a git repository (no .git in " .. repo .. " or above it)"
  end
  local index = opts and opts.keep_index and os.tmpname() or nil
  local snap, why = git_tree.tree_snapshot(repo, tree_options(repo, exclude, { keep_index = index }, opts))
  if not snap then
    if index then
      os.remove(index)
    end
    return nil, why
  end
  return { head = snap.head, tree = snap.tree, exclude = exclude, index = index, left_out = snap.left_out }
end

---M.tree_snapshot, started: it is read on a thread of its own while the caller does other work (a
---worktree's checkout). Returns an object whose :wait() gives what M.tree_snapshot(repo, exclude)
---gives, and head_tree (HEAD's tree). opts as tree_snapshot's, without keep_index.
---@param opts? {max_untracked_bytes: integer?, leave_out: table[]?}
function M.start_snapshot(repo, exclude, opts)
  option_keys.check("worktree.start_snapshot", opts, START_OPTIONS, 2)
  if git.dirs(repo) == nil then
    local why = "not a git repository (no .git in " .. repo .. " or above it)"
    return { wait = function() return nil, why end }
  end
  local pending = git_tree.start_tree_snapshot(repo, tree_options(repo, exclude, nil, opts))
  return { wait = function()
    local snap, why = pending:wait()
    if not snap then
      return nil, why
    end
    return { head = snap.head, head_tree = snap.head_tree, tree = snap.tree, exclude = exclude,
      left_out = snap.left_out }
  end }
end

local STATUS = { A = "added", M = "modified", D = "deleted", T = "type_changed" }

---The output of a `-z --name-status` diff (diff-index, diff-tree) as {{path, change =
---added|modified|deleted|type_changed}}, sorted by path.
---@param out string
---@return table[]
function M.name_status(out)
  local fields, files = {}, {}
  for field in out:gmatch("([^%z]+)") do
    fields[#fields + 1] = field
  end
  for i = 1, #fields - 1, 2 do
    files[#files + 1] = { path = fields[i + 1], change = STATUS[fields[i]:sub(1, 1)] or fields[i] }
  end
  table.sort(files, function(a, b) return a.path < b.path end)
  return files
end

-- `repo` as a path relative to the top of its work tree: "" at the top (and when the two cannot
-- be compared, as for a GIT_DIR set elsewhere: then the whole work tree is read).
local function within(r, repo)
  local top, here = paths.real(r:workdir()), paths.real(repo)
  if not (top and here) or here == top then
    return ""
  end
  return here:sub(1, #top + 1) == top .. "/" and here:sub(#top + 2) or ""
end

---The work tree of `repo` as it is now, read in memory (nothing is written into the repository):
---{head (nil without commits), snap} for M.changes, or nil, why and code ("ENOTREPO" outside a
---git repository). Files under `exclude` (paths relative to `repo`, such as Sidecar's own
---".agent") are never reported; when `repo` is a folder inside the work tree, only the files
---under it are. opts: max_hash_bytes (untracked files larger than this are compared by their
---stat data; default 8 MiB), deadline_ns.
---@param repo string
---@param exclude? string[]
---@param opts? {max_hash_bytes: integer?, deadline_ns: integer?}
function M.snapshot(repo, exclude, opts)
  option_keys.check("worktree.snapshot", opts, SNAPSHOT_OPTIONS, 2)
  local r, why, code = git.open(repo)
  if not r then
    return nil, why, code
  end
  local prefix = within(r, repo)
  local o = { within = prefix, exclude = {}, max_hash_bytes = opts and opts.max_hash_bytes,
    deadline_ns = opts and opts.deadline_ns }
  for i, path in ipairs(exclude or {}) do
    o.exclude[i] = prefix == "" and path or (prefix .. "/" .. path)
  end
  local snap
  snap, why = r:snapshot(o)
  if not snap then
    return nil, why
  end
  return { head = snap:head(), snap = snap, repo = r, path = repo, options = o }
end

-- The changes in `repo` since an in-memory snapshot (M.snapshot) of it, or of another work tree
-- of the same files (a worktree made from it); reading is bounded by opts.deadline_ns, with at
-- least a second left.
local function changes_since(repo, before, opts)
  local deadline = opts and opts.deadline_ns
  if deadline then
    deadline = math.max(deadline, clock.monotonic_ns() + 1000000000)
  end
  local r, why = before.repo, nil
  if repo ~= before.path then
    r, why = git.open(repo)
    if not r then
      return nil, why
    end
  end
  local change
  change, why = r:changes(before.snap, { deadline_ns = deadline, max_hash_bytes = before.options.max_hash_bytes })
  if not change then
    return nil, why
  end
  return { head_before = before.head, head_after = change.head_after, files = change.files }
end

---The files that differ between a snapshot and the work tree now: {head_before, head_after,
---files = {{path, change = added|modified|deleted|type_changed, by_stat?}}} sorted by path (and
---tree_before, tree_after and left_out after a tree snapshot, whose left_out files are left out
---again while unchanged); nil and why when it cannot be told (or not by opts.deadline_ns).
---@param opts? {deadline_ns: integer?}
function M.changes(repo, before, opts)
  option_keys.check("worktree.changes", opts, CHANGES_OPTIONS, 2)
  if before.snap then
    return changes_since(repo, before, opts)
  end
  -- After an agent, reading its changes is bounded by the run's deadline, with at least a second.
  local deadline = opts and opts.deadline_ns
  deadline = deadline and math.max(deadline, clock.monotonic_ns() + 1000000000) or nil
  local after, why = git_tree.tree_snapshot(repo, tree_options(repo, before.exclude, { deadline_ns = deadline },
    { leave_out = before.left_out }))
  local diff
  if after then
    diff, why = git_tree.diff_files(repo, before.tree, after.tree)
  end
  if not diff then
    return nil, why
  end
  for _, f in ipairs(diff) do
    f.change, f.status = STATUS[f.status] or f.status, nil
  end
  return { head_before = before.head, head_after = after.head, tree_before = before.tree, tree_after = after.tree,
    files = diff, left_out = after.left_out }
end

---Just the paths of a change's files.
function M.paths(change)
  local out = {}
  for i, f in ipairs(change.files) do
    out[i] = f.path
  end
  return out
end

return M
