-- The runner registry (stdlib/sidecar/agent/runners.lua): the built-in runners' argv, the
-- registry's checks, sandboxes, and runners of a project's own from .agent/config.lua.
local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local runners = require("sidecar.agent.runners")

local function ctx(fields)
  local c = { prompt = "P", prompt_file = "/run/prompt.md", repo = "/repo", run_dir = "/run", sandbox = "read-only" }
  for k, v in pairs(fields or {}) do
    c[k] = v
  end
  return c
end

local function has_sequence(list, ...)
  local want = { ... }
  for i = 1, #list - #want + 1 do
    local all = true
    for j, w in ipairs(want) do
      all = all and list[i + j - 1] == w
    end
    if all then
      return true
    end
  end
  return false
end

describe("runners: the built-in ones", function()
  it("run codex ephemeral, read-only in the repo, the prompt on stdin and the answer in a file", function()
    local codex = assert(runners.get("codex"))
    local argv = codex.command(ctx({ model = "m1" }))
    expect(argv[1]):equals("codex")
    expect(argv[2]):equals("exec")
    expect(has_sequence(argv, "--ephemeral", "--json", "--skip-git-repo-check")):is_true()
    expect(has_sequence(argv, "-C", "/repo", "-s", "read-only")):is_true()
    expect(has_sequence(argv, "-o", "/run/last-message.txt")):is_true()
    expect(has_sequence(argv, "-m", "m1")):is_true()
    expect(argv[#argv]):equals("-")
    expect(codex.provider):equals("openai")
    expect(codex.names_session):is_nil()
  end)

  it("resume a codex session with -C and -s before `resume`, and the session id last but one", function()
    local argv = runners.get("codex").command(ctx({ resume_session_id = "S-1", ephemeral = false }))
    expect(has_sequence(argv, "exec", "-C", "/repo", "-s", "read-only", "resume")):is_true()
    expect(has_sequence(argv, "S-1", "-")):is_true()
    expect(has_sequence(argv, "--ephemeral")):is_false()
  end)

  it("put a program prefix of the caller's before the arguments", function()
    local argv = runners.get("codex").command(ctx({ program = { "node", "/x/codex.js" } }))
    expect(argv[1]):equals("node")
    expect(argv[2]):equals("/x/codex.js")
    expect(argv[3]):equals("exec")
  end)

  it("name claude's session themselves and record its provider", function()
    local claude = assert(runners.get("claude"))
    expect(claude.names_session):is_true()
    expect(claude.provider):equals("anthropic")
    expect(claude.dialect):equals("claude")
  end)
end)

describe("runners: the registry", function()
  it("refuses a bad name and a spec without command()", function()
    expect(function() runners.register("bad name", { command = function() end }) end):raises("bad runner name")
    expect(function() runners.register("ok", {}) end):raises("the spec needs a command(ctx) function")
  end)

  it("says which runners it knows when asked for another", function()
    local spec, why = runners.get("nope")
    expect(spec):is_nil()
    expect(why):contains("unknown runner 'nope' (known: codex, claude, gemini, opencode, qwen, goose, copilot, "
      .. "claude-acp, codex-acp, command")
  end)

  it("says which cap per runner names no runner (a typo would cap nothing)", function()
    expect(runners.uncapped_names(nil)):is_nil()
    expect(runners.uncapped_names({ claude = 2, codex = 1 })):is_nil()
    expect(runners.uncapped_names({ claude = 2, cladue = 1 }, "/r/.agent/config.lua")):contains(
      "/r/.agent/config.lua: max_agents_per_runner.cladue: no runner is named cladue, so it would cap nothing "
      .. "(did you mean claude?) (known: codex, claude")
    expect(runners.uncapped_names({ zzzzzz = 1 })):contains("max_agents_per_runner.zzzzzz: no runner is named zzzzzz, "
      .. "so it would cap nothing (known: ")
  end)

  it("checks sandboxes: read-only by default; full access only when allowed", function()
    expect(runners.check_sandbox(nil)):equals("read-only")
    expect(runners.check_sandbox("workspace-write")):equals("workspace-write")
    local _, why = runners.check_sandbox("danger-full-access")
    expect(why):contains("needs --allow-full-auto")
    expect(runners.check_sandbox("danger-full-access", true)):equals("danger-full-access")
    local _, bad = runners.check_sandbox("open")
    expect(bad):equals("sandbox 'open' is not one of read-only, workspace-write, danger-full-access")
  end)

  it("registers a config's runners as command runners, leaving a registered name alone", function()
    runners.register_config({ runners = { ["spec-alice"] = { command = { "alice-review", "--quiet" }, dialect = "codex" },
      codex = { command = { "not-codex" } } } })
    local alice = assert(runners.get("spec-alice"))
    expect(alice.dialect):equals("codex")
    expect(alice.describe):equals("from config.lua: alice-review --quiet")
    local argv = alice.command(ctx())
    expect(argv[1]):equals("alice-review")
    expect(argv[2]):equals("--quiet")
    expect(runners.get("codex").command(ctx())[1]):equals("codex")
  end)

  it("replaces an earlier config's runners: another repository's is never run, one it lacks is unknown", function()
    runners.register("spec-scripted", { command = function() return { "scripted" } end })
    runners.register_config({ runners = { ["spec-alice"] = { command = { "alice-a" } }, ["spec-bob"] = { acp = { "bob" } } } })
    runners.register_config({ runners = { ["spec-alice"] = { command = { "alice-b" } } } })
    expect(runners.get("spec-alice").command(ctx())[1]):equals("alice-b")
    local none, why = runners.get("spec-bob")
    expect(none):is_nil()
    expect(why):contains("unknown runner 'spec-bob'")
    runners.register_config({}) -- a config of no runners of its own (or one not trusted)
    expect(runners.get("spec-alice")):is_nil()
    expect(runners.get("spec-scripted").command(ctx())[1]):equals("scripted") -- registered in Lua: kept
    expect(runners.get("command")):exists()
  end)
end)
