local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local precommit = require("sidecar.formats.precommit")
local rules = require("sidecar.formats.precommit_rules")
local schema = require("sidecar.preset.schema")

-- A change without git: the files and a clean state. No project checks are found in a folder
-- that does not exist, so the validation is the rules' own steps only.
local function classify(paths)
  local files = {}
  for i, p in ipairs(paths) do
    files[i] = { path = p, status = "??" }
  end
  return rules.classify({ files = files, state = { conflicts = {} } }, "/nonexistent-precommit-spec")
end

-- An agent's answer, as the preset reads it: §2 markdown parsed and checked.
local function answer(fields)
  local text = table.concat({
    "# Precommit Classification",
    "- **Path:** " .. (fields.path or "Risk"),
    "- **Confidence:** " .. (fields.confidence or "high"),
    "- **Changed files:** `.env`",
    "- **Why this path:** " .. (fields.why or "only a setting changed."),
    "- **Minimal validation:**" .. (fields.validation or " none"),
    "- **Reinstall needed:** no",
    "- **Commit scope risk:** low: one file.",
    "- **Blockers:** " .. (fields.blockers or "None."),
    "- **Suggested commit message:** " .. (fields.message or "Tune the settings"),
  }, "\n")
  local value = precommit.parse(text)
  expect(schema.check(value, precommit.SPEC)):is_true()
  return value
end

describe("precommit_rules.classify: the highest path wins, Risk > Code > Skill > Fast", function()
  local function path_of(paths)
    return classify(paths).path
  end

  it("gives each file its path, first rule matching", function()
    expect({ rules.file_path("README.md") }):equals({ "fast", "README.md is prose" })
    expect(rules.file_path("docs/guide.rst")):equals("fast")
    expect(rules.file_path("skills/review/SKILL.md")):equals("skill")
    expect(rules.file_path("AGENTS.md")):equals("skill")
    expect(rules.file_path("prompts/review.md")):equals("skill")
    expect(rules.file_path("CMakeLists.txt")):equals("code") -- named like prose, builds code
    expect(rules.file_path("requirements-dev.txt")):equals("code")
    expect(rules.file_path("src/main.c")):equals("code")
    expect(rules.file_path("docs/security.md")):equals("risk") -- Risk before Fast
    expect(rules.file_path(".env.local")):equals("risk")
    expect(rules.file_path("deploy/id_rsa.pub")):equals("risk")
    expect(rules.file_path("src/author.lua")):equals("code") -- "auth" only as a word
    expect(rules.file_path("src/auth/login.lua")):equals("risk")
    expect(rules.file_path("scripts/release.sh")):equals("risk")
    expect(rules.file_path("Docs/Notes.MD")):equals("fast") -- any case
  end)

  it("takes the highest path of the files", function()
    expect(path_of({ "README.md", "docs/a.md" })):equals("fast")
    expect(path_of({ "README.md", "skills/x/SKILL.md" })):equals("skill")
    expect(path_of({ "skills/x/SKILL.md", "src/a.lua", "README.md" })):equals("code")
    expect(path_of({ "src/a.lua", ".env", "README.md" })):equals("risk")
    expect(path_of({})):equals("fast")
  end)

  it("gives each path its minimal validation and reinstall", function()
    local fast = classify({ "README.md" })
    expect({ fast.confidence, fast.validation, fast.reinstall }):equals({ "high", { "git diff --check" }, "no" })
    local skill = classify({ "skills/review/SKILL.md", "skills/merge/references/x.md" })
    expect(skill.validation):equals({ "git diff --check", "reinstall the changed skills: review, merge" })
    expect({ skill.reinstall, skill.skills }):equals({ "specific", { "review", "merge" } })
    local agents = classify({ "AGENTS.md" })
    expect(agents.validation[2]):equals("re-read the changed agent instructions once end to end")
    expect(agents.reinstall):equals("no")
    expect(classify({ "src/a.lua" }).validation):equals({ "git diff --check" }) -- no project checks found
  end)
end)

describe("precommit_rules.classify: the project, the confidence and the repository's state", function()

  it("adds the project's own checks on Code and Risk", function()
    local repo = os.tmpname()
    os.remove(repo)
    os.execute("mkdir -p '" .. repo .. "' && touch '" .. repo .. "/Cargo.toml'")
    local change = { files = { { path = "src/lib.rs", status = " M" } }, state = { conflicts = {} } }
    expect(rules.classify(change, repo).validation):equals({ "git diff --check", "cargo test" })
    change.files[1].path = "README.md"
    expect(rules.classify(change, repo).validation):equals({ "git diff --check" })
    os.execute("rm -rf '" .. repo .. "'")
  end)

  it("is medium when a file without an extension falls through to Code", function()
    local c = classify({ "Makefile" })
    expect({ c.path, c.confidence }):equals({ "code", "medium" })
  end)

  it("makes the whole change Risk for the repository's state and a broad scope", function()
    local function with(state, files)
      local list = {}
      for i, f in ipairs(files or { { "README.md", " M" } }) do
        list[i] = { path = f[1], status = f[2] }
      end
      state.conflicts = state.conflicts or {}
      return rules.classify({ files = list, state = state }, "/nonexistent-precommit-spec")
    end
    local merging = with({ merging = true })
    expect({ merging.path, merging.risk_notes }):equals({ "risk", { "a merge is in progress" } })
    expect(with({ conflicts = { "a.c" } }).risk_notes):equals({ "unresolved conflicts: a.c" })
    local deleted = {}
    for i = 1, 10 do
      deleted[i] = { ("docs/%d.md"):format(i), " D" }
    end
    expect(with({}, deleted).risk_notes):equals({ "10 files deleted" })
    local broad = with({}, { { "a/x.md", "??" }, { "b/x.md", "??" }, { "c/x.md", "??" }, { "d/x.md", "??" },
      { "e/x.md", "??" }, { "f/x.md", "??" } })
    expect({ broad.path, broad.confidence, broad.risk_notes })
      :equals({ "risk", "low", { "broad scope: 6 files in 6 top-level folders" } })
    expect(rules.rules_why(broad)):equals("broad scope: 6 files in 6 top-level folders")
  end)
end)

-- Runs a shell script in a new folder with a fixed identity; returns the folder.
local function repo_with(script)
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir '" .. dir .. "' && cd '" .. dir .. "' && export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@t "
    .. "GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@t && { " .. script .. "; } >/dev/null 2>&1"))
  return dir
end

local function git_says(dir, args)
  local p = assert(io.popen("cd '" .. dir .. "' && git " .. args .. " 2>/dev/null"))
  local out = p:read("a")
  p:close()
  return out
end

describe("precommit_rules.collect: the change, read from git in-process", function()
  it("reads renames, conflicts, untracked files and a merge as git status --porcelain does", function()
    local dir = repo_with("git init -q -b main && echo base > both.c && echo o > old.lua && git add -A "
      .. "&& git commit -qm one && git checkout -qb side && echo side > both.c && git commit -qam side "
      .. "&& git checkout -q main && echo main > both.c && git commit -qam main && git mv old.lua new.lua "
      .. "&& git commit -qm mv && git merge -q side; mkdir -p notes/deep && echo n > notes/deep/todo.md "
      .. "&& git mv new.lua renamed.lua")
    local change = assert(rules.collect(dir))
    local porcelain = git_says(dir, "status --porcelain=v1 -z --untracked-files=all")
    local want = {}
    for xy, path in porcelain:gmatch("(..) ([^%z]+)%z") do
      if path ~= "new.lua" then -- a rename's source follows it
        want[#want + 1] = { path = path, status = xy }
      end
    end
    expect(change.files):equals(want)
    expect(change.files):equals({ { path = "both.c", status = "UU" }, { path = "renamed.lua", status = "R " },
      { path = "notes/deep/todo.md", status = "??" } })
    expect(change.state):equals({ conflicts = { "both.c" }, merging = true, cherry_picking = false, rebasing = false })
    expect(change.git_dir):equals(dir .. "/.git")
    os.execute("rm -rf '" .. dir .. "'")
  end)

  it("gives git diff --stat HEAD and --cached --stat", function()
    local dir = repo_with("git init -q -b main && printf 'a\\nb\\n' > a.c && git add a.c && git commit -qm one "
      .. "&& echo c >> a.c && echo new > n.c && git add n.c")
    local change = assert(rules.collect(dir))
    expect(change.stat):equals(" a.c | 1 +\n n.c | 1 +\n 2 files changed, 2 insertions(+)")
    expect(change.stat):equals((git_says(dir, "diff --stat HEAD"):gsub("\n$", "")))
    expect(change.cached_stat):equals((git_says(dir, "diff --cached --stat"):gsub("\n$", "")))
    expect(change.state.merging):is_false()
    os.execute("rm -rf '" .. dir .. "'")
  end)

  it("says why outside a repository", function()
    local dir = repo_with("true")
    local change, why = rules.collect(dir)
    expect(change):is_nil()
    expect(why):matches("^not a git repository")
    os.execute("rm -rf '" .. dir .. "'")
  end)
end)

local RISK_STEPS = { "git diff --check", "a person reviews the change before it is committed" }

describe("precommit_rules.merge: the rules decide path, confidence and validation", function()
  it("keeps the rules' Risk when the agent says Fast with no validation, and records the disagreement", function()
    local c = classify({ ".env" })
    expect(c.path):equals("risk")
    local report, d = rules.merge(c, answer({ path = "Fast", validation = " none" }))
    expect(report.path):equals("risk")
    expect(report.confidence):equals("high")
    expect(report.minimal_validation):equals(RISK_STEPS)
    expect(report.changed_files):equals({ ".env" })
    -- The agent's why argued for Fast: the rules' reason leads, the agent's words follow.
    expect(report.why_this_path):equals(
      ".env touches credentials, security or release (the agent said Fast: only a setting changed.)")
    expect(report.commit_scope_risk):equals("low: one file.")
    expect(report.blockers):equals({})
    expect(report.suggested_commit_message):equals("Tune the settings")
    expect(d):equals({
      fields = { "path", "minimal_validation" },
      agent = { path = "fast", confidence = "high", minimal_validation = {} },
      rules = { path = "risk", confidence = "high", minimal_validation = RISK_STEPS },
      reason = ".env touches credentials, security or release",
    })
    expect(precommit.disagreement_text(d, "R-0001")):equals("Agent disagreed (R-0001): it said Path Fast, "
      .. "Minimal validation none; the rules decide Path Risk, Minimal validation `git diff --check`, "
      .. "`a person reviews the change before it is committed`, because .env touches credentials, security or release.")
  end)

  it("finds no disagreement when the agent agrees (steps in another order, backticks, a final period)", function()
    local c = classify({ ".env" })
    local report, d = rules.merge(c, answer({
      validation = "\n  - a person reviews the change before it is committed.\n  - `git diff --check`",
      why = "a credentials file changed.", blockers = "\n  - a person must review .env",
    }))
    expect(d):is_nil()
    expect(report.why_this_path):equals("a credentials file changed.")
    expect(report.blockers):equals({ "a person must review .env" })
    expect(report.minimal_validation):equals(RISK_STEPS)
  end)

  it("names only the fields that differ: a confidence, an extra step", function()
    local c = classify({ ".env" })
    local _, d = rules.merge(c, answer({ confidence = "low",
      validation = "\n  - `git diff --check`\n  - a person reviews the change before it is committed" }))
    expect(d.fields):equals({ "confidence" })
    expect(precommit.disagreement_text(d)):equals("Agent disagreed: it said Confidence low; the rules decide "
      .. "Confidence high, because .env touches credentials, security or release.")
    local _, extra = rules.merge(c, answer({
      validation = "\n  - `git diff --check`\n  - a person reviews the change before it is committed"
        .. "\n  - `make lint`" }))
    expect(extra.fields):equals({ "minimal_validation" })
    expect(extra.agent.minimal_validation):equals({ "git diff --check",
      "a person reviews the change before it is committed", "make lint" })
  end)

  it("keeps the agent's why when only the validation differs", function()
    local c = classify({ "README.md" })
    expect(c.path):equals("fast")
    local report, d = rules.merge(c, answer({ path = "Fast", why = "prose only." }))
    expect(report.why_this_path):equals("prose only.")
    expect(d.fields):equals({ "minimal_validation" })
  end)
end)

describe("precommit.render: the §2 markdown", function()
  it("renders the rules alone without the fields only an agent writes", function()
    local c = classify({ "skills/review/SKILL.md" })
    expect(precommit.render(rules.rules_report(c))):equals(table.concat({
      "# Precommit Classification",
      "- **Path:** Skill",
      "- **Confidence:** high",
      "- **Changed files:**",
      "  - `skills/review/SKILL.md`",
      "- **Why this path:** skills/review/SKILL.md instructs agents",
      "- **Minimal validation:**",
      "  - `git diff --check`",
      "  - `reinstall the changed skills: review`",
      "- **Reinstall needed:** yes, specific skills: review",
    }, "\n") .. "\n")
  end)

  it("reads back as the merged report, a commit message of several lines included", function()
    local c = classify({ ".env" })
    local report = rules.merge(c, answer({ path = "Fast", blockers = "\n  - review the new token" }))
    report.suggested_commit_message = "Rotate the token\n\nThe old one leaked.\n```sh\nmake\n```"
    local text = precommit.render(report)
    expect(text):contains("- **Path:** Risk\n")
    expect(text):contains("- **Blockers:**\n  - review the new token\n")
    local back = precommit.parse(text)
    expect(schema.check(back, precommit.SPEC)):is_true()
    expect(back.path):equals("risk")
    expect(back.minimal_validation):equals(RISK_STEPS)
    expect(back.why_this_path):equals(report.why_this_path)
    expect(back.blockers):equals({ "review the new token" })
    expect(back.suggested_commit_message):equals(report.suggested_commit_message)
  end)
end)
