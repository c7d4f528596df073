--- Facts about a git work tree, read with git itself (never a shell): HEAD, branch, status.
--- Each returns nil and the reason when it cannot (not a repository, git missing).
local proc = require("proc")

local M = {}

-- git's stdout for `args` run in `repo`, or nil and why.
local function git(repo, args)
  local cmd = { "git", "-C", repo }
  table.move(args, 1, #args, #cmd + 1, cmd)
  local ok, r = pcall(proc.run, cmd, { timeout_ms = 30000, env = { GIT_OPTIONAL_LOCKS = "0" } })
  if not ok then
    return nil, tostring(r.message or r)
  elseif not r.ok then
    local why = (r.stderr or ""):match("^%s*(.-)%s*$")
    return nil, why ~= "" and why or ("git exited with " .. tostring(r.code or r.signal_name))
  end
  return r.stdout
end

local function line(repo, args)
  local out, why = git(repo, args)
  if not out then
    return nil, why
  end
  return (out:gsub("%s+$", ""))
end

---The commit HEAD names, or nil and why (a repository without commits has none).
function M.head(repo)
  return line(repo, { "rev-parse", "--verify", "--quiet", "HEAD" })
end

---The current branch, "HEAD" when detached, or nil and why.
function M.branch(repo)
  return line(repo, { "rev-parse", "--abbrev-ref", "HEAD" })
end

---`git status --short --branch` as printed, or nil and why.
function M.status(repo)
  return git(repo, { "status", "--short", "--branch" })
end

---The top folder of the work tree holding `path`, or nil and why.
function M.toplevel(path)
  return line(path, { "rev-parse", "--show-toplevel" })
end

return M
