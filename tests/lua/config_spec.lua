-- stdlib/sidecar/core/config.lua: what a config may say about runners, and what it refuses to read.
local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local config = require("sidecar.core.config")

local root

test.before_each(function()
  root = os.tmpname()
  os.remove(root)
  assert(os.execute("mkdir -p '" .. root .. "'"))
end)

test.after_each(function()
  os.execute("rm -rf '" .. root .. "'")
  config.load(root) -- no config there: the default secret rules again
end)

local function load_with(text)
  local f = assert(io.open(root .. "/config.lua", "w"))
  f:write(text)
  f:close()
  return config.load(root)
end

describe("config: runners", function()
  it("names a runner's event dialect only among Sidecar's own: the name becomes a require", function()
    expect(load_with('return { runners = { mine = { command = { "x" }, dialect = "claude" } } }').runners.mine.dialect)
      :equals("claude")
    local cfg, why = load_with('return { runners = { mine = { command = { "x" }, dialect = "plain" } } }')
    expect(cfg):is_nil()
    expect(why):contains('runners.mine.dialect: expected "codex" or "claude"')
  end)

  it("refuses a runner name that could not be registered, saying what a name may hold", function()
    local cfg, why = load_with('return { runners = { ["my runner"] = { command = { "x" } } } }')
    expect(cfg):is_nil()
    expect(why):contains('runners["my runner"]: a runner\'s name is letters, digits')
  end)
end)

describe("config: agents at once", function()
  it("takes 1 to 1024 agents, and shows a wrong value as it was written", function()
    expect(load_with("return { max_agents = 1024, max_agents_per_runner = { claude = 3 } }").max_agents):equals(1024)
    for _, c in ipairs({ { "100000", "got 100000" }, { "0", "got 0" }, { '"8"', 'got "8"' }, { "{}", "got a table" },
      { "1e9", "got 1e+09" }, { "1.5", "got 1.5" } }) do
      local cfg, why = load_with("return { max_agents = " .. c[1] .. " }")
      expect(cfg):is_nil()
      expect(why):contains("max_agents: expected a whole number of agents from 1 to 1024, " .. c[2])
    end
    local cfg, why = load_with("return { max_agents_per_runner = { claude = 2000 } }")
    expect(cfg):is_nil()
    expect(why):contains("max_agents_per_runner.claude: expected a whole number of agents from 1 to 1024, got 2000")
  end)
end)

describe("config: the file itself", function()
  it("is read only as a regular file: a FIFO or a device is an error naming it, never a hang", function()
    assert(os.execute("mkfifo '" .. root .. "/config.lua'"))
    local cfg, why, code = config.load(root)
    expect(cfg):is_nil()
    expect(code):equals("bad_config")
    expect(why):contains("config.lua: not a regular file")
    os.remove(root .. "/config.lua")
    assert(os.execute("ln -s /dev/zero '" .. root .. "/config.lua'"))
    cfg, why = config.load(root)
    expect(cfg):is_nil()
    expect(why):contains("not a regular file")
  end)

  it("follows a link to a regular file, as a user's dotfiles do", function()
    local f = assert(io.open(root .. "/real.lua", "w"))
    f:write('return { runner = "claude" }')
    f:close()
    assert(os.execute("ln -s '" .. root .. "/real.lua' '" .. root .. "/config.lua'"))
    expect(config.load(root).runner):equals("claude")
  end)
end)
