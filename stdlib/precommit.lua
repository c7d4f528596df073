--- The deterministic part of the precommit classifier (FORMATS.md §2): which of four paths a
--- change takes, the highest that applies winning (Risk > Code > Skill > Fast), and the minimal
--- validation for it. No agent is needed for this; the agent only writes the why, the blockers
--- and the commit message.
---
---   local change = precommit.collect(git)       -- git(args) -> stdout | nil, why
---   local c = precommit.classify(change, repo)  -- {path, confidence, files, reasons, validation}
local M = {}

M.PATHS = { "fast", "skill", "code", "risk" } -- lowest to highest
local RANK = { fast = 1, skill = 2, code = 3, risk = 4 }

-- Agent-instruction files: agents behave differently, no executable code changes.
local SKILL = { "^skills/.*%.md$", "SKILL%.md$", "^references/", "/references/", "AGENTS%.md$", "CLAUDE%.md$",
  "%.prompt%.md$", "^%.claude/", "^%.codex/", "^prompts/", "/prompts/", "templates/.*%.md$" }
-- Prose: docs, READMEs, text.
local FAST = { "%.md$", "%.markdown$", "%.txt$", "%.rst$", "%.adoc$", "^docs/", "^LICENSE", "^NOTICE", "^AUTHORS" }
-- Files that look like prose by name but act like code.
local CODE_NAMES = { "CMakeLists%.txt$", "requirements.*%.txt$", "%.tmpl$", "%.j2$", "%.schema%.json$" }
-- Credentials, security and release files: any change to them is risky.
local RISK = { "%.env$", "%.env%.", "%.pem$", "%.key$", "id_rsa", "credential", "secret", "%.npmrc$", "%.pypirc$",
  "security", "%f[%w]auth%f[%W]", "oauth", "authentication", "authorization", "permission",
  "%f[%w]release%f[%W]", "codeowners$" }
local BROAD_FILES, BROAD_TOP_DIRS, MASS_DELETE = 40, 6, 10

local function any(path, patterns)
  local lower = path:lower()
  for _, p in ipairs(patterns) do
    if lower:find(p:lower()) then
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

---The change in a repository: {files = {{path, status}}, state = {merging, rebasing, cherry_picking,
---conflicts}, stat}. `git(args)` runs git there. nil, why outside a repository.
function M.collect(git)
  local status, why = git({ "status", "--porcelain=v1", "-z", "--untracked-files=all" })
  if not status then
    return nil, why
  end
  local files, conflicts = {}, {}
  local fields = {}
  for f in status:gmatch("([^%z]+)") do
    fields[#fields + 1] = f
  end
  local i = 1
  while i <= #fields do
    local xy, path = fields[i]:sub(1, 2), fields[i]:sub(4)
    files[#files + 1] = { path = path, status = xy }
    if xy:find("U") or xy == "AA" or xy == "DD" then
      conflicts[#conflicts + 1] = path
    end
    i = i + ((xy:sub(1, 1) == "R" or xy:sub(1, 1) == "C") and 2 or 1) -- a rename names its source next
  end
  local git_dir = (git({ "rev-parse", "--git-dir" }) or ".git"):gsub("%s+$", "")
  local function exists(name)
    return git({ "rev-parse", "--verify", "--quiet", name }) ~= nil
  end
  local state = { conflicts = conflicts, merging = exists("MERGE_HEAD"), cherry_picking = exists("CHERRY_PICK_HEAD"),
    rebasing = exists("REBASE_HEAD") }
  local stat = (git({ "diff", "--stat", "HEAD" }) or git({ "diff", "--stat" }) or ""):gsub("%s+$", "")
  local cached = (git({ "diff", "--cached", "--stat" }) or ""):gsub("%s+$", "")
  return { files = files, state = state, stat = stat, cached_stat = cached, git_dir = git_dir }
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then
    f:close()
    return true
  end
  return false
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
    for _, cmd in ipairs(M.project_checks(repo or ".")) do
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

return M
