--- Symbolic links a run added or changed whose target leads out of the repository (`/etc/passwd`,
--- `/home/u/.ssh/id_rsa`, `../../outside`): the `symlinks_out` gate (stdlib/sidecar/run/gates.lua)
--- blocks the run that made one, and `run apply` refuses to write one into the user's checkout
--- unless that gate allows it (stdlib/sidecar/run/worktree_apply.lua).
---
---   symlinks_out.leads_out("docs/link", "../../x")              -- true
---   record.symlinks_out = symlinks_out.of_change(repo, change.files, change.tree_after)
---   local links = symlinks_out.between(top, base_tree, result_tree) -- {{path, target}} | nil, why
---
--- The check is lexical: the target is taken relative to the link's folder, `..` above the top of
--- the work tree or an absolute path is out, and so is the repository's own `.git` folder (a link
--- into it lets a later write through the link change hooks or config). A folder on the way that
--- is itself a link of the same tree is followed as the kernel would follow it (at most
--- MAX_FOLLOWS of them; a loop resolves nowhere, so it is not out). A literal `~` is a folder
--- name to the kernel, not the home folder. Targets come from the tree's blobs, read in-process
--- (sidecar.host.git_tree: no `git` runs), or for a run in the user's own work tree, from the
--- links themselves (readlink).
local git_tree = require("sidecar.host.git_tree")
local json = require("sidecar.core.json")
local paths = require("sidecar.host.paths")

local M = {}

M.MAX_FOLLOWS = 64 -- links followed in one resolution (Linux gives up after 40)

-- Resolves `target` from the folder `parts` (a list of names from the top), in place, following
-- the links of `links` (path -> target) met on the way. True when it leads out; `budget` counts
-- the links followed ({n}), and a resolution past it goes nowhere (not out).
local function walk(parts, target, links, budget)
  if target:sub(1, 1) == "/" then
    return true
  end
  for name in target:gmatch("[^/]+") do
    if name == ".." then
      if #parts == 0 then
        return true
      end
      parts[#parts] = nil
    elseif name ~= "." then
      parts[#parts + 1] = name
      if #parts == 1 and name == ".git" then
        return true
      end
      local next_target = links[table.concat(parts, "/")]
      if next_target then
        budget.n = budget.n + 1
        if budget.n > M.MAX_FOLLOWS then
          return false
        end
        parts[#parts] = nil
        if walk(parts, next_target, links, budget) then
          return true
        end
      end
    end
  end
  return false
end

---Whether a link at `path` (relative to the top of the work tree) with `target` leads out of the
---repository, read lexically (see the header).
---@param path string
---@param target string
---@param links? table<string, string>  the tree's other links, path -> target, followed on the way
---@return boolean
function M.leads_out(path, target, links)
  local parts = {}
  for name in path:gmatch("[^/]+") do
    parts[#parts + 1] = name
  end
  parts[#parts] = nil -- the link's folder
  return walk(parts, target, links or {}, { n = 0 })
end

-- The links among `candidates` ({path = target}) that lead out, as {{path, target}} sorted by path.
local function outward(candidates, links)
  local out = json.array({})
  for path, target in pairs(candidates) do
    if M.leads_out(path, target, links) then
      out[#out + 1] = { path = path, target = target }
    end
  end
  table.sort(out, function(a, b) return a.path < b.path end)
  return out
end

---Every link of a tree: path (from the top) -> target; or nil and why.
---@param top string  a folder of a work tree of the repository
---@param tree string  a tree id
---@return table<string, string>|nil links, string? why
function M.tree_links(top, tree)
  return git_tree.links(top, tree)
end

---The links a change from tree `from` to tree `to` adds or changes that lead out of the
---repository, {{path, target}} sorted by path; or nil and why when git could not tell.
---@param top string  a folder of a work tree of the repository
---@param from string  a tree id (the run's base)
---@param to string  a tree id (the run's result)
---@return table[]|nil links, string? why
function M.between(top, from, to)
  local files, why = git_tree.diff_files(top, from, to)
  if not files then
    return nil, why
  end
  local changed = {}
  for _, f in ipairs(files) do
    changed[#changed + 1] = f.status ~= "D" and f.path or nil
  end
  if #changed == 0 then
    return json.array({})
  end
  local links
  links, why = git_tree.links(top, to)
  if not links then
    return nil, why
  end
  local candidates = {}
  for _, path in ipairs(changed) do
    candidates[path] = links[path] -- nil: not a link
  end
  return outward(candidates, links)
end

---After an agent: the links among the changed files (worktree.changes' files, paths from the top
---of the work tree) that lead out of the repository, {{path, target}} sorted by path; or nil and
---why. Only files that are links now are read: with `tree` (the work tree's tree, read after the
---agent) their targets and the tree's other links come from git, else from the links themselves.
---@param repo string  the work tree (or a folder in it)
---@param files table[]  {{path, change}}
---@param tree? string  a tree id of the work tree as it is now
---@return table[]|nil links, string? why
function M.of_change(repo, files, tree)
  if type(files) ~= "table" or #files == 0 then
    return json.array({})
  end
  local top_of = git_tree.top(repo)
  if not top_of then
    return nil, "not a git work tree: " .. repo
  end
  local candidates, any = {}, false
  for _, f in ipairs(files) do
    local st = f.change ~= "deleted" and paths.lstat(top_of.top .. "/" .. f.path)
    if st and st.kind == "symlink" then
      candidates[f.path], any = true, true
    end
  end
  if not any then
    return json.array({})
  end
  local links, why
  if tree then
    links, why = M.tree_links(top_of.top, tree)
    if not links then
      return nil, why
    end
    for path in pairs(candidates) do
      candidates[path] = links[path] -- nil: not a link in the tree (changed since)
    end
  else
    for path in pairs(candidates) do
      candidates[path], why = paths.readlink(top_of.top .. "/" .. path)
      if not candidates[path] then
        return nil, why
      end
    end
    links = candidates
  end
  return outward(candidates, links)
end

---The `symlinks_out` gate's policy for a run: the one recorded with its gates, or else `gates`
---(config's) now; "block" when neither says.
---@param run table  a run record
---@param gates? table  config's gates
---@return string policy  block | warn | allow
function M.policy(run, gates)
  local r = type(run.gates) == "table" and type(run.gates.results) == "table" and run.gates.results.symlinks_out
  local recorded = type(r) == "table" and r.policy or nil
  local now = type(gates) == "table" and gates.symlinks_out or nil
  if recorded == "allow" or now == "allow" then
    return "allow"
  elseif recorded == "warn" or now == "warn" then
    return "warn"
  end
  return "block"
end

---What a finding or a refusal says of a link: `path -> target` (a long target clipped).
---@param link {path: string, target: string}
---@return string
function M.phrase(link)
  local target = #link.target > 200 and (link.target:sub(1, 200) .. "...") or link.target
  return ("%s -> %s"):format(link.path, target)
end

return M
