--- What a review covers, gathered with git for the reviewers of the triangulated-review preset:
--- the working change (`git diff HEAD` and the untracked files, the default), a branch
--- (`git diff BASE...HEAD`) or named paths. Secret files (secrets.is_secret_file) never reach a
--- reviewer: named ones are refused, changed ones are left out of the diff and the file list.
---
---   local t, why = review_target.collect(function(args) return ctx:git(args) end,
---     { repo = ".", base = "main" })                 -- or {paths = {"src/a.c"}}, or {}
---   t.kind       "working" | "base" | "paths"
---   t.describe   one line: what is reviewed
---   t.files      the files (changed, untracked or named), secret files left out
---   t.pointers   the same for a prompt, untracked ones marked "(untracked)"
---   t.inputs     what a reviewer may inspect (commands and paths)
---   t.diff       the diff, redacted and cut at max_bytes (nil for paths); t.truncated
---   t.secret_files  changed secret files left out; t.empty when there is nothing to review
local secrets = require("sidecar.core.secrets")

local M = {}

---How much of a diff goes into a prompt; a reviewer runs the command itself for the rest.
M.MAX_DIFF_BYTES = 24 * 1024

local function lines(text)
  local out = {}
  for line in (text or ""):gmatch("[^\n]+") do
    out[#out + 1] = line
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
    if not exists((o.repo or ".") .. "/" .. p) then
      return nil, ("paths: %s does not exist in %s"):format(p, o.repo or ".")
    end
  end
  return { kind = "paths", describe = "the files " .. table.concat(o.paths, ", "), files = o.paths,
    pointers = o.paths, inputs = o.paths, secret_files = {}, empty = #o.paths == 0 }
end

---The review target. `git(args)` returns stdout or nil, why. o: repo, paths (list) or base (a
---ref), max_bytes (default M.MAX_DIFF_BYTES). Returns the target or nil, why.
---@param git fun(args: string[]): string|nil, string?
---@param o? {repo?: string, paths?: string[], base?: string, max_bytes?: integer}
---@return table|nil target, string? why
function M.collect(git, o)
  o = o or {}
  local has_paths = o.paths ~= nil and #o.paths > 0
  local base = o.base ~= "" and o.base or nil
  if has_paths and base then
    return nil, "give paths or base, not both"
  elseif has_paths then
    return named_paths(o)
  end
  local range = base and (base .. "...HEAD") or "HEAD"
  local names, why = git({ "diff", "--name-only", range })
  if not names then
    return nil, ("git diff %s: %s"):format(range, why or "failed")
  end
  local changed = lines(names)
  local untracked = {}
  if not base then
    untracked = lines(git({ "ls-files", "--others", "--exclude-standard" }))
  end
  local all = {}
  for _, f in ipairs(changed) do
    all[#all + 1] = f
  end
  for _, f in ipairs(untracked) do
    all[#all + 1] = f
  end
  local files, secret = split_secrets(all)
  local args = { "diff", range, "--", "." }
  for _, f in ipairs(secret) do
    args[#args + 1] = ":(exclude,literal)" .. f
  end
  local diff = #changed > 0 and git(args) or ""
  local text, truncated = cap((secrets.redact(diff or "")), o.max_bytes or M.MAX_DIFF_BYTES)
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
