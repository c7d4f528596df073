-- split-by-sections: pattern D of the codex-orchestration skill, for work that divides cleanly.
--
-- 1. Split the work: a markdown file cut at its headings of `level` (fenced code is not cut),
--    or a list of files, one section each.
-- 2. One read-only worker per section, side by side, each owning its slice: the same task, only
--    its own section (the section's text is in its prompt; a file it reads itself).
-- 3. Join the results in document order, each under its section's heading; a section whose
--    worker failed says so in its place.
local json = require("sidecar.core.json")
local preset = require("sidecar.preset.define")
local secrets = require("sidecar.core.secrets")
local steps = require("sidecar.preset.steps")

local WORKER = {
  role = "section worker: you do the task for one section of a larger whole (a document, or a set of files), "
    .. "and nothing else",
  format = "Markdown, your result for this section only",
  ["do"] = {
    "Work on your section only; other workers have the other sections.",
    "Say where in the section each point applies: a heading, a line or a short quote.",
  },
  do_not = { "Change any file.", "Comment on other sections or on the whole." },
  output = "Markdown with no title: your result for this section. It is joined with the other sections' results, "
    .. "in document order, under a heading naming your section.",
}

local function read(ctx, path)
  local refused = secrets.refuse_inputs({ path }, "file")
  if refused then
    return nil, refused
  end
  return require("sidecar.core.files").read(ctx.repo .. "/" .. path)
end

-- Step 1: the sections, each {title, pointer, content (what goes into the prompt)}.
local function split(ctx, p)
  local out = {}
  if #p.paths > 0 then
    local refused = secrets.refuse_inputs(p.paths, "paths[%d]")
    if refused then
      return nil, refused
    end
    for _, path in ipairs(p.paths) do
      out[#out + 1] = { title = path, pointer = path,
        content = ("Title: %s\nThe whole file `%s`: read it."):format(path, path) }
    end
    return out, ("%d files"):format(#p.paths)
  end
  local text, why = read(ctx, p.file)
  if not text then
    return nil, ("cannot read %s: %s"):format(p.file, why)
  end
  for _, s in ipairs(steps.split_markdown(text, p.level)) do
    out[#out + 1] = { title = s.title, pointer = p.file, content = ("Title: %s\nLines %d-%d of `%s`:\n\n%s"):format(
      s.title, s.first, s.last, p.file, steps.fence(s.text, "markdown", 4)) }
  end
  return out, ("%s cut at its level-%d headings"):format(p.file, p.level)
end

return preset.define({
  name = "split-by-sections",
  summary = "One read-only worker per section of a document (or per file), side by side, results joined in order",
  description = "Pattern D of the codex-orchestration skill. Give a markdown file and a heading level (each "
    .. "heading of that level starts a section), or a list of files (one section each), and the task every "
    .. "worker does on its own section. The workers run side by side (-j), read-only; their results are "
    .. "joined in the document's order.",
  params = {
    task = { type = "string", required = true, doc = "what each worker does with its section" },
    file = { type = "string", default = "", doc = "a markdown file to cut at its headings" },
    level = { type = "integer", default = 2, doc = "the heading level that starts a section (2 = ##)",
      check = function(v) return (v < 1 or v > 6) and "expected 1 to 6" or nil end },
    paths = { type = "list", default = {}, doc = "files, one section each (instead of file)" },
    kind = { type = "string", default = "scan", choices = { "scan", "review", "research", "draft" },
      doc = "the kind of work, which picks the tier (stdlib/sidecar/agent/route.lua)" },
    max_sections = { type = "integer", default = 20, doc = "refuse to start more workers than this" },
  },
  escalates = { "a section whose worker fails or blocks (its place in the result says so)",
    "more sections than max_sections (raise it, or cut at a higher level)" },
  run = function(ctx, p)
    if (p.file == "") == (#p.paths == 0) then
      return { ok = false, text = "split-by-sections: give --param file=DOC.md or --param paths=a,b (one of them)\n",
        errors = { "give file or paths" } }
    end
    local sections, what = split(ctx, p)
    if not sections then
      return { ok = false, text = "split-by-sections: " .. what .. "\n", errors = { what } }
    elseif #sections == 0 or #sections > p.max_sections then
      local why = ("%s gives %d sections (at most %d)"):format(what, #sections, p.max_sections)
      return { ok = false, text = "split-by-sections: " .. why .. "\n", errors = { why } }
    end

    -- 2. One worker per section.
    local jobs = {}
    for i, s in ipairs(sections) do
      jobs[i] = { kind = p.kind, role = "section worker", lens = s.title, prompt = steps.prompt(WORKER, {
        goal = p.task, pointers = { s.pointer }, inputs = { s.pointer },
        non_goals = { "The other sections: other workers have them" },
        success_check = "The task is done for the whole section, and only for it.",
        escalate_when = { "the task cannot be done on this section alone" },
      }, { { title = "Section", content = s.content } }) }
    end
    local results = ctx:agents(jobs)
    if steps.any_planned(results) then
      return steps.planned_result("split-by-sections", results,
        "The workers run side by side, one per section; their results are joined in order.")
    end

    -- 3. Join in order.
    local parts, failed = { ("# split-by-sections: %s\n\n%s: %d sections, one worker each.\n"):format(p.task, what,
      #sections) }, {}
    for i, r in ipairs(results) do
      local body = steps.done(r) and steps.nest(r.output, 3) or ("(no result: %s)"):format(steps.why_not(r))
      if not steps.done(r) then
        failed[#failed + 1] = ("section %d (%s): %s"):format(i, sections[i].title, r.status)
      end
      parts[#parts + 1] = ("## %d. %s\n\n%s\n"):format(i, sections[i].title, body)
    end
    parts[#parts + 1] = "## Steps\n"
    for _, r in ipairs(results) do
      parts[#parts + 1] = "- " .. steps.line(r)
    end
    local data = { source = what, steps = steps.data_list(results), sections = json.array({}) }
    for i, s in ipairs(sections) do
      data.sections[i] = { title = s.title, run_id = results[i].run_id, status = results[i].status,
        result = results[i].output }
    end
    return { ok = #failed == 0, text = table.concat(parts, "\n") .. "\n", errors = #failed > 0 and failed or nil,
      data = data }
  end,
})
