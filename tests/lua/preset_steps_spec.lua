local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local prompt_kit = require("sidecar.prompt.kit")
local steps = require("sidecar.preset.steps")

local ROUTE = { runner = "codex", model = "m", tier = "fast", sandbox = "read-only" }

-- A context whose agent answers from a list, recording each job.
local function fake_ctx(answers)
  local ctx = { jobs = {} }
  function ctx:agent(job)
    self.jobs[#self.jobs + 1] = job
    local a = table.remove(answers, 1)
    return { status = a.status or "review", output = a.output, run_id = "R-" .. #self.jobs, role = job.role,
      route = ROUTE, why = a.why }
  end
  return ctx
end

describe("preset_steps", function()
  it("cuts a document at one heading level, not inside fenced code, keeping the lines", function()
    local doc = "# Guide\n\nIntro.\n## A\na\n```\n## code\n```\n### A.1\n## B\nb\n"
    local s = steps.split_markdown(doc, 2)
    expect(#s):equals(3)
    expect({ s[1].title, s[1].first, s[1].last }):equals({ "Guide", 1, 3 })
    expect({ s[2].title, s[2].first, s[2].last }):equals({ "A", 4, 9 })
    expect(s[2].text):equals("## A\na\n```\n## code\n```\n### A.1")
    expect({ s[3].title, s[3].text }):equals({ "B", "## B\nb" })
    expect(steps.split_markdown("text\n## A\n", 2)[1].title):equals("(before the first heading)")
    expect(#steps.split_markdown("\n\n## A\n", 2)):equals(1)
    expect(#steps.split_markdown("## A\n### B\n", 3)):equals(2)
  end)

  it("nests a worker's headings under the preset's, fenced code left alone", function()
    expect(steps.nest("# Top\ntext\n## Sub\n```\n# not\n```", 3)):equals("### Top\ntext\n#### Sub\n```\n# not\n```")
    expect(steps.nest("#### Deep\n##### Deeper", 3)):equals("### Deep\n#### Deeper")
    expect(steps.nest("no headings\n", 3)):equals("no headings")
  end)

  it("reads an answer's ## sections by lower-case title", function()
    local parts, order = steps.sections("intro\n## Relevant files\n- `a`\n\n## Risks\nnone\n```\n## x\n```\n")
    expect(order):equals({ "relevant files", "risks" })
    expect(parts["relevant files"]):equals("- `a`")
    expect(parts.risks):equals("none\n```\n## x\n```")
  end)

  it("compiles template and custom-role prompts that pass the prompt lint", function()
    local fields = { goal = "g", non_goals = { "n" }, inputs = { "i" }, success_check = "s", escalate_when = { "e" },
      lens = "security" }
    local text = steps.prompt("reviewer", fields, { { title = "Diff", content = "```diff\n+x\n```" } })
    expect(#prompt_kit.lint(text)):equals(0)
    expect(text):contains("## Diff\n\n```diff\n+x\n```\n\n## Lens")
    local role = { role = "judge: you rank", ["do"] = { "rank" }, do_not = { "invent" }, output = "JSON" }
    text = steps.prompt(role, { goal = "g", non_goals = { "n" }, inputs = { "i" }, success_check = "s",
      escalate_when = { "e" } }, { { title = "Options", content = "1. a" } })
    expect(#prompt_kit.lint(text)):equals(0)
    expect(text):contains("ROLE: judge: you rank.")
    expect(text):contains("EDITS: none; this run is read-only.")
    expect(text):contains("## Options\n\n1. a\n\n## Do\n\n- rank")
    text = steps.prompt("implementer", { goal = "g", success_check = "s" }, { { title = "Plan", content = "p" } },
      { after = "Goal" })
    expect(text):contains("## Goal\n\ng\n\n## Plan\n\np\n\n## Success check")
  end)

  it("re-prompts a wrong structured answer once, through ctx:agent", function()
    local ctx = fake_ctx({ { output = '{"verdict": "pass"}' } })
    local first = { status = "review", output = "no JSON here", run_id = "R-0", role = "verifier", route = ROUTE }
    local answer, last = steps.json_answer(ctx, { kind = "verify", role = "verifier", prompt = "P" }, first,
      steps.VERDICT)
    expect(answer.ok):is_true()
    expect(answer.value.verdict):equals("pass")
    expect(last.reprompted):is_true()
    expect(ctx.jobs[1].prompt):contains("did not match the required format")
    expect(steps.line(last)):equals("verifier  R-1  done (after one re-prompt)  (codex, fast tier)")
  end)

  it("settles an answer in a markdown format (precommit §2) with the same one re-prompt", function()
    local good = table.concat({ "# Precommit Classification", "Path: Code", "Confidence: high",
      "Changed files: a.lua", "Why this path: code", "Minimal validation: `make test`", "Reinstall needed: no",
      "Commit scope risk: low", "Blockers: None.", "Suggested commit message: Add a.lua" }, "\n")
    local ctx = fake_ctx({ { output = good } })
    local job = { kind = "classify", prompt = "P", optional = true }
    local first = { status = "review", output = "Looks fine to me.", run_id = "R-0", route = ROUTE }
    local answer, last = steps.answer(ctx, job, first, { format = "precommit" })
    expect({ answer.ok, answer.attempts, answer.value.path, answer.value.suggested_commit_message, last.run_id })
      :equals({ true, 2, "code", "Add a.lua", "R-1" })
    expect(ctx.jobs[1].optional):is_true()
    expect(ctx.jobs[1].prompt):contains("P\n\nYour previous answer did not match the required format:\n")
    expect(ctx.jobs[1].prompt):contains("corrected `# Precommit Classification` report")
    answer = steps.answer(fake_ctx({ { output = "still not it" } }), job, first, { format = "precommit" })
    expect({ answer.ok, answer.escalate, answer.attempts, answer.raw }):equals({ false, true, 2, "still not it" })
    expect(steps.answer(fake_ctx({}), job, { status = "dry_run", route = ROUTE }, { format = "personalization" })
      .attempts):equals(1)
  end)

  it("reads a verdict, or says why there is none", function()
    local answer = '```json\n{"verdict": "fail", "issues": [{"claim": "x"}]}\n```'
    local v, why, last = steps.verdict(fake_ctx({ { output = answer } }), { role = "verifier", prompt = "P" })
    expect({ v.verdict, why, last.run_id }):equals({ "fail", nil, "R-1" })
    expect(steps.verdict_text(v)):equals("Verification: fail (0 checks, 1 issue)\n  - issue: x")
    v, why = steps.verdict(fake_ctx({ { status = "failed", why = "timed out" } }), { role = "verifier", prompt = "P" })
    expect(v):is_nil()
    expect(why):equals("the verifier failed: timed out")
    v, why = steps.verdict(fake_ctx({ { output = "?" }, { output = "still ?" } }), { role = "verifier", prompt = "P" })
    expect(why):contains("the verifier's answer is not a verdict")
  end)

  it("checks an implementer's claims against its run's change", function()
    local r = { output = "done\n\n[FILES_MODIFIED]\n- a.c (modified)\n- ghost.c (created)\n",
      record = { changed_files = { "a.c", "b.c" } } }
    local check = steps.files_check(r, "/repo")
    expect(steps.files_text(check)):equals("Files: confirmed a.c; claimed but not changed ghost.c; changed but not "
      .. "claimed b.c.")
    expect(steps.files_text(check, "Files:")):equals("Files:\n  confirmed (1): a.c\n  claimed but not changed (1): "
      .. "ghost.c\n  changed but not claimed (1): b.c")
    expect(steps.files_check({ status = "dry_run" }, "/repo")):is_nil()
  end)

  it("reads an implementer's report: its message up to the first marker line, trimmed", function()
    expect(steps.report_of("\n  Did it.\nChecked it.  \n\n  [PROGRESS] a\n[CODEX_COMPLETE] b\n")):equals(
      "Did it.\nChecked it.")
    expect(steps.report_of("[FILES_MODIFIED]\n- a.c (modified)\n")):equals("")
    expect(steps.report_of("No markers.\n\n")):equals("No markers.")
    expect(steps.report_of("a [NOT_AT_START]\n")):equals("a [NOT_AT_START]")
    expect(steps.report_of(nil)):is_nil()
  end)

  it("fences text with a fence no run of backticks in it can close", function()
    expect(steps.fence("+x\n", "diff")):equals("```diff\n+x\n```")
    expect(steps.fence("+x")):equals("```\n+x\n```")
    expect(steps.fence("a ```` b\n", "md")):equals("`````md\na ```` b\n`````")
    expect(steps.fence("```\ncode\n```", "markdown", 4)):equals("````markdown\n```\ncode\n```\n````")
    expect(steps.diff_md({ diff = "" })):is_nil()
    expect(steps.diff_md({ files = { "a" } })):is_nil()
    expect(steps.diff_md({ diff = "+x\n", truncated = true, inputs = { "git diff" } })):equals(
      "```diff\n+x\n```\n(cut at 3 bytes: run git diff for the rest)")
  end)

  it("says which runs an answer took, and why a step that did not finish has none", function()
    local job = { kind = "review", role = "reviewer", prompt = "P" }
    local first = { status = "review", output = "?", run_id = "R-0", role = "reviewer", route = ROUTE }
    local answer, last = steps.json_answer(fake_ctx({ { status = "failed", why = "exit 1" } }), job, first,
      steps.VERDICT)
    expect({ answer.ok, answer.attempts, answer.error, last.run_id }):equals({ false, 2, "the reviewer failed: exit 1",
      "R-1" })
    expect({ answer.runs[1].run_id, answer.runs[2].run_id }):equals({ "R-0", "R-1" })
    local ctx = fake_ctx({})
    answer = steps.json_answer(ctx, job, { status = "timed_out", role = "reviewer", run_id = "R-0" }, steps.VERDICT)
    expect({ answer.ok, answer.attempts, answer.error, #answer.runs, #ctx.jobs }):equals({ false, 1,
      "the reviewer timed_out: no reason given", 1, 0 })
  end)

  it("prints a plan: each step's role, runner, tier, sandbox and command", function()
    local results = {
      { status = "not_run", why = "codex is not installed", role = "scout", route = ROUTE,
        command = "codex exec - < p1" },
      { status = "dry_run", role = "implementer", lens = "x", command = "codex exec -s workspace-write - < p2",
        route = { runner = "codex", tier = "strong", sandbox = "workspace-write" } },
    }
    expect(steps.plan_text("p", results, "How they connect.")):equals(table.concat({
      "# p: not run", "",
      "Nothing ran: codex is not installed. These steps would run, in order:",
      "1. scout: codex m, fast tier, read-only", "   codex exec - < p1",
      "2. implementer [x]: codex, strong tier, workspace-write: the writer, it holds the work tree's writer lock",
      "   codex exec -s workspace-write - < p2", "", "How they connect.", "" }, "\n"))
    expect(steps.any_planned(results)):is_true()
    expect(steps.any_planned({ { status = "review" } })):is_false()
  end)
end)
