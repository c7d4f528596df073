--- Preparing a run's worktree (stdlib/sidecar/run/worktree.lua) before its agent: the files
--- `.agent/config.lua` names under worktree.copy, copied from the user's tree (they are usually
--- ignored by git, so the worktree lacks them: .env.local, node_modules), and the user's large
--- untracked files the snapshot left out. (The setup command runs next:
--- stdlib/sidecar/task/worktree_setup.lua.)
local aside = require("sidecar.run.worktree_aside")
local git = require("sidecar.run.worktree_git")
local json = require("sidecar.core.json")
local paths = require("sidecar.host.paths")
local proc = require("sidecar.core.proc")

local M = {}

local COPY_BATCH = 256 -- paths per cp, well under the system's bound on a command line

---Copies the configured files (worktree.copy: ignored ones such as .env.local or node_modules)
---from the user's folder `from` into the worktree's `to`; wt.copied lists them. True or nil, why.
function M.copy_files(list, from, to, wt)
  local found = {}
  for _, rel in ipairs(list or {}) do
    if rel:sub(1, 1) == "/" or rel:find("%.%.") then
      return nil, ("worktree.copy: %q: give a path inside the repository (no leading / and no ..)"):format(rel)
    end
    local f = io.open(from .. rel, "rb")
    if f then
      f:close()
      found[#found + 1] = rel
    end
  end
  wt.copied = json.array(found)
  if #found == 0 then
    return true
  end
  local cmd = { "cp", "-a", "--parents", "--reflink=auto", "-t", to }
  table.move(found, 1, #found, #cmd + 1, cmd)
  local r = proc.run(cmd, { cwd = from, timeout_ms = git.TIMEOUT_MS })
  if not r.ok then
    return nil, "worktree.copy: cp failed: " .. tostring((r.stderr or ""):match("[^\n]+") or r.code)
  end
  return true
end

-- Whether `rel` can be copied into the worktree at `to`: nothing is there yet (a pipeline's later
-- step starts from the last step's commit, where an agent's version of the file is tracked and
-- stays), and each folder on the way is a real one or missing, never a symlink an agent
-- committed (cp would write through it, outside the worktree).
local function free_in(to, rel)
  local at = to
  for part in rel:gmatch("[^/]+") do
    at = at .. "/" .. part
    local st = paths.lstat(at)
    if st and (st.kind ~= "directory" or at == to .. "/" .. rel) then
      return false
    elseif not st then
      return true
    end
  end
  return true
end

---Copies the untracked files a snapshot of the user's tree left out (larger than
---worktree.max_untracked_bytes: a checkpoint, a dataset) from the top of the user's work tree
---`from` into the worktree's top `to`, as they are (cp -a, a reflink where the file system has
---them): the agent sees the user's files, and nothing of them is hashed into the repository.
---wt.left_out records each copy (path, size, mtime_ns): the worktree's snapshots leave it out
---while it is unchanged, so only a change of the agent's reaches the run's commit. The secret
---files it left out (reason "secret": an untracked .env, a key) are never copied: wt.left_out
---names them, as the snapshot saw them (worktree.copy brings one the user names). True or nil, why.
function M.copy_left_out(list, from, to, wt)
  local found, secret = {}, {}
  for _, f in ipairs(list or {}) do
    local rel = type(f) == "table" and aside.inside(f.path)
    local st = rel and f.reason ~= "secret" and paths.lstat(from .. "/" .. rel)
    if rel and f.reason == "secret" then
      secret[#secret + 1] = { path = rel, size = f.size, mtime_ns = f.mtime_ns, reason = "secret" }
    elseif st and st.kind == "file" and free_in(to, rel) then
      found[#found + 1] = rel
    end
  end
  wt.left_out = json.array(secret)
  for first = 1, #found, COPY_BATCH do
    local cmd = { "cp", "-a", "--parents", "--reflink=auto", "-t", to, "--" }
    table.move(found, first, math.min(first + COPY_BATCH - 1, #found), #cmd + 1, cmd)
    local r = proc.run(cmd, { cwd = from, timeout_ms = git.TIMEOUT_MS })
    if not r.ok then
      return nil, "copying the untracked files larger than worktree.max_untracked_bytes into the worktree: cp failed: "
        .. tostring((r.stderr or ""):match("[^\n]+") or r.code or r.error)
    end
  end
  for _, rel in ipairs(found) do
    local st = paths.lstat(to .. "/" .. rel)
    if st and st.kind == "file" then
      wt.left_out[#wt.left_out + 1] = { path = rel, size = st.size, mtime_ns = st.mtime_ns }
    end
  end
  return true
end

return M
