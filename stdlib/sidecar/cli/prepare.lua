--- `sidecar prepare`: a sidecar task folder (sidecar.task.prepared) made, then the command that runs
--- the agent printed (or a JSON envelope with --json). It also knows the prompts of `--preset`:
--- their answer formats come from sidecar.formats, so the prompt and the reader never drift apart.
local cli_output = require("sidecar.cli.output")
local json = require("sidecar.core.json")
local personalization = require("sidecar.formats.personalization")
local precommit = require("sidecar.formats.precommit")
local prepared = require("sidecar.task.prepared")
local prompt_kit = require("sidecar.prompt.kit")

local M = {}

-- Words packed greedily into lines of at most `width` bytes.
local function wrap(text, width)
  local lines, line = {}, nil
  for word in text:gmatch("%S+") do
    if line and #line + 1 + #word <= width then
      line = line .. " " .. word
    else
      lines[#lines + 1] = line
      line = word
    end
  end
  lines[#lines + 1] = line
  return table.concat(lines, "\n")
end

local function precommit_prompt()
  return table.concat({
    "CONTEXT: WORKER",
    "You are a read-only precommit classifier. Inspect only the git state and files listed in",
    "input-manifest.md. Do not stage, commit, push, tag, or edit anything.",
    "",
    "Choose one path, the highest that applies: " .. precommit.ORDER .. ".",
    "- Fast: small prose, README or docs text, comments.",
    "- Skill: agent-instruction files (skills/*/SKILL.md, references/, AGENTS.md, CLAUDE.md).",
    "- Code: scripts and source, templates, tests, validators, lockfiles, configs, CI.",
    "- Risk: branch or worktree operations, conflicts, destructive operations, release or",
    "  publication, security, privacy or credentials, broad or unclear scope.",
    "",
    "Answer in this format:",
    precommit.template(),
  }, "\n") .. "\n"
end

local function personalization_prompt()
  local p = personalization
  local enums = ("Scope: %s. Type: %s. Confidence: %s. Action: %s."):format(table.concat(p.SCOPES, " | "),
    table.concat(p.TYPES, " | "), table.concat(p.CONFIDENCE, " | "), table.concat(p.ACTIONS, " | "))
  return table.concat({
    "CONTEXT: WORKER",
    "You scan only the inputs listed in input-manifest.md for reusable preferences. Never ask the",
    "user, never edit memory, and quote no raw logs or secrets.",
    "",
    "Answer in this format:",
    p.template({ compact = true }),
    wrap(enums, 95),
    "Only what the user stated, or what repeats in at least two artifacts, may be written back.",
  }, "\n") .. "\n"
end

---The prompts of the presets `prepare --preset` knows (the full presets live in presets/).
M.PRESET_PROMPTS = {
  ["precommit-classifier"] = precommit_prompt(),
  ["personalization-scanner"] = personalization_prompt(),
}

-- The lint warnings ({code, message}) of a prompt the user wrote (--prompt, --prompt-file), as
-- `run --explain` gives them: advice, never a refusal. A built-in preset's prompt is an answer
-- format over the manifest, not a task brief, so it is not linted. The prompt is read back from
-- the folder, as the agent will get it.
local function prompt_lint(o, dir)
  if not (o.prompt or o.prompt_file) then
    return {}
  end
  local f = io.open(dir .. "/prompt.md", "rb")
  if not f then
    return {}
  end
  local text = f:read("a")
  f:close()
  return prompt_kit.lint(text)
end

---`sidecar prepare`: prepares, then prints the next command (or a JSON envelope). Returns the
---exit status.
---@param o table  the options of sidecar.task.prepared.prepare, and json, version
---@return integer
function M.run(o)
  local options = setmetatable({ preset_prompts = M.PRESET_PROMPTS }, { __index = o })
  local ok, result = pcall(prepared.prepare, options)
  if ok then
    result.lint = json.array(prompt_lint(o, result.dir))
  end
  if o.json then
    if ok then
      result.warnings = json.array(result.warnings)
    end
    cli_output.envelope("prepare", ok, ok and result or json.null,
      ok and {} or { tostring(result.message or result) }, o.version)
    return ok and 0 or 1
  end
  if not ok then
    io.stderr:write("sidecar: prepare: ", tostring(result.message or result), "\n")
    return 1
  end
  for _, w in ipairs(result.warnings) do
    io.stderr:write("sidecar: prepare: warning: ", w, "\n")
  end
  for _, w in ipairs(result.lint) do
    io.stderr:write("sidecar: prepare: prompt lint: ", w.code, ": ", w.message, "\n")
  end
  print("Prepared " .. result.dir .. " (" .. table.concat(result.files, ", ") .. ")")
  print("Run the sidecar (the prompt goes on stdin, never on the command line):")
  print("  " .. result.command_line)
  return 0
end

return M
