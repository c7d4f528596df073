--- What a run changed in a git work tree: a snapshot before, another after, and the difference.
---
---   local before = worktree.snapshot(repo, {".agent"}) -- {head, snap} or nil, why
---   ... the agent runs ...
---   local change = worktree.changes(repo, before)      -- {head_before, head_after, files = {...}}
---
--- A snapshot is read in-process (sidecar.host.git, libgit2) as `git status` reads a work tree:
--- the index's stat data tells which files to hash, hashing happens in memory, and nothing is
--- written into the repository (no object, no index, no lock). Untracked files are hashed too,
--- unless larger than max_hash_bytes: those are compared by their stat data (`by_stat`).
---
--- Writing runs, whose result becomes a commit, use tree snapshots instead (tree_snapshot,
--- start_snapshot): a tree object of every file, written through a private copy of the index
--- (GIT_INDEX_FILE), so the repository's own index and files are never touched; copying the
--- index first lets git reuse its stat cache instead of hashing every file again. Gits that do
--- not depend on each other run side by side: a snapshot is two steps (add with HEAD beside it,
--- then write-tree), the change two more (add, then write-tree, diff-index and HEAD together).
local clock = require("sidecar.host.time")
local git = require("sidecar.core.git")
local proc = require("sidecar.core.proc")
local files = require("sidecar.core.files")
local paths = require("sidecar.host.paths")

local M = {}

local TIMEOUT_MS = 120000

local function command(repo, args, env, timeout_ms)
  local cmd = { "git", "-C", repo }
  table.move(args, 1, #args, #cmd + 1, cmd)
  return { cmd = cmd, env = env, timeout_ms = timeout_ms or TIMEOUT_MS }
end

-- A result's stdout, or nil and why.
local function output(r)
  if r.ok then
    return r.stdout
  elseif r.timed_out then
    return nil, ("git %s was stopped at the run's deadline"):format(tostring(r.cmd and r.cmd[4] or ""))
  end
  local why = r.error or (r.stderr or ""):match("^%s*(.-)%s*$")
  return nil, (why and why ~= "") and why or ("git exited with " .. tostring(r.code or r.signal_name))
end

-- Runs one spec: its stdout, or nil and why.
local function run(spec)
  local ok, r = pcall(proc.run, spec.cmd, { env = spec.env, timeout_ms = spec.timeout_ms })
  if not ok then
    return nil, tostring(r.message or r)
  end
  return output(r)
end

-- Runs specs side by side: their results, or nil and why (git could not be started).
local function side_by_side(specs)
  local ok, results = pcall(proc.parallel, specs, { max_jobs = #specs })
  if not ok then
    return nil, tostring(results.message or results)
  end
  return results
end

local function trimmed(text)
  return text and (text:gsub("%s+$", ""))
end

-- The path of a private copy of the repository's index, for GIT_INDEX_FILE (no file there when
-- the repository has no index yet: git then starts from nothing); nil and why outside git.
local function index_copy(repo)
  local git_dir = git.dirs(repo)
  if git_dir == nil then
    return nil, "not a git repository (no .git in " .. repo .. " or above it)"
  end
  if git_dir == false then
    local out, why = run(command(repo, { "rev-parse", "--absolute-git-dir" }))
    if not out then
      return nil, why
    end
    git_dir = trimmed(out)
  end
  local index = os.tmpname()
  local data = files.read(git_dir .. "/index")
  if data then
    local f = assert(io.open(index, "wb"))
    f:write(data)
    f:close()
    -- The copy keeps the index's mtime: git rehashes the entries not older than the index
    -- ("racy" ones), and a newer copy would let a same-size change in that second pass unseen.
    paths.copy_times(git_dir .. "/index", index)
  else
    os.remove(index)
  end
  return index
end

local function add_args(exclude)
  local args = { "add", "--all", "--", "." }
  for _, path in ipairs(exclude or {}) do
    args[#args + 1] = ":(exclude)" .. path
  end
  return args
end

local HEAD = { "rev-parse", "--verify", "--quiet", "HEAD" }

-- git refuses an exclude pathspec that names an ignored path ("The following paths are ignored
-- by one of your .gitignore files"); an ignored path is left out anyway, so the add is redone
-- without excludes. Returns the output (or nil, why) and the excludes that worked.
local function add_again_if_ignored(repo, env, exclude, out, why, timeout_ms)
  if out or not exclude or not tostring(why):find("ignored by one of your .gitignore files", 1, true) then
    return out, why, exclude
  end
  out, why = run(command(repo, add_args(nil), env, timeout_ms))
  return out, why, nil
end

---HEAD (nil in a repository without commits) and the id of a tree holding every file of the work
---tree as it is now, except those under `exclude` (paths relative to the repository, such as
---Sidecar's own ".agent"). Nil and why outside a git repository. With `opts.keep_index` the
---private index that describes the tree (with each file's stat) is kept for the caller, who
---removes it: the result's `index` names it. Writes the tree's objects into the repository:
---for writing runs, whose result is a commit; M.snapshot writes nothing.
function M.tree_snapshot(repo, exclude, opts)
  local index, why = index_copy(repo)
  if not index then
    return nil, why
  end
  local env = { GIT_INDEX_FILE = index, GIT_OPTIONAL_LOCKS = "0" }
  local results
  results, why = side_by_side({ command(repo, add_args(exclude), env), command(repo, HEAD) })
  local tree
  if results then
    local added
    added, why = output(results[1])
    added, why, exclude = add_again_if_ignored(repo, env, exclude, added, why)
    if added then
      tree, why = run(command(repo, { "write-tree" }, env))
    end
  end
  if not (tree and opts and opts.keep_index) then
    os.remove(index)
  end
  if not tree then
    return nil, why
  end
  -- HEAD fails (quietly) in a repository without commits.
  return { head = results[2].ok and trimmed(results[2].stdout) or nil, tree = trimmed(tree), exclude = exclude,
    index = opts and opts.keep_index and index or nil }
end

-- A spawned git, or a stand-in whose wait() reports why it could not start.
local function start(spec)
  local ok, h = pcall(proc.spawn, spec.cmd, { env = spec.env, timeout_ms = spec.timeout_ms })
  if ok then
    return h
  end
  return { wait = function() return { ok = false, error = tostring(h.message or h) } end }
end

---M.tree_snapshot, started: its gits run while the caller does other work (a worktree's checkout).
---Returns an object whose :wait() gives what M.tree_snapshot(repo, exclude) gives, and head_tree
---(HEAD's tree).
function M.start_snapshot(repo, exclude)
  local index, why = index_copy(repo)
  if not index then
    return { wait = function() return nil, why end }
  end
  local env = { GIT_INDEX_FILE = index, GIT_OPTIONAL_LOCKS = "0" }
  local adding = start(command(repo, add_args(exclude), env))
  local head = start(command(repo, { "rev-parse", "-q", "HEAD", "HEAD^{tree}" }))
  return { wait = function()
    local added, tree
    added, why = output(adding:wait())
    added, why, exclude = add_again_if_ignored(repo, env, exclude, added, why)
    if added then
      tree, why = run(command(repo, { "write-tree" }, env))
    end
    local h = head:wait()
    os.remove(index)
    if not tree then
      return nil, why
    end
    local head_id, head_tree = (h.ok and h.stdout or ""):match("^(%x+)\n(%x+)")
    return { head = head_id, head_tree = head_tree, tree = trimmed(tree), exclude = exclude }
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
---tree_before, tree_after after a tree snapshot); nil and why when it cannot be told (or not by
---opts.deadline_ns).
function M.changes(repo, before, opts)
  if before.snap then
    return changes_since(repo, before, opts)
  end
  local index, why = index_copy(repo)
  if not index then
    return nil, why
  end
  -- After an agent, reading its changes is bounded by the run's deadline (opts.deadline_ns): the
  -- time left, at least a second, for each git.
  local function left()
    local deadline = opts and opts.deadline_ns
    return deadline and math.max(1000, (deadline - clock.monotonic_ns()) // 1000000) or nil
  end
  local env = { GIT_INDEX_FILE = index, GIT_OPTIONAL_LOCKS = "0" }
  local added, tree, diff, head_after
  added, why = run(command(repo, add_args(before.exclude), env, left()))
  added, why = add_again_if_ignored(repo, env, before.exclude, added, why, left())
  if added then
    local results
    results, why = side_by_side({
      command(repo, { "write-tree" }, env, left()),
      command(repo, { "diff-index", "--cached", "-z", "--no-renames", "--name-status", before.tree }, env, left()),
      command(repo, HEAD, nil, left()),
    })
    if results then
      tree, why = output(results[1])
      if tree then
        diff, why = output(results[2])
      end
      head_after = results[3].ok and trimmed(results[3].stdout) or nil
    end
  end
  os.remove(index)
  if not diff then
    return nil, why
  end
  return {
    head_before = before.head, head_after = head_after, tree_before = before.tree, tree_after = trimmed(tree),
    files = M.name_status(diff),
  }
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
