local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local git_commands = require("sidecar.run.git_commands")
local hook_record = require("sidecar.agent.hook_record")
local hooks = require("sidecar.agent.hooks")
local json = require("sidecar.core.json")
local skill = require("sidecar.cli.skill_text")

local EXE = "/opt/side car/bin/sidecar"

local temp_dir = test.temp_dir

local function decoded(text)
  return json.decode(text)
end

describe("hooks settings", function()
  it("name every event once, with the tool matchers, and quote the program", function()
    local s = hooks.settings(EXE)
    for _, event in ipairs(hooks.EVENTS) do
      local groups = s.hooks[event]
      expect(#groups):equals(1)
      expect(groups[1].hooks[1].command):equals("'/opt/side car/bin/sidecar' hook " .. event)
      expect(groups[1].matcher):equals(hooks.MATCHERS[event])
    end
    expect(hooks.settings(EXE, { run = true }).hooks.Stop[1].hooks[1].command):contains("hook Stop --run")
  end)

  it("go into a run's folder for claude --settings; a folder not made yet is a preview", function()
    local dir = temp_dir()
    local path = hooks.write_run_settings(dir)
    expect(path:sub(-21)):equals("/claude_settings.json")
    local f = assert(io.open(path))
    local settings = decoded(f:read("a"))
    f:close()
    expect(settings.hooks.PreToolUse[1].hooks[1].command):matches(" hook PreToolUse %-%-run$")
    expect(hooks.write_run_settings(".agent/runs/R-…")):equals(".agent/runs/R-…/claude_settings.json")
    os.execute("rm -rf '" .. dir .. "'")
  end)

  it("tell ours from anyone else's", function()
    expect(hooks.is_ours("/usr/bin/sidecar hook Stop")):is_true()
    expect(hooks.is_ours("'/a b/sidecar' hook PreToolUse --run")):is_true()
    expect(hooks.is_ours("sidecar hook Stop; rm -rf /")):is_false()
    expect(hooks.is_ours("my-guard")):is_false()
    expect(hooks.is_ours(nil)):is_false()
  end)

  it("merge without touching other hooks, idempotently, and come out again", function()
    local mine = decoded([[{"model": "opus", "hooks": {
      "PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "my-guard"}]}],
      "Stop": [{"hooks": [{"type": "command", "command": "say done"}, {"type": "command", "command": "/old/sidecar hook Stop"}]}],
      "Notification": []}}]])
    local once, changed = hooks.merge(mine, EXE)
    expect(changed):is_true()
    expect(once.model):equals("opus")
    expect(once.hooks.PreToolUse[1].hooks[1].command):equals("my-guard")
    expect(once.hooks.PreToolUse[2].hooks[1].command):equals("'/opt/side car/bin/sidecar' hook PreToolUse")
    -- The old program's hook of ours is replaced, the user's hook in the same group stays.
    expect(#once.hooks.Stop):equals(2)
    expect(once.hooks.Stop[1].hooks[1].command):equals("say done")
    expect(#once.hooks.Stop[1].hooks):equals(1)
    local twice, again = hooks.merge(decoded(json.encode(once)), EXE)
    expect(again):is_false()
    expect(json.encode(twice)):equals(json.encode(once))
    local removed = hooks.merge(twice, EXE, { remove = true })
    expect(removed.hooks.PostToolUse):is_nil() -- only ours were there
    expect(json.encode(removed.hooks.PreToolUse)):equals(json.encode(mine.hooks.PreToolUse))
    expect(removed.hooks.Stop[1].hooks[1].command):equals("say done")
    expect(json.encode(removed.hooks.Notification)):equals("[]") -- the user's own empty list stays
    local _, still = hooks.merge(removed, EXE, { remove = true })
    expect(still):is_false()
  end)

  it("leave settings that had no hooks as they were once removed again", function()
    local plain = decoded('{"model": "opus"}')
    local back = hooks.merge(hooks.merge(plain, EXE), EXE, { remove = true })
    expect(json.encode(back)):equals(json.encode(plain))
    local empty = decoded('{"hooks": {}}')
    local same, changed = hooks.merge(empty, EXE, { remove = true })
    expect({ json.encode(same), changed }):equals({ '{"hooks":{}}', false })
  end)

  it("refuse settings Claude Code could not read", function()
    expect(select(2, hooks.merge(decoded("[]"), EXE))):contains("not a JSON object")
    expect(select(2, hooks.merge(decoded('{"hooks": []}'), EXE))):contains('"hooks" is not a JSON object')
    expect(select(2, hooks.merge(decoded('{"hooks": {"Stop": {}}}'), EXE))):contains('"hooks.Stop" is not a JSON array')
  end)
end)

describe("hook decisions", function()
  local policy = { run_id = "R-0007", repos = { "/repo" }, avoid = { "package-lock.json", "secrets/", "the schema" } }
  local function bash(command)
    return { hook_event_name = "PreToolUse", tool_name = "Bash", tool_input = { command = command } }
  end
  local function edit(tool, path)
    return { hook_event_name = "PreToolUse", tool_name = tool, tool_input = { file_path = path, notebook_path = path } }
  end

  it("deny pushes and tag changes, not other git commands", function()
    expect(hooks.decide(bash("git push origin HEAD"), policy)):contains("Sidecar run R-0007: agents may not push")
    expect(hooks.decide(bash("cd x && git -C y -c a=b push"), policy)):contains("may not push")
    expect(hooks.decide(bash("bash -lc \"git push --force\""), policy)):contains("may not push")
    expect(hooks.decide(bash("git tag v1"), policy)):contains("tags")
    expect(hooks.decide(bash("git tag -a v1 -m 'v1'"), policy)):contains("tags")
    expect(hooks.decide(bash("git tag -d v1"), policy)):contains("tags")
    for _, ok in ipairs({ "git tag", "git tag -l 'v*'", "git tag --list", "git tag -n5", "git tag --contains HEAD",
      "git status", "git commit -m tag", "npm publish --dry-run" }) do
      expect({ ok, hooks.decide(bash(ok), policy) }):equals({ ok })
    end
  end)

  it("deny edits of avoided files, by any edit tool", function()
    for _, tool in ipairs({ "Edit", "Write", "MultiEdit", "NotebookEdit" }) do
      expect(hooks.decide(edit(tool, "/repo/package-lock.json"), policy)):contains("avoid changing package-lock.json")
    end
    expect(hooks.decide(edit("Write", "/repo/sub/package-lock.json"), policy)):contains("files_to_avoid: package-lock.json")
    expect(hooks.decide(edit("Write", "/repo/secrets/a/b.txt"), policy)):contains("secrets/")
    expect(hooks.decide(edit("Write", "/repo/src/a.c"), policy)):is_nil()
    expect(hooks.decide(edit("Read", "/repo/package-lock.json"), policy)):is_nil()
    expect(hooks.decide({ tool_name = "Write", tool_input = "nonsense" }, policy)):is_nil()
  end)

  it("print Claude Code's deny output", function()
    local out = decoded(hooks.deny_output("because"))
    expect(out.hookSpecificOutput.permissionDecision):equals("deny")
    expect(out.hookSpecificOutput.permissionDecisionReason):equals("because")
    expect(out.hookSpecificOutput.hookEventName):equals("PreToolUse")
  end)
end)

describe("hook fields", function()
  it("keep a prompt's first 200 characters, redacted before the cut", function()
    local secret = "sk-proj-" .. ("A1b2C3d4"):rep(6)
    local f = hooks.fields({ hook_event_name = "UserPromptSubmit", session_id = "s", prompt = ("é"):rep(190) .. secret })
    expect(utf8.len(f.prompt)):equals(203)
    expect(f.prompt:find("sk-proj", 1, true)):is_nil()
    expect(f.prompt):contains("[REDACTED")
  end)

  it("name an edited file relative to the repository, and flag one outside it", function()
    local f = hooks.fields({ hook_event_name = "PostToolUse", tool_name = "Write", tool_input = { file_path = "/repo/a/b.md" } },
      { "/elsewhere", "/repo" })
    expect(f.files[1]):equals("a/b.md")
    expect(f.outside_repo):is_nil()
    f = hooks.fields({ hook_event_name = "PostToolUse", tool_name = "Edit", tool_input = { file_path = "/etc/passwd" } }, { "/repo" })
    expect(f.files[1]):equals("/etc/passwd")
    expect(f.outside_repo):is_true()
  end)

  it("take only strings, whatever the input holds", function()
    local f = hooks.fields({ session_id = {}, tool_name = 5, tool_input = { command = { "x" } }, source = json.null })
    expect(f.tool):is_nil()
    expect(f.session_id):is_nil()
    expect(f.source):is_nil()
  end)
end)

describe("hook records", function()
  it("continue a run's sequence and keep events.jsonl whole", function()
    local dir = temp_dir()
    local f = assert(io.open(dir .. "/events.jsonl", "w"))
    f:write('{"fields":{"seq":99},"kind":"run.started","seq":41,"ts":"x"}\n')
    f:close()
    assert(hook_record.to_run(dir, "Stop", json.object({ session_id = "s" })))
    assert(hook_record.to_run(dir, "SessionEnd", json.object({})))
    local lines = {}
    for line in io.lines(dir .. "/events.jsonl") do
      lines[#lines + 1] = decoded(line)
    end
    expect({ lines[2].seq, lines[2].kind, lines[3].seq, lines[3].source }):equals({ 42, "hook.Stop", 43, "hook" })
    local max = hook_record.MAX_RUN_BYTES
    hook_record.MAX_RUN_BYTES = 100 -- full: nothing more is added
    local ok, why = hook_record.to_run(dir, "Stop", json.object({}))
    hook_record.MAX_RUN_BYTES = max
    expect({ ok, why }):equals({ nil, "events.jsonl is full" })
    os.execute("rm -rf '" .. dir .. "'")
  end)

  it("record a session's event once, and list and show the session", function()
    local root = temp_dir()
    local input_text = '{"hook_event_name":"PostToolUse","session_id":"abcdef12-3456","cwd":"/repo","tool_name":"Write",'
      .. '"tool_input":{"file_path":"/repo/x.md"}}'
    local input = decoded(input_text)
    expect(hook_record.to_session(root, input_text, input, hooks.fields(input, { "/repo" }))):is_true()
    expect(hook_record.to_session(root, input_text, input, hooks.fields(input, { "/repo" }))):is_false()
    expect(select(2, hook_record.to_session(root, "{}", {}, {}))):contains("no session_id")
    local list = hook_record.list(root)
    expect({ #list, list[1].id, list[1].events, list[1].files[1], list[1].cwd }):equals(
      { 1, "claude-code:abcdef12", 1, "x.md", "/repo" })
    expect(hook_record.show(root, "abcdef12").id):equals("claude-code:abcdef12")
    expect(select(2, hook_record.show(root, "claude-code:../../x"))):contains("not a session id")
    os.execute("rm -rf '" .. root .. "'")
  end)
end)

describe("git commands", function()
  it("find the tag changes a command line makes", function()
    expect(git_commands.tag_in("make && git tag -s v2 -m x; echo")):equals("git tag -s v2 -m x")
    expect(git_commands.tag_in("git tag --sort=-creatordate")):is_nil()
    expect(git_commands.tag_in("git -C sub tag --delete old")):equals("git -C sub tag --delete old")
    expect(git_commands.push_in("git send-pack ../x")):equals("git send-pack ../x")
  end)
end)

describe("the skill file", function()
  it("list every preset and every declared top-level command, under YAML front matter", function()
    local presets = require("sidecar.preset.define").list(".")
    local commands = require("sidecar.cli.declared")
    local md = skill.text({ presets = presets, commands = commands })
    expect(md:sub(1, 18)):equals("---\nname: sidecar\n")
    expect(md):matches("\ndescription: [^\n]+\n%-%-%-\n")
    for _, p in ipairs(presets) do
      expect(md):contains("`" .. p.name .. "`")
    end
    for _, c in ipairs(commands) do
      expect(md):contains("`sidecar " .. c.path .. "`")
    end
    local tools = require("sidecar.mcp.tool_schemas").TOOLS
    expect(#tools):equals(9)
    for _, t in ipairs(tools) do -- every tool `sidecar mcp` serves, from its declarations
      expect(md):contains("`" .. t.name .. "`")
    end
    expect(md):contains("Never push, tag or release")
  end)
end)
