--- Git plumbing for run worktrees (stdlib/sidecar/run/worktree.lua holds the policy): make a worktree
--- whose files are exactly a given tree, retire it, commit a result, diff two trees, merge three
--- ways and write a merge into a work tree without touching its index.
---
--- Checking out every file of a big repository costs far more than the rest of a run's
--- overhead, so an ended worktree is kept as a spare copy (`.spare-N` beside the worktrees: its
--- files, and its index moved in beside them) instead of being deleted. The next worktree takes
--- a spare over by a rename and `git read-tree --reset -u`, which looks at every file once and
--- writes only those whose id or stat differs from what the index says: the files that differ
--- between the two trees, and any file changed after the index was written (by the last agent,
--- its validation, or a process it left behind). The index file is moved, never copied, so its
--- own time stays what git's racy-file check needs. A spare is not a git worktree: git knows
--- nothing of it (`git worktree list` shows no spare).
local proc = require("sidecar.core.proc")
local worktree = require("sidecar.core.worktree")

local M = {}

M.TIMEOUT_MS = 10 * 60 * 1000 -- a cold checkout of a big repository on a slow disk
M.AUTHOR = { GIT_AUTHOR_NAME = "Sidecar", GIT_AUTHOR_EMAIL = "sidecar@localhost", GIT_COMMITTER_NAME = "Sidecar",
  GIT_COMMITTER_EMAIL = "sidecar@localhost" }
-- A spare copy's index, beside its files (moved out before git looks at the folder).
M.SPARE_INDEX = ".sidecar-spare-index"
---The largest patch a run keeps in changes.patch; a larger change is its commit alone.
M.MAX_PATCH = 64 * 1024 * 1024

local trimmed = require("sidecar.core.text").rtrim -- linear: a gsub("%s+$", "") is quadratic on a run of blanks

local function command(dir, args)
  local cmd = { "git", "-C", dir }
  table.move(args, 1, #args, #cmd + 1, cmd)
  return cmd
end

-- A git result's stdout and exit code, or nil and why (git's own words).
local function result(args, r, codes)
  if r.ok or (r.code and codes and codes[r.code]) then
    return r.stdout, r.code, r.truncated
  end
  local said = trimmed(r.stderr or r.error or "")
  local verb = args[1] == "-c" and args[3] or args[1]
  return nil, ("git %s: %s"):format(verb, said ~= "" and said:gsub("\n", "; ") or
    ("exited with " .. tostring(r.code or r.signal_name)))
end

---Runs git in `dir`. Returns its stdout, exit code and whether stdout was cut to its end
---(opts.max_output), or nil and why (git's own words). opts: env, codes (exit codes that are not
---failures, such as {[1] = true}), max_output.
---@param dir string
---@param args string[]
---@param opts? {env: table?, codes: table?, max_output: integer?}
function M.git(dir, args, opts)
  opts = opts or {}
  local ok, r = pcall(proc.run, command(dir, args), { env = opts.env, timeout_ms = M.TIMEOUT_MS,
    max_output = opts.max_output })
  if not ok then
    return nil, tostring(r.message or r)
  end
  return result(args, r, opts.codes)
end

---Runs several gits in `dir` side by side. Returns a list of {stdout, code, truncated} or
---{nil, why}, in order. An argument list may say `max_output` (the most of its stdout kept: its
---end, `truncated` then true).
function M.many(dir, arg_lists)
  local specs = {}
  for i, args in ipairs(arg_lists) do
    specs[i] = { cmd = command(dir, args), timeout_ms = M.TIMEOUT_MS, max_output = args.max_output }
  end
  local ok, results = pcall(proc.parallel, specs, { max_jobs = #specs })
  local out = {}
  for i, args in ipairs(arg_lists) do
    if ok then
      out[i] = { result(args, results[i]) }
    else
      out[i] = { nil, tostring(results.message or results) }
    end
  end
  return out
end

---The first line of a git command's output, or nil and why.
function M.line(dir, args, opts)
  local out, why = M.git(dir, args, opts)
  if not out then
    return nil, why
  end
  return out:match("^[^\n]*")
end

---The repository holding `dir`: {top = its top folder (absolute), prefix = `dir` below it ("" or
---"sub/dir/")}, or nil and why outside git.
function M.top(dir)
  local out, why = M.git(dir, { "rev-parse", "--show-toplevel", "--show-prefix" })
  if not out then
    return nil, why
  end
  local top, prefix = out:match("^([^\n]*)\n([^\n]*)")
  return { top = top, prefix = prefix or "" }
end

---The commit a branch points at, or nil when there is no such branch.
function M.branch_tip(dir, branch)
  return M.line(dir, { "rev-parse", "--verify", "--quiet", "refs/heads/" .. branch .. "^{commit}" })
end

---The tree of a commit, or nil and why.
function M.tree_of(dir, commit)
  return M.line(dir, { "rev-parse", "--verify", "--quiet", commit .. "^{tree}" })
end

---A new commit of `tree` (parent `parent` when given) by Sidecar, never signed (no key prompt
---in the middle of a run). Returns its id or nil, why.
function M.commit(dir, tree, parent, message)
  local args = { "-c", "commit.gpgSign=false", "commit-tree", tree, "-m", message }
  if parent then
    table.move({ "-p", parent }, 1, 2, #args + 1, args)
  end
  return M.line(dir, args, { env = M.AUTHOR })
end

---Points `branch` at `commit`, only when it is at `old` now (a compare-and-swap; "" for a new branch).
function M.set_branch(dir, branch, commit, old)
  return M.git(dir, { "update-ref", "refs/heads/" .. branch, commit, old })
end

---Deletes `branch` when it is at `old` (another commit there means someone moved it: kept).
function M.delete_branch(dir, branch, old)
  return M.git(dir, { "update-ref", "-d", "refs/heads/" .. branch, old })
end

local NAMES = { "diff-tree", "-r", "-z", "--no-renames", "--name-status" }
local PATCH = { "diff-tree", "-r", "-p", "--binary", "--full-index", "--no-renames", "--no-color" }

local function with(args, ...)
  local out = table.move(args, 1, #args, 1, {})
  return table.move({ ... }, 1, select("#", ...), #out + 1, out)
end

---The files that differ between two trees: {{path, change = added|modified|...}} sorted by path.
function M.diff_files(dir, from, to)
  local out, why = M.git(dir, with(NAMES, from, to))
  if not out then
    return nil, why
  end
  return worktree.name_status(out)
end

---What changed from tree `from` to tree `to`, read side by side: {files (as diff_files), patch
---(binary files included: `git apply` takes it), head_tree (the tree of commit `head`, when
---given)}, or nil and why.
---`known` (optional) holds what the caller knows already, and is not read again: files (the
---same list, from the agent run's own diff), head_tree.
function M.change(dir, from, to, head, known)
  known = known or {}
  local patch_args = with(PATCH, from, to)
  patch_args.max_output = M.MAX_PATCH
  local lists, at = { patch_args }, {}
  if not known.files then
    lists[#lists + 1], at.files = with(NAMES, from, to), #lists + 1
  end
  if head and not known.head_tree then
    lists[#lists + 1], at.head = { "rev-parse", "--verify", "--quiet", head .. "^{tree}" }, #lists + 1
  end
  -- A lone git needs no pool of workers.
  local r = #lists == 1 and { { M.git(dir, patch_args, { max_output = M.MAX_PATCH }) } } or M.many(dir, lists)
  for i = 1, at.files or 1 do
    if not r[i][1] then
      return nil, r[i][2]
    end
  end
  local patch, patch_cut = r[1][1], r[1][3] and #r[1][1] or nil
  if patch_cut then
    -- Only the end of a larger patch was kept, which no tool could apply: a note stands in, and the
    -- change itself is the run's commit (run apply merges that).
    patch = ("[sidecar: this change's patch is larger than %d bytes and was not kept; the change is the commit "
      .. "on the run's branch: git diff %s %s]\n"):format(M.MAX_PATCH, from, to)
  end
  return { files = known.files or worktree.name_status(r[at.files][1]), patch = patch, patch_cut = patch_cut ~= nil,
    head_tree = known.head_tree or (at.head and r[at.head][1] and r[at.head][1]:match("%x+")) }
end

---The git folder a worktree's `.git` file names ("gitdir: /repo/.git/worktrees/R-0001").
function M.admin_dir(path)
  local f = io.open(path .. "/.git", "rb")
  local text = f and f:read("a")
  if f then
    f:close()
  end
  local dir = text and text:match("^gitdir: *([^\r\n]+)")
  if dir and dir:sub(1, 1) ~= "/" then
    dir = path .. "/" .. dir
  end
  return dir
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
  pcall(proc.run, { "rm", "-rf", "--", path }, { timeout_ms = M.TIMEOUT_MS })
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
  local ok, why = M.git(path, { "-c", "checkout.workers=0", "read-tree", "--reset", "-u", tree })
  if ok and dirty then
    ok, why = M.git(path, { "clean", "-ffdxq" })
  end
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

-- Sidecar never runs a global `git worktree prune`, which could take a worktree in the moment its
-- .git file moves into the spare (git gc leaves young worktrees alone): no --lock is needed.
local function add_args(spec)
  local args = { "worktree", "add", "--no-checkout", "--quiet" }
  if spec.existing then
    return table.move({ spec.path, spec.branch }, 1, 2, #args + 1, args)
  end
  return table.move({ "-b", spec.branch, spec.path, spec.start }, 1, 4, #args + 1, args)
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
  local added, why = M.git(dir, add_args(spec))
  if not added then
    if warm then
      unclaim(spec, claim)
    end
    return nil, why
  end
  local admin = M.admin_dir(spec.path)
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
  if M.git(path, { "read-tree", "-m", "-u", "HEAD", tree }) then
    return true
  end
  return checkout(path, tree, true)
end

---Removes a worktree: its folder and git's record of it. A folder git will not remove is
---deleted only when it is a linked worktree (a .git file naming its git folder): never a folder
---that a wrong path names.
function M.remove(dir, path)
  local admin = M.admin_dir(path)
  if not M.git(dir, { "worktree", "remove", "--force", "--force", path }) and admin then
    delete_tree(path)
    delete_tree(admin)
  end
end

---Ends a worktree: kept as a spare copy when spec.spares_dir has a free slot (and the worktree
---lies there), else removed. Either way git forgets it (`git worktree prune` finds nothing).
---Returns "spare" or "removed".
---@param spec {spares_dir: string?, spares: integer?}
function M.retire(dir, path, spec)
  local slot = spec.spares_dir and path:sub(1, #spec.spares_dir + 1) == spec.spares_dir .. "/" and free_slot(spec)
  local admin = slot and M.admin_dir(path)
  -- Untracked and ignored files (build output, copied files) go: the index then names every
  -- file there is, and the next run gets exactly its own tree.
  if admin and M.git(path, { "clean", "-ffdxq" }) and os.rename(admin .. "/index", path .. "/" .. M.SPARE_INDEX) then
    os.remove(path .. "/.git")
    local kept = os.rename(path, slot)
    if not kept then -- another process took the slot meanwhile
      delete_tree(path)
    end
    delete_tree(admin) -- what `git worktree prune` would remove, and only that
    return kept and "spare" or "removed"
  end
  M.remove(dir, path)
  return "removed"
end

---Merges three ways: the change from tree `base` to tree `theirs`, onto tree `ours`. Returns
---{tree = the merged tree} or {conflicts = {paths}}, or nil and why. Writes nothing but objects.
function M.merge(dir, base, ours, theirs)
  local b, why = M.commit(dir, base, nil, "sidecar: merge base")
  local o = b and M.commit(dir, ours, b, "sidecar: the work tree")
  local t = o and M.commit(dir, theirs, b, "sidecar: the run's result")
  if not t then
    return nil, why or "git commit-tree failed"
  end
  local out, code = M.git(dir, { "merge-tree", "--write-tree", "--name-only", "--no-messages", o, t },
    { codes = { [1] = true } })
  if not out then
    return nil, code
  end
  local lines = {}
  for line in out:gmatch("[^\n]+") do
    lines[#lines + 1] = line
  end
  if code == 0 then
    return { tree = lines[1] }
  end
  local conflicts, seen = {}, {}
  for i = 2, #lines do
    if not seen[lines[i]] then
      seen[lines[i]] = true
      conflicts[#conflicts + 1] = lines[i]
    end
  end
  return { conflicts = conflicts }
end

---Writes tree `to` into the work tree at `dir`, which holds tree `from` as the index file `index`
---records: only the files that differ, and git checks them all before writing any. The
---repository's own index is not touched. Returns true or nil, why.
function M.write_files(dir, index, from, to)
  local env = { GIT_INDEX_FILE = index }
  -- A file touched since the snapshot but the same still is fine: its stat is brought up to date
  -- first (one changed for real stays "not uptodate", and git refuses to write over it).
  M.git(dir, { "update-index", "-q", "--refresh" }, { env = env, codes = { [1] = true } })
  local ok, why = M.git(dir, { "read-tree", "-m", "-u", from, to }, { env = env })
  if not ok then
    return nil, why
  end
  return true
end

return M
