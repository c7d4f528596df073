--- Gates on what a run did: the facts agent_run recorded (record.git, record.changed_files,
--- record.sandbox) weighed against the task and the policy of `.agent/config.lua` (`gates`).
---
---   local verdict = gates.evaluate(record, task, cfg.gates)
---   verdict.blockers   -- {"made 1 commit (abc1234 \"msg\") and created tag v9.9", ...}
---   gates.apply(record, verdict)   -- record.gates; a "block" finding blocks the run
---
--- The gates, each "block" (the default), "warn" or "allow":
---   commit             the agent changed history: made commits, created, deleted or moved a
---                      branch, or moved HEAD (switched branch, detached it)
---   tag                created, deleted or moved a tag
---   push               tried to push (the push itself is refused inside every run)
---   avoided_files      changed a file the task lists under implementation.files_to_avoid
---   scope              changed a file outside the task's scope: when scope.in_scope names paths,
---                      a file none of them matches; a file matching a path in out_of_scope
---   read_only_changes  changed any file during a read-only run
---   outside_changes    changed what no run may: a ref outside branches and tags (notes, stash,
---                      remotes, custom), the repository's git config or hooks, the user's git
---                      config or shell start-up files, Sidecar's config, presets or trust file,
---                      or (a run in its own worktree) the main checkout (stdlib/sidecar/run/outside.lua)
---   symlinks_out       added or changed a symbolic link whose target leads out of the repository
---                      (stdlib/sidecar/run/symlinks_out.lua); `run apply` refuses to write one
---                      unless this gate is "warn" or "allow"
--- "block": the run is blocked with the blocker, never auto-approved (a person may still approve
--- it); "warn": recorded in the run's gates.warnings and shown by `run show`; "allow": recorded.
---
--- Paths in files_to_avoid and scope, gitignore-like: `*` and `?` stay within a folder, `**`
--- crosses folders (`**/*.lock`), `[abc]` is a class; a pattern without a slash matches a name
--- at any depth (`*.lock`, `secrets.yml`); one with a slash is relative to the repository root
--- (`docs/*`, `/config/x.yml`); a pattern matching a folder covers everything under it
--- (`vendor`, `docs/`). Only the first word of an entry is the path (`package-lock.json
--- (generated)`); an entry of several words whose first has no `/`, `.` or `*` is prose and
--- ignored ("the database schema").
local json = require("sidecar.core.json")
local symlinks_out = require("sidecar.run.symlinks_out")

local M = {}

M.NAMES = { "commit", "tag", "push", "avoided_files", "scope", "read_only_changes", "outside_changes",
  "symlinks_out" }
M.POLICIES = { block = true, warn = true, allow = true }
M.DEFAULT = "block"
local SHOWN = 3 -- commits, files or pushes named in a blocker before "and N more"
local WAITING = { review = true, outcome_unknown = true, blocked = true } -- statuses a gate may block

-- Glob matching ----------------------------------------------------------------------------------

-- Whether `glob` matches all of `s` (no folder semantics here: see M.matches).
local function glob_match(glob, s)
  local memo = {}
  local function at(i, j)
    local key = i * 65536 + j
    if memo[key] ~= nil then
      return memo[key]
    end
    local ok
    local c = glob:sub(i, i)
    if i > #glob then
      ok = j > #s
    elseif glob:sub(i, i + 2) == "**/" then
      -- zero or more whole folders
      ok = at(i + 3, j)
      local k = j
      while not ok and k <= #s do
        local slash = s:find("/", k, true)
        if not slash then
          break
        end
        ok, k = at(i + 3, slash + 1), slash + 1
      end
    elseif glob:sub(i, i + 1) == "**" then
      ok = false
      for k = j, #s + 1 do
        if at(i + 2, k) then
          ok = true
          break
        end
      end
    elseif c == "*" then
      ok = false
      for k = j, #s + 1 do
        if at(i + 1, k) then
          ok = true
          break
        end
        if s:sub(k, k) == "/" then
          break
        end
      end
    elseif c == "?" then
      ok = j <= #s and s:sub(j, j) ~= "/" and at(i + 1, j + 1)
    elseif c == "[" and glob:find("]", i + 2, true) then
      local close = glob:find("]", i + 2, true)
      local set = glob:sub(i + 1, close - 1):gsub("^!", "^"):gsub("([%%%.%(%)%+%*%?%$])", "%%%1")
      local ch = s:sub(j, j)
      ok = j <= #s and ch ~= "/" and ch:find("[" .. set .. "]") ~= nil and at(close + 1, j + 1)
    else
      ok = c == s:sub(j, j) and at(i + 1, j + 1)
    end
    memo[key] = ok
    return ok
  end
  return at(1, 1)
end

---The path pattern of a files_to_avoid or scope entry, or nil when the entry is prose.
---@param entry string
---@return string|nil pattern, boolean? folder  (folder: the entry ended in "/")
function M.pattern(entry)
  if type(entry) ~= "string" then
    return nil
  end
  local text = entry:gsub("`", "")
  local word, rest = text:match("^%s*(%S+)%s*(.-)$")
  if not word or (rest ~= "" and not word:find("[/%.%*]")) then
    return nil
  end
  word = word:gsub("^%./", ""):gsub("^/+", "")
  local folder = word:sub(-1) == "/"
  word = word:gsub("/+$", "")
  if word == "" or word == "." then
    return nil
  end
  return word, folder
end

---Whether a changed file (a path relative to the repository) is covered by a pattern (see the
---header): the pattern matches the path, or a folder above it.
---@param pattern string  a path pattern (M.pattern's)
---@param path string
---@param folder? boolean  the pattern names a folder only
---@return boolean
function M.matches(pattern, path, folder)
  local anywhere = not pattern:find("/", 1, true)
  local parts = {}
  for part in path:gmatch("[^/]+") do
    parts[#parts + 1] = part
  end
  for n = 1, #parts do
    if not (folder and n == #parts) then
      local subject = anywhere and parts[n] or table.concat(parts, "/", 1, n)
      if glob_match(pattern, subject) then
        return true
      end
    end
  end
  return false
end

-- The path patterns of a list of entries ({pattern, folder} each; prose entries left out).
local function compile(entries)
  local out = {}
  for _, e in ipairs(entries) do
    local p, folder = M.pattern(e)
    if p then
      out[#out + 1] = { p, folder }
    end
  end
  return out
end

local function any(patterns, path)
  for _, p in ipairs(patterns) do
    if M.matches(p[1], path, p[2]) then
      return true
    end
  end
  return false
end

-- Wording ----------------------------------------------------------------------------------------

local function plural(n, noun)
  return n == 1 and ("1 " .. noun) or (n .. " " .. noun .. "s")
end

-- "a", "a and b", "a, b and c"; past SHOWN items "a, b, c and 2 more".
local function listed(items, total)
  total = total or #items
  local shown = {}
  for i = 1, math.min(#items, SHOWN) do
    shown[i] = items[i]
  end
  if total > #shown then
    shown[#shown + 1] = (total - #shown) .. " more"
  end
  if #shown <= 1 then
    return shown[1] or ""
  end
  return table.concat(shown, ", ", 1, #shown - 1) .. " and " .. shown[#shown]
end

local function short(sha)
  return type(sha) == "string" and sha:sub(1, 7) or "?"
end

local function names(list, verb, noun)
  if type(list) ~= "table" or #list == 0 then
    return nil
  end
  local out = {}
  for i, r in ipairs(list) do
    out[i] = r.name
  end
  return ("%s %s %s"):format(verb, #list == 1 and noun or (noun == "branch" and "branches" or noun .. "s"),
    listed(out))
end

local function commit_phrase(g)
  local commits = type(g.commits) == "table" and g.commits or {}
  if #commits == 0 then
    return nil
  end
  local shown = {}
  for i, c in ipairs(commits) do
    shown[i] = ("%s %q"):format(c.short or short(c.sha), c.subject or "")
  end
  local n = #commits
  local count = g.commits_more and ("more than " .. plural(n, "commit")) or plural(n, "commit")
  return ("made %s (%s)"):format(count, listed(shown, n))
end

-- Branches moved to a commit the agent did not make: a reset, a fast-forward to an old commit.
local function moved_phrase(g)
  local made = {}
  for _, c in ipairs(type(g.commits) == "table" and g.commits or {}) do
    made[c.sha] = true
  end
  local out = {}
  for _, b in ipairs(type(g.branches_moved) == "table" and g.branches_moved or {}) do
    if not made[b.to] then
      out[#out + 1] = ("%s to %s"):format(b.name, short(b.to))
    end
  end
  return #out > 0 and ("moved branch " .. listed(out)) or nil
end

local function head_phrase(g)
  local from, to = g.head_branch_before, g.head_branch_after
  if from ~= to and to ~= nil then
    if to == json.null then
      return ("detached HEAD at %s"):format(short(g.head_after))
    end
    return ("switched HEAD to branch %s"):format(to)
  end
  return nil
end

-- Findings: the phrases of what was found, per gate; nil when the facts are missing.
local function history_findings(g)
  if type(g) ~= "table" or g.unavailable then
    return nil, nil
  end
  local commit, tag = {}, {}
  local function add(list, phrase)
    list[#list + 1] = phrase -- nil adds nothing
  end
  add(commit, commit_phrase(g))
  add(commit, names(g.branches_created, "created", "branch"))
  add(commit, names(g.branches_deleted, "deleted", "branch"))
  add(commit, moved_phrase(g))
  if #commit == 0 then
    commit[#commit + 1] = head_phrase(g) -- a branch switch alone (with commits, they say it)
  end
  if g.commits_unavailable then
    commit[#commit + 1] = "moved HEAD or refs (its commits could not be listed: " .. g.commits_unavailable .. ")"
  end
  add(tag, names(g.tags_created, "created", "tag"))
  add(tag, names(g.tags_deleted, "deleted", "tag"))
  add(tag, names(g.tags_moved, "moved", "tag"))
  return commit, tag
end

local function push_findings(g)
  local attempts = type(g) == "table" and type(g.push_attempts) == "table" and g.push_attempts or {}
  local commands, refused = {}, {}
  for _, a in ipairs(attempts) do
    if a.source == "command" then
      commands[#commands + 1] = a.push or a.command
    else
      refused[#refused + 1] = (a.remote ~= "" and a.remote or "?") .. ((a.url or "") ~= "" and (" " .. a.url) or "")
    end
  end
  if #commands > 0 then
    return { ("tried to push (%s)"):format(listed(commands)) }
  elseif #refused > 0 then
    return { ("tried to push to %s"):format(listed(refused)) }
  end
  return {}
end

-- Evaluation -------------------------------------------------------------------------------------

local function task_list(task, section, key)
  local t = type(task) == "table" and task[section]
  local list = type(t) == "table" and t[key]
  return type(list) == "table" and list or {}
end

-- Findings about changed files: nil (and why) when the files or the patterns are missing.
local function file_findings(changed, patterns_given, pick, wording)
  if not patterns_given then
    return nil
  end
  if not changed then
    return nil, "changed files unknown"
  end
  local hit = {}
  for _, f in ipairs(changed) do
    if pick(f) then
      hit[#hit + 1] = f
    end
  end
  return #hit > 0 and { wording:format(listed(hit)) } or {}
end

-- What the run changed outside its place: refs of other namespaces (git facts) and the files
-- stdlib/sidecar/run/outside.lua watches.
local function outside_findings(record)
  local g, o = type(record.git) == "table" and record.git or {}, record.outside
  if type(o) ~= "table" then
    return { note = "not watched", skipped = true }
  end
  local findings = {}
  local verbs = { { "refs_created", "created %s" }, { "refs_deleted", "deleted %s" }, { "refs_moved", "moved %s" } }
  for _, pair in ipairs(verbs) do
    for _, r in ipairs(type(g[pair[1]]) == "table" and g[pair[1]] or {}) do
      findings[#findings + 1] = pair[2]:format(r.name)
    end
  end
  for _, text in ipairs(type(o.changed) == "table" and o.changed or {}) do
    findings[#findings + 1] = text
  end
  return { findings = findings }
end

-- The links the run added or changed that lead out of the repository (record.symlinks_out, read
-- with its changes: stdlib/sidecar/agent/result.lua), one finding each.
local function symlink_findings(record, changed)
  if record.symlinks_unavailable then
    return { note = "links unread: " .. tostring(record.symlinks_unavailable) }
  elseif not changed then
    return { note = "changed files unknown" }
  end
  local findings = {}
  for _, link in ipairs(type(record.symlinks_out) == "table" and record.symlinks_out or {}) do
    findings[#findings + 1] = ("link %s leads out of the repository"):format(symlinks_out.phrase(link))
  end
  return { findings = findings }
end

-- {findings, note?} per gate; findings nil when it cannot be told (or does not apply: note).
local function gather(record, task)
  local changed = type(record.changed_files) == "table" and record.changed_files or nil
  local out = {}
  local commit, tag = history_findings(record.git)
  local no_git = commit == nil and ("git facts unavailable" .. (type(record.git) == "table" and record.git.unavailable
    and (": " .. record.git.unavailable) or "")) or nil
  out.commit, out.tag = { findings = commit, note = no_git }, { findings = tag, note = no_git }
  out.push = { findings = push_findings(record.git) }

  local avoid = compile(task_list(task, "implementation", "files_to_avoid"))
  local f, why = file_findings(changed, #avoid > 0, function(path) return any(avoid, path) end,
    "changed %s, which the task lists under files_to_avoid")
  out.avoided_files = { findings = f, note = #avoid == 0 and "the task lists no files_to_avoid" or why,
    skipped = #avoid == 0 }

  local inside = compile(task_list(task, "scope", "in_scope"))
  local outside = compile(task_list(task, "scope", "out_of_scope"))
  f, why = file_findings(changed, #inside + #outside > 0, function(path)
    return (#inside > 0 and not any(inside, path)) or any(outside, path)
  end, "changed %s, outside the task's scope")
  out.scope = { findings = f, note = #inside + #outside == 0 and "the task's scope names no paths" or why,
    skipped = #inside + #outside == 0 }

  out.outside_changes = outside_findings(record)
  out.symlinks_out = symlink_findings(record, changed)
  if record.sandbox ~= "read-only" then
    out.read_only_changes = { note = "not a read-only run", skipped = true }
  else
    f, why = file_findings(changed, true, function() return true end, "changed %s during a read-only run")
    out.read_only_changes = { findings = f, note = why }
  end
  return out
end

---The policy for each gate: `policy` (config's `gates`) over the default "block". Raises on a
---value that is not block, warn or allow.
---@param policy? table
---@return table
function M.policy(policy)
  local out = {}
  for _, name in ipairs(M.NAMES) do
    local v = type(policy) == "table" and policy[name] or nil
    if v ~= nil and not M.POLICIES[v] then
      error(("gates.%s: expected \"block\", \"warn\" or \"allow\", got %s"):format(name, tostring(v)), 2)
    end
    out[name] = v or M.DEFAULT
  end
  return out
end

---Weighs a run record's facts against the task and the policy. results[name] = {policy,
---verdict = passed | blocked | warned | allowed | skipped (does not apply) | unknown (the facts
---are missing), findings = {...}, note?}; blockers and
---warnings are the texts of blocked and warned gates (commit and tag, when both are blocked or
---both warned, make one sentence: "made 1 commit (abc1234 \"msg\") and created tag v9.9").
---@param record table  a run record (git, changed_files, sandbox)
---@param task? table  the task packet (files_to_avoid, scope)
---@param policy? table  {commit = "block", ...}
---@return {blockers: string[], warnings: string[], results: table}
function M.evaluate(record, task, policy)
  if type(record) ~= "table" then
    error("gates.evaluate: expected a run record, got " .. type(record), 2)
  end
  policy = M.policy(policy)
  local found = gather(record, task)
  local results, by_level = {}, { block = {}, warn = {} }
  for _, name in ipairs(M.NAMES) do
    local f = found[name]
    local r = { policy = policy[name], findings = json.array(f.findings or {}), note = f.note }
    if f.skipped then
      r.verdict = "skipped"
    elseif f.findings == nil then
      r.verdict = "unknown"
    elseif #f.findings == 0 then
      r.verdict = "passed"
    else
      r.verdict = ({ block = "blocked", warn = "warned", allow = "allowed" })[policy[name]]
      local level = by_level[policy[name]]
      if level then
        level[#level + 1] = { name = name, text = table.concat(f.findings, ", ") }
      end
    end
    results[name] = r
  end
  local out = { blockers = {}, warnings = {}, results = results }
  for level, list in pairs(by_level) do
    local texts = level == "block" and out.blockers or out.warnings
    local history = {}
    for _, item in ipairs(list) do
      if item.name == "commit" or item.name == "tag" then
        history[#history + 1] = item.text
      else
        texts[#texts + 1] = item.text
      end
    end
    if #history > 0 then
      table.insert(texts, 1, table.concat(history, " and "))
    end
  end
  out.blockers, out.warnings = json.array(out.blockers), json.array(out.warnings)
  return out
end

---Records a verdict on the run: record.gates = {results, blockers, warnings, agent_status (the
---status before the gates)}; with blockers, a run waiting for review (review, outcome_unknown,
---blocked) becomes blocked and each blocker is added once to record.blockers. A failed run
---stays failed (its blockers are added). Returns whether a gate blocked the run.
---@param record table
---@param verdict table  M.evaluate's answer
---@return boolean
function M.apply(record, verdict)
  record.gates = { results = verdict.results, blockers = verdict.blockers, warnings = verdict.warnings,
    agent_status = record.status }
  if #verdict.blockers == 0 then
    return false
  end
  local list = type(record.blockers) == "table" and record.blockers or json.array({})
  local seen = {}
  for _, b in ipairs(list) do
    seen[b] = true
  end
  for _, b in ipairs(verdict.blockers) do
    if not seen[b] then
      list[#list + 1] = b
      seen[b] = true
    end
  end
  record.blockers = list
  if WAITING[record.status] then
    record.status = "blocked"
  end
  return true
end

---The lines `run show` prints for a run's gates (record.gates): one per gate, its verdict and
---what was found (or why it did not apply).
---@param g table|nil  record.gates
---@return string[]
function M.lines(g)
  if type(g) ~= "table" or type(g.results) ~= "table" then
    return {}
  end
  local lines = { "Gates:" }
  for _, name in ipairs(M.NAMES) do
    local r = g.results[name]
    if type(r) == "table" then
      local said = #(r.findings or {}) > 0 and table.concat(r.findings, "; ") or r.note
      lines[#lines + 1] = said and ("  %-18s %-8s  %s"):format(name, tostring(r.verdict), said)
        or ("  %-18s %s"):format(name, tostring(r.verdict))
    end
  end
  return lines
end

---Whether a record was blocked by a gate (its gates recorded blockers).
---@param record table
---@return boolean
function M.blocked(record)
  local g = type(record) == "table" and record.gates
  return type(g) == "table" and type(g.blockers) == "table" and #g.blockers > 0
end

return M
