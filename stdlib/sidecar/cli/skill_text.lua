--- The skill file (SKILL.md) that teaches a main agent (Claude Code, Codex) when and how to hand
--- work to a sidecar. Made, each time, from what there is: the presets `preset.list` finds and
--- the commands as the command line declares them (`sidecar.cli.declared`), so it never lists a
--- preset or a flag that is gone.
---
---   local md = skill.text({ presets = preset.list("."), commands = require("sidecar.cli.declared") })
local tool_schemas = require("sidecar.mcp.tool_schemas")

local M = {}

---The MCP tools of `sidecar mcp` (their names are the contract: issue 17), from the server's own
---declarations (sidecar.mcp.tool_schemas): {name, description}.
local function mcp_tools()
  local list = {}
  for i, t in ipairs(tool_schemas.TOOLS) do
    list[i] = { t.name, t.description }
  end
  return list
end

---Commands of the executable itself, not declared in the command tables (cli/main.cpp).
M.OTHER_COMMANDS = {
  { "script", "Run a Lua script: sidecar script FILE.lua [ARGS...]" },
  { "repl", "Interactive Lua prompt with the stdlib loaded" },
  { "test", "Run Lua spec files" },
  { "model-server", "A scripted model server, to rehearse runs offline" },
}

local DESCRIPTION = "Hand bounded coding work (a fix, a review, research, a classification) to a Sidecar "
  .. "sidecar agent run: validated, recorded, replayable, with presets. Use when a task can be stated "
  .. "with a goal and a way to check it, or to get an independent review."

-- One line, for a Markdown table cell or a list item.
local function flat(s)
  return (tostring(s or ""):gsub("[\r\n]+", " "):gsub("|", "\\|"))
end

local function flags_of(c)
  local shown = {}
  for _, f in ipairs(c.flags or {}) do
    if not f.hidden then
      local name = f.names:match("%-%-[%w-]+") or f.names:match("%-%w") or ("<" .. f.names .. ">")
      shown[#shown + 1] = "`" .. name .. (f.value ~= "" and f.names:sub(1, 1) == "-" and (" " .. f.value) or "") .. "`"
    end
  end
  return table.concat(shown, " ")
end

local function commands_section(commands, lines)
  lines[#lines + 1] = "## Commands"
  lines[#lines + 1] = ""
  lines[#lines + 1] = "Every command takes `--json` where listed and then prints the envelope below."
  lines[#lines + 1] = ""
  lines[#lines + 1] = "| Command | What it does | Flags |"
  lines[#lines + 1] = "|---|---|---|"
  for _, c in ipairs(commands) do
    lines[#lines + 1] = ("| `sidecar %s` | %s | %s |"):format(c.path, flat(c.help), flags_of(c))
  end
  for _, c in ipairs(M.OTHER_COMMANDS) do
    lines[#lines + 1] = ("| `sidecar %s` | %s | |"):format(c[1], c[2])
  end
  lines[#lines + 1] = ""
end

local function presets_section(presets, lines)
  lines[#lines + 1] = "## Presets"
  lines[#lines + 1] = ""
  lines[#lines + 1] = "Ready-made workflows: `sidecar preset show NAME` for their parameters, "
    .. "`sidecar preset run NAME --dry-run` to see the plan first."
  lines[#lines + 1] = ""
  for _, p in ipairs(presets) do
    if p.active ~= false then
      lines[#lines + 1] = ("- `%s` (%s): %s"):format(p.name, p.source or "built-in", flat(p.summary))
    end
  end
  lines[#lines + 1] = ""
end

local RULES = {
  "The prompt goes on stdin (a task packet: `sidecar task import -`) or in the task's fields, never in an agent's argv; Sidecar hands it to the agent on stdin.",
  "Runs are read-only unless the work needs writing: ask for `--sandbox workspace-write` only then; a writing run works in a worktree of its own.",
  "Never push, tag or release from a sidecar, nor ask one to: inside a run a push is refused and a tag is blocked; whoever reviews pushes.",
  "The caller decides: a run ends in `review`; read its summary, blockers and validation (`sidecar run show R-…`), then approve or block (`sidecar run approve|block R-…`), or let the person do it.",
  "Give each task a goal and a check (`--validate-cmds`), the files to read (`--read`) and to leave alone (`--avoid`).",
  "Prefer `--json` and read `ok`, `data` and `errors[]`; never parse the text for people.",
}

---The SKILL.md text.
---@param o {presets: table[], commands: table[], agent: "claude"|"codex"|nil}
---@return string
function M.text(o)
  local lines = { "---", "name: sidecar", "description: " .. DESCRIPTION, "---", "", "# Sidecar: hand work to a sidecar",
    "",
    "Sidecar runs bounded tasks on agent CLIs (codex exec, claude -p, any command) with validation gates, a record of "
      .. "every run, replay, and presets. You stay the main agent: you write the task, a sidecar does it, you decide.",
    "",
    "## When to hand work over",
    "",
    "- A change you can state with a goal and a check (tests, a type check) that would cost you many turns.",
    "- A second opinion: an independent review of a diff (`triangulated-review`, `review-fix-verify`).",
    "- Research or a classification you can run in parallel while you go on.",
    "- Not for: a one-line edit, work that needs the person's answer first, anything that pushes or releases.",
    "",
    "## How",
    "",
    "1. `sidecar context --json`: open tasks, runs waiting for review, spend.",
    "2. `sidecar task create --title T --goal G --validate-cmds \"test:npm test\" --json` (or `task import -` with a packet on stdin).",
    "3. `sidecar run T-0001 --json` (add `--runner claude|codex`, `--background` to go on meanwhile).",
    "4. `sidecar run show R-0001 --json`, then `sidecar run approve R-0001` or `sidecar run block R-0001 --reason \"why\"`.",
    "",
    "## MCP tools",
    "",
    "With `sidecar mcp` registered (`claude mcp add sidecar -- sidecar mcp`, or Codex's `[mcp_servers.sidecar]`), "
      .. "the same through tools (`mcp__sidecar__<tool>` in Claude Code):",
    "",
  }
  for _, t in ipairs(mcp_tools()) do
    lines[#lines + 1] = ("- `%s`: %s"):format(t[1], t[2])
  end
  lines[#lines + 1] = ""
  presets_section(o.presets or {}, lines)
  commands_section(o.commands or {}, lines)
  lines[#lines + 1] = "## The JSON envelope"
  lines[#lines + 1] = ""
  lines[#lines + 1] = "`--json` prints `{\"ok\": true|false, \"version\": \"…\", \"command\": \"run show\", "
    .. "\"data\": {…}, \"errors\": [\"…\"]}`; the exit status is 0 when ok, 1 when the command failed, 2 for a wrong "
    .. "command line."
  lines[#lines + 1] = ""
  lines[#lines + 1] = "## Rules"
  lines[#lines + 1] = ""
  for _, r in ipairs(RULES) do
    lines[#lines + 1] = "- " .. r
  end
  lines[#lines + 1] = ""
  return table.concat(lines, "\n")
end

return M
