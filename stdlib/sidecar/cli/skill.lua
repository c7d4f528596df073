--- `sidecar skill print|install [--claude|--codex] [--user]`: the skill file for main agents
--- (stdlib/sidecar/agent/skill.lua), made from the presets and commands there are now.
---
--- Where it goes: Claude Code reads skills from `.claude/skills/<name>/SKILL.md` (the project's,
--- or the user's under $CLAUDE_CONFIG_DIR, default ~/.claude); Codex from `.agents/skills/<name>/`
--- in a repository and `$CODEX_HOME/skills/<name>/` (default ~/.codex/skills) for the user, in the
--- same SKILL.md format (YAML front matter with name and description).
local artifact = require("sidecar.core.artifact")
local out = require("sidecar.cli.output")
local paths = require("sidecar.host.paths")
local preset = require("sidecar.preset.define")
local skill = require("sidecar.cli.skill_text")

local M = {}

local function text_for(o)
  return skill.text({ presets = preset.list("."), commands = require("sidecar.cli.declared"),
    agent = o.codex and "codex" or "claude" })
end

---`sidecar skill print`
function M.print(o)
  io.write(text_for(o))
  return 0
end

-- The folder SKILL.md goes in.
local function skill_dir(o)
  local home = os.getenv("HOME") or ""
  local function env_or(name, default)
    local v = os.getenv(name)
    return (v and v ~= "") and v or default
  end
  if o.codex then
    return (o.user and env_or("CODEX_HOME", home .. "/.codex") .. "/skills" or ".agents/skills") .. "/sidecar"
  end
  return (o.user and env_or("CLAUDE_CONFIG_DIR", home .. "/.claude") or ".claude") .. "/skills/sidecar"
end

---`sidecar skill install`: writes SKILL.md (atomically), replacing an earlier one.
function M.install(o)
  local dir = skill_dir(o)
  local d, message = artifact.open(dir, { create = true })
  local ok = false
  if d then
    ok, message = d:write("SKILL.md", text_for(o))
    d:close()
  end
  if not ok then
    return out.fail(o, "skill install", ("cannot write %s/SKILL.md: %s"):format(dir, tostring(message)))
  end
  local file = (paths.real(dir) or dir) .. "/SKILL.md"
  if o.json then
    out.envelope("skill install", true, { file = file, agent = o.codex and "codex" or "claude" }, nil, o.version)
  else
    print("wrote " .. file)
  end
  return 0
end

return M
