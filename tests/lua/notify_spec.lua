-- Notification channels: the `notify` setting checked and read (stdlib/sidecar/core/notify_settings.lua),
-- and the dispatcher (stdlib/sidecar/run/notify.lua) choosing what to send: the events a channel
-- wants, a preset's and a pipeline's steps left to the whole, the same event of a run sent once, a
-- channel's rate, each left-out one recorded. tests/e2e/notify_test.sh sends them for real.
local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local json = require("sidecar.core.json")
local notify = require("sidecar.run.notify")
local notify_settings = require("sidecar.core.notify_settings")
local store = require("sidecar.core.store")

describe("the notify setting", function()
  it("keeps today's single command out of the channels", function()
    expect(notify_settings.is_channels("notify-send hi")):equals(false)
    expect(notify_settings.is_channels({ "notify-send", "hi" })):equals(false)
    expect(notify_settings.channels(true)):is_nil()
    expect(notify_settings.command({ notify = { "a", "b" } })[2]):equals("b")
    expect(notify_settings.command({ notify = { { kind = "desktop" } } })):is_nil()
  end)

  it("names the setting that is wrong", function()
    local cases = {
      { { { kind = "pager" } }, "notify%[1%]%.kind: expected one of command, desktop, ntfy, webhook" },
      { { { kind = "webhook", url = "http://x y" } }, "notify%[1%]%.url" },
      { { { kind = "ntfy", url = "file:///etc/passwd" } }, "notify%[1%]%.url" },
      { { { kind = "desktop" }, { kind = "webhook", url = "http://h", events = { "review", "nope" } } },
        "notify%[2%]%.events%[2%]: unknown event \"nope\"" },
      { { { kind = "webhook", url = "http://h", events = {} } }, "notify%[1%]%.events: expected a list" },
      { { { kind = "webhook", url = "http://h", format = "teams" } }, "notify%[1%]%.format" },
      { { { kind = "ntfy", url = "http://h", format = "slack" } }, "notify%[1%]%.format" },
      { { { kind = "webhook", url = "http://h", headers = { ["X-A"] = "a\r\nInjected: 1" } } },
        "notify%[1%]%.headers: the value of \"X%-A\" is not a string of one line %(it holds a line break or a NUL%)$" },
      { { { kind = "webhook", url = "http://h", headers = { ["X A"] = "a" } } }, "notify%[1%]%.headers: \"X A\" is not a header name" },
      { { { kind = "webhook", url = os.getenv("SIDECAR_NO_SUCH_VARIABLE") } },
        "notify%[1%]%.url: expected an http:// or https:// URL, got nil %(none: a variable it was read from" },
      { { { kind = "webhook", url = "http://h", rate = 0 } }, "notify%[1%]%.rate" },
      { { { kind = "webhook", url = "http://h", timeout = "forever" } }, "notify%[1%]%.timeout" },
      { { { kind = "command" } }, "notify%[1%]%.command: expected a command" },
      { { { kind = "command", command = { "a", 2 } } }, "notify%[1%]%.command%[2%]" },
      { { { kind = "desktop", colour = "red" } }, "notify%[1%]%.colour: unknown setting" },
      { { { kind = "desktop" }, "notify-send" }, "notify%[2%]: expected a channel table" },
      { { { kind = "desktop", name = "a" }, { kind = "ntfy", url = "http://h", name = "a" } },
        "notify%[2%]%.name: \"a\" names channel 1 too" },
      { { { kind = "webhook", url = "https://h/T0K3N-path\n" } }, "notify%[1%]%.url: .*, got one holding a space or a line break$" },
      { { { kind = "webhook", url = "http://:80/x" } }, "got one with no host" },
      { { { kind = "webhook", url = "http://u:p@h:0/x" } }, "port is not 1 to 65535" },
      { { { kind = "webhok", url = "http://h" } }, "notify%[1%]%.kind: .*got \"webhok\" %(did you mean webhook%?%)" },
      { { { kind = "desktop", url = "http://h" } }, "notify%[1%]%.url: a desktop channel has none" },
      { { { kind = "desktop", name = "" } }, "notify%[1%]%.name: expected a name" },
      { { { kind = "desktop", name = "2:desktop" } }, "notify%[1%]%.name: expected a name" },
      { { { kind = "desktop" }, [3] = { kind = "desktop" } }, "notify%[3%]: the list of channels has a gap" },
    }
    for _, c in ipairs(cases) do
      local ok, why = notify_settings.check("notify", c[1])
      expect(ok):is_nil()
      expect(why):matches(c[2])
    end
    expect(notify_settings.check("notify", { { kind = "webhook", url = "HTTPS://h:/x" } })):equals(true)
    expect(notify_settings.channels({ { kind = "webhook", url = "HTTPS://h/x" } })[1].url):equals("https://h/x")
    local _, near = notify_settings.check("notify", { { kind = "desktop", nme = "x" } })
    expect(near):contains("notify[1].nme: unknown setting (did you mean name?)")
    expect(notify_settings.check("notify", { { kind = "webhook", url = "http://[::1]:8080/x" },
      { kind = "ntfy", url = "https://user:pw@ntfy.sh/topic" } })):equals(true)
    expect(notify_settings.check("notify", { { kind = "webhook", url = "https://h/x?token=1", format = "slack",
      events = { "review" }, headers = { Authorization = "Bearer t" }, rate = 2, timeout = "3s", name = "team" } }))
      :equals(true)
  end)

  it("refuses one channel written without its list, and takes an empty list for none", function()
    local dir = test.temp_dir() .. "/.agent"
    test.write(dir .. "/config.lua", 'return { notify = { kind = "webhook", url = "http://127.0.0.1:9/x" } }\n')
    local cfg, why = require("sidecar.core.config").load(dir)
    expect(cfg):is_nil()
    expect(why):contains('notify: one channel written without the list around it: write notify = { { kind = '
      .. '"webhook", ... } } (a list of channels, even of one)')
    test.write(dir .. "/config.lua", "return { notify = {} }\n")
    cfg = assert(require("sidecar.core.config").load(dir))
    expect(notify_settings.command(cfg)):is_nil() -- not notify-send: nothing
    expect(require("sidecar.task.notices").run_ended(nil, { notify = { { kind = "desktop" } } }, { run_id = "R-1" },
      "auto")):equals(false) -- --notify auto with channels: they tell it, not notify-send besides
  end)

  it("reads channels with their defaults, each named without its URL's path", function()
    local list = notify_settings.channels({ { kind = "webhook", url = "https://user:pw@hooks.example/T0/secret" },
      { kind = "webhook", url = "https://hooks.example/T1/other", events = { "failed" }, headers = { B = "2", A = "1" } },
      { kind = "desktop", name = "mine" } })
    expect(#list):equals(3)
    expect(list[1].label):matches("^1:webhook:hooks%.example#%x%x%x%x%x%x%x%x$")
    expect(list[1].label:find("secret", 1, true)):is_nil()
    expect(list[1].label:find("pw", 1, true)):is_nil()
    expect(list[2].label):matches("^2:webhook:hooks%.example#")
    expect(list[1].label:sub(-8)):not_equals(list[2].label:sub(-8))
    expect(list[1].events.review and list[1].events.needs_input and list[1].events.unknown):equals(true)
    expect(list[1].events.completed):is_nil()
    expect(list[2].events.review):is_nil()
    expect(table.concat(list[2].headers, "|")):equals("A: 1|B: 2")
    expect(list[1].rate):equals(notify_settings.DEFAULT_RATE)
    expect(list[1].timeout_ms):equals(10000)
    expect(list[3].label):equals("mine")
  end)
end)

describe("the dispatcher", function()
  local repo, s
  test.before_each(function()
    repo = os.tmpname()
    os.remove(repo)
    os.execute("mkdir -p '" .. repo .. "/.agent'")
    s = assert(store.open(repo .. "/.agent", { create = true }))
  end)
  test.after_each(function()
    s:close()
    -- The senders started record their attempt in the store: the folder goes once they have ended.
    for _ = 1, 200 do
      if not os.execute("pgrep -f '[n]otify --deliver .* --root " .. repo .. "/' >/dev/null") then
        break
      end
      require("sidecar.host.time").sleep_ms(50)
    end
    os.execute("rm -rf '" .. repo .. "'")
  end)

  local function config(text)
    local f = assert(io.open(repo .. "/.agent/config.lua", "w"))
    f:write("return { notify = " .. text .. " }\n")
    f:close()
  end
  -- The values of a JSON Lines file under the repository ({} while it does not exist).
  local function jsonl(path)
    local out, f = {}, io.open(repo .. "/" .. path)
    for line in f and f:lines() or function() end do
      out[#out + 1] = json.decode(line)
    end
    if f then
      f:close()
    end
    return out
  end
  local function sent()
    local keys = {}
    for i, e in ipairs(jsonl(".agent/notify/sent.jsonl")) do
      keys[i] = e.key
    end
    return keys
  end
  local function events(run_id, kind)
    local out = {}
    for _, e in ipairs(jsonl(".agent/runs/" .. run_id .. "/events.jsonl")) do
      if e.kind == kind then
        out[#out + 1] = e.fields
      end
    end
    return out
  end

  it("tells the channels that want a run's end, once", function()
    config('{ { kind = "command", command = "true", name = "a" }, { kind = "command", command = "true", name = "b", events = { "failed" } } }')
    local run = assert(s:create_run({ status = "running", runner_type = "command" }))
    run.status = "review"
    expect(notify.run_ended(s, run)):equals(1)
    expect(notify.run_ended(s, run)):equals(0) -- the same end again: sent before
    expect(table.concat(sent(), " ")):equals("a|" .. run.run_id .. ":review@" .. run.created_at)
    expect(#events(run.run_id, "notify.skipped")):equals(0) -- sent before: nothing more to say
    run.status = "failed"
    expect(notify.run_ended(s, run)):equals(2)
  end)

  it("leaves a preset's and a pipeline's steps to the whole, and a dry run untold", function()
    config('{ { kind = "command", command = "true", name = "a", events = { "review", "stopped", "unknown" } } }')
    local run = assert(s:create_run({ status = "running" }))
    run.status = "review"
    run.preset = "four"
    expect(notify.run_ended(s, run)):equals(0)
    run.preset, run.pipeline_step, run.pipeline_total = nil, 1, 2 -- a pipeline's first step, before its id
    expect(notify.run_ended(s, run)):equals(0)
    run.pipeline_step, run.pipeline_total, run.status = nil, nil, "dry_run"
    expect(notify.run_ended(s, run)):equals(0)
    expect(#sent()):equals(0)
    expect(notify.whole(s, { kind = "preset", name = "four", id = run.run_id, status = "review", runs = { run.run_id } }))
      :equals(1)
    expect(sent()[1]):equals("a|preset:" .. run.run_id .. ":review@" .. run.created_at)
    -- a step whose end is the pipeline's too (its process stopped, or found dead): told, as nothing else will
    local step = assert(s:create_run({ status = "running" }))
    step.pipeline_step, step.pipeline_total, step.status = 2, 2, "interrupted"
    expect(notify.run_ended(s, step)):equals(1)
    step.status = "outcome_unknown" -- an agent that answered and would not exit: its pipeline goes on
    expect(notify.run_ended(s, step)):equals(0)
    step.reconciled_at = step.created_at -- found dead by a later command: nothing else will tell it
    expect(notify.run_ended(s, step)):equals(1)
  end)

  it("tells a preset's step found dead as the preset's end only once its process is gone, and that end once", function()
    config('{ { kind = "command", command = "true", name = "a", events = { "stopped", "unknown" } } }')
    local task = assert(s:create_task({ title = "four", status = "running" }))
    local step = assert(s:create_run({ status = "running", task_id = task.task_id }))
    local me = require("sidecar.host.procinfo").self()
    step.preset, step.preset_pid, step.preset_start = "four", me.pid, me.start
    step.status, step.reconciled_at = "outcome_unknown", step.created_at -- found dead by a later command
    expect(notify.run_ended(s, step)):equals(0) -- its preset (this process) goes on: told at its end
    step.preset_start = me.start + 1
    expect(notify.run_ended(s, step)):equals(1) -- another process now has its pid: gone
    expect(sent()[1]):equals("a|preset:" .. task.task_id .. "@" .. step.created_at)
    -- its workers' pool tells it too (stopped): once for the preset, whatever the event
    expect(notify.preset_ended(s, { name = "four", task_id = task.task_id, status = "interrupted" })):equals(0)
    step.preset_pid, step.preset_start = nil, nil -- recorded without its preset's process: never told as dead
    local other = assert(s:create_task({ title = "five", status = "running" }))
    step.task_id = other.task_id
    expect(notify.run_ended(s, step)):equals(0)
  end)

  it("reads a preset's runs for its end only when a channel wants that end", function()
    local task = assert(s:create_task({ title = "four", status = "running" }))
    assert(s:create_run({ status = "review", task_id = task.task_id }))
    local listed = 0
    s.list_runs = function(self, q) -- the store's own, counted (the instance's field comes first)
      listed = listed + 1
      return getmetatable(self).__index.list_runs(self, q)
    end
    local _ <close> = setmetatable({}, { __close = function() s.list_runs = nil end })
    expect(notify.preset_ended(s, { name = "four", task_id = task.task_id, status = "review" })):equals(0)
    expect(listed):equals(0) -- no channel at all
    config('{ { kind = "command", command = "true", name = "a", events = { "failed" } } }')
    expect(notify.preset_ended(s, { name = "four", task_id = task.task_id, status = "review" })):equals(0)
    expect(listed):equals(0) -- none wants "review"
    expect(notify.preset_ended(s, { name = "four", task_id = task.task_id, status = "failed" })):equals(1)
    expect(listed):equals(1)
    expect(sent()[1]):equals("a|preset:" .. task.task_id .. "@" .. s:list_runs({ task_id = task.task_id })[1].created_at)
  end)

  it("is not silenced by a sent.jsonl planted ahead (a clone's), nor slowed by a huge one", function()
    config('{ { kind = "command", command = "true", name = "a" } }')
    local run = assert(s:create_run({ status = "running", runner_type = "command" }))
    run.status = "review"
    local now = require("sidecar.host.time").wall_ms()
    local planted = {}
    for i = 1, 7 do -- the key without this store's stamp, lines from the future (over the rate if counted)
      -- and from last year
      planted[#planted + 1] = json.encode({ key = "a|" .. run.run_id .. ":review", channel = "a",
        at_ms = now - 7200000 })
      planted[#planted + 1] = json.encode({ key = "x" .. i, channel = "a", at_ms = now + 86400000 * i })
      planted[#planted + 1] = json.encode({ key = "a|" .. run.run_id .. ":review@" .. run.created_at, channel = "a",
        at_ms = now - 86400000 * 300 })
    end
    test.write(repo .. "/.agent/notify/sent.jsonl", table.concat(planted, "\n") .. "\n")
    expect(notify.run_ended(s, run)):equals(1)
    expect(#sent()):equals(8) -- the future and the old lines trimmed away, this one's added
    test.write(repo .. "/.agent/notify/sent.jsonl", ("x"):rep(notify.SENT_MAX_BYTES + 1))
    run.status = "failed"
    expect(notify.run_ended(s, run)):equals(1)
    expect(#sent()):equals(1) -- emptied unread, then this one's
  end)

  it("keeps each channel to its rate, recording what it left out", function()
    config('{ { kind = "command", command = "true", name = "slow", rate = 2 }, { kind = "command", command = "true", name = "fast" } }')
    local ids = {}
    for i = 1, 3 do
      local run = assert(s:create_run({ status = "running" }))
      run.status = "review"
      ids[i] = run.run_id
      notify.run_ended(s, run)
    end
    local per = {}
    for _, key in ipairs(sent()) do
      local channel = key:match("^(%w+)|")
      per[channel] = (per[channel] or 0) + 1
    end
    expect(per.slow):equals(2)
    expect(per.fast):equals(3)
    expect(events(ids[3], "notify.skipped")[1].why):equals("over its rate (2 a minute)")
    local logged = {}
    for _, e in ipairs(jsonl(".agent/notify/log.jsonl")) do
      logged[#logged + 1] = e.kind == "notify.skipped" and (e.run_id .. " " .. e.why) or nil
    end
    expect(table.concat(logged, "|")):equals(ids[3] .. " over its rate (2 a minute)") -- in the log too
  end)

  it("says nothing, and fails nothing, without channels or with a config that cannot run", function()
    local run = assert(s:create_run({ status = "running" }))
    run.status = "failed"
    expect(notify.run_ended(s, run)):equals(0)
    config('"notify-send"') -- today's single command: notices.lua's, not the channels'
    expect(notify.run_ended(s, run)):equals(0)
    config("{ { kind = } }") -- a syntax error
    expect(notify.run_ended(s, run)):equals(0)
  end)

  -- A command channel that writes the variable `name` of its notification to a file; returns a
  -- function waiting for that file's text (the detached sender runs the command at once; 10 s at most).
  local function told(name, events)
    local out = repo .. "/told.txt"
    config(('{ { kind = "command", command = %q, name = "a", events = { %q } } }'):format(
      'printf "%s" "$' .. name .. '" > ' .. out .. '.part && mv ' .. out .. '.part ' .. out, events))
    return function()
      for _ = 1, 200 do
        local f = io.open(out)
        if f then
          local text = f:read("a")
          f:close()
          return text
        end
        require("sidecar.host.time").sleep_ms(50)
      end
    end
  end

  it("hands a sender its message redacted and neutralised", function()
    local wait = told("SIDECAR_MESSAGE", "failed")
    local run = assert(s:create_run({ status = "running" }))
    run.status, run.failure_reason = "failed", "leaked ghp_0123456789abcdefghijklmnopqrstuvwxyzAB \27[31mred"
    expect(notify.run_ended(s, run)):equals(1)
    local text = wait()
    expect(text):contains(run.run_id .. " ended failed: leaked [REDACTED")
    expect(text:find("ghp_0123456789", 1, true)):is_nil()
    expect(text:find("\27", 1, true)):is_nil()
  end)

  it("marks what a sender starts as its own (what it leaves running, killed, is ended later)", function()
    local wait = told("SIDECAR_RUN_MARK", "review")
    expect(notify.whole(s, { kind = "pipeline", name = "P-1", id = "P-1", status = "review", runs = {} })):equals(1)
    local mark, pid, start = wait():match("^(.-)~(%d+)~(%d+)$")
    expect(mark):equals(notify.SENDER_MARK) -- the sender's own, as it was started with
    expect(tonumber(pid) ~= require("sidecar.host.procinfo").self().pid):is_true() -- the sender's pid, not ours
    expect(tonumber(start) > 0):is_true()
  end)

  it("gives a title of one line (a pipeline named by a task title holding newlines)", function()
    local wait = told("SIDECAR_TITLE", "review")
    expect(notify.whole(s, { kind = "pipeline", name = "P-1 (fix\nthe\tbug)", id = "P-1", status = "review",
      runs = {} })):equals(1)
    expect(wait()):equals("Sidecar: pipeline P-1 (fix the bug) review")
  end)
end)

describe("notify_deliver: a header's text", function()
  it("keeps printable ASCII, and writes anything else as an RFC 2047 word of its UTF-8", function()
    local header_text = require("sidecar.run.notify_deliver").header_text
    expect(header_text("Sidecar: R-0001 review")):equals("Sidecar: R-0001 review")
    expect(header_text("café 日本")):equals("=?UTF-8?B?Y2Fmw6kg5pel5pys?=")
    expect(header_text("é")):equals("=?UTF-8?B?w6k=?=") -- two bytes: one '='
    expect(header_text("\t")):equals("=?UTF-8?B?CQ==?=") -- one byte: two
  end)
end)
