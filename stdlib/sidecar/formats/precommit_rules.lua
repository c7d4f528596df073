--- The rules behind the precommit classifier (docs/formats.md §2): which of four paths a change
--- takes, the highest that applies winning (Risk > Code > Skill > Fast), and the minimal
--- validation for it. No agent is needed for this; the agent only writes the why, the blockers
--- and the commit message. The format itself (template, parser, renderer) is sidecar.formats.precommit.
---
---   local change = rules.collect(repo)      -- read in-process (libgit2: no git runs)
---   local c = rules.classify(change, repo)  -- {path, confidence, files, reasons, validation}
---   local report, disagreement = rules.merge(c, answer)  -- answer: precommit.parse(text), checked
---   io.write(precommit.render(report))      -- the §2 markdown
---
--- The rules' path, confidence and minimal validation stand whatever the agent answers: an agent
--- that says otherwise is recorded as a disagreement, never taken as the answer.
local default_repo = require("sidecar.core.default_repo")
local exists = require("sidecar.core.files").exists
local json = require("sidecar.core.json")
local precommit = require("sidecar.formats.precommit")

local M = {}

local RANK = {}
for i, path in ipairs(precommit.PATHS) do
  RANK[path] = i
end

-- The patterns match the path in lowercase, so they are written in lowercase (not lowercased
-- themselves: that would turn the frontier %f[%W] into %f[%w], which never matches after a word).
-- Agent-instruction files: agents behave differently, no executable code changes.
local SKILL = { "^skills/.*%.md$", "skill%.md$", "^references/", "/references/", "agents%.md$", "claude%.md$",
  "%.prompt%.md$", "^%.claude/", "^%.codex/", "^prompts/", "/prompts/", "templates/.*%.md$" }
-- Prose: docs, READMEs, text.
local FAST = { "%.md$", "%.markdown$", "%.txt$", "%.rst$", "%.adoc$", "^docs/", "^license", "^notice", "^authors" }
-- Files that look like prose by name but act like code.
local CODE_NAMES = { "cmakelists%.txt$", "requirements.*%.txt$", "%.tmpl$", "%.j2$", "%.schema%.json$" }
-- Credentials, security and release files: any change to them is risky.
local RISK = { "%.env$", "%.env%.", "%.pem$", "%.key$", "id_rsa", "credential", "secret", "%.npmrc$", "%.pypirc$",
  "security", "%f[%w]auth%f[%W]", "oauth", "authentication", "authorization", "permission",
  "%f[%w]release%f[%W]", "codeowners$" }
local BROAD_FILES, BROAD_TOP_DIRS, MASS_DELETE = 40, 6, 10

local function any(path, patterns)
  local lower = path:lower()
  for _, p in ipairs(patterns) do
    if lower:find(p) then
      return p
    end
  end
end

---The path of one file and why.
function M.file_path(path)
  if any(path, RISK) then
    return "risk", path .. " touches credentials, security or release"
  end
  if any(path, CODE_NAMES) then
    return "code", path .. " builds or generates code"
  end
  if any(path, SKILL) then
    return "skill", path .. " instructs agents"
  end
  if any(path, FAST) then
    return "fast", path .. " is prose"
  end
  return "code", path .. " is code, configuration, a test or a lockfile"
end

---The change in the repository holding `repo` (a path, or a repository sidecar.core.git.open
---opened): {files = {{path, status}}, state = {merging, rebasing, cherry_picking, conflicts},
---stat, cached_stat, git_dir}, read in-process as `git status --porcelain --untracked-files=all`,
---`git diff --stat HEAD` and `git diff --cached --stat` show them. nil, why outside a repository.
---@param repo string|userdata
function M.collect(repo)
  local why, entries
  if type(repo) == "string" then
    repo, why = require("sidecar.core.git").open(repo)
  end
  if repo then
    entries, why = repo:status_entries()
  end
  if not entries then
    return nil, why
  end
  local files, conflicts = {}, {}
  for _, e in ipairs(entries) do
    files[#files + 1] = { path = e.path, status = e.xy }
    if e.xy:find("U") or e.xy == "AA" or e.xy == "DD" then
      conflicts[#conflicts + 1] = e.path
    end
  end
  local git_dir = repo:gitdir()
  local state = { conflicts = conflicts, merging = exists(git_dir .. "/MERGE_HEAD"),
    cherry_picking = exists(git_dir .. "/CHERRY_PICK_HEAD"), rebasing = exists(git_dir .. "/REBASE_HEAD") }
  local stat = (repo:diff({ stat = true }) or {}).stat or ""
  local cached = (repo:diff({ to = ":index", stat = true }) or {}).stat or ""
  return { files = files, state = state, stat = stat, cached_stat = cached, git_dir = git_dir }
end

---The project's own check commands, found from its files (test runner, build).
function M.project_checks(repo)
  local checks = {}
  local function add(cmd)
    checks[#checks + 1] = cmd
  end
  if exists(repo .. "/scripts/test") then
    add("scripts/test")
  elseif exists(repo .. "/package.json") then
    add("npm test")
  elseif exists(repo .. "/Cargo.toml") then
    add("cargo test")
  elseif exists(repo .. "/go.mod") then
    add("go test ./...")
  elseif exists(repo .. "/pyproject.toml") or exists(repo .. "/setup.py") then
    add("python -m pytest")
  elseif exists(repo .. "/Makefile") then
    add("make test")
  elseif exists(repo .. "/CMakeLists.txt") then
    add("cmake --build build && ctest --test-dir build")
  end
  return checks
end

---Classifies a change: {path, confidence, files = {{path, status, path_kind, why}}, reasons,
---validation = {commands}, skills = {names of changed skills}, risk_notes}.
function M.classify(change, repo)
  local c = { path = "fast", files = {}, reasons = {}, validation = {}, skills = {}, risk_notes = {} }
  local top_dirs, deleted, defaulted = {}, 0, 0
  for _, f in ipairs(change.files) do
    local kind, why = M.file_path(f.path)
    if why:find("is code, configuration", 1, true) and not f.path:find("%.%w+$") then
      defaulted = defaulted + 1 -- no extension and no rule: a guess
    end
    c.files[#c.files + 1] = { path = f.path, status = f.status, path_kind = kind, why = why }
    if RANK[kind] > RANK[c.path] then
      c.path = kind
    end
    top_dirs[f.path:match("^([^/]+)/") or "."] = true
    if f.status:find("D") then
      deleted = deleted + 1
    end
    local skill = f.path:match("skills/([^/]+)/")
    if skill then
      c.skills[#c.skills + 1] = skill
    end
  end
  local n_top = 0
  for _ in pairs(top_dirs) do
    n_top = n_top + 1
  end
  local s = change.state
  local function risk(note)
    c.risk_notes[#c.risk_notes + 1] = note
    c.path = "risk"
  end
  if s.merging then risk("a merge is in progress") end
  if s.rebasing then risk("a rebase is in progress") end
  if s.cherry_picking then risk("a cherry-pick is in progress") end
  if #s.conflicts > 0 then risk("unresolved conflicts: " .. table.concat(s.conflicts, ", ")) end
  if deleted >= MASS_DELETE then risk(("%d files deleted"):format(deleted)) end
  if #change.files >= BROAD_FILES or n_top >= BROAD_TOP_DIRS then
    risk(("broad scope: %d files in %d top-level folders"):format(#change.files, n_top))
  end
  for _, f in ipairs(c.files) do
    if f.path_kind == "risk" then
      c.risk_notes[#c.risk_notes + 1] = f.why
    end
  end
  c.confidence = (#c.files == 0 or defaulted > 0) and "medium" or "high"
  if n_top >= BROAD_TOP_DIRS then
    c.confidence = "low"
  end
  -- The minimal validation per path.
  local v = c.validation
  v[#v + 1] = "git diff --check"
  if c.path == "code" or c.path == "risk" then
    for _, cmd in ipairs(M.project_checks(repo or default_repo.get())) do
      v[#v + 1] = cmd
    end
  end
  if c.path == "skill" then
    v[#v + 1] = #c.skills > 0 and ("reinstall the changed skills: " .. table.concat(c.skills, ", "))
        or "re-read the changed agent instructions once end to end"
  end
  if c.path == "risk" then
    v[#v + 1] = "a person reviews the change before it is committed"
  end
  c.reinstall = c.path == "skill" and (#c.skills > 0 and "specific" or "no") or "no"
  return c
end

-- The report: the rules' fields, the agent's words ---------------------------------------------

-- The fields the rules decide. An agent's answer never replaces them; a different value is a
-- disagreement, shown beside the report.
M.RULED = { "path", "confidence", "minimal_validation" }

---Why the rules chose the path: the risk notes, else the first file that decided it.
---@param c table  classify()'s result
---@return string
function M.rules_why(c)
  if #c.risk_notes > 0 then
    return table.concat(c.risk_notes, "; ")
  end
  for _, f in ipairs(c.files) do
    if f.path_kind == c.path then
      return f.why
    end
  end
  return "no changes"
end

local function copy(list)
  local out = json.array({})
  for i, v in ipairs(list or {}) do
    out[i] = v
  end
  return out
end

---The report from the rules alone, in the field names of precommit.SPEC; the fields only
---an agent writes (commit_scope_risk, blockers, suggested_commit_message) are absent.
---@param c table  classify()'s result
---@return table
function M.rules_report(c)
  local files = json.array({})
  for _, f in ipairs(c.files) do
    files[#files + 1] = f.path
  end
  return { path = c.path, confidence = c.confidence, changed_files = files, why_this_path = M.rules_why(c),
    minimal_validation = copy(c.validation), reinstall_needed = c.reinstall,
    reinstall_skills = c.reinstall == "specific" and copy(c.skills) or nil }
end

-- A validation step as written, without the surface differences an agent may add.
local function step_key(s)
  return (s:gsub("%s+", " "):gsub("^ ", ""):gsub(" $", ""):gsub("%.$", ""))
end

local function step_set(list)
  local set = {}
  for _, step in ipairs(list) do
    set[step_key(step)] = true
  end
  return set
end

local function same_steps(a, b)
  local sa, sb = step_set(a), step_set(b)
  for k in pairs(sa) do
    if not sb[k] then
      return false
    end
  end
  for k in pairs(sb) do
    if not sa[k] then
      return false
    end
  end
  return true
end

local function ruled_values(r)
  return { path = r.path, confidence = r.confidence, minimal_validation = copy(r.minimal_validation) }
end

---Where an agent's answer differs from the rules on the fields they decide (M.RULED): nil when it
---agrees, else {fields = {names}, agent = {path, confidence, minimal_validation}, rules = {same},
---reason = why the rules chose their path}. Validation steps compare as a set (order, spacing and
---a final period do not count).
---@param c table  classify()'s result
---@param answer table  precommit.parse(text), already checked
---@return table|nil
function M.disagreement(c, answer)
  local rules = M.rules_report(c)
  local fields = json.array({})
  for _, key in ipairs(M.RULED) do
    local differs
    if key == "minimal_validation" then
      differs = not same_steps(rules[key], answer[key] or {})
    else
      differs = rules[key] ~= answer[key]
    end
    if differs then
      fields[#fields + 1] = key
    end
  end
  if #fields == 0 then
    return nil
  end
  return { fields = fields, agent = ruled_values(answer), rules = ruled_values(rules), reason = rules.why_this_path }
end

---The report to show: the rules' path, confidence, changed files, minimal validation and
---reinstall (derived from the path and the changed skills), with the agent's why, commit scope
---risk, blockers and commit message; and the disagreement (nil when the agent agrees). When the
---agent chose another path, its why argued for that path, so the why leads with the rules' reason
---and keeps the agent's words after it.
---@param c table  classify()'s result
---@param answer table  precommit.parse(text), already checked
---@return table report, table|nil disagreement
function M.merge(c, answer)
  local report = M.rules_report(c)
  local d = M.disagreement(c, answer)
  if answer.path == report.path then
    report.why_this_path = answer.why_this_path
  else
    report.why_this_path = ("%s (the agent said %s: %s)"):format(report.why_this_path,
      precommit.TITLES[answer.path] or tostring(answer.path), answer.why_this_path)
  end
  report.commit_scope_risk = answer.commit_scope_risk
  report.blockers = copy(answer.blockers)
  report.suggested_commit_message = answer.suggested_commit_message
  return report, d
end

return M
