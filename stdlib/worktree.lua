--- What a run changed in a git work tree: a snapshot before (HEAD plus a tree object of every
--- file, untracked ones included, ignored ones not), another after, and the difference.
---
---   local before = worktree.snapshot(repo)      -- {head, tree} or nil, why
---   ... the agent runs ...
---   local change = worktree.changes(repo, before) -- {head_before, head_after, files = {...}}
---
--- The tree is written through a private copy of the index (GIT_INDEX_FILE), so the repository's
--- own index and files are never touched; copying the index first lets git reuse its stat cache
--- instead of hashing every file again.
local proc = require("proc")

local M = {}

local TIMEOUT_MS = 120000

local function git(repo, args, env)
  local cmd = { "git", "-C", repo }
  table.move(args, 1, #args, #cmd + 1, cmd)
  local ok, r = pcall(proc.run, cmd, { timeout_ms = TIMEOUT_MS, env = env })
  if not ok then
    return nil, tostring(r.message or r)
  end
  if not r.ok then
    local why = (r.stderr or ""):match("^%s*(.-)%s*$")
    return nil, why ~= "" and why or ("git exited with " .. tostring(r.code or r.signal_name))
  end
  return r.stdout
end

local function trimmed(text)
  return text and (text:gsub("%s+$", ""))
end

local function copy_file(from, to)
  local src = io.open(from, "rb")
  if not src then
    return false
  end
  local data = src:read("a")
  src:close()
  local dst = assert(io.open(to, "wb"))
  dst:write(data)
  dst:close()
  return true
end

---HEAD (nil in a repository without commits) and the id of a tree holding every file of the work
---tree as it is now, except those under `exclude` (paths relative to the repository, such as
---Sidecar's own ".agent"). Nil and why outside a git repository.
-- Whether `repo` or a folder above it has a .git (a folder, or a file for a worktree): when none
-- does (and GIT_DIR is not set) there is no repository and no git needs to run to say so.
local function in_repository(repo)
  if os.getenv("GIT_DIR") then
    return true
  end
  local dir = repo
  for _ = 1, 64 do
    local f = io.open(dir .. "/.git", "r")
    if f then
      f:close()
      return true
    end
    dir = dir .. "/.."
  end
  return false
end

function M.snapshot(repo, exclude)
  if not in_repository(repo) then
    return nil, "not a git repository (no .git in " .. repo .. " or above it)"
  end
  -- One git for both: the folder, then HEAD (in a repository without commits git prints "HEAD"
  -- back and fails, after the folder).
  local cmd = { "git", "-C", repo, "rev-parse", "--absolute-git-dir", "HEAD" }
  local ok, r = pcall(proc.run, cmd, { timeout_ms = TIMEOUT_MS })
  if not ok then
    return nil, tostring(r.message or r)
  end
  local git_dir, head = (r.stdout or ""):match("^(/[^\n]*)\n([^\n]*)")
  if not git_dir then
    local why = (r.stderr or ""):match("^%s*(.-)%s*$")
    return nil, why ~= "" and why or ("git exited with " .. tostring(r.code or r.signal_name))
  end
  if not r.ok or not head:match("^%x+$") then
    head = nil
  end
  local index = os.tmpname()
  if not copy_file(git_dir .. "/index", index) then
    os.remove(index) -- no index yet: git builds one from nothing
  end
  local env = { GIT_INDEX_FILE = index, GIT_OPTIONAL_LOCKS = "0" }
  local args = { "add", "--all", "--", "." }
  for _, path in ipairs(exclude or {}) do
    args[#args + 1] = ":(exclude)" .. path
  end
  local tree, why
  local added
  added, why = git(repo, args, env)
  if added then
    tree, why = git(repo, { "write-tree" }, env)
  end
  os.remove(index)
  if not tree then
    return nil, why
  end
  return { head = head, tree = trimmed(tree), exclude = exclude }
end

local STATUS = { A = "added", M = "modified", D = "deleted", T = "type_changed" }

---The files that differ between a snapshot and the work tree now: {head_before, head_after,
---tree_before, tree_after, files = {{path, change = added|modified|deleted|type_changed}}}
---sorted by path; nil and why when the snapshot cannot be taken.
function M.changes(repo, before)
  local after, why = M.snapshot(repo, before.exclude)
  if not after then
    return nil, why
  end
  local out
  out, why = git(repo, { "diff-tree", "-r", "-z", "--no-renames", "--name-status", before.tree, after.tree })
  if not out then
    return nil, why
  end
  local files = {}
  local fields = {}
  for field in out:gmatch("([^%z]+)") do
    fields[#fields + 1] = field
  end
  for i = 1, #fields - 1, 2 do
    files[#files + 1] = { path = fields[i + 1], change = STATUS[fields[i]:sub(1, 1)] or fields[i] }
  end
  table.sort(files, function(a, b) return a.path < b.path end)
  return {
    head_before = before.head, head_after = after.head, tree_before = before.tree, tree_after = after.tree,
    files = files,
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
