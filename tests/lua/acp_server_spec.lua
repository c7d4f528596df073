-- Sidecar as an ACP agent (stdlib/sidecar/acp/): what a prompt asks for (commands), the sessions
-- it records (sessions), and the server's answers to peers that break the protocol, held in
-- memory (tests/e2e/acp_server_test.sh drives the whole with acpx).
local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local commands = require("sidecar.acp.commands")
local json = require("sidecar.core.json")
local server = require("sidecar.acp.server")
local sessions = require("sidecar.acp.sessions")

describe("acp commands", function()
  it("takes plain text as a task titled by its first line", function()
    local req = assert(commands.parse("\n  Find the slow tests\nand say why", {}))
    expect(req.kind):equals("task")
    expect(req.title):equals("Find the slow tests")
    expect(req.goal):equals("\n  Find the slow tests\nand say why")
  end)

  it("takes /preset NAME and /NAME with key=value parameters", function()
    local a = assert(commands.parse("/preset precommit-classifier agent=false", { "precommit-classifier" }))
    local b = assert(commands.parse("/precommit-classifier agent=false", { "precommit-classifier" }))
    for _, req in ipairs({ a, b }) do
      expect(req.kind):equals("preset")
      expect(req.name):equals("precommit-classifier")
      expect(req.params[1]):equals("agent=false")
    end
  end)

  it("refuses what it cannot do, saying why", function()
    local cases = {
      { "", "the prompt is empty" },
      { "/preset", "/preset needs a preset's name" },
      { "/preset nope", "no preset nope here" },
      { "/precommit-classifier agent", "'agent' is not a parameter" },
      { "/approve", "/approve needs a run id" },
      { "/apply T-0001", "/apply needs a run id" },
      { "/write   ", "/write needs the change to make" },
      { "/rm -rf /", "unknown command /rm" },
    }
    for _, c in ipairs(cases) do
      local req, why = commands.parse(c[1], { "precommit-classifier" })
      expect(req):is_nil()
      expect(why):contains(c[2])
    end
    local _, why = commands.parse("/mine", {}, { mine = true })
    expect(why):contains("the preset mine of this repository is not trusted")
  end)

  it("offers the built-in commands, then one per preset", function()
    local list = commands.available({ { name = "review", summary = "Review a change" }, { name = "bare" } })
    expect(#list):equals(6)
    expect(list[1].name):equals("preset")
    expect(list[5].description):equals("Review a change")
    expect(list[6].description):equals("The bare preset")
  end)
end)

describe("acp sessions", function()
  local root
  test.before_each(function()
    root = os.tmpname()
    os.remove(root)
  end)
  test.after_each(function()
    os.execute("rm -rf '" .. root .. "'")
  end)

  it("records a session at its first turn and lists it, newest first, by folder", function()
    local a = sessions.new(root, "/repo")
    assert(sessions.add_turn(a, { prompt = "First line\nmore", runs = json.array({ "R-0001" }), stop_reason = "end_turn" }))
    local b = sessions.new(root, "/other")
    assert(sessions.add_turn(b, { prompt = "Other", runs = json.array({}), stop_reason = "cancelled" }))
    local all = sessions.list(root)
    expect(#all):equals(2)
    local here = sessions.list(root, "/repo")
    expect(#here):equals(1)
    expect(here[1].title):equals("First line")
    local got = assert(sessions.get(root, a.sessionId))
    expect(got.turns[1].runs[1]):equals("R-0001")
  end)

  it("never reads a path for a session id, and passes over files that are not sessions", function()
    local _, why = sessions.get(root, "../../etc/passwd")
    expect(why):contains("is not a session id")
    local s = sessions.new(root, "/repo")
    assert(sessions.add_turn(s, { prompt = "x", runs = json.array({}), stop_reason = "end_turn" }))
    local f = assert(io.open(root .. "/acp/sessions/S-0000000000000001.json", "w"))
    f:write("{ cut short")
    f:close()
    f = assert(io.open(root .. "/acp/sessions/S-0000000000000002.json", "w"))
    f:write('{"sessionId":"S-0000000000000003","cwd":"/repo","turns":[]}')
    f:close()
    expect(#sessions.list(root)):equals(1)
    expect(sessions.get(root, "S-0000000000000002")):is_nil()
  end)
end)

describe("acp server", function()
  -- A server whose output lines are kept, decoded.
  local function peer()
    local lines = {}
    local out = { write = function(_, text) lines[#lines + 1] = json.decode(text) end, flush = function() end }
    return server.new(out, { version = "t" }), lines
  end

  it("answers what breaks the protocol with JSON-RPC errors and goes on", function()
    local srv, lines = peer()
    local cases = {
      { "not json", -32700 },
      { "[1]", -32600 },
      { '{"jsonrpc":"2.0","id":{},"method":"x"}', -32600 },
      { '{"jsonrpc":"1.0","id":1,"method":"initialize"}', -32600 },
      { '{"jsonrpc":"2.0","id":2,"method":"session/new","params":{"cwd":"/"}}', -32600 }, -- before initialize
      { '{"jsonrpc":"2.0","id":3,"method":"initialize","params":{"protocolVersion":"1"}}', -32602 },
      { '{"jsonrpc":"2.0","id":4,"method":"initialize","params":[]}', -32602 },
      { '{"jsonrpc":"2.0","id":5,"method":"nope"}', -32601 },
    }
    for i, c in ipairs(cases) do
      srv:handle_line(c[1])
      expect(lines[i].error.code):equals(c[2])
    end
    srv:handle_line('{"jsonrpc":"2.0","method":"session/cancel","params":{"sessionId":"S-1"}}')
    srv:handle_line('{"jsonrpc":"2.0","id":77,"result":{}}') -- an answer to nothing
    expect(#lines):equals(#cases)
    srv:handle_line('{"jsonrpc":"2.0","id":6,"method":"initialize","params":{"protocolVersion":7}}')
    expect(lines[#lines].result.protocolVersion):equals(1)
    srv:handle_line('{"jsonrpc":"2.0","id":7,"method":"session/prompt","params":{"sessionId":"S-1","prompt":[]}}')
    expect(lines[#lines].error.message):contains("no session S-1")
  end)

  it("sends each request of its own once and hands the answer to its caller", function()
    local srv, lines = peer()
    local got
    srv:request("session/request_permission", { sessionId = "S-1" }, function(res, err) got = { res, err } end)
    expect(lines[1].method):equals("session/request_permission")
    srv:handle_line(json.encode({ jsonrpc = "2.0", id = lines[1].id, error = { code = -1, message = "no" } }))
    expect(got[2].message):equals("no")
    got = nil
    srv:handle_line(json.encode({ jsonrpc = "2.0", id = lines[1].id, result = {} })) -- again: not ours now
    expect(got):is_nil()
  end)
end)

describe("acp turn", function()
  it("lets an interrupt that lands while its work's process starts go on up, unanswered", function()
    local turn, proc = require("sidecar.acp.turn"), require("sidecar.core.proc")
    local root = test.temp_dir() .. "/.agent"
    local replies = {}
    local srv = { log = function() end, reply = function(_, id) replies[#replies + 1] = id end, update = function() end }
    local spawn = proc.spawn
    proc.spawn = function() error("interrupted! (SIGTERM)", 0) end
    local ok, err = pcall(turn.start, srv, { root = root, sessionId = "S-1", turns = {} }, 1, "Find the slow tests", 1)
    proc.spawn = spawn
    expect(ok):equals(false)
    expect(err):contains("interrupted!")
    expect(#replies):equals(0) -- not answered as work that could not start
  end)
end)
