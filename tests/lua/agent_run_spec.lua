local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local agent_run = require("sidecar.agent.run")
local json = require("sidecar.core.json")
local proc = require("sidecar.core.proc")

-- The fake agent replays real captures (tests/fixtures/captures) through the real runners.
local SIDECAR = proc.executable()
local CAPTURES = "../fixtures/captures/"

local repo
-- Where the fake CLI leaves copies of what it got: a folder its OS sandbox lets it write.
local out
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
  opts.isolation = opts.isolation or { write = { out } }
  opts.prompt = opts.prompt or "Say hello"
  return assert(agent_run.execute(opts))
end

test.before_each(function()
  repo = os.tmpname()
  os.remove(repo)
  os.execute("mkdir -p '" .. repo .. "'")
  out = repo .. "-out"
  os.execute("mkdir -p '" .. out .. "'")
  sh("git init -q -b main && git config user.email t@example.com && git config user.name T && " ..
    "echo a > a.txt && git add -A && git commit -qm init")
end)
test.after_each(function()
  os.execute("rm -rf '" .. repo .. "' '" .. out .. "'")
end)

describe("agent runs", function()
  it("record a codex text turn: status, exact usage, output.md, model.json, prompt on stdin only", function()
    local r = run({ runner = "codex", program = fake("codex_exec_json_text_turn.jsonl", "--prompt-copy", out .. "/p",
      "--argv-copy", out .. "/argv") })
    expect(r.run_id):equals("R-0001")
    expect(r.status):equals("review")
    expect(r.usage):equals({ input = 100, cached_input = 0, output = 20, reasoning_output = 0, total = 120 })
    expect(r.session_id):equals("01a1fddb-6319-7bd2-9e42-00be972fec02")
    local dir = repo .. "/.agent/runs/R-0001/"
    expect(read(dir .. "output.md")):equals("Hello from the mock model.\n")
    expect(read(out .. "/p")):equals("Say hello")
    local argv = read(out .. "/argv")
    os.remove(out .. "/p")
    os.remove(out .. "/argv")
    expect(argv:find("Say hello", 1, true)):is_nil()
    expect(argv):contains("exec\n--ephemeral\n--json\n")
    -- in Sidecar's OS sandbox, which keeps the run read-only, codex's own sandbox steps aside
    expect(argv):contains("-s\ndanger-full-access\n")
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

  it("keep the end of a -o file past MAX_FINAL, from a line's start, and say how long it was", function()
    -- A codex stream whose answer is ten lines; the fake codex writes it to the -o file as well.
    local lines = {}
    for i = 1, 10 do
      lines[i] = ("line %02d of the answer"):format(i)
    end
    local answer = table.concat(lines, "\n")
    local capture = out .. "/long.jsonl"
    local f = assert(io.open(capture, "w"))
    f:write(read(CAPTURES .. "codex_exec_json_text_turn.jsonl"):gsub("Hello from the mock model%.",
      (json.encode(answer):sub(2, -2):gsub("%%", "%%%%"))))
    f:close()
    local max = agent_run.MAX_FINAL
    agent_run.MAX_FINAL = 60
    local program = fake("codex_exec_json_text_turn.jsonl")
    program[4] = capture
    local ok, r = pcall(run, { runner = "codex", program = program })
    agent_run.MAX_FINAL = max
    expect(ok):is_true()
    expect(r.final_message_bytes):equals(#answer)
    local kept = read(repo .. "/.agent/runs/R-0001/output.md")
    expect(kept):equals(table.concat(lines, "\n", 9, 10) .. "\n") -- whole lines, from after the cut
    expect(table.concat(r.warnings, "\n")):contains("last-message.txt was " .. #answer .. " bytes")
  end)

  it("bound events.jsonl: events past the cap are counted, not written, and the result still read", function()
    local cap = agent_run.MAX_AGENT_EVENTS
    agent_run.MAX_AGENT_EVENTS = 2
    local ok, r = pcall(run, { runner = "codex", program = fake("codex_exec_json_text_turn.jsonl") })
    agent_run.MAX_AGENT_EVENTS = cap
    expect(ok):is_true()
    expect(r.status):equals("review")
    expect(r.usage.total):equals(120)
    expect(r.events_dropped > 0):is_true()
    local events = read(repo .. "/.agent/runs/R-0001/events.jsonl")
    local agent = 0
    for kind in events:gmatch('"kind":"agent%.([%w_]+)"') do
      agent = agent + (kind ~= "events_dropped" and 1 or 0)
    end
    expect(agent):equals(2)
    expect(events):contains('"kind":"agent.events_dropped"')
    expect(table.concat(r.warnings, "\n")):contains("events.jsonl keeps the first 2 agent events")
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

  it("record a run interrupted while its agent was being started as interrupted, not failed", function()
    local spawn = proc.spawn
    proc.spawn = function() error("proc.spawn: interrupted!", 0) end -- a Ctrl-C landed in the spawn
    local ok, err = pcall(agent_run.execute, { repo = repo, runner = "command", command = { "cat" },
      prompt = "Say hello", isolation = { sandbox = "off" } })
    proc.spawn = spawn
    expect(ok):is_false()
    expect(tostring(err)):contains("interrupted!")
    local s <close> = assert(require("sidecar.core.store").open(repo .. "/.agent"))
    expect(assert(s:get_run("R-0001")).status):equals("interrupted")
  end)

  it("record a CLI that is not installed as failed, saying how to install it", function()
    local r = run({ runner = "codex", program = { "/nonexistent/codex" } })
    expect(r.status):equals("failed")
    expect(r.failure_reason):contains("/nonexistent/codex")
    expect(r.failure_reason):contains("npm install -g @openai/codex")
  end)

  it("refuse an unknown runner and full access without --allow-full-auto, recording nothing", function()
    local none, message, code = agent_run.execute({ runner = "cursor", prompt = "x", repo = repo })
    expect(none):is_nil()
    expect(code):equals("unknown_runner")
    expect(message):contains("known: codex, claude, gemini")
    none, message, code = agent_run.execute({ runner = "codex", prompt = "x", repo = repo,
      sandbox = "danger-full-access" })
    expect(none):is_nil()
    expect(code):equals("bad_sandbox")
    expect(message):contains("--allow-full-auto")
    expect(io.open(repo .. "/.agent/sidecar.db")):is_nil()
    expect(function() agent_run.execute({ runner = "codex", repo = repo }) end):raises("`prompt`")
  end)

  it("names the caller's line in a bad option's error, not a line of its own", function()
    for _, bad in ipairs({ { prompt = "" }, { prompt = "x", timeout_ms = -1 }, { prompt = "x", resume = 5 } }) do
      bad.runner, bad.repo = "command", repo
      local line = debug.getinfo(1, "l").currentline + 1
      local ok, err = pcall(function() agent_run.execute(bad) end) -- not a tail call: this line calls it
      expect(ok):is_false()
      expect(tostring(err)):contains("agent_run_spec.lua:" .. line .. ":")
    end
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

  it("give a codex CLI a 1 MB prompt whole on stdin, and record it whole", function()
    local big = string.rep("prompt line 0123456789abcdef\n", 36158) -- just over 1 MB
    local r = run({ runner = "codex", prompt = big, program = fake("codex_exec_json_text_turn.jsonl", "--prompt-copy",
      out .. "/p") })
    expect(r.status):equals("review")
    local got = read(out .. "/p")
    os.remove(out .. "/p")
    expect(#got):equals(#big)
    expect(got == big):is_true()
    expect(read(repo .. "/.agent/runs/R-0001/prompt.md") == big):is_true()
    expect(r.command:find("prompt line", 1, true)):is_nil() -- never on argv
  end)

  it("keep 20 MB of output whole on disk", function()
    local r = run({ runner = "command", command = { "head", "-c", "20000000", "/dev/zero" } })
    expect(r.status):equals("review")
    local f = assert(io.open(repo .. "/.agent/runs/R-0001/stdout.log"))
    expect(f:seek("end")):equals(20000000)
    f:close()
  end)

  it("record a reported run's clean read-only end as reported in its one end write, nothing else", function()
    local function stored(id) -- the store's record and its copy on disk
      local s = assert(require("sidecar.core.store").open(repo .. "/.agent"))
      local r = s:get_run(id)
      s:close()
      return r.review_state, json.decode(read(repo .. "/.agent/runs/" .. id .. "/run.json")).review_state, r.revision
    end
    run({ runner = "command", command = { "echo", "ok" } })
    local _, _, revision = stored("R-0001")
    expect(run({ runner = "command", command = { "echo", "ok" }, reported = true }).review_state):equals("reported")
    local state, copy, reported_revision = stored("R-0002")
    expect({ state, copy }):equals({ "reported", "reported" })
    expect(reported_revision):equals(revision) -- no write of its own
    expect({ stored("R-0001") }):equals({ "pending", "pending", revision })
    -- not a clean end, not read-only: each waits for a person as before
    run({ runner = "command", command = { "sh", "-c", "exit 3" }, reported = true })
    run({ runner = "command", command = { "echo", "[BLOCKED] needs a key" }, reported = true })
    run({ runner = "command", command = { "echo", "ok" }, sandbox = "workspace-write", reported = true })
    for i, status in ipairs({ "failed", "blocked", "review" }) do
      local id = ("R-%04d"):format(i + 2)
      local s = assert(require("sidecar.core.store").open(repo .. "/.agent"))
      local r = s:get_run(id)
      s:close()
      expect({ id, r.status, r.review_state }):equals({ id, status, "pending" })
    end
  end)

  it("run a repository's own runner of its config, never one another repository's config defined", function()
    local other = repo .. "-other"
    os.execute("mkdir -p '" .. other .. "/.agent' && cd '" .. other .. "' && git init -q")
    local function config(dir, text)
      local f = assert(io.open(dir .. "/.agent/config.lua", "w"))
      f:write(text)
      f:close()
    end
    os.execute("mkdir -p '" .. repo .. "/.agent'")
    config(repo, 'return { runners = { alice = { command = { "echo", "this one" } } } }\n')
    config(other, 'return { runners = { alice = { command = { "echo", "the other" } } } }\n')
    local function alice(dir)
      local r, why = agent_run.execute({ runner = "alice", prompt = "hi", repo = dir, isolation = { sandbox = "off" } })
      return r and r.output or why
    end
    expect(alice(other)):equals("the other\n")
    expect(alice(repo)):equals("this one\n")
    config(other, "return {}\n")
    expect(alice(other)):contains("unknown runner 'alice'")
    os.execute("rm -rf '" .. other .. "'")
  end)

  it("read markers: a blocker wins over completion, claimed files are checked against the change", function()
    local r = run({ runner = "command", isolation = { sandbox = "off" }, command = { "sh", "-c",
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

-- The argv the fake agent was given, one argument per line (and the file removed).
local function argv_of(path)
  local text = read(path)
  os.remove(path)
  return text
end

describe("runner specs", function()
  it("give a runner that names its session a fresh id, and record the runner's provider", function()
    local runners = require("sidecar.agent.runners")
    local seen = {}
    runners.register("named-session", { dialect = "codex", provider = "acme", names_session = true,
      command = function(ctx)
        seen[#seen + 1] = ctx.session_id or false
        return fake("codex_exec_json_text_turn.jsonl")
      end })
    local kept = run({ runner = "named-session", ephemeral = false })
    run({ runner = "named-session" }) -- ephemeral: no session to name
    expect(seen[1]):matches("^%x+%-%x+%-4%x+%-[89ab]%x+%-%x+$")
    expect(seen[2]):is(false)
    local model = json.decode(read(repo .. "/.agent/runs/" .. kept.run_id .. "/model.json"))
    expect(model.model_provider):equals("acme")
  end)
end)

describe("continued sessions", function()
  it("run codex ephemeral by default, continuable on request, and resume it with exec resume", function()
    local copy = out .. "/argv"
    local r = run({ runner = "codex", program = fake("codex_resume_turn1.jsonl", "--argv-copy", copy) })
    expect(r.ephemeral):is_true()
    expect(argv_of(copy)):contains("exec\n--ephemeral\n--json\n")
    local none, why, code = agent_run.continuation(r)
    expect(none):is_nil()
    expect(code):equals("not_continuable")
    expect(why):contains("ephemeral")

    local first = run({ runner = "codex", ephemeral = false, isolation = { sandbox = "off", write = { out } },
      program = fake("codex_resume_turn1.jsonl", "--argv-copy", copy) })
    expect(first.ephemeral):is_false()
    expect(argv_of(copy)):equals("exec\n--json\n--skip-git-repo-check\n-C\n" .. repo .. "\n-s\nread-only\n-o\n" ..
      repo .. "/.agent/runs/R-0002/last-message.txt\n-\n")
    expect(first.usage):equals({ input = 1000, cached_input = 0, output = 10, reasoning_output = 0, total = 1010 })
    expect(first.usage_reported):equals(first.usage)
    expect(first.warnings):is_nil()

    local resume = assert(agent_run.continuation(first))
    expect(resume):equals({ session_id = "01a1fdec-2918-7691-a5c8-bcf16cde129d", run_id = "R-0002",
      usage = first.usage_reported })
    local second = run({ runner = "codex", resume = resume, prompt = "And now?",
      program = fake("codex_resume_turn2_cumulative_usage.jsonl", "--argv-copy", copy) })
    expect(argv_of(copy)):equals("exec\n-C\n" .. repo .. "\n-s\ndanger-full-access\nresume\n--json\n--skip-git-repo-check\n-o\n" ..
      repo .. "/.agent/runs/R-0003/last-message.txt\n01a1fdec-2918-7691-a5c8-bcf16cde129d\n-\n")
    expect(second.status):equals("review")
    expect(second.ephemeral):is_false() -- a continued session stays continuable
    expect(second.resumed_session):equals("01a1fdec-2918-7691-a5c8-bcf16cde129d")
    expect(second.resumed_run):equals("R-0002")
    expect(second.session_id):equals("01a1fdec-2918-7691-a5c8-bcf16cde129d")
    -- The thread's totals were 1000/10, now 1007/13: this run used exactly the difference.
    expect(second.usage):equals({ input = 7, cached_input = 0, output = 3, reasoning_output = 0, total = 10 })
    expect(second.usage_reported):equals({ input = 1007, cached_input = 0, output = 13, reasoning_output = 0,
      total = 1020 })
    expect(second.warnings):is_nil()
    local dir = repo .. "/.agent/runs/R-0003/"
    expect(json.decode(read(dir .. "model.json")).usage):equals({ input_tokens = 7, cached_input_tokens = 0,
      output_tokens = 3, reasoning_output_tokens = 0, total_tokens = 10 })
    expect(json.decode(read(dir .. "run.json")).usage_reported.input):equals(1007)
    expect(read(dir .. "output.md")):equals("Second answer (after resume).\n")
  end)

  it("leave a codex share unknown, with a warning, when the previous totals are missing or larger", function()
    local id = "01a1fdec-2918-7691-a5c8-bcf16cde129d"
    local r = run({ runner = "codex", resume = { session_id = id },
      program = fake("codex_resume_turn2_cumulative_usage.jsonl") })
    expect(r.usage):equals({ input = json.null, cached_input = json.null, output = json.null,
      reasoning_output = json.null, total = json.null })
    expect(r.usage_reported.input):equals(1007)
    expect(#r.warnings):equals(1)
    expect(r.warnings[1]):contains("reported none")
    expect(json.decode(read(repo .. "/.agent/runs/R-0001/model.json")).usage.input_tokens):is(json.null)
    r = run({ runner = "codex", resume = { session_id = id, usage = { input = 2000, cached_input = 0, output = 10,
      reasoning_output = json.null, total = 2010 } }, program = fake("codex_resume_turn2_cumulative_usage.jsonl") })
    expect(r.usage):equals({ input = json.null, cached_input = 0, output = 3, reasoning_output = json.null,
      total = json.null })
    expect(r.warnings):equals({
      "usage.input: the session reports 1007, less than the 2000 reported before this run; this run's share is unknown",
      "usage.total: the session reports 1020, less than the 2010 reported before this run; this run's share is unknown",
      "usage (reasoning_output): the session reports totals and the run it continues reported none; " ..
        "this run's share is unknown",
    })
  end)

  it("run claude with --session-id when continuable, then --resume: usage as reported, cost the difference", function()
    local copy = out .. "/argv"
    local r = run({ runner = "claude", program = fake("claude_resume_turn1.json", "--argv-copy", copy) })
    local argv = argv_of(copy)
    expect(argv):contains("--no-session-persistence\n")
    expect(argv:find("--session-id", 1, true)):is_nil()
    local first = run({ runner = "claude", ephemeral = false,
      program = fake("claude_resume_turn1.json", "--argv-copy", copy) })
    argv = argv_of(copy)
    expect(argv):matches("\n%-%-session%-id\n%x+%-%x+%-4%x+%-[89ab]%x+%-%x+\n")
    expect(argv:find("--no-session-persistence", 1, true)):is_nil()
    expect(first.session_id):equals("7a43bb3f-3027-40af-b4ab-90d92de1eb77") -- what claude said
    expect(first.cost_usd):equals(0.0042)
    expect(first.cost_reported_usd):equals(0.0042)

    local second = run({ runner = "claude", resume = assert(agent_run.continuation(first)),
      program = fake("claude_resume_turn2.json", "--argv-copy", copy) })
    argv = argv_of(copy)
    expect(argv):contains("\n--resume\n7a43bb3f-3027-40af-b4ab-90d92de1eb77\n")
    expect(argv:find("--session-id", 1, true)):is_nil()
    expect(argv:find("--no-session-persistence", 1, true)):is_nil()
    expect(second.status):equals("review")
    expect(second.resumed_session):equals("7a43bb3f-3027-40af-b4ab-90d92de1eb77")
    -- claude's usage is this invocation's already; its total_cost_usd is the session's.
    expect(second.usage):equals({ input = 7, cached_input = 0, output = 3, reasoning_output = 0, total = 10 })
    expect(second.cost_usd):equals(0.000088)
    expect(second.cost_reported_usd):equals(0.004288)
    expect(second.warnings):is_nil()
    expect(json.decode(read(repo .. "/.agent/runs/R-0003/model.json")).cost_usd):equals(0.000088)
    expect(read(repo .. "/.agent/runs/R-0003/model.md")):contains("0.000088")
  end)

  it("fail a claude resume of a session that does not exist, saying so, with no cost invented", function()
    local r = run({ runner = "claude", resume = { session_id = "36b0f2a2-2047-4ad8-a098-88684c6b399b", cost_usd = 0.0042 },
      program = fake("claude_resume_missing_session.jsonl", "--exit", "1") })
    expect(r.status):equals("failed")
    expect(r.failure_reason):equals("No conversation found with session ID: 36b0f2a2-2047-4ad8-a098-88684c6b399b")
    expect(r.cost_usd):is_nil()
    expect(r.cost_reported_usd):equals(0)
    expect(r.warnings[1]):contains("less than the 0.004200 USD reported before")
  end)

  it("refuse to resume with a runner that cannot, and bad resume options", function()
    local none, message, code = agent_run.execute({ runner = "command", command = { "cat" }, prompt = "x", repo = repo,
      resume = { session_id = "s" } })
    expect(none):is_nil()
    expect(code):equals("cannot_resume")
    expect(message):contains("'command'")
    expect(function() agent_run.execute({ runner = "codex", prompt = "x", repo = repo, resume = "s" }) end)
      :raises("`resume` must be a table")
    expect(function() agent_run.execute({ runner = "codex", prompt = "x", repo = repo, resume = { session_id = "s",
      usage = { tokens = 3 } } }) end):raises("`resume`.usage.tokens")
    expect(function() agent_run.execute({ runner = "claude", prompt = "x", repo = repo, session_id = "a",
      resume = { session_id = "s" } }) end):raises("a new `session_id` cannot be given")
    local r = run({ runner = "command", command = { "cat" }, ephemeral = false })
    none, message, code = agent_run.continuation(r)
    expect(code):equals("not_continuable")
    expect(message):contains("cannot continue a session")
  end)
end)

describe("queued runs", function()
  it("execute a run already in the store (a queued background run) in its own record", function()
    local store = require("sidecar.core.store")
    local s = assert(store.open(repo .. "/.agent", { create = true }))
    local queued = assert(s:create_run({ status = "queued", background = true, launch = { runner = "command" } }))
    local r = run({ runner = "command", command = { "echo", "done" }, store = s, run_id = queued.run_id })
    expect(r.run_id):equals(queued.run_id)
    expect(r.status):equals("review")
    expect(r.background):is_true()
    local stored = assert(s:get_run(queued.run_id))
    expect(stored.status):equals("review")
    expect(stored.launch.runner):equals("command")
    expect(#s:list_runs()):equals(1)
    local none, _, code = agent_run.execute({ runner = "command", command = { "true" }, prompt = "x", repo = repo,
      store = s, run_id = "R-0099" })
    expect(none):is_nil()
    expect(code):equals("ENOENT")
    s:close()
  end)
end)

describe("runs side by side in one process (a preset's pool)", function()
  it("each starts its agent before the runs started before it write their copies", function()
    local coop = require("sidecar.core.coop")
    local s <close> = assert(require("sidecar.core.store").open(repo .. "/.agent", { create = true }))
    local order, real = {}, s.write_copy
    s.write_copy = function(self, kind, id, ...)
      order[#order + 1] = "copy " .. id
      return real(self, kind, id, ...)
    end
    local sched, results = coop.new(), {}
    for i = 1, 3 do
      sched:spawn(function()
        return agent_run.execute({ runner = "command", command = { "cat" }, prompt = "p" .. i, repo = repo,
          store = s, os_sandbox = "off", on_spawn = function() order[#order + 1] = "spawn " .. i end })
      end, function(ok, r) results[i] = ok and r or tostring(r) end)
    end
    while sched:count() > 0 do
      sched:step(50)
    end
    -- the copies (run.json, prompt.md) once every agent ready to start has started
    expect({ table.unpack(order, 1, 6) }):equals({ "spawn 1", "spawn 2", "spawn 3", "copy R-0001", "copy R-0002",
      "copy R-0003" })
    for i = 1, 3 do
      expect(results[i].output):equals("p" .. i)
    end
  end)

  it("write prompt.md as each agent starts, the copies once the pool started no agent for a while", function()
    local coop = require("sidecar.core.coop")
    local agent_watch = require("sidecar.agent.watch")
    local clock = require("sidecar.host.time")
    local function now_ms()
      return clock.monotonic_ns() // 1000000
    end
    local quiet = agent_watch.SETTLE_QUIET_MS
    agent_watch.SETTLE_QUIET_MS = 400
    local _ <close> = setmetatable({}, { __close = function() agent_watch.SETTLE_QUIET_MS = quiet end })
    local s <close> = assert(require("sidecar.core.store").open(repo .. "/.agent", { create = true }))
    local last_spawn, copies, prompt_seen, real = 0, {}, {}, s.write_copy
    s.write_copy = function(self, kind, id, ...)
      copies[id] = now_ms() - last_spawn
      return real(self, kind, id, ...)
    end
    -- each agent waits for the go file, which the watcher below makes once it saw both copies
    local go = out .. "/go"
    local agent = { "sh", "-c", "cat >/dev/null; while [ ! -e '" .. go .. "' ]; do sleep 0.05; done; echo ok" }
    local sched, results = coop.new(), {}
    for i = 1, 2 do
      sched:spawn(function()
        return agent_run.execute({ runner = "command", command = agent, prompt = "p" .. i, repo = repo, store = s,
          os_sandbox = "off", on_spawn = function() last_spawn = now_ms() end })
      end, function(ok, r) results[i] = ok and r or tostring(r) end)
    end
    sched:spawn(function() -- what a reader of the store sees while the agents run
      local deadline = now_ms() + 30000
      while not (copies["R-0001"] and copies["R-0002"]) and now_ms() < deadline do
        for _, id in ipairs({ "R-0001", "R-0002" }) do
          prompt_seen[id] = prompt_seen[id] or read(repo .. "/.agent/runs/" .. id .. "/prompt.md")
        end
        coop.sleep(20)
      end
      io.open(go, "w"):close()
    end, function() end)
    while sched:count() > 0 do
      sched:step(50)
    end
    for i, id in ipairs({ "R-0001", "R-0002" }) do
      expect(prompt_seen[id]):equals("p" .. i) -- there from the start, before its copy
      -- not before the pool had started no agent for 400 ms (on_spawn comes a moment after the start)
      expect(copies[id] >= 350):equals(true)
      expect(results[i].output):equals("ok\n")
      expect(read(repo .. "/.agent/runs/" .. id .. "/prompt.md")):equals("p" .. i)
      expect(json.decode(read(repo .. "/.agent/runs/" .. id .. "/run.json")).status):equals(results[i].status)
    end
  end)

  it("write the copy of a run stopped before it was due, and record the run interrupted", function()
    local coop = require("sidecar.core.coop")
    local s <close> = assert(require("sidecar.core.store").open(repo .. "/.agent", { create = true }))
    local copied, real = false, s.write_copy
    s.write_copy = function(self, ...)
      copied = true
      return real(self, ...)
    end
    local sched, result, task = coop.new(), nil, nil
    task = sched:spawn(function()
      return agent_run.execute({ runner = "command", command = { "sh", "-c", "cat >/dev/null; sleep 30" },
        prompt = "stopped early", repo = repo, store = s, os_sandbox = "off",
        on_spawn = function() coop.task().locals.spawned = true end })
    end, function(ok, r) result = ok and r or tostring(r) end)
    expect(task.locals.spawned):equals(true)
    expect(copied):equals(false) -- owed, not yet due
    sched:stop(task, "interrupted! (test)", "test")
    while sched:count() > 0 do
      sched:step(50)
    end
    expect(result):matches("interrupted")
    expect(copied):equals(true)
    expect(read(repo .. "/.agent/runs/R-0001/prompt.md")):equals("stopped early")
    expect(s:get_run("R-0001").status):equals("interrupted")
  end)
end)
