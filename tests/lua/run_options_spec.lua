-- agent_run.execute's options (stdlib/sidecar/agent/run_options.lua), declared once: the
-- sidecar.AgentRunOptions class above execute has one field for each known option, in order, and
-- docs/lua-api.md shows that class; an unknown option raises before anything runs, naming the
-- caller's line and the known options; the caller's table is never written, whatever execute
-- fills in (the defaults, the runner's config.lua settings); every call of execute the docs show
-- passes known options only.
local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local agent_run = require("sidecar.agent.run")
local option_keys = require("sidecar.core.option_keys")
local run_options = require("sidecar.agent.run_options")
local store = require("sidecar.core.store")

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local ROOT = here .. "../.."

local function read(path)
  return assert(require("sidecar.core.files").read(path))
end

-- A copy of `v` that shares nothing with it (functions aside).
local function deep_copy(v, seen)
  if type(v) ~= "table" then
    return v
  end
  seen = seen or {}
  if seen[v] then
    return seen[v]
  end
  local c = {}
  seen[v] = c
  for k, x in pairs(v) do
    c[deep_copy(k, seen)] = deep_copy(x, seen)
  end
  return setmetatable(c, getmetatable(v))
end

-- The error execute raises for `opts`, and the line of this file that called it.
local function refusal(opts)
  local line = debug.getinfo(1, "l").currentline + 1
  local ok, err = pcall(function() agent_run.execute(opts) end) -- not a tail call: this line calls it
  expect(ok):is_false()
  return err, line
end

local repo

test.before_each(function()
  repo = test.temp_dir()
  assert(os.execute("cd '" .. repo .. "' && git init -q -b main && git config user.email t@example.com && " ..
    "git config user.name T && echo a > a.txt && git add -A && git commit -qm init"))
end)
test.after_each(function()
  os.execute("rm -rf '" .. repo .. "'")
end)

describe("agent_run.execute's options", function()
  it("refuse an unknown one before anything runs, naming the caller's line, the likely one and the known ones", function()
    local err, line = refusal({ runner = "command", command = { "cat" }, promt = "x", repo = repo })
    expect(err.code):equals("bad_option")
    expect(tostring(err)):contains("run_options_spec.lua:" .. line .. ":")
    expect(err.message):contains("agent_run.execute: unknown option `promt` (did you mean `prompt`?)")
    expect(err.message):contains("(known: " .. table.concat(run_options.NAMES, ", ") .. ")")
    expect(io.open(repo .. "/.agent/sidecar.db")):is_nil() -- nothing recorded, nothing ran

    err = refusal({ runner = "command", command = { "cat" }, prompt = "x", repo = repo, timeout = 5000 })
    expect(err.message):contains("unknown option `timeout` (did you mean `timeout_ms`?)")
    err = refusal({ runner = "command", command = { "cat" }, prompt = "x", repo = repo, on_progress = print })
    expect(err.message):contains("unknown option `on_progress` (known: runner, prompt, ")
    err = refusal({ "cat", runner = "command", prompt = "x", repo = repo })
    expect(err.message):contains("unknown option `[1]` (known: ")
    expect(io.open(repo .. "/.agent/sidecar.db")):is_nil()
  end)

  it("are checked into a copy: the caller's table is not the one execute fills in", function()
    local o = { runner = "command", prompt = "x", env = { A = "1" } }
    local copy = run_options.check(o)
    expect(rawequal(copy, o)):is_false()
    expect(copy):equals(o)
    expect(option_keys.nearest("idle_timeout", run_options.NAMES)):equals("idle_timeout_ms")
    expect(option_keys.nearest("sandbx", run_options.NAMES)):equals("sandbox")
    expect(option_keys.nearest("colour", run_options.NAMES)):is_nil()
  end)

  it("are never written: a script's run with the config's runner settings and the defaults", function()
    os.execute("mkdir -p '" .. repo .. "/.agent'")
    local f = assert(io.open(repo .. "/.agent/config.lua", "w"))
    f:write('return { runners = { mine = { command = { "sh", "-c", "cat; echo; echo \\"$0\\"" }, args = { "cfg-arg" } } } }\n')
    f:close()
    local opts = { runner = "mine", prompt = "hi", repo = repo, record = { prepared = "x" } }
    local before = deep_copy(opts)
    local r = assert(agent_run.execute(opts))
    expect(r.status):equals("review")
    expect(r.output):equals("hi\ncfg-arg\n") -- the config's command and args applied, in execute's copy
    expect(opts):equals(before) -- no program, args, command, env, timeouts put in the caller's table
  end)

  it("are never written: a run with an open store and every kind of value", function()
    local s <close> = assert(store.open(repo .. "/.agent", { create = true }))
    local events, pid = 0, nil
    local opts = { runner = "command", command = { "cat" }, args = {}, prompt = "hello", repo = repo, store = s,
      env = { RO_CALLER = "1" }, record = { prepared = "x" }, timeout_ms = 60000, max_log_bytes = "1MiB",
      os_sandbox = "off", ephemeral = true, on_event = function() events = events + 1 end,
      on_spawn = function(p) pid = p end }
    local before = deep_copy(opts, { [s] = s }) -- the store is the caller's object, used by the run
    local env, record, command = opts.env, opts.record, opts.command
    local r = assert(agent_run.execute(opts))
    expect(r.status):equals("review")
    expect(r.output):equals("hello")
    expect(math.type(pid)):equals("integer")
    expect(opts):equals(before) -- idle_timeout_ms, exit_deadline_ms, kill_grace_ms stay unset here
    expect(rawequal(opts.env, env) and rawequal(opts.record, record) and rawequal(opts.command, command)):is_true()
    expect(opts.store):is(s)
  end)

  it("are declared once: the class's fields, in order, and the page made from it", function()
    local source = read(ROOT .. "/stdlib/sidecar/agent/run.lua")
    local block = assert(source:match("\n%-%-%-@class sidecar%.AgentRunOptions\n(.-)\n\n"), "the class in run.lua")
    local fields = {}
    for name in block:gmatch("%-%-%-@field ([%a_][%w_]*)") do
      fields[#fields + 1] = name
    end
    expect(fields):equals(run_options.NAMES)
    local page = read(ROOT .. "/docs/lua-api.md")
    local section = assert(page:match("\n### `sidecar%.AgentRunOptions` %(a table type%)\n(.-)\n### "),
      "the class on docs/lua-api.md")
    local shown = {}
    for name in section:gmatch("\n%- `([%a_][%w_]*)%??`") do
      shown[#shown + 1] = name
    end
    expect(shown):equals(run_options.NAMES)
  end)

  it("that the docs' calls of execute pass are known ones", function()
    local files = { ROOT .. "/README.md" }
    local ls = io.popen("ls '" .. ROOT .. "/docs/'*.md")
    for path in ls:lines() do
      files[#files + 1] = path
    end
    ls:close()
    local calls, keys = 0, {}
    for _, path in ipairs(files) do
      for call in read(path):gmatch("execute%s*(%b{})") do
        keys[#keys + 1] = { path = path, body = call }
      end
      for call in read(path):gmatch("execute%s*%((%b{})") do
        keys[#keys + 1] = { path = path, body = call }
      end
    end
    local unknown = {}
    for _, k in ipairs(keys) do
      calls = calls + 1
      local body = k.body:sub(2, -2):gsub('"[^"\n]*"', '""'):gsub("'[^'\n]*'", "''"):gsub("%-%-[^\n]*", "")
        :gsub("%b{}", "{}"):gsub("%b()", "()")
      local named = body:find("=", 1, true) ~= nil
      for part in (body .. ","):gmatch("([^,]*),") do
        local name = named and part:match("^%s*([%a_][%w_]*)%s*=") or (not named and part:match("^%s*([%a_][%w_]*)%s*$"))
        if name and not run_options.KNOWN[name] then
          unknown[#unknown + 1] = k.path:match("[^/]+$") .. ": " .. name
        end
      end
    end
    expect(calls >= 8):is_true() -- README's, lua-api's and the module's own examples
    expect(unknown):equals({})
  end)
end)
