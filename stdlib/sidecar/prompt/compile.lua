--- The prompt compiler: sections in order, each a title and text or a list, fitted to a token
--- budget in three passes.
---
---   local text, budget = prompt.compile({
---     { title = "Objective", content = "Make the parser accept CRLF.", required = true },
---     { title = "Read these first", list = files, trim = "trim-last", limit = 8, strict_limit = 3,
---       label = "files" },
---     { title = "Linked context", list = notes, trim = "drop", limit = 5 },
---   }, { target = 1200, max = 1500 })
---   budget.pass      -- "untrimmed" | "trimmed" | "strict"
---   budget.actions   -- what was cut and why, for --explain
---
--- Passes: (1) everything as given; (2) if over the target, lists cut to `limit`; (3) if still
--- over the maximum, lists cut to `strict_limit` and sections with trim = "drop" that are not
--- `required` left out. A cut list ends with "+ N more <label>". `trim = "keep"` (the default
--- for text) is never cut. Tokens are estimated as characters / 4.
local option_keys = require("sidecar.core.option_keys")

local M = {}

M.TARGET, M.MAX = 1200, 1500

---The token estimate of a text: characters / 4, rounded up.
function M.estimate(text)
  return (#text + 3) // 4
end

local function render_section(sec, limit)
  local out = { "## " .. sec.title, "" }
  if sec.list then
    local n = #sec.list
    local shown = limit and math.min(limit, n) or n
    for i = 1, shown do
      out[#out + 1] = "- " .. sec.list[i]
    end
    if shown < n then
      out[#out + 1] = ("+ %d more %s"):format(n - shown, sec.label or "items")
    end
  else
    out[#out + 1] = sec.content
  end
  return table.concat(out, "\n")
end

local function empty(sec)
  if sec.list then
    return #sec.list == 0
  end
  return sec.content == nil or sec.content == ""
end

-- Renders with a limit per section (nil: whole) and a set of dropped sections. An empty header
-- adds nothing (no blank lines before the first section).
local function render(sections, header, limits, dropped)
  local parts = { header ~= "" and header or nil }
  for i, sec in ipairs(sections) do
    if not dropped[i] and not empty(sec) then
      parts[#parts + 1] = render_section(sec, limits[i])
    end
  end
  return table.concat(parts, "\n\n") .. "\n"
end

local function count_or_nil(v)
  return v == nil or (math.type(v) == "integer" and v >= 0)
end

local COMPILE_OPTIONS = { "target", "max", "header" }

local function check(sections, opts)
  assert(type(sections) == "table", "prompt.compile: expected a list of sections")
  assert(opts == nil or type(opts) == "table", "prompt.compile: opts must be a table")
  if opts then
    option_keys.check("prompt.compile", opts, COMPILE_OPTIONS, 3)
  end
  for i, sec in ipairs(sections) do
    assert(type(sec) == "table" and type(sec.title) == "string", ("prompt.compile: section %d needs a title"):format(i))
    local function need(ok, what)
      assert(ok, ("prompt.compile: section '%s': %s"):format(sec.title, what))
    end
    need(sec.list == nil or type(sec.list) == "table", "list must be a table")
    need(sec.content == nil or type(sec.content) == "string", "content must be a string")
    need(sec.trim == nil or sec.trim == "keep" or sec.trim == "trim-last" or sec.trim == "drop",
      "trim is keep, trim-last or drop")
    need(count_or_nil(sec.limit) and count_or_nil(sec.strict_limit), "limit and strict_limit are whole numbers >= 0")
    for j, item in ipairs(sec.list or {}) do
      need(type(item) == "string" or type(item) == "number", ("list item %d must be a string"):format(j))
    end
  end
end

---Compiles sections into one prompt. opts: target, max (tokens), header (text before the first
---section); another option raises a bad_option error. Returns the text and {pass,
---estimated_tokens, untrimmed_tokens, target, max, over_budget, actions = {{section, action, detail}}}.
---@param sections table[]  each {title, content | list, required?, trim?, limit?, strict_limit?, label?}
---@param opts? {target: integer?, max: integer?, header: string?}
function M.compile(sections, opts)
  check(sections, opts)
  opts = opts or {}
  local target, max = opts.target or M.TARGET, opts.max or M.MAX
  local header = opts.header or ""
  local budget = { target = target, max = max, actions = {} }
  local text = render(sections, header, {}, {})
  budget.untrimmed_tokens = M.estimate(text)
  budget.pass = "untrimmed"
  if budget.untrimmed_tokens > target then
    local limits, dropped = {}, {}
    local function cut(field, pass)
      for i, sec in ipairs(sections) do
        local limit = sec.list and sec.trim ~= "keep" and not dropped[i] and sec[field]
        if limit and #sec.list > limit and (not limits[i] or limit < limits[i]) then
          limits[i] = limit
          budget.actions[#budget.actions + 1] = { section = sec.title, pass = pass,
            action = ("kept %d of %d %s"):format(limit, #sec.list, sec.label or "items") }
        end
      end
    end
    cut("limit", "trimmed")
    text = render(sections, header, limits, dropped)
    budget.pass = "trimmed"
    if M.estimate(text) > max then
      -- Drop first, so a section left out is not also reported as cut to its strict limit.
      for i, sec in ipairs(sections) do
        if sec.trim == "drop" and not sec.required and not empty(sec) then
          dropped[i] = true
          budget.actions[#budget.actions + 1] = { section = sec.title, pass = "strict", action = "dropped" }
        end
      end
      cut("strict_limit", "strict")
      text = render(sections, header, limits, dropped)
      budget.pass = "strict"
    end
  end
  budget.estimated_tokens = M.estimate(text)
  budget.over_budget = budget.estimated_tokens > max
  return text, budget
end

---The budget for people (`--explain`): one line per pass and cut.
function M.explain(budget)
  local lines = { ("tokens: %d estimated (untrimmed %d; target %d, max %d), pass: %s%s"):format(
    budget.estimated_tokens, budget.untrimmed_tokens, budget.target, budget.max, budget.pass,
    budget.over_budget and ", still over the maximum" or "") }
  for _, a in ipairs(budget.actions) do
    lines[#lines + 1] = ("  %s: %s (%s pass)"):format(a.section, a.action, a.pass)
  end
  return table.concat(lines, "\n")
end

return M
