local test = require("test")
local describe, it, expect = test.describe, test.it, test.expect
local agent_run = require("agent_run")
local json = require("json")
local proc = require("proc")

-- The fake agent replays real captures (tests/fixtures/captures) through the real runners.
local SIDECAR = proc.executable()
local CAPTURES = "../fixtures/captures/"

local repo
local function fake(capture, ...)
  local p = io.popen("cd .. && pwd")
  local tests = p:read("l")
  p:close()
  return { SIDECAR, "script", tests .. "/fixtures/fake_agent.lua", tests .. "/fixtures/captures/" .. capture, ... }
end

local function read(path)
  local f = io.open(path)
  if not f then
    return nil
  end
  local text = f:read("a")
  f:close()
  return text
end

local function sh(command)
  assert(os.execute("cd '" .. repo .. "' && " .. command .. " >/dev/null 2>&1"), command)
end

local function run(opts)
  opts.repo = repo
  opts.prompt = opts.prompt or "Say hello"
  return assert(agent_run.execute(opts))
end

test.before_each(function()
  repo = os.tmpname()
  os.remove(repo)
  os.execute("mkdir -p '" .. repo .. "'")
  sh("git init -q -b main && git config user.email t@example.com && git config user.name T && " ..
    "echo a > a.txt && git add -A && git commit -qm init")
end)
test.after_each(function()
  os.execute("rm -rf '" .. repo .. "'")
end)

describe("agent runs", function()
  it("record a codex text turn: status, exact usage, output.md, model.json, prompt on stdin only", function()
    local r = run({ runner = "codex", program = fake("codex_exec_json_text_turn.jsonl", "--prompt-copy", repo .. "/../p",
      "--argv-copy", repo .. "/../argv") })
    expect(r.run_id):equals("R-0001")
    expect(r.status):equals("review")
    expect(r.usage):equals({ input = 100, cached_input = 0, output = 20, reasoning_output = 0, total = 120 })
    expect(r.session_id):equals("01a1fddb-6319-7bd2-9e42-00be972fec02")
    local dir = repo .. "/.agent/runs/R-0001/"
    expect(read(dir .. "output.md")):equals("Hello from the mock model.\n")
    expect(read(repo .. "/../p")):equals("Say hello")
    local argv = read(repo .. "/../argv")
    os.remove(repo .. "/../p")
    os.remove(repo .. "/../argv")
    expect(argv:find("Say hello", 1, true)):is_nil()
    expect(argv):contains("exec\n--ephemeral\n--json\n")
    expect(argv):contains("-s\nread-only\n")
    local model = json.decode(read(dir .. "model.json"))
    expect(model.usage):equals({ input_tokens = 100, cached_input_tokens = 0, output_tokens = 20,
      reasoning_output_tokens = 0, total_tokens = 120 })
    expect(model.runner):equals("codex-cli")
    local copy = json.decode(read(dir .. "run.json"))
    expect(copy.status):equals("review")
    expect(copy.changed_files):equals({})
    local events = read(dir .. "events.jsonl")
    expect(events):contains('"kind":"run.started"')
    expect(events):contains('"kind":"agent.turn_completed"')
    expect(events):contains('"kind":"run.finished"')
    expect(read(dir .. "agent.jsonl")):equals(read(CAPTURES .. "codex_exec_json_text_turn.jsonl"))
  end)

  it("record a claude tool turn with its cost and command", function()
    local r = run({ runner = "claude", program = fake("claude_stream_json_tool_turn.jsonl") })
    expect(r.status):equals("review")
    expect(r.cost_usd):equals(0.0016)
    expect(r.usage.total):equals(240)
    expect(r.commands_run[1].command):equals("echo hi > out.txt && ls")
    expect(r.summary):equals("Created out.txt.")
    expect(json.decode(read(repo .. "/.agent/runs/R-0001/model.json")).cost_usd):equals(0.0016)
  end)

  it("fail a run whose agent reported an error, with the reason", function()
    local r = run({ runner = "codex", program = fake("codex_exec_json_http500_noretry.jsonl", "--exit", "1") })
    expect(r.status):equals("failed")
    expect(r.failure_reason):contains("high demand")
    expect(r.usage.input):is(json.null)
    r = run({ runner = "claude", program = fake("claude_stream_json_http500_noretry.jsonl") })
    expect(r.status):equals("failed")
    expect(r.failure_reason):contains("API Error: 500")
  end)

  it("stop an agent that stops talking (idle timeout), leaving no process behind", function()
    local r = run({ runner = "codex", idle_timeout_ms = 300, kill_grace_ms = 200,
      program = fake("codex_exec_json_text_turn.jsonl", "--hang-after", "2") })
    expect(r.status):equals("failed")
    expect(r.failure_reason):contains("idle timeout")
    expect(r.timed_out):is_true()
    local p = io.popen("pgrep -f '[f]ake_agent.lua.*--hang-after' || true") -- [f]: not this shell
    local left = p:read("a")
    p:close()
    expect(left):equals("")
  end)

  it("call an outcome unknown when the agent lingers after its result or its stream is cut", function()
    local r = run({ runner = "codex", exit_deadline_ms = 200, kill_grace_ms = 200,
      program = fake("codex_exec_json_text_turn.jsonl", "--linger-ms", "5000") })
    expect(r.status):equals("outcome_unknown")
    expect(r.failure_reason):contains("did not exit within 200 ms")
    expect(r.usage.total):equals(120) -- what was reported is still recorded
    r = run({ runner = "codex", program = fake("codex_exec_json_text_turn.jsonl", "--cut") })
    expect(r.status):equals("outcome_unknown")
    expect(r.failure_reason):contains("middle of a line")
    expect(r.stream.malformed_lines):equals(1)
  end)

  it("record a CLI that is not installed as failed, saying how to install it", function()
    local r = run({ runner = "codex", program = { "/nonexistent/codex" } })
    expect(r.status):equals("failed")
    expect(r.failure_reason):contains("/nonexistent/codex")
    expect(r.failure_reason):contains("npm install -g @openai/codex")
  end)

  it("refuse an unknown runner and full access without --allow-full-auto, recording nothing", function()
    local none, message, code = agent_run.execute({ runner = "gemini", prompt = "x", repo = repo })
    expect(none):is_nil()
    expect(code):equals("unknown_runner")
    expect(message):contains("known: codex, claude, command")
    none, message, code = agent_run.execute({ runner = "codex", prompt = "x", repo = repo,
      sandbox = "danger-full-access" })
    expect(none):is_nil()
    expect(code):equals("bad_sandbox")
    expect(message):contains("--allow-full-auto")
    expect(io.open(repo .. "/.agent/sidecar.db")):is_nil()
    expect(function() agent_run.execute({ runner = "codex", repo = repo }) end):raises("`prompt`")
  end)

  it("run any command: prompt on stdin or in a file, stdout as the final message, a 1 MB prompt whole", function()
    local big = string.rep("0123456789abcdef", 65536) -- 1 MiB
    local r = run({ runner = "command", command = { "cat" }, prompt = big })
    expect(r.status):equals("review")
    expect(read(repo .. "/.agent/runs/R-0001/output.md")):equals(big .. "\n")
    r = run({ runner = "command", command = { "wc", "-c", "{prompt_file}" }, prompt = "12345" })
    expect(read(repo .. "/.agent/runs/R-0002/output.md")):matches("^5 ")
    r = run({ runner = "command", command = { "sh", "-c", "echo nope >&2; exit 3" } })
    expect(r.status):equals("failed")
    expect(r.failure_reason):equals("exited with code 3: nope")
  end)

  it("keep 20 MB of output whole on disk", function()
    local r = run({ runner = "command", command = { "head", "-c", "20000000", "/dev/zero" } })
    expect(r.status):equals("review")
    local f = assert(io.open(repo .. "/.agent/runs/R-0001/stdout.log"))
    expect(f:seek("end")):equals(20000000)
    f:close()
  end)

  it("read markers: a blocker wins over completion, claimed files are checked against the change", function()
    local r = run({ runner = "command", command = { "sh", "-c",
      "echo x > new.txt; printf '[FILES_MODIFIED]\\n- new.txt (created)\\n- ghost.txt (modified)\\n\\n" ..
      "[BLOCKED] needs a database\\n\\n[CODEX_COMPLETE] done\\n'" } })
    expect(r.status):equals("blocked")
    expect(r.blockers):equals({ "needs a database" })
    expect(r.changed_files):equals({ "new.txt" })
    expect(r.files_check.confirmed):equals({ "new.txt" })
    expect(r.files_check.claimed_not_changed):equals({ "ghost.txt" })
    expect(r.markers.warnings[1]):contains("[CODEX_COMPLETE] ignored")
    expect(r.head_before):equals(r.head_after)
  end)
end)
