local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect

local json = require("sidecar.core.json")
local task_packet = require("sidecar.task.packet")

-- Fixtures are found from this file, whatever the working directory.
local HERE = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local FIXTURES = HERE .. "../fixtures/packets/"

local function read(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("a")
  f:close()
  return text
end

local function paths_of(problems)
  local out = {}
  for i, p in ipairs(problems) do
    out[i] = p.path
  end
  return out
end

-- The problems of a packet that does not check.
local function problems_of(packet)
  local checked, problems = task_packet.check(packet)
  expect(checked):is_nil()
  return problems
end

local function deep_copy(v)
  if type(v) ~= "table" then
    return v
  end
  local out = {}
  for k, x in pairs(v) do
    out[k] = deep_copy(x)
  end
  return setmetatable(out, getmetatable(v))
end

describe("task_packet.check", function()
  it("accepts a full packet and promotes string validation entries to objects", function()
    local raw = json.decode(read(FIXTURES .. "full.json"))
    local packet = assert(task_packet.check(raw))
    expect(packet.execution.commands.validation):equals({
      { kind = "typecheck", command = "tsc --noEmit" },
      { kind = "test", command = "npm test", timeout_ms = 900000, name = "unit tests" },
      { kind = "custom", command = "bash scripts/smoke.sh" },
    })
    expect(packet.priority):equals("high")
    expect(packet.result.validation_results[1].name):is(json.null) -- a result keeps its nulls
    expect(packet.result.validation_results[2].exit_code):is(json.null)
    expect(packet.tracking.assigned_at):is_nil() -- elsewhere null means "left out"
    expect(packet.tracking.branch):equals("sidecar/T-001")
    expect(task_packet.validation_entries(packet)):equals(packet.execution.commands.validation)
  end)

  it("fills the defaults and adds nothing else", function()
    expect(task_packet.check({ title = "Fix the parser" })):equals({
      title = "Fix the parser", version = "1.0", type = "feature", status = "draft", priority = "medium",
    })
    expect(task_packet.validation_entries(task_packet.check({ title = "t" }))):equals({})
  end)

  it("returns a new table and leaves the packet given as it is", function()
    local raw = json.decode(read(FIXTURES .. "full.json"))
    local before = deep_copy(raw)
    local packet = assert(task_packet.check(raw))
    expect(raw):equals(before)
    expect(rawequal(packet, raw)):is_false()
    expect(rawequal(packet.execution, raw.execution)):is_false()
  end)

  it("accepts plain Lua tables, empty ones as either arrays or objects", function()
    local packet = assert(task_packet.check({ title = "t", tags = {}, scope = {}, dependencies = { "T-1" } }))
    expect(json.encode(packet.tags)):equals("[]")
    expect(json.encode(packet.scope)):equals("{}")
  end)

  it("names an unknown field and the known ones, at any depth", function()
    expect(problems_of({ title = "t", scope = { in_scop = {} } })):equals({
      { path = "scope.in_scop", message = "unknown field (known: in_scope, out_of_scope)" },
    })
    expect(problems_of({ title = "t", execution = { commands = { validate = {} } } })):equals({
      { path = "execution.commands.validate", message = "unknown field (known: validation)" },
    })
    local top = problems_of({ title = "t", titel = "x" })
    expect(top[1].path):equals("titel")
    expect(top[1].message):contains("unknown field (known: blockers, constraints, context, created_at,")
    expect(problems_of({ title = "t", ["odd key"] = 1 })[1].path):equals('["odd key"]')
  end)

  it("names the path, what was expected and what it got for a wrong type", function()
    expect(problems_of({ title = "t", tags = { "a", 2 } })):equals({
      { path = "tags[2]", message = "expected a string, got integer 2" },
    })
    expect(problems_of({ title = "t", implementation = { files_to_read = { "a", "" } } })):equals({
      { path = "implementation.files_to_read[2]", message = 'expected a non-empty string, got string ""' },
    })
    expect(problems_of({ title = "t", execution = { commands = { validation = { "make", { kind = "test", command = "npm test", timeout_ms = "30s" } } } } })):equals({
      { path = "execution.commands.validation[2].timeout_ms", message = 'expected a positive integer, got string "30s"' },
    })
    expect(problems_of({ title = "t", summary = json.decode("[]") })):equals({
      { path = "summary", message = "expected a string, got array" },
    })
    expect(problems_of(json.decode('{"title": "t", "scope": []}'))):equals({
      { path = "scope", message = "expected an object, got array" },
    })
    expect(problems_of(json.decode('{"title": "t", "tags": {}}'))):equals({
      { path = "tags", message = "expected an array, got object" },
    })
    expect(problems_of({ title = "t", tags = { "a", nil, "c" } })[1].message):equals("expected an array, got a table with mixed keys")
  end)

  it("refuses values outside an enum, a bad version and a bad task id", function()
    expect(problems_of({ title = "t", status = "in-progress" })):equals({
      { path = "status", message = 'expected one of draft, ready, queued, running, review, blocked, done, got string "in-progress"' },
    })
    expect(problems_of({ title = "t", priority = 1 })):equals({
      { path = "priority", message = "expected one of low, medium, high, urgent, got integer 1" },
    })
    expect(problems_of({ title = "t", type = "Bug" })[1].path):equals("type")
    expect(problems_of({ title = "t", version = "2.0" })):equals({
      { path = "version", message = 'expected version "1.0", got string "2.0"' },
    })
    expect(problems_of({ title = "t", execution = { commands = { validation = { { kind = "tset", command = "x" } } } } })):equals({
      { path = "execution.commands.validation[1].kind", message = "unknown kind 'tset' (kinds: typecheck, lint, test, build, custom)" },
    })
    expect(problems_of({ title = "t", task_id = "-T1" })[1].message):contains('got string "-T1"')
    expect(task_packet.check({ title = "t", task_id = "a" .. ("b"):rep(63) })):exists()
    expect(problems_of({ title = "t", task_id = "a" .. ("b"):rep(64) })[1].path):equals("task_id")
    expect(problems_of({ title = "t", dependencies = { "T-1", "T 2" } })[1].path):equals("dependencies[2]")
  end)

  it("needs a non-empty title", function()
    expect(problems_of({})):equals({ { path = "title", message = "required field missing" } })
    expect(problems_of({ title = json.null })):equals({ { path = "title", message = "required field missing" } })
    expect(problems_of({ title = "  " })):equals({ { path = "title", message = 'expected a non-empty string, got string "  "' } })
  end)

  it("refuses a dependency on the task itself or listed twice", function()
    expect(problems_of({ title = "t", task_id = "T-3", dependencies = { "T-1", "T-3", "T-1" } })):equals({
      { path = "dependencies[2]", message = "a task cannot depend on itself" },
      { path = "dependencies[3]", message = "'T-1' is listed twice (also at [1])" },
    })
  end)

  it("checks result.validation_results entries as validation.run writes them", function()
    local problems = problems_of({ title = "t", result = { validation_results = {
      { kind = "test", command = "npm test", ok = "yes", exit_code = 1.5, duration_ms = -1, extra = true },
      { command = "x" },
    } } })
    expect(problems):equals({
      { path = "result.validation_results[1].exit_code", message = "expected an integer, got number 1.5" },
      { path = "result.validation_results[1].ok", message = 'expected true or false, got string "yes"' },
      { path = "result.validation_results[1].duration_ms", message = "expected an integer >= 0, got integer -1" },
      { path = "result.validation_results[1].extra",
        message = "unknown field (known: command, duration_ms, exit_code, kind, name, not_run, ok, output_snippet, timed_out, timeout_ms)" },
      { path = "result.validation_results[2].kind", message = "required field missing" },
      { path = "result.validation_results[2].ok", message = "required field missing" },
    })
  end)

  it("collects every problem, not just the first", function()
    local problems = problems_of({
      title = 3, type = "epic", scope = { in_scop = {} }, tags = { 1 },
      execution = { commands = { validation = { "", { kind = "lnt", command = "x", timeout_ms = "5m" } } } },
    })
    expect(paths_of(problems)):equals({
      "title", "type", "scope.in_scop", "execution.commands.validation[1]",
      "execution.commands.validation[2].kind", "execution.commands.validation[2].timeout_ms", "tags[1]",
    })
  end)

  it("refuses a packet that is not an object", function()
    expect(problems_of(json.decode("[1]"))):equals({ { path = "", message = "expected an object, got array" } })
    expect(problems_of("T-1")):equals({ { path = "", message = 'expected an object, got string "T-1"' } })
    expect(problems_of(nil)):equals({ { path = "", message = "expected an object, got nothing" } })
  end)
end)

describe("task_packet.format_errors", function()
  it("writes one line per problem", function()
    expect(task_packet.format_errors({
      { path = "scope.in_scop", message = "unknown field (known: in_scope, out_of_scope)" },
      { path = "", message = "expected an object, got array" },
    })):equals("scope.in_scop: unknown field (known: in_scope, out_of_scope)\npacket: expected an object, got array")
    expect(task_packet.format_errors({})):equals("")
    expect(function() task_packet.format_errors("x") end):raises("expected a list of problems")
  end)
end)

describe("task_packet.decode", function()
  it("reads and checks a packet", function()
    local packet = assert(task_packet.decode(read(FIXTURES .. "full.json"), "full.json"))
    expect(packet.task_id):equals("T-001")
  end)

  it("gives the line and column of a JSON syntax error, after the source name", function()
    local packet, message = task_packet.decode('{\n  "title": "t",\n  "tags": [1,]\n}', "T-9.json")
    expect(packet):is_nil()
    expect(message):matches("^T%-9%.json: invalid JSON at line 3, column %d+: ")
    expect(select(2, task_packet.decode("{"))):matches("^task packet: invalid JSON")
  end)

  it("lists every problem of a packet that does not check, and returns them", function()
    local packet, message, problems = task_packet.decode('{"title": "t", "scope": {"in_scop": []}, "priority": 2}', "x.json")
    expect(packet):is_nil()
    expect(message):equals("x.json: not a valid task packet (2 problems):\n"
      .. "  priority: expected one of low, medium, high, urgent, got integer 2\n"
      .. "  scope.in_scop: unknown field (known: in_scope, out_of_scope)")
    expect(paths_of(problems)):equals({ "priority", "scope.in_scop" })
    expect(function() task_packet.decode(nil) end):raises("expected a string, got nil")
  end)
end)

describe("task_packet.encode", function()
  it("writes sorted keys with a 2-space indent and a final newline", function()
    local text = assert(task_packet.encode({ title = "t", tags = { "a" } }))
    expect(text):equals('{\n  "priority": "medium",\n  "status": "draft",\n  "tags": [\n    "a"\n  ],\n'
      .. '  "title": "t",\n  "type": "feature",\n  "version": "1.0"\n}\n')
  end)

  it("round-trips an imported packet exactly", function()
    local packet = assert(task_packet.decode(read(FIXTURES .. "full.json"), "full.json"))
    local text = assert(task_packet.encode(packet))
    local again = assert(task_packet.decode(text, "export"))
    expect(again):equals(packet)
    expect(task_packet.encode(again)):equals(text)
    expect(text):contains('"related_notes": []') -- empty lists stay lists
    expect(text):contains('"name": null')
  end)

  it("refuses to export a packet that does not check", function()
    local text, message, problems = task_packet.encode({ task_id = "T-7", title = "t", colour = "red" })
    expect(text):is_nil()
    expect(message):matches("^T%-7: not a valid task packet %(1 problem%):\n  colour: unknown field")
    expect(#problems):equals(1)
    expect(function() task_packet.encode("{}") end):raises("expected a table, got string")
  end)
end)

describe("task_packet.new", function()
  it("builds a checked packet from task create fields", function()
    local packet = assert(task_packet.new({
      title = "Add import flow", summary = "s", goal = "g", type = "bug", priority = "urgent",
      validation = { "make lint", { kind = "test", command = "make test" } },
      files_to_read = { "a.lua" }, files_to_avoid = { "b.lua" }, dependencies = { "T-0001" },
    }))
    expect(packet):equals({
      version = "1.0", title = "Add import flow", summary = "s", goal = "g", type = "bug", status = "draft",
      priority = "urgent",
      execution = { commands = { validation = {
        { kind = "custom", command = "make lint" }, { kind = "test", command = "make test" } } } },
      implementation = { files_to_read = { "a.lua" }, files_to_avoid = { "b.lua" } },
      dependencies = { "T-0001" },
    })
  end)

  it("reads validation given as the CLI shorthand", function()
    local packet = assert(task_packet.new({ title = "t", validation = "typecheck:tsc --noEmit,test@30s:npm test" }))
    expect(task_packet.validation_entries(packet)):equals({
      { kind = "typecheck", command = "tsc --noEmit" }, { kind = "test", command = "npm test", timeout_ms = 30000 },
    })
    local none, problems = task_packet.new({ title = "t", validation = "lint:x,tset@30s:npm test" })
    expect(none):is_nil()
    expect(problems):equals({ { path = "execution.commands.validation",
      message = "entry 2 'tset@30s:npm test': unknown kind 'tset' (kinds: typecheck, lint, test, build, custom)" } })
  end)

  it("returns the same problems as check, and raises on a field it does not know", function()
    local packet, problems = task_packet.new({ title = "", priority = "p1", files_to_read = "a.lua" })
    expect(packet):is_nil()
    expect(paths_of(problems)):equals({ "title", "priority", "implementation.files_to_read" })
    expect(function() task_packet.new({ title = "t", validate_cmds = "x" }) end)
      :raises("task_packet.new: unknown field 'validate_cmds' (fields: definition_of_done, dependencies,")
    expect(function() task_packet.new("t") end):raises("expected a table of fields, got string")
  end)
end)
