local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local artifact = require("sidecar.core.artifact")
local json = require("sidecar.core.json")
local proc = require("sidecar.core.proc")
local telemetry = require("sidecar.core.telemetry")

local null = json.null
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local golden = here .. "../e2e/golden/prepare/"
local TS = "^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%dZ$"

local function read(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("a")
  f:close()
  return text
end

local function events(root, file)
  local dir = assert(artifact.open(root))
  local list = assert(dir:read_jsonl(file or "events.jsonl"))
  dir:close()
  return list
end

-- The meta of the golden task folder of `sidecar prepare` (tests/e2e/golden/prepare).
local function golden_meta()
  return {
    task_id = "golden", created_at = "<CREATED_AT>", runner = "codex-cli", model_provider = "openai",
    model = "gpt-5.3-codex-spark", sandbox = "read-only", repo = ".", phase = "maintenance", task_type = "audit",
    preset = "precommit-classifier",
    command = "codex exec --ephemeral -m gpt-5.3-codex-spark -C . -s read-only -o ./.agent/sidecars/golden/output.md"
      .. " - < ./.agent/sidecars/golden/prompt.md",
  }
end

local root
test.before_each(function()
  root = os.tmpname()
  os.remove(root)
end)
test.after_each(function()
  os.execute("rm -rf '" .. root .. "'")
end)

describe("telemetry recorder", function()
  it("appends numbered events with a UTC timestamp, kind and fields", function()
    local t = assert(telemetry.open(root))
    expect(t:event("agent.started", { model = "m", args = { "-s", "read-only" }, n = 2, ok = true })):equals(1)
    expect(t:event("agent.message")):equals(2)
    expect(t:last_seq()):equals(2)
    t:close()
    local list = events(root)
    expect(#list):equals(2)
    expect(list[1].kind):equals("agent.started")
    expect(list[1].seq):equals(1)
    expect(list[1].ts):matches(TS)
    expect(list[1].fields):equals({ model = "m", args = { "-s", "read-only" }, n = 2, ok = true })
    expect(list[2].fields):equals({})
    -- One compact line per event, keys sorted.
    expect(read(root .. "/events.jsonl"):match("^[^\n]*")):matches(
      '^{"fields":{"args":%["%-s","read%-only"%],"model":"m","n":2,"ok":true},"kind":"agent%.started","seq":1,"ts":"')
  end)

  it("opens on an artifact folder and another file, and numbers on after a reopen", function()
    local dir = assert(artifact.open(root, { create = true }))
    do
      local t <close> = assert(telemetry.open(dir, { file = "run/telemetry.jsonl" }))
      t:event("a")
      t:event("b")
    end
    local t <close> = assert(telemetry.open(dir, { file = "run/telemetry.jsonl" }))
    expect(t:event("c")):equals(3)
    expect(t:summary().first_seq):equals(3)
    expect(#events(root, "run/telemetry.jsonl")):equals(3)
    dir:close()
  end)

  it("closes with <close>; a closed recorder refuses use", function()
    local kept
    do
      local t <close> = assert(telemetry.open(root))
      kept = t
      t:event("x")
    end
    expect(tostring(kept)):contains("closed")
    expect(function() kept:event("y") end):raises("closed telemetry recorder")
    kept:close() -- twice is harmless
  end)

  it("returns failures to open as data: a foreign events file, a path outside the folder", function()
    local f = assert(io.open(root, "w"))
    f:close()
    local t, message, code = telemetry.open(root) -- a file, not a folder
    expect(t):is_nil()
    expect(code):exists()
    expect(message):contains(root)
    os.remove(root)
    local dir = assert(artifact.open(root, { create = true }))
    assert(dir:write("raw.jsonl", '{"type":"thread.started"}\n'))
    t, message, code = telemetry.open(root, { file = "raw.jsonl" })
    expect(t):is_nil()
    expect(code):equals("EINVAL")
    expect(message):contains("not a telemetry event")
    t, message, code = telemetry.open(root, { file = "../x.jsonl" })
    expect(t):is_nil()
    expect(code):equals("ESCAPE")
    dir:close()
  end)

  it("raises at the caller's line for a bad kind or fields", function()
    local t <close> = assert(telemetry.open(root))
    local err = expect(function() t:event("Agent-Started", {}) end):raises('event kind "Agent-Started" is not valid')
    expect(err.code):equals("telemetry")
    expect(tostring(err)):contains("telemetry_spec.lua:")
    expect(function() t:event("x", "text") end):raises("fields must be a table, got string")
    expect(function() t:event("x", { 1, 2 }) end):raises("fields: expected a JSON object, got array")
    expect(function() t:event("x", { f = print }) end):raises("fields: ")
    expect(function() t:event(42) end):raises("event kind must be a string")
    expect(function() t:event("usage", { usage = { input = 1 } }) end):raises("is the recorder's own: use add_usage")
    expect(t:last_seq()):equals(0)
  end)
end)

describe("telemetry redaction", function()
  it("keeps secrets out of events.jsonl, keeping the keys", function()
    local key = "sk-proj-" .. string.rep("Ab3", 12)
    local token = "ghp_" .. string.rep("x1Y", 12)
    local t <close> = assert(telemetry.open(root))
    t:event("agent.message", { text = "use " .. key, nested = { list = { "a", token } }, [key:sub(1, 6)] = 1 })
    t:span("call " .. key):finish({ argv = { "curl", "-H", "Authorization: Bearer " .. string.rep("z", 24) } })
    t:usage({ input = 1 }, "source " .. token)
    t:cost(0.1, key)
    local text = read(root .. "/events.jsonl")
    expect(text:find(key, 1, true)):is_nil()
    expect(text:find(token, 1, true)):is_nil()
    expect(text:find(string.rep("z", 24), 1, true)):is_nil()
    expect(text):contains("[REDACTED:openai-key]")
    expect(text):contains("[REDACTED:github-token]")
    local list = events(root)
    expect(list[1].fields.nested.list[1]):equals("a")
    expect(list[1].fields["sk-pro"]):equals(1)
    expect(#list):equals(4)
  end)

  it("redacts an environment secret even when JSON would escape it", function()
    -- A child Sidecar with the secret in its environment (the redactor reads it at start).
    local value = 'pl"anted\\secret-value-42'
    local code = ([[
      local t = assert(require("sidecar.core.telemetry").open(%q))
      t:event("env.check", {value = os.getenv("SIDECAR_TEST_API_KEY"), note = "x"})
      t:close()
    ]]):format(root)
    local r = proc.run({ "/proc/self/exe", "-e", code }, { env = { SIDECAR_TEST_API_KEY = value } })
    expect(r.stderr):equals("")
    expect(r.code):equals(0)
    local text = read(root .. "/events.jsonl")
    expect(text:find("anted", 1, true)):is_nil()
    expect(events(root)[1].fields):equals({ value = "[REDACTED:SIDECAR_TEST_API_KEY]", note = "x" })
  end)
end)

describe("telemetry spans", function()
  it("finish once with the duration and the caller's fields", function()
    local t <close> = assert(telemetry.open(root))
    local s = t:span("validation.test")
    local ms = s:finish({ exit_code = 0 })
    expect(ms):has_type("float")
    expect(ms >= 0):is_true()
    expect(function() s:finish() end):raises("is not open (never begun, or ended already)")
    expect(function() t:span("x"):finish({ duration_ms = 5 }) end):raises('"duration_ms" is set by the span itself')
    local e = events(root)[1]
    expect(e.kind):equals("span")
    expect(e.fields.name):equals("validation.test")
    expect(e.fields.duration_ms):equals(ms)
    expect(e.fields.exit_code):equals(0)
    expect(e.fields.started_at):matches(TS)
    local summary = t:summary()
    expect(summary.spans["validation.test"].count):equals(1)
    expect(summary.spans["validation.test"].max_ms):equals(ms)
    expect(summary.open_spans):equals(1) -- the refused finish left "x" open
  end)

  it("finish on <close>, with the error that ended the scope", function()
    local t <close> = assert(telemetry.open(root))
    do
      local s <close> = t:span("quiet")
    end
    local ok = pcall(function()
      local s <close> = t:span("failing")
      error("boom")
    end)
    expect(ok):is_false()
    do
      local s <close> = t:span("done")
      s:finish({ n = 1 }) -- finished already: __close leaves it
    end
    local list = events(root)
    expect(#list):equals(3)
    expect(list[1].fields.name):equals("quiet")
    expect(list[1].fields.error):is_nil()
    expect(list[2].fields.name):equals("failing")
    expect(list[2].fields.error):contains("boom")
    expect(list[3].fields.n):equals(1)
    expect(t:summary().open_spans):equals(0)
  end)
end)

describe("telemetry usage and cost", function()
  it("accumulate reports; an unknown field stays unknown", function()
    local t <close> = assert(telemetry.open(root))
    expect(t:usage({ input = 1000, cached_input = 200, output = 300, reasoning_output = 50, total = 1300 },
      "codex:turn.completed")):equals(1)
    expect(t:usage({ input = 500, cached_input = null, output = 200, reasoning_output = 10 })):equals(2)
    t:cost(0.25, "claude")
    t:cost(1)
    local s = t:summary()
    expect(s.usage):equals({ input = 1500, cached_input = null, output = 500, reasoning_output = 60, total = null })
    expect(s.usage_reports):equals(2)
    expect(s.cost_usd):equals(1.25)
    expect(s.events_by_kind):equals({ usage = 2, cost = 2 })
    local list = events(root)
    expect(list[1].fields.source):equals("codex:turn.completed")
    expect(list[2].fields.source):is(null)
    expect(list[2].fields.usage.total):is(null)
    expect(list[3].fields):equals({ source = "claude", usd = 0.25 })
  end)

  it("raise on anything but whole token counts, naming the key", function()
    local t <close> = assert(telemetry.open(root))
    local cases = {
      { { output = 1.5 }, "usage.output: expected a whole number of tokens >= 0, got 1.5" },
      { { input = 2.0 }, "usage.input: expected a whole number of tokens >= 0, got 2.0" },
      { { total = "12" }, 'usage.total: expected a whole number of tokens >= 0, got "12"' },
      { { cached_input = -1 }, "usage.cached_input: expected a whole number of tokens >= 0, got -1" },
      { { reasoning_output = true }, "usage.reasoning_output: expected a whole number of tokens >= 0, got true" },
      { { input_tokens = 5 }, "usage.input_tokens: unknown field" },
    }
    for _, c in ipairs(cases) do
      local err = expect(function() t:usage(c[1]) end):raises(c[2])
      expect(tostring(err)):contains("telemetry_spec.lua:")
    end
    expect(function() t:usage(nil) end):raises("usage: expected a table of token counts, got nil")
    expect(function() t:cost(-1) end):raises("cost: expected a finite number of US dollars >= 0, got -1")
    expect(function() t:cost(0 / 0) end):raises("cost: expected a finite number")
    expect(function() t:cost("1") end):raises("cost must be a number")
    expect(t:last_seq()):equals(0)
    expect(t:summary().cost_usd):is(null)
  end)

  it("delta and add follow the same rule", function()
    expect(telemetry.delta({ input = 1500, output = 250, total = 1750, cached_input = 3 },
      { input = 1000, output = 300, total = 1300 })):equals(
      { input = 500, cached_input = null, output = null, reasoning_output = null, total = 450 })
    expect(telemetry.add({ input = 1, output = 2 }, { input = 3, output = null })):equals(
      { input = 4, cached_input = null, output = null, reasoning_output = null, total = null })
    expect(function() telemetry.delta({ input = 0.5 }, {}) end):raises("now.input: expected a whole number")
  end)
end)

describe("model.json and model.md", function()
  it("match the golden files of `sidecar prepare` byte for byte when nothing was measured", function()
    local meta = golden_meta()
    local want_json, want_md = read(golden .. "model.json"), read(golden .. "model.md")
    expect(json.encode(telemetry.model_json(meta), { indent = 2 }) .. "\n"):equals(want_json)
    expect(telemetry.model_md(meta)):equals(want_md)
    local t <close> = assert(telemetry.open(root))
    t:event("agent.started")
    expect(json.encode(telemetry.model_json(meta, t:summary()), { indent = 2 }) .. "\n"):equals(want_json)
    expect(telemetry.model_md(meta, t:summary())):equals(want_md)
  end)

  it("carry the measured usage and cost", function()
    local t <close> = assert(telemetry.open(root))
    t:usage({ input = 1200, cached_input = 300, output = 450, reasoning_output = 120 }, "codex")
    t:cost(0.0123)
    local meta = golden_meta()
    local record = telemetry.model_json(meta, t:summary())
    local keys = {}
    for k in pairs(record) do
      keys[#keys + 1] = k
    end
    table.sort(keys)
    expect(keys):equals({ "command", "cost_usd", "created_at", "model", "model_provider", "phase", "repo", "runner",
      "sandbox", "task_id", "task_type", "usage" })
    expect(record.usage):equals({ input_tokens = 1200, cached_input_tokens = 300, output_tokens = 450,
      reasoning_output_tokens = 120, total_tokens = null })
    expect(record.cost_usd):equals(0.0123)
    expect(json.encode(record.usage)):equals('{"cached_input_tokens":300,"input_tokens":1200,"output_tokens":450,'
      .. '"reasoning_output_tokens":120,"total_tokens":null}')
    local md = telemetry.model_md(meta, t:summary())
    local usage_part = md:match("## Token Usage\n\n(.*)$")
    expect(usage_part):equals(table.concat({
      "| Tokens | Count |",
      "| --- | ---: |",
      "| Input | 1200 |",
      "| Cached input | 300 |",
      "| Output | 450 |",
      "| Reasoning output | 120 |",
      "",
      "Not reported by the runner: total.",
      "",
      "Cost: 0.0123 USD",
      "",
    }, "\n"))
    expect(md):contains("- Runner: codex-cli\n- Model: gpt-5.3-codex-spark\n- Sandbox: read-only\n")
    expect(md):contains("## Launch Command\n\n```sh\ncodex exec --ephemeral")
  end)

  it("say when only the cost is known, and refuse a meta without its required keys", function()
    local md = telemetry.model_md(golden_meta(), { usage = {}, cost_usd = 2.5 })
    expect(md:match("## Token Usage\n\n(.*)$")):equals(telemetry.UNAVAILABLE .. "\n\nCost: 2.5 USD\n")
    local meta = golden_meta()
    meta.command = nil
    expect(function() telemetry.model_json(meta) end):raises("model_json: meta.command must be a string, got nil")
    expect(function() telemetry.model_md(meta) end):raises("model_md: meta.command must be a string, got nil")
    expect(function() telemetry.model_json(golden_meta(), { usage = { total = 1.5 } }) end):raises(
      "model_json: summary.usage.total: expected a whole number of tokens >= 0, got 1.5")
  end)

  it("write_model writes both files, redacted, into a folder or an artifact folder", function()
    local t <close> = assert(telemetry.open(root .. "/run"))
    t:usage({ input = 10, output = 5, total = 15 })
    local meta = golden_meta()
    local key = "sk-proj-" .. string.rep("Zq9", 12)
    meta.command = meta.command .. " # " .. key
    expect(t:write_model(root .. "/task", meta)):is_true()
    local summary = t:summary()
    local want_json = json.encode(telemetry.model_json(meta, summary), { indent = 2 }) .. "\n"
    local want_md = telemetry.model_md(meta, summary)
    for _, name in ipairs({ "model.json", "model.md" }) do
      local text = read(root .. "/task/" .. name)
      expect(text:find(key, 1, true)):is_nil()
      expect(text):contains("[REDACTED:openai-key]")
    end
    local redact = require("sidecar.core.secrets").redact
    expect(read(root .. "/task/model.json")):equals((redact(want_json)))
    expect(read(root .. "/task/model.md")):equals((redact(want_md)))
    local decoded = json.decode(read(root .. "/task/model.json"))
    expect(decoded.usage.input_tokens):equals(10)
    local dir = assert(artifact.open(root .. "/task2", { create = true }))
    expect(t:write_model(dir, golden_meta())):is_true()
    expect(dir:list("*")):equals({ "model.json", "model.md" })
    dir:close()
  end)
end)
