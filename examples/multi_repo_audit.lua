-- An audit of several repositories: in each, read-only reviewers (one per lens) run side by side,
-- their findings are checked against the findings schema and merged (duplicates folded, agreement
-- counted, most serious first) into one report per repository; a summary table ends it.
-- Shows: one preset context per repository, ctx:agents, prompt_kit's reviewer template,
-- json_extract.extract / schema.check, merge.combine / merge.report_md, cli_output.table.
--
--   sidecar script examples/multi_repo_audit.lua [--runner R[:MODEL]] [--lenses L1,L2] [-j N] REPO...
--   sidecar script examples/multi_repo_audit.lua --lenses correctness,security ~/src/app ~/src/lib
--
-- Each repository records its reviewers' runs in its own .agent folder; no other file changes.
-- Exit 0 when every reviewer of every repository answered, 1 otherwise.
local cli_output = require("sidecar.cli.output")
local json_extract = require("sidecar.core.json_extract")
local merge = require("sidecar.preset.merge")
local preset_context = require("sidecar.preset.context")
local prompt_kit = require("sidecar.prompt.kit")
local runners = require("sidecar.agent.runners")
local schema = require("sidecar.preset.schema")

local o, repos = { lenses = "correctness,security", jobs = "4" }, {}
local OPTIONS = { ["--runner"] = "runner", ["--lenses"] = "lenses", ["-j"] = "jobs" }
local i = 1
while i <= #arg do
  if OPTIONS[arg[i]] and arg[i + 1] then
    o[OPTIONS[arg[i]]], i = arg[i + 1], i + 2
  else
    repos[#repos + 1], i = arg[i], i + 1
  end
end
local jobs = math.tointeger(tonumber(o.jobs))
if #repos == 0 or not jobs or jobs < 1 then
  io.stderr:write("usage: sidecar script examples/multi_repo_audit.lua [--runner R[:MODEL]] [--lenses L1,L2] [-j N] "
    .. "REPO...\n")
  os.exit(2)
end
local lenses = {}
for lens in o.lenses:gmatch("[^,]+") do
  lenses[#lenses + 1] = lens
end
local runner, model = (o.runner or ""):match("^([^:]*):?(.*)$")
runner, model = runner ~= "" and runner or nil, model ~= "" and model or nil

local function reviewer_prompt(lens)
  return (prompt_kit.compile("reviewer", {
    goal = "Find the problems in this repository a maintainer should fix first.",
    non_goals = { "Style nits", "Changing any file" },
    pointers = { "git ls-files", "README and the build files first" },
    success_check = "Every finding names a file (and a line when it can) and shows its evidence.",
    inputs = { "the tracked files of this repository", "git log and git ls-files" },
    output_path = "your final message",
    escalate_when = { "the repository cannot be read" },
    privacy = prompt_kit.DEFAULT_PRIVACY, lens = lens,
  }))
end

-- A reviewer's findings (checked against the findings schema), or nil and why not.
local function findings_of(r)
  if r.status ~= "review" then
    return nil, tostring(r.why or r.status)
  end
  local value, why = json_extract.extract(r.output or "")
  if value == nil then
    return nil, why
  end
  local ok, problems = schema.check(value, schema.formats.findings)
  if not ok then
    return nil, (schema.format_problems(problems):gsub("\n", "; "))
  end
  return value.findings
end

-- The reviewers of one repository: {report = markdown, counts = {severity = n}, total, answered}.
local function audit(repo)
  local ctx = preset_context.new({ repo = repo, preset = { name = "multi-repo-audit", summary = "audit" },
    runner = runner, model = model, jobs = jobs, on_progress = function(line) io.stderr:write(line, "\n") end })
  local git_dir, why = ctx:git({ "rev-parse", "--git-dir" })
  if not git_dir then
    return { error = why:find("not a git repository", 1, true) and "not a git repository" or why }
  end
  local known, unknown_why = runners.get(runner or "codex") -- this repository's runners are registered now
  if not known then
    return { error = unknown_why }
  end
  local list = {}
  for k, lens in ipairs(lenses) do
    list[k] = { kind = "review", role = "reviewer", lens = lens, prompt = reviewer_prompt(lens) }
  end
  local lists, problems = {}, {}
  for k, r in ipairs(ctx:agents(list)) do
    local findings, why = findings_of(r)
    if findings then
      lists[#lists + 1] = { provenance = { worker = lenses[k], lens = lenses[k], runner = r.route.runner,
        run_id = r.run_id }, findings = findings }
    else
      problems[#problems + 1] = ("%s reviewer (%s): %s"):format(lenses[k], r.run_id or "-", why)
    end
  end
  ctx:close()
  local merged, rejected = merge.combine(lists)
  local counts = {}
  for _, f in ipairs(merged) do
    counts[f.severity] = (counts[f.severity] or 0) + 1
  end
  local report = merge.report_md(merged, { title = "Audit of " .. repo, workers = #lists, rejected = rejected })
  if #problems > 0 then
    report = report .. "\nReviewers without a usable answer:\n- " .. table.concat(problems, "\n- ") .. "\n"
  end
  return { report = report, counts = counts, total = #merged, answered = #lists }
end

local rows, all_answered = {}, true
for _, repo in ipairs(repos) do
  local a = audit(repo)
  if a.error then
    rows[#rows + 1] = { repo, "-", "-", "-", "-", "-", a.error }
    all_answered = false
  else
    io.write(a.report, "\n")
    local c = a.counts
    rows[#rows + 1] = { repo, tostring(a.total), tostring(c.critical or 0), tostring(c.high or 0),
      tostring(c.medium or 0), tostring((c.low or 0) + (c.info or 0)),
      ("%d of %d answered"):format(a.answered, #lenses) }
    all_answered = all_answered and a.answered == #lenses
  end
end
io.write("# Summary\n\n", cli_output.table({ "REPOSITORY", "FINDINGS", "CRITICAL", "HIGH", "MEDIUM", "LOW",
  "REVIEWERS" }, rows, { [2] = true, [3] = true, [4] = true, [5] = true, [6] = true }))
os.exit(all_answered and 0 or 1)
