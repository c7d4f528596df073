--- Facts about a git work tree, read with git itself (never a shell): HEAD, branch, status.
--- Each returns nil and the reason when it cannot (not a repository, git missing).
local proc = require("sidecar.core.proc")
local files = require("sidecar.core.files")

local M = {}

local OPTIONS = { timeout_ms = 30000, env = { GIT_OPTIONAL_LOCKS = "0" } }
local HEAD = { "rev-parse", "--verify", "--quiet", "HEAD" }
local STATUS = { "status", "--short", "--branch" }

local function command(repo, args)
  local cmd = { "git", "-C", repo }
  table.move(args, 1, #args, #cmd + 1, cmd)
  return cmd
end

-- A result's stdout, or nil and why.
local function output(r)
  if r.error and not r.code then
    return nil, r.error
  elseif not r.ok then
    local why = (r.stderr or ""):match("^%s*(.-)%s*$")
    return nil, why ~= "" and why or ("git exited with " .. tostring(r.code or r.signal_name))
  end
  return r.stdout
end

-- git's stdout for `args` run in `repo`, or nil and why.
local function git(repo, args)
  local ok, r = pcall(proc.run, command(repo, args), OPTIONS)
  if not ok then
    return nil, tostring(r.message or r)
  end
  return output(r)
end

local function line(repo, args)
  local out, why = git(repo, args)
  if not out then
    return nil, why
  end
  return (out:gsub("%s+$", ""))
end

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
  for _ = 1, 64 do -- deeper than any real tree; above "/", ".." is "/" again
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

---The commit HEAD names, or nil and why (a repository without commits has none).
function M.head(repo)
  return line(repo, HEAD)
end

---The current branch, "HEAD" when detached, or nil and why.
function M.branch(repo)
  return line(repo, { "rev-parse", "--abbrev-ref", "HEAD" })
end

---`git status --short --branch` as printed, or nil and why.
function M.status(repo)
  return git(repo, STATUS)
end

-- The branch named by the first line of `git status --short --branch`: "## main", with
-- "...origin/main" and " [ahead 1]" after it when it tracks one; "## HEAD (no branch)" when
-- detached. Branch names hold no spaces, control characters or "..", and none is called HEAD.
-- Anything else (no commits yet, a translated label, colour codes) gives nil: ask `git rev-parse`.
local function branch_of(status)
  local name, rest = status:match("^## ([^%s%c]+)([^\n]*)")
  if not name then
    return nil
  elseif name == "HEAD" then
    return rest:sub(1, 2) == " (" and "HEAD" or nil
  elseif rest ~= "" and rest:sub(1, 2) ~= " [" then
    return nil
  end
  name = name:match("^(.-)%.%.%.") or name
  return name ~= "" and name or nil
end

local Pending = {}
Pending.__index = Pending

---Waits for the gits `start_facts` started and returns the facts (see `M.facts`).
function Pending:wait()
  local results = self.results
  for i, h in pairs(self.handles) do
    results[i] = h:wait()
    h:close()
  end
  self.handles = {}
  local facts = {}
  facts.status, facts.status_error = output(results[1])
  local head, head_why = output(results[2])
  facts.head, facts.head_error = head and head:gsub("%s+$", ""), head_why
  if facts.status then
    facts.branch = branch_of(facts.status)
    if not facts.branch then
      facts.branch, facts.branch_error = M.branch(self.repo)
    end
  else
    -- Not a repository, or no git: rev-parse would fail with the same message.
    facts.branch_error = facts.status_error
  end
  return facts
end

---Stops the gits if they still run (the facts are not wanted after all).
function Pending:close()
  for _, h in pairs(self.handles) do
    h:close()
  end
  self.handles = {}
end
Pending.__close = Pending.close

---Starts reading HEAD, branch and status: two gits side by side (status, whose first line names
---the branch, and `rev-parse HEAD`), which only read (no optional locks). Returns a pending
---value: `:wait()` gives the facts, `:close()` (or `<close>`) stops them unread.
function M.start_facts(repo)
  -- handles[i] while running; results[i] at once when git could not start (as proc.parallel).
  local handles, results = {}, {}
  for i, args in ipairs({ STATUS, HEAD }) do
    local ok, h = pcall(proc.spawn, command(repo, args), OPTIONS)
    if ok then
      handles[i] = h
    else
      results[i] = { ok = false, error = tostring(type(h) == "table" and h.message or h) }
    end
  end
  return setmetatable({ repo = repo, handles = handles, results = results }, Pending)
end

---HEAD, branch and status at once: a table with `head`, `branch`, `status`, and `head_error`,
---`branch_error`, `status_error` for what could not be read. A third git asks for the branch
---only when status could not name it. `also` (proc.parallel specs) run in the same wave; their
---results are the second value.
function M.facts(repo, also)
  local pending <close> = M.start_facts(repo)
  local results = also and #also > 0 and proc.parallel(also, { max_jobs = 6 }) or {}
  return pending:wait(), results
end

---The top folder of the work tree holding `path`, or nil and why.
function M.toplevel(path)
  return line(path, { "rev-parse", "--show-toplevel" })
end

return M
