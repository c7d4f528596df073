local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect

local json = require("sidecar.core.json")
local validation = require("sidecar.task.validation")

local KIND_LIST = "typecheck, lint, test, build, custom"

-- The message of a call that fails with nil, message.
local function message_of(v, message)
  expect(v):is_nil()
  return message
end

local function keys_of(t)
  local keys = {}
  for k in pairs(t) do
    keys[#keys + 1] = k
  end
  table.sort(keys)
  return keys
end

local temp_dir = test.temp_dir

-- A result as validation.run writes it, for the verdict functions.
local function result(kind, command, fields)
  local r = {
    kind = kind, command = command, name = json.null, exit_code = 0, ok = true, timed_out = false,
    duration_ms = 5, timeout_ms = validation.DEFAULT_TIMEOUT_MS[kind], output_snippet = "",
  }
  for k, v in pairs(fields or {}) do
    r[k] = v
  end
  return r
end

describe("validation kinds", function()
  it("lists the kinds with their default timeouts", function()
    expect(validation.KINDS):equals({ "typecheck", "lint", "test", "build", "custom" })
    expect(validation.DEFAULT_TIMEOUT_MS):equals({
      typecheck = 180000, lint = 180000, test = 600000, build = 600000, custom = 300000,
    })
    expect(validation.is_kind("lint")):is_true()
    expect(validation.is_kind("Lint")):is_false()
  end)

  it("resolves a step's timeout: the entry's, else the caller's per kind, else the default", function()
    expect(validation.timeout_for({ kind = "test", command = "x", timeout_ms = 5 }, { test = 7 })):equals(5)
    expect(validation.timeout_for({ kind = "test", command = "x" }, { test = 7 })):equals(7)
    expect(validation.timeout_for({ kind = "lint", command = "x" }, { test = 7 })):equals(180000)
    expect(validation.timeout_for({ kind = "build", command = "x" })):equals(600000)
  end)

  it("are sidecar.task.validation_entry's, re-exported: the same functions and tables", function()
    local entry = require("sidecar.task.validation_entry")
    for _, name in ipairs({ "KINDS", "DEFAULT_TIMEOUT_MS", "is_kind", "describe", "normalise",
      "timeout_for", "parse_cmds" }) do
      expect(validation[name] ~= nil and validation[name] == entry[name]):is_true()
    end
  end)
end)

describe("validation.normalise", function()
  it("promotes a string to a custom entry", function()
    expect(validation.normalise("bash scripts/smoke.sh")):equals({ kind = "custom", command = "bash scripts/smoke.sh" })
  end)

  it("keeps an object entry, makes a missing kind custom and drops nulls", function()
    local e = { kind = "test", command = "npm test", name = "unit", timeout_ms = 900000 }
    expect(validation.normalise(e)):equals(e)
    expect(validation.normalise({ command = "make" })):equals({ kind = "custom", command = "make" })
    expect(validation.normalise(json.decode('{"kind": "lint", "command": "ruff .", "name": null}')))
      :equals({ kind = "lint", command = "ruff ." })
    local once = validation.normalise("make check")
    expect(validation.normalise(once)):equals(once)
  end)

  it("names the kinds when a kind is unknown", function()
    local entry, message, problems = validation.normalise({ kind = "tset", command = "npm test" })
    expect(entry):is_nil()
    expect(message):equals("kind: unknown kind 'tset' (kinds: " .. KIND_LIST .. ")")
    expect(problems):equals({ { field = "kind", message = "unknown kind 'tset' (kinds: " .. KIND_LIST .. ")" } })
  end)

  it("reports every problem of an entry with its field", function()
    local _, message, problems = validation.normalise({ kind = 3, command = "", timeout_ms = "30s", nme = "x" })
    expect(problems):equals({
      { field = "nme", message = "unknown field (known: command, kind, name, timeout_ms)" },
      { field = "command", message = 'expected a non-empty command, got string ""' },
      { field = "kind", message = "expected a string, got integer 3" },
      { field = "timeout_ms", message = 'expected a positive integer, got string "30s"' },
    })
    expect(message):contains("timeout_ms: expected a positive integer")
  end)

  it("refuses a missing command, non-positive or fractional timeouts, and values of other types", function()
    expect(select(3, validation.normalise({ kind = "test" }))[1].message):equals("required field missing")
    expect(select(2, validation.normalise({ command = "x", timeout_ms = 0 })))
      :equals("timeout_ms: expected a positive integer, got integer 0")
    expect(select(2, validation.normalise({ command = "x", timeout_ms = 1.5 })))
      :equals("timeout_ms: expected a positive integer, got number 1.5")
    expect(message_of(validation.normalise("   "))):equals('expected a non-empty command, got string "   "')
    expect(message_of(validation.normalise(42))):contains("got integer 42")
    expect(message_of(validation.normalise({ "npm", "test" }))):contains("got array")
    expect(message_of(validation.normalise(json.null))):contains("got null")
  end)
end)

describe("durations of validation steps (sidecar.core.duration, the one parser)", function()
  local duration = require("sidecar.core.duration")
  it("reads ms, s, m, h and d, fractions and sums, as whole milliseconds", function()
    expect(duration.parse("1500ms", { bare = false })):equals(1500)
    expect(duration.parse("30s", { bare = false })):equals(30000)
    expect(duration.parse("5m", { bare = false })):equals(300000)
    expect(duration.parse("1h", { bare = false })):equals(3600000)
    expect(duration.parse("1d", { bare = false })):equals(86400000)
    expect(duration.parse("1.5m", { bare = false })):equals(90000)
    expect(duration.parse("1m30s", { bare = false })):equals(90000)
    expect(duration.parse("30s", { bare = false })):has_type("integer")
  end)

  it("refuses numbers without a unit (there), unknown units and zero", function()
    expect(message_of(duration.parse("30", { bare = false }))):contains("give it a unit (30s, 30ms)")
    expect(message_of(duration.parse(30, { bare = false }))):contains("30 is not a duration")
    expect(duration.parse("30")):equals(30000) -- elsewhere (--timeout 30) a bare number is seconds
    expect(message_of(duration.parse("3x", { bare = false }))):contains("'3x' is not a duration")
    expect(message_of(duration.parse("", { bare = false }))):contains("'' is not a duration")
    expect(message_of(duration.parse("0s", { bare = false }))):contains("'0s' is too short: a duration is 1ms or more")
    expect(message_of(duration.parse("0", { bare = false }))):contains("'0' is too short")
    expect(message_of(duration.parse("9223372036854775807"))):contains("is too long: a duration is at most 366d")
    expect(message_of(duration.parse(9223372036854775807))):contains("is too long")
    expect(message_of(duration.parse("400d"))):contains("'400d' is too long")
    expect(duration.parse("366d")):equals(366 * 86400000)
  end)
end)

describe("validation.parse_cmds", function()
  it("reads kinds, durations and plain commands", function()
    expect(validation.parse_cmds("typecheck:tsc --noEmit,lint:eslint .,test@30s:npm test,bash smoke.sh")):equals({
      { kind = "typecheck", command = "tsc --noEmit" },
      { kind = "lint", command = "eslint ." },
      { kind = "test", command = "npm test", timeout_ms = 30000 },
      { kind = "custom", command = "bash smoke.sh" },
    })
  end)

  it("takes a prefix as a kind only when it is one", function()
    expect(validation.parse_cmds("echo a:b")):equals({ { kind = "custom", command = "echo a:b" } })
    expect(validation.parse_cmds("make:all")):equals({ { kind = "custom", command = "make:all" } })
    expect(validation.parse_cmds("custom:make all")):equals({ { kind = "custom", command = "make all" } })
    expect(validation.parse_cmds("scp x git@github.com:y")):equals({ { kind = "custom", command = "scp x git@github.com:y" } })
    expect(validation.parse_cmds("git@github.com:y")):equals({ { kind = "custom", command = "git@github.com:y" } })
    expect(validation.parse_cmds("test:grep -c a:b f")):equals({ { kind = "test", command = "grep -c a:b f" } })
  end)

  it("trims entries and commands, and reads blank text as no entries", function()
    expect(validation.parse_cmds("  lint:  eslint .  ,  build@10m: make ")):equals({
      { kind = "lint", command = "eslint ." }, { kind = "build", command = "make", timeout_ms = 600000 },
    })
    expect(validation.parse_cmds("")):equals({})
    expect(validation.parse_cmds("  ")):equals({})
  end)

  it("does not split at commas inside quotes, and reads \\, as a comma", function()
    expect(validation.parse_cmds([[test:echo 'a,b',lint:echo "c,d"]])):equals({
      { kind = "test", command = "echo 'a,b'" }, { kind = "lint", command = 'echo "c,d"' },
    })
    expect(validation.parse_cmds([[echo a\,b,echo c]])):equals({
      { kind = "custom", command = "echo a,b" }, { kind = "custom", command = "echo c" },
    })
    -- The shell's escapes stay: \" inside double quotes does not close them; \" outside opens none.
    expect(validation.parse_cmds([[echo "x\",y",echo \"p,q]])):equals({
      { kind = "custom", command = [[echo "x\",y"]] }, { kind = "custom", command = [[echo \"p]] },
      { kind = "custom", command = "q" },
    })
    -- Inside single quotes a backslash is plain, as in the shell: the quote closes at "\'".
    expect(message_of(validation.parse_cmds([[echo 'it\'s,x']]))):equals("entry 2: unterminated single quote")
  end)

  it("names the entry and its text in errors", function()
    expect(message_of(validation.parse_cmds("lint:eslint .,tset@30s:npm test")))
      :equals("entry 2 'tset@30s:npm test': unknown kind 'tset' (kinds: " .. KIND_LIST .. ")")
    expect(message_of(validation.parse_cmds("test@30x:npm test")))
      :equals("entry 1 'test@30x:npm test': '30x' is not a duration (write 90s, 5m, 2h or 1h30m)")
    expect(message_of(validation.parse_cmds("test@soon:npm test"))):contains("entry 1 'test@soon:npm test': 'soon' is not a duration")
    expect(message_of(validation.parse_cmds("test@0s:npm test"))):contains("'0s' is too short: a duration is 1ms or more")
    expect(message_of(validation.parse_cmds("lint:eslint .,test:")))
      :equals("entry 2 'test:': empty command after 'test'")
    expect(message_of(validation.parse_cmds("build@5m:   "))):equals("entry 1 'build@5m:': empty command after 'build'")
    expect(message_of(validation.parse_cmds("a,,b"))):contains("entry 2 is empty")
    expect(message_of(validation.parse_cmds("a,"))):contains("entry 2 is empty")
    expect(message_of(validation.parse_cmds(",a"))):contains("entry 1 is empty")
    expect(message_of(validation.parse_cmds([[a,echo "b,c]]))):equals("entry 2: unterminated double quote")
    expect(message_of(validation.parse_cmds([[echo 'b]]))):equals("entry 1: unterminated single quote")
    expect(function() validation.parse_cmds(nil) end):raises("expected a string, got nil")
  end)
end)

describe("validation.run", function()
  it("runs each step with /bin/sh -c and returns exactly the result fields", function()
    local results = validation.run({
      { kind = "test", command = "echo out; echo err >&2; exit 3", name = "unit" },
      "true",
    })
    expect(#results):equals(2)
    local r = results[1]
    expect(keys_of(r)):equals({ "command", "duration_ms", "exit_code", "kind", "name", "ok", "output_snippet",
      "timed_out", "timeout_ms" })
    expect(r.kind):equals("test")
    expect(r.command):equals("echo out; echo err >&2; exit 3")
    expect(r.name):equals("unit")
    expect(r.exit_code):equals(3)
    expect(r.ok):is_false()
    expect(r.timed_out):is_false()
    expect(r.duration_ms):has_type("integer")
    expect(r.timeout_ms):equals(600000)
    expect(r.output_snippet):contains("out\n")
    expect(r.output_snippet):contains("err\n")
    expect(results[2]):equals({ kind = "custom", command = "true", name = json.null, exit_code = 0, ok = true,
      timed_out = false, duration_ms = results[2].duration_ms, timeout_ms = 300000, output_snippet = "" })
    expect(json.decode(json.encode(results))):equals(results)
  end)

  it("kills a step at its timeout, with its whole process group", function()
    -- The sleep would run 30 s; the 3 s timeout leaves a busy machine ample time to start it and
    -- write its pid first, and ends the step long before the sleep would.
    local dir = temp_dir()
    local pid_file = dir .. "/child.pid"
    local results = validation.run({
      { kind = "test", command = "sleep 30 & echo $! > '" .. pid_file .. "'; echo started; wait", timeout_ms = 3000 },
    })
    local r = results[1]
    expect(r.timed_out):is_true()
    expect(r.ok):is_false()
    expect(r.exit_code):is(json.null)
    expect(r.timeout_ms):equals(3000)
    expect(r.duration_ms >= 2950 and r.duration_ms < 15000):is_true()
    expect(r.output_snippet):equals("started\n")
    local f = assert(io.open(pid_file))
    local pid = f:read("l")
    f:close()
    local stat = io.open("/proc/" .. pid .. "/stat")
    local state = stat and stat:read("a"):match("^%d+ %b() (%a)")
    if stat then
      stat:close()
    end
    expect(state == nil or state == "Z"):is_true() -- the background sleep is gone too
    os.execute("rm -rf '" .. dir .. "'")
    expect(validation.blocker(results)):equals("validation failed: test step 'sleep 30 & echo $! > '" .. pid_file
      .. "'; echo started; wait' timed out after 3000 ms (0 of 1 steps passed)")
  end)

  it("takes a timeout per kind from opts.timeouts when the entry has none", function()
    local results = validation.run({ "true", { kind = "lint", command = "true" }, { kind = "test", command = "true", timeout_ms = 9 } },
      { timeouts = { custom = 1234 } })
    expect(results[1].timeout_ms):equals(1234)
    expect(results[2].timeout_ms):equals(180000)
    expect(results[3].timeout_ms):equals(9)
  end)

  it("runs in opts.cwd with opts.env", function()
    local dir = temp_dir()
    local results = validation.run({ "pwd -P; echo \"$SIDECAR_SPEC_VALUE\"" },
      { cwd = dir, env = { SIDECAR_SPEC_VALUE = "from env" } })
    local real = io.popen("cd '" .. dir .. "' && pwd -P"):read("l")
    expect(results[1].output_snippet):equals(real .. "\nfrom env\n")
    os.execute("rm -rf '" .. dir .. "'")
  end)

  it("keeps the last 2000 bytes, cut at a character boundary", function()
    local results = validation.run({
      "i=0; while [ $i -lt 300 ]; do echo 'line of noise noise noise'; i=$((i+1)); done; echo THE-END",
      "printf '%s' '" .. ("€"):rep(1000) .. "'", -- 3 bytes each
    })
    local long = results[1].output_snippet
    expect(#long <= 2000 and #long > 1900):is_true()
    expect(long):matches("THE%-END\n$")
    local euros = results[2].output_snippet
    expect(#euros):equals(1998) -- 2000 would start inside a "€"
    expect(utf8.len(euros)):equals(666)
  end)

  it("replaces invalid UTF-8 so the result encodes as JSON", function()
    local r = validation.run({ [[printf '\377\376abc\303']] })[1]
    expect(utf8.len(r.output_snippet)):exists()
    expect(r.output_snippet):equals("\u{FFFD}\u{FFFD}abc\u{FFFD}")
    expect(json.encode(r)):contains("abc")
  end)

  it("redacts secrets in the output snippet", function()
    local key = "sk-" .. ("Ab9"):rep(12)
    local r = validation.run({ "echo OPENAI_API_KEY=" .. key .. " >&2; echo done" })[1]
    expect(r.output_snippet):contains("OPENAI_API_KEY=[REDACTED")
    expect(r.output_snippet:find(key, 1, true)):is_nil()
    expect(r.output_snippet):contains("done\n")
  end)

  it("keeps opts.snippet_bytes of a flood, still redacted", function()
    local key = "sk-" .. ("Zq7"):rep(12)
    local r = validation.run({ "head -c 1000000 /dev/zero | tr '\\0' x; echo; echo token " .. key },
      { snippet_bytes = 100 })[1]
    expect(r.ok):is_true()
    expect(#r.output_snippet <= 100):is_true()
    expect(r.output_snippet):matches("xxx\ntoken %[REDACTED:[%w-]+%]\n$")
  end)

  it("returns a failed result for a command that cannot start, and 127 for one not found", function()
    local results = validation.run({ { kind = "build", command = "make" } }, { cwd = "/nonexistent/sidecar-spec" })
    local r = results[1]
    expect(r.ok):is_false()
    expect(r.exit_code):is(json.null)
    expect(r.timed_out):is_false()
    expect(r.duration_ms):equals(0)
    expect(r.output_snippet):contains("could not start")
    expect(validation.blocker(results)):equals("validation failed: build step 'make' ended without an exit code "
      .. "(killed by a signal, or it could not start) (0 of 1 steps passed)")
    local missing = validation.run({ "sidecar-no-such-program-xyz" })[1]
    expect(missing.exit_code):equals(127)
    expect(missing.output_snippet):contains("not found")
  end)

  it("calls on_step before and on_result after each step, and runs every step by default", function()
    local calls = {}
    local results = validation.run({ "exit 1", { kind = "lint", command = "true" } }, {
      on_step = function(i, entry) calls[#calls + 1] = "step " .. i .. " " .. entry.kind end,
      on_result = function(i, r) calls[#calls + 1] = "result " .. i .. " " .. tostring(r.ok) end,
    })
    expect(calls):equals({ "step 1 custom", "result 1 false", "step 2 lint", "result 2 true" })
    expect(#results):equals(2)
  end)

  it("stops at the first failure with stop_on_failure", function()
    local steps = 0
    local results = validation.run({ "true", "exit 2", "true" },
      { stop_on_failure = true, on_step = function() steps = steps + 1 end })
    expect(#results):equals(2)
    expect(steps):equals(2)
    expect(results[2].exit_code):equals(2)
  end)

  it("raises on bad entries before running anything, and on bad options", function()
    local ran = false
    expect(function()
      validation.run({ "true", { kind = "tset", command = "x" } }, { on_step = function() ran = true end })
    end):raises("validation.run: entries[2]: kind: unknown kind 'tset'")
    expect(ran):is_false()
    expect(function() validation.run("true") end):raises("entries must be an array, got string")
    expect(function() validation.run({}, { timeout = 5 }) end):raises("unknown option 'timeout'")
    expect(function() validation.run({}, { cwd = 5 }) end):raises("option 'cwd' must be a string, got integer 5")
    expect(function() validation.run({}, { timeouts = { tests = 5 } }) end):raises("timeouts: unknown kind 'tests'")
    expect(function() validation.run({}, { timeouts = { test = "5s" } }) end):raises("timeouts.test must be a positive integer")
    expect(validation.run({})):equals({})
  end)
end)

describe("validation verdicts", function()
  it("counts passed, failed and timed-out steps", function()
    expect(validation.summary({})):equals({ total = 0, passed = 0, failed = 0, timed_out = 0 })
    expect(validation.summary({
      result("lint", "eslint ."), result("test", "npm test", { ok = false, exit_code = 1 }),
      result("build", "make", { ok = false, exit_code = json.null, timed_out = true }),
    })):equals({ total = 3, passed = 1, failed = 2, timed_out = 1 })
  end)

  it("has no blocker when every step passed or there were none", function()
    expect(validation.blocker({})):is_nil()
    expect(validation.blocker({ result("lint", "eslint ."), result("test", "npm test") })):is_nil()
  end)

  it("names the first failing step, how it failed, and the kinds of the others", function()
    expect(validation.blocker({
      result("typecheck", "tsc"), result("test", "npm test", { ok = false, exit_code = 1 }), result("lint", "eslint ."),
    })):equals("validation failed: test step 'npm test' exited with code 1 (2 of 3 steps passed)")
    expect(validation.blocker({
      result("test", "npm test", { ok = false, exit_code = json.null, timed_out = true, timeout_ms = 30000 }),
      result("lint", "eslint .", { ok = false, exit_code = 2 }),
      result("lint", "stylelint", { ok = false, exit_code = 2 }),
      result("build", "make", { ok = false, exit_code = 2 }),
    })):equals("validation failed: test step 'npm test' timed out after 30000 ms (0 of 4 steps passed; also failed: lint, build)")
  end)

  it("shortens a long command without splitting a character", function()
    local command = ("é"):rep(60)
    local message = validation.blocker({ result("custom", command, { ok = false, exit_code = 1 }) })
    expect(message):contains("'" .. ("é"):rep(38) .. "...'")
    expect(utf8.len(message)):exists()
  end)
end)
