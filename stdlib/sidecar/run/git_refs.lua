--- What an agent did to a repository's history during a run, and the pushes it tried.
---
---   local watch = git_refs.watch(repo, {run_id = "R-0001", push_log = run_dir .. "/push_attempts.log"})
---   ... worktree.snapshot(repo) ...            -- the refs are read side by side with it
---   watch:block_push(env)                      -- the agent's environment refuses every push
---   ... the agent runs ...
---   watch:after()                              -- starts reading the refs again
---   ... worktree.changes(repo, before) ...
---   record.git = watch:facts(head_before, head_after, commands_run)
---
--- Facts: HEAD (and the branch it is on) before and after; branches and tags created, deleted
--- and moved, and refs of every other namespace (notes, stash, remotes, custom) likewise
--- (refs_created/deleted/moved) (read in-process each side; refs are shared by every
--- worktree of a repository, HEAD is the worktree's own); the commits made (what the new tips
--- reach and the old ones do not, only when something moved: the first 50); and push attempts,
--- seen in the agent's commands or refused by the push block. No git runs for any of it.
---
--- Branches under `sidecar/` other than this run's own `sidecar/R-NNNN` are Sidecar's bookkeeping
--- (each writing run works on one, stdlib/sidecar/run/worktree.lua) and are left out. A person who
--- commits in the same repository during a run cannot be told apart from the agent: the facts
--- name every commit, so whoever reviews the run sees it.
---
--- Pushes are made impossible by stdlib/sidecar/run/push_block.lua (watch:block_push); attempts are part of
--- the facts.
local json = require("sidecar.core.json")
local git = require("sidecar.core.git")
local push_block = require("sidecar.run.push_block")

local M = {}

M.MAX_COMMITS = 50
-- {refs = {[refname] = id}, head_ref = "refs/heads/main" | nil (detached or unborn)} of the
-- repository now, or {unavailable = why}.
local function read_refs(repo)
  local r, why = git.open(repo)
  if not r then
    return { unavailable = why }
  end
  local refs, head
  refs, why = r:refs()
  head = r:head()
  r:close()
  if not refs then
    return { unavailable = why }
  end
  local ref = head and not head.detached and head.ref
  return { refs = refs, head_ref = ref and refs[ref] and ref or nil }
end

local Watch = {}
Watch.__index = Watch

---Starts watching `repo`: reads its refs and gets the push block ready. opts: run_id (this run: its own sidecar/ branch is
---watched), push_log (the file the push block appends each refused push to).
---@param repo string
---@param opts? {run_id: string?, push_log: string?}
---@return table watch
function M.watch(repo, opts)
  opts = opts or {}
  local w = setmetatable({ repo = repo, run_id = opts.run_id, push = push_block.prepare(repo, opts.push_log) }, Watch)
  w.before = read_refs(repo)
  return w
end

---Adds the push block to `env` (a table of environment variables, changed in place): see
---stdlib/sidecar/run/push_block.lua.
---@param env table
---@return table env
function Watch:block_push(env)
  return push_block.add_to(self.push, env)
end

---Reads the refs after the run (once; later calls keep that reading).
function Watch:after()
  self.after_state = self.after_state or read_refs(self.repo)
end

-- Whether a ref is left out: a branch under sidecar/ other than this run's own (other runs'
-- worktree branches, which Sidecar makes and commits to while this run goes on).
local function ignored(self, name)
  local rest = name:match("^refs/heads/sidecar/(.+)$")
  return rest ~= nil and rest ~= self.run_id
end

local function short_name(name)
  return (name:gsub("^refs/heads/", ""):gsub("^refs/tags/", ""))
end

-- Created, deleted and moved refs under `prefix`, sorted by name.
local function ref_changes(self, before, after, prefix)
  local created, deleted, moved = {}, {}, {}
  for name, sha in pairs(after) do
    if name:sub(1, #prefix) == prefix and not ignored(self, name) then
      local old = before[name]
      if not old then
        created[#created + 1] = { name = short_name(name), sha = sha }
      elseif old ~= sha then
        moved[#moved + 1] = { name = short_name(name), from = old, to = sha }
      end
    end
  end
  for name, sha in pairs(before) do
    if name:sub(1, #prefix) == prefix and not after[name] and not ignored(self, name) then
      deleted[#deleted + 1] = { name = short_name(name), sha = sha }
    end
  end
  for _, list in ipairs({ created, deleted, moved }) do
    table.sort(list, function(a, b) return a.name < b.name end)
  end
  return json.array(created), json.array(deleted), json.array(moved)
end

-- The commits reachable from the new tips and from none of the old ones: the first MAX_COMMITS
-- (newest first), whether there were more, or nil and why.
local function new_commits(self, tips, before, head_before)
  local hidden = {}
  for _, sha in pairs(before.refs) do
    hidden[#hidden + 1] = sha
  end
  hidden[#hidden + 1] = head_before
  local r, why = git.open(self.repo)
  local found
  if r then
    found, why = r:new_commits(tips, hidden, M.MAX_COMMITS + 1)
    r:close()
  end
  if not found then
    return nil, false, why
  end
  local commits = {}
  for i, c in ipairs(found) do
    commits[i] = { sha = c.id, short = c.id:sub(1, 7), subject = c.subject }
  end
  local more = #commits > M.MAX_COMMITS
  commits[M.MAX_COMMITS + 1] = nil
  return commits, more
end

---The git facts of the run (record.git): head_before, head_after, head_branch_before,
---head_branch_after (a branch name, or json.null when detached), branches_created/deleted/
---moved and tags_created/deleted/moved ({name, sha} or {name, from, to}), commits ({sha, short,
---subject}, newest first; commits_more when there were more than MAX_COMMITS),
---push_attempts ({source = "command", push, command, exit_code} from the agent's commands: push
---is the git push, command the whole command; {source = "git", remote, url} refused by the push
---block), and `unavailable` (why the refs could not be read).
---@param head_before string|nil  HEAD before the run (worktree.snapshot's), when known
---@param head_after string|nil
---@param commands? table[]  the agent's commands (record.commands_run)
---@return table
function Watch:facts(head_before, head_after, commands)
  self:after()
  local before, after = self.before, self.after_state
  local f = { push_attempts = json.array(push_block.attempts(commands, self.push.log)) }
  if before.unavailable or after.unavailable then
    f.unavailable = before.unavailable or after.unavailable
    return f
  end
  head_before = head_before or (before.head_ref and before.refs[before.head_ref])
  head_after = head_after or (after.head_ref and after.refs[after.head_ref])
  f.head_before, f.head_after = head_before or json.null, head_after or json.null
  f.head_branch_before = before.head_ref and short_name(before.head_ref) or json.null
  f.head_branch_after = after.head_ref and short_name(after.head_ref) or json.null
  f.branches_created, f.branches_deleted, f.branches_moved = ref_changes(self, before.refs, after.refs, "refs/heads/")
  f.tags_created, f.tags_deleted, f.tags_moved = ref_changes(self, before.refs, after.refs, "refs/tags/")
  -- Every other namespace (notes, stash, remotes, a custom refs/x/…): nothing a run should touch.
  local function others(refs)
    local out = {}
    for name, sha in pairs(refs) do
      if not name:match("^refs/heads/") and not name:match("^refs/tags/") then
        out[name] = sha
      end
    end
    return out
  end
  f.refs_created, f.refs_deleted, f.refs_moved = ref_changes(self, others(before.refs), others(after.refs), "refs/")
  local tips = {}
  if head_after and head_after ~= head_before then
    tips[#tips + 1] = head_after
  end
  for _, list in ipairs({ f.branches_created, f.branches_moved, f.tags_created, f.tags_moved }) do
    for _, r in ipairs(list) do
      tips[#tips + 1] = r.sha or r.to
    end
  end
  f.commits = json.array({})
  if #tips > 0 then
    local commits, more, why = new_commits(self, tips, before, head_before)
    if commits then
      f.commits, f.commits_more = json.array(commits), more or nil
    else
      f.commits_unavailable = why
    end
  end
  return f
end

-- Lines for people (run show) -------------------------------------------------------------------

local SHOWN_COMMITS = 10

local function head_text(branch, sha)
  local at = type(sha) == "string" and sha:sub(1, 7) or "none"
  return type(branch) == "string" and (branch .. " " .. at) or ("detached " .. at)
end

local function ref_lines(lines, f, kind)
  for _, change in ipairs({ "created", "deleted", "moved" }) do
    for _, r in ipairs(f[kind .. "_" .. change] or {}) do
      local where = r.sha and r.sha:sub(1, 7) or (r.from:sub(1, 7) .. " -> " .. r.to:sub(1, 7))
      lines[#lines + 1] = ("  %s %s %s (%s)"):format(change, kind == "branches" and "branch" or "tag", r.name, where)
    end
  end
end

---The lines `run show` prints for a run's git facts (record.git): HEAD before and after, the
---commits made, branches and tags created, deleted or moved, and push attempts.
---@param f table|nil  record.git
---@return string[]
function M.lines(f)
  if type(f) ~= "table" then
    return {}
  end
  local lines = {}
  if f.unavailable then
    lines[1] = "Git:           unknown (" .. tostring(f.unavailable) .. ")"
  else
    local before, after = head_text(f.head_branch_before, f.head_before), head_text(f.head_branch_after, f.head_after)
    lines[1] = "Git:           HEAD " .. (before == after and (before .. " (unchanged)") or (before .. " -> " .. after))
    local commits = f.commits or {}
    for i = 1, math.min(#commits, SHOWN_COMMITS) do
      lines[#lines + 1] = ("  commit %s %s"):format(commits[i].short or commits[i].sha:sub(1, 7), commits[i].subject)
    end
    if #commits > SHOWN_COMMITS or f.commits_more then
      local more = f.commits_more and "and" or tostring(#commits - SHOWN_COMMITS)
      lines[#lines + 1] = ("  ... %s more commits"):format(more)
    end
    if f.commits_unavailable then
      lines[#lines + 1] = "  commits unknown: " .. f.commits_unavailable
    end
    ref_lines(lines, f, "branches")
    ref_lines(lines, f, "tags")
  end
  for _, a in ipairs(f.push_attempts or {}) do
    lines[#lines + 1] = a.source == "command" and ("  push attempt: %s%s"):format(a.push or a.command,
      a.push ~= a.command and " (in a longer command)" or "")
      or ("  push refused by Sidecar: %s %s"):format(a.remote or "?", a.url or "")
  end
  return lines
end

return M
