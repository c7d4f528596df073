--- Facts about a git work tree, read with git itself (never a shell): HEAD, branch, status.
--- Each returns nil and the reason when it cannot (not a repository, git missing).
local proc = require("proc")

local M = {}

local OPTIONS = { timeout_ms = 30000, env = { GIT_OPTIONAL_LOCKS = "0" } }

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

---HEAD, branch and status at once (three gits side by side): a table with `head`, `branch`,
---`status`, and `head_error`, `branch_error`, `status_error` for what could not be read.
---`also` (proc.parallel specs) run in the same wave; their results are the second value.
function M.facts(repo, also)
  local asks = {
    head = { "rev-parse", "--verify", "--quiet", "HEAD" },
    branch = { "rev-parse", "--abbrev-ref", "HEAD" },
    status = { "status", "--short", "--branch" },
  }
  local names, specs = { "head", "branch", "status" }, {}
  for i, name in ipairs(names) do
    specs[i] = { cmd = command(repo, asks[name]), timeout_ms = OPTIONS.timeout_ms, env = OPTIONS.env }
  end
  for _, spec in ipairs(also or {}) do
    specs[#specs + 1] = spec
  end
  local results = proc.parallel(specs, { max_jobs = 8 })
  local facts = {}
  for i, name in ipairs(names) do
    local out, why = output(results[i])
    if out and name ~= "status" then
      out = out:gsub("%s+$", "")
    end
    facts[name], facts[name .. "_error"] = out, why
  end
  return facts, table.move(results, #names + 1, #results, 1, {})
end

---The top folder of the work tree holding `path`, or nil and why.
function M.toplevel(path)
  return line(path, { "rev-parse", "--show-toplevel" })
end

return M
