--- Facts about a git work tree, read in-process (sidecar.host.git, libgit2: no git runs and
--- nothing is written): HEAD, branch, status, and where a repository's git folders are.
--- Each returns nil and the reason when it cannot (not a repository, libgit2 missing).
local proc = require("sidecar.core.proc")
local files = require("sidecar.core.files")
local host_git = require("sidecar.host.git")

local M = {}

-- A path as git reads one from a file in `base`: absolute, or relative to `base`.
local function from(base, path)
  return path:sub(1, 1) == "/" and path or (base .. "/" .. path)
end

---The repository's git folders as git finds them from `repo`, without running git: the nearest
---.git in `repo` or above (a folder, or a file saying "gitdir: PATH" in a linked worktree). Returns
---the worktree's own folder (its index, HEAD) and the common one (config, objects); nil when
---there is none; false when git itself must be asked (GIT_DIR is set, or a .git file names no
---folder).
---@param repo string
---@return string|false|nil own, string? common
function M.dirs(repo)
  if os.getenv("GIT_DIR") then
    return false
  end
  local dir = repo
  for _ = 0, files.depth(repo) or -1 do -- each folder up to "/" once (".." is the physical parent)
    local path = dir .. "/.git"
    local f = io.open(path, "rb")
    if f then
      local head = f:read(8) -- nil for a folder
      local said = head and (head .. (f:read("a") or "")) or nil
      f:close()
      local target = said and said:match("^gitdir: *([^\r\n]+)")
      if said and not target then
        return false
      end
      local own = target and from(dir, target) or path
      local common = (files.read(own .. "/commondir") or ""):match("^([^\r\n]+)")
      return own, common and from(own, common) or own
    end
    dir = dir .. "/.."
  end
  return nil
end


---The repository holding `repo`, opened in-process (sidecar.host.git), or nil, why and code
---("ENOTREPO" outside any repository: told without loading libgit2, as most folders outside git
---are asked about on every run).
---@param repo string
function M.open(repo)
  if M.dirs(repo) == nil then
    return nil, "not a git repository (no .git in " .. repo .. " or above it)", "ENOTREPO"
  end
  return host_git.open(repo)
end
local open = M.open

---Starts loading libgit2 on a thread of its own when `repo` is inside a git repository, so that
---the reads of git that follow (a run's snapshot, a prepare's facts) find it loaded: a caller
---calls this first and does its other work meanwhile (sidecar.host.git.preload).
---@param repo string
function M.preload(repo)
  if M.dirs(repo) ~= nil then
    host_git.preload()
  end
end

-- HEAD's commit (or nil and why) and the branch ("HEAD" when detached, or nil and why).
local function head_of(r)
  local h, why = r:head()
  if not h then
    return nil, why, nil, why
  end
  local id = h.id
  local branch = h.detached and "HEAD" or h.branch or h.ref
  return id, not id and "HEAD names no commit (the repository has no commits yet)" or nil,
    id and branch or nil, not id and ("the branch " .. tostring(branch) .. " has no commits yet") or nil
end

---The commit HEAD names, or nil and why (a repository without commits has none).
function M.head(repo)
  local facts = M.facts(repo)
  return facts.head, facts.head_error
end

---The current branch, "HEAD" when detached, or nil and why (no commits yet, not a repository).
function M.branch(repo)
  local facts = M.facts(repo)
  return facts.branch, facts.branch_error
end

---`git status --short --branch` as git prints it, or nil and why.
function M.status(repo)
  local facts = M.facts(repo)
  return facts.status, facts.status_error
end

---HEAD, branch and status at once, read in-process (libgit2: no git runs, nothing is written):
---a table with `head`, `branch` ("HEAD" when detached) and `status` (the text of `git status
-----short --branch`), and `head_error`, `branch_error`, `status_error` for what could not be
---read. `also` (proc.parallel specs) run next; their results are the second value.
function M.facts(repo, also)
  local facts = {}
  local r, why = open(repo)
  if r then
    facts.head, facts.head_error, facts.branch, facts.branch_error = head_of(r)
    facts.status, facts.status_error = r:status()
    r:close()
  else
    facts.head_error, facts.branch_error, facts.status_error = why, why, why
  end
  return facts, also and #also > 0 and proc.parallel(also, { max_jobs = 6 }) or {}
end

local Pending = {}
Pending.__index = Pending

---The facts `start_facts` read.
function Pending:wait()
  return self.facts
end

---Nothing to stop: kept so that callers may `<close>` what start_facts gives.
function Pending:close() end
Pending.__close = Pending.close

---The facts of M.facts, read now, as a value whose `:wait()` gives them (callers written for
---facts read in the background keep working).
function M.start_facts(repo)
  return setmetatable({ facts = (M.facts(repo)) }, Pending)
end

---The top folder of the work tree holding `path`, or nil and why.
function M.toplevel(path)
  local r, why = open(path)
  if not r then
    return nil, why
  end
  local top = r:workdir()
  r:close()
  if top == "" then
    return nil, "a bare repository has no work tree"
  end
  return top
end

return M
