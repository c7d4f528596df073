local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local config = require("sidecar.core.config")
local notices = require("sidecar.task.notices")
local store = require("sidecar.core.store")

local root, s
test.before_each(function()
  root = os.tmpname()
  os.remove(root)
  root = root .. "/.agent"
  s = assert(store.open(root, { create = true }))
end)
test.after_each(function()
  s:close()
  os.execute("rm -rf '" .. root:gsub("/%.agent$", "") .. "'")
end)

local function read(path)
  local f = io.open(path, "rb")
  local text = f and f:read("a")
  if f then f:close() end
  return text
end

describe("notices.send", function()
  it("runs the command once per event, with the run in its environment, never in its command line", function()
    local run = assert(s:create_run({ runner_type = "command", status = "review" }))
    local out = root .. "/told"
    local cmd = { "sh", "-c", 'printf "%s|%s|%s\\n" "$SIDECAR_RUN" "$SIDECAR_EVENT" "$SIDECAR_MESSAGE" >>"$0"', out }
    expect(notices.send(s, {}, run, "ended", "done; $(touch pwned) `x`", cmd)):equals(true)
    local again, why = notices.send(s, {}, run, "ended", "again", cmd)
    expect(again):equals(false)
    expect(why):equals("sent before")
    expect(read(out)):equals(run.run_id .. "|ended|done; $(touch pwned) `x`\n")
    expect(io.open("pwned") == nil):equals(true)
    expect(notices.send(s, {}, run, "stuck", "quiet", cmd)):equals(true) -- another event: its own notice
    expect(select(2, read(out):gsub("\n", ""))):equals(2)
  end)

  it("redacts the message it hands over", function()
    local run = assert(s:create_run({ runner_type = "command", status = "review" }))
    local out = root .. "/told"
    notices.send(s, {}, run, "ended", "key sk-proj-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", { "sh", "-c",
      'printf "%s" "$SIDECAR_MESSAGE" >"$0"', out })
    expect(read(out):find("sk-proj-", 1, true)):equals(nil)
  end)

  it("hands over a message without escapes: an agent's words cannot drive the terminal it is shown in", function()
    local run = assert(s:create_run({ runner_type = "command", status = "review" }))
    local out = root .. "/told"
    notices.send(s, {}, run, "ended", "done \27]0;PWNED\7\27[2J", { "sh", "-c", 'printf "%s" "$SIDECAR_MESSAGE" >"$0"', out })
    expect(read(out):find("\27", 1, true)):equals(nil)
    expect(read(out)):contains("done ")
  end)

  it("records a failing command and why, and raises nothing", function()
    local run = assert(s:create_run({ runner_type = "command", status = "failed" }))
    local ok, why = notices.send(s, {}, run, "ended", "x", "exit 4")
    expect(ok):equals(false)
    expect(why):matches("exit 4")
    expect(read(root .. "/runs/" .. run.run_id .. "/notices.jsonl")):matches('"ok":false')
  end)

  it("takes the config's notify when the run names none, a string for /bin/sh or a list", function()
    expect(notices.command({ notify = "echo hi" }, nil, "t", "m")):equals({ "/bin/sh", "-c", "echo hi" })
    expect(notices.command({ notify = { "my-notifier", "--quiet" } }, "auto", "t", "m")):equals({ "my-notifier", "--quiet" })
    expect(select(2, notices.command({ notify = { "x" } }, { "given" }, "t", "m"))):equals("command")
  end)
end)

describe("config notify", function()
  it("takes a string, a list or true, and says what else it could be", function()
    for _, good in ipairs({ '"notify-send hi"', '{ "a", "b" }', "true" }) do
      local dir = os.tmpname()
      os.remove(dir)
      os.execute("mkdir -p '" .. dir .. "/.agent'")
      local f = assert(io.open(dir .. "/.agent/config.lua", "w"))
      f:write("return { notify = " .. good .. " }\n")
      f:close()
      local cfg, why = config.load(dir .. "/.agent")
      expect(cfg ~= nil):equals(true)
      expect(why):equals(nil)
      f = assert(io.open(dir .. "/.agent/config.lua", "w"))
      f:write("return { notify = { 1 } }\n")
      f:close()
      cfg, why = config.load(dir .. "/.agent")
      expect(cfg):equals(nil)
      expect(why):matches("notify%[1%]: expected a string.*or true: notify%-send")
      os.execute("rm -rf '" .. dir .. "'")
    end
  end)
end)
