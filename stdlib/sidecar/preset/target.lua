--- What a review covers, read from git in-process (libgit2: no git runs) for the reviewers of the
--- triangulated-review and review-fix-verify presets: the working change (what `git diff HEAD`
--- shows, and the untracked files, the default), a branch (`git diff BASE...HEAD`) or named paths.
--- Secret files (secrets.is_secret_file) never reach a reviewer: named ones are refused, changed
--- ones are left out of the diff and the file list.
---
---   local t, why = review_target.collect({ repo = ".", base = "main" })  -- or {paths = {"src/a.c"}}, or {}
---   t.kind       "working" | "base" | "paths"
---   t.describe   one line: what is reviewed
---   t.files      the files (changed, untracked or named), secret files left out
---   t.pointers   the same for a prompt, untracked ones marked "(untracked)"
---   t.inputs     what a reviewer may inspect (commands and paths)
---   t.diff       the diff, redacted and cut at max_bytes (nil for paths); t.truncated
---   t.secret_files  changed secret files left out; t.empty when there is nothing to review
local default_repo = require("sidecar.core.default_repo")
local git = require("sidecar.core.git")
local secrets = require("sidecar.core.secrets")

local M = {}

---How much of a diff goes into a prompt; a reviewer runs the command itself for the rest.
M.MAX_DIFF_BYTES = 24 * 1024

local function paths_of(files)
  local out = {}
  for i, f in ipairs(files) do
    out[i] = f.path
  end
  return out
end

-- The untracked files, as `git ls-files --others --exclude-standard` lists them.
local function untracked_files(repo)
  local out = {}
  for _, e in ipairs(repo:status_entries() or {}) do
    if e.xy == "??" then
      out[#out + 1] = e.path
    end
  end
  return out
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then
    f:close()
  end
  return f ~= nil
end

-- The diff cut at a line boundary within max bytes, and whether it was cut.
local function cap(diff, max)
  if #diff <= max then
    return diff, false
  end
  local cut = diff:sub(1, max)
  return cut:match("^(.*\n)") or cut, true
end

-- Files split into those a reviewer may see and the secret ones.
local function split_secrets(files)
  local shown, secret = {}, {}
  for _, f in ipairs(files) do
    if secrets.is_secret_file(f) then
      secret[#secret + 1] = f
    else
      shown[#shown + 1] = f
    end
  end
  return shown, secret
end

local function named_paths(o)
  for _, p in ipairs(o.paths) do
    local denied, why = secrets.is_secret_file(p)
    if denied then
      return nil, "paths: " .. why
    end
    if not exists((o.repo or default_repo.get()) .. "/" .. p) then
      return nil, ("paths: %s does not exist in %s"):format(p, o.repo or default_repo.get())
    end
  end
  return { kind = "paths", describe = "the files " .. table.concat(o.paths, ", "), files = o.paths,
    pointers = o.paths, inputs = o.paths, secret_files = {}, empty = #o.paths == 0 }
end

---The review target. o: repo (default ".", or an embedding Host's root: sidecar.core.default_repo),
---paths (list) or base (a ref), max_bytes (default M.MAX_DIFF_BYTES), git (an open repository,
---sidecar.core.git.open: read instead of opening o.repo). Returns the target or nil, why.
---@param o? {repo?: string, paths?: string[], base?: string, max_bytes?: integer, git?: userdata}
---@return table|nil target, string? why
function M.collect(o)
  o = o or {}
  local has_paths = o.paths ~= nil and #o.paths > 0
  local base = o.base ~= "" and o.base or nil
  if has_paths and base then
    return nil, "give paths or base, not both"
  elseif has_paths then
    return named_paths(o)
  end
  local range = base and (base .. "...HEAD") or "HEAD"
  local repo, why = o.git, nil
  if not repo then
    repo, why = git.open(o.repo or default_repo.get())
  end
  -- `git diff A...HEAD` is the merge base of A and HEAD against HEAD; `git diff HEAD`, HEAD
  -- against the work tree.
  local spec = { from = range, to = base and "HEAD" or nil }
  local names, diff
  if repo then
    names, why = repo:diff(spec)
  end
  if not names then
    return nil, ("git diff %s: %s"):format(range, why or "failed")
  end
  local changed = paths_of(names.files)
  local untracked = base and {} or untracked_files(repo)
  local all = table.move(untracked, 1, #untracked, #changed + 1, table.move(changed, 1, #changed, 1, {}))
  local files, secret = split_secrets(all)
  spec.patch, spec.exclude = true, secret
  diff, why = { patch = "" }, nil
  if #changed > 0 then
    diff, why = repo:diff(spec)
    if not diff then
      return nil, ("git diff %s: %s"):format(range, why or "failed")
    end
  end
  local text, truncated = cap((secrets.redact(diff.patch or "")), o.max_bytes or M.MAX_DIFF_BYTES)
  local inputs = { ("`git diff %s`"):format(range) }
  if not base then
    inputs[#inputs + 1] = "`git ls-files --others --exclude-standard` (untracked files)"
  end
  inputs[#inputs + 1] = "the files listed under Pointers"
  local pointers, is_untracked = {}, {}
  for _, f in ipairs(untracked) do
    is_untracked[f] = true
  end
  for i, f in ipairs(files) do
    pointers[i] = is_untracked[f] and (f .. " (untracked)") or f
  end
  return { kind = base and "base" or "working", pointers = pointers, describe = base and ("the change " .. range) or
    "the working change against HEAD, untracked files included", files = files, inputs = inputs, diff = text,
    truncated = truncated, secret_files = secret, untracked = untracked, empty = #files == 0 }
end

return M
