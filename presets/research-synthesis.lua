-- research-synthesis: pattern E of the codex-orchestration skill, research -> synthesis -> next
-- actions.
--
-- 1. Researchers (read-only, fast), one per question or angle, side by side, each answering with
--    a Summary, numbered Sources and Uncertainty.
-- 2. The sources are kept by Lua, numbered per researcher (R1.1, R1.2, R2.1 ...), so the brief can
--    cite them and the reader can check them whatever the synthesis does.
-- 3. One synthesis step (strong tier, read-only) turns the answers into a decision-ready brief: the
--    answer, next actions, disagreements and gaps, citing the sources by those numbers.
local json = require("sidecar.core.json")
local preset = require("sidecar.preset.define")
local steps = require("sidecar.preset.steps")

local SYNTHESISER = {
  role = "synthesiser: you turn several researchers' answers into one decision-ready brief",
  format = "Markdown: Answer, Recommended next actions, Disagreements and gaps (see Output format)",
  ["do"] = {
    "Weigh the answers against each other: where they agree, where they do not, and which sources are stronger.",
    "Cite every claim with the source numbers given (R1.2 is researcher 1's source 2).",
    "End with the next actions the Goal's reader can take.",
  },
  do_not = { "Add claims no researcher's source supports.", "Search again: work from the answers given." },
  output = table.concat({ "Markdown in three parts:", "",
    "- `## Answer`: 5 to 10 bullets, each ending with its sources, as [R1.2].",
    "- `## Recommended next actions`: numbered, most useful first.",
    "- `## Disagreements and gaps`: where the researchers or their sources differ, and what would settle it." },
    "\n"),
}

-- Step 2: a researcher's numbered sources ("1. title, address, why").
local function sources_of(answer)
  local out = {}
  for line in ((steps.sections(answer).sources or "") .. "\n"):gmatch("([^\n]*)\n") do
    local text = line:match("^%s*%d+[%.%)]%s+(.+)$")
    out[#out + 1] = text
  end
  return out
end

return preset.define({
  name = "research-synthesis",
  summary = "Researchers answer one question each, side by side; a strong synthesis turns them into a brief",
  description = "Pattern E of the codex-orchestration skill. One read-only researcher per question or angle "
    .. "(side by side, fast tier) answers with sources; Lua keeps the sources, numbered per researcher; one "
    .. "strong, read-only synthesis step writes the decision-ready brief citing them.",
  params = {
    topic = { type = "string", required = true, doc = "the question or decision the research serves" },
    questions = { type = "list", required = true, doc = "one researcher per question or angle (comma-separated)" },
    audience = { type = "string", default = "the people who decide", doc = "who reads the brief" },
  },
  escalates = { "no researcher answered (nothing to synthesise)", "a synthesis step that fails" },
  run = function(ctx, p)
    -- 1. Research, side by side.
    local jobs = {}
    for i, q in ipairs(p.questions) do
      jobs[i] = { kind = "research", role = "researcher", lens = q, prompt = steps.prompt("research", {
        goal = q .. "\n\nThis is one part of a larger question: " .. p.topic,
        non_goals = { "The other parts of the larger question: other researchers have them" },
        inputs = { "web search, when your tools have it", "the files of this repository" },
        success_check = "Every claim rests on a numbered source; disagreements are named.",
        escalate_when = { "the question cannot be answered from sources you can reach" } }) }
    end
    local results = ctx:agents(jobs)

    -- 2. Keep the sources; the answers become the synthesis' input.
    local answered, notes, blocks = {}, {}, {}
    for i, r in ipairs(results) do
      if steps.done(r) then
        answered[#answered + 1] = { n = i, question = p.questions[i], sources = sources_of(r.output) }
        blocks[#blocks + 1] = ("### Researcher %d: %s\n\n%s"):format(i, p.questions[i], steps.nest(r.output, 4))
      elseif not steps.planned(r) then
        notes[#notes + 1] = ("%s (%s)"):format(steps.why_not(r), p.questions[i])
      end
    end
    if steps.any_planned(results) then
      steps.plan_only(ctx) -- the synthesis would need the answers
      blocks = { "(the researchers' answers go here)" }
    elseif #answered == 0 then
      return { ok = false, text = "# research-synthesis: escalate\n\nNo researcher answered:\n- "
        .. table.concat(notes, "\n- ") .. "\n", errors = notes }
    end

    -- 3. Synthesis.
    local synthesis = ctx:agent({ kind = "synthesis", role = "synthesiser", prompt = steps.prompt(SYNTHESISER, {
      goal = ("A decision-ready brief on: %s, for %s."):format(p.topic, p.audience),
      non_goals = { "Research beyond the answers below" }, inputs = { "the researchers' answers below" },
      success_check = "Every claim cites a source number; the next actions follow from the answer.",
      escalate_when = { "the answers contradict each other on the main point and the sources do not settle it" },
    }, { { title = "Research answers", content = table.concat(blocks, "\n\n") } }) })
    results[#results + 1] = synthesis
    if steps.any_planned(results) then
      return steps.planned_result("research-synthesis", results,
        "The researchers run side by side; the synthesis gets their answers (a placeholder in its prompt).")
    end

    local parts = { ("# research-synthesis: %s\n"):format(p.topic) }
    if steps.done(synthesis) then
      parts[#parts + 1] = "## Synthesis\n\n" .. steps.nest(synthesis.output, 3) .. "\n"
    else
      notes[#notes + 1] = steps.why_not(synthesis)
    end
    parts[#parts + 1] = "## Sources\n"
    local data_sources = json.array({})
    for _, a in ipairs(answered) do
      parts[#parts + 1] = ("### R%d: %s\n"):format(a.n, a.question)
      for j, s in ipairs(a.sources) do
        parts[#parts + 1] = ("- [R%d.%d] %s"):format(a.n, j, s)
        data_sources[#data_sources + 1] = { id = ("R%d.%d"):format(a.n, j), question = a.question, source = s }
      end
      parts[#parts + 1] = #a.sources == 0 and "- (no numbered sources)\n" or ""
    end
    parts[#parts + 1] = "## Steps\n"
    for _, r in ipairs(results) do
      parts[#parts + 1] = "- " .. steps.line(r)
    end
    for _, n in ipairs(notes) do
      parts[#parts + 1] = "- note: " .. n
    end
    return { ok = steps.done(synthesis), text = table.concat(parts, "\n") .. "\n", errors = #notes > 0 and notes or nil,
      data = { topic = p.topic, synthesis = synthesis.output, sources = data_sources, steps = steps.data_list(results),
        notes = json.array(notes) } }
  end,
})
