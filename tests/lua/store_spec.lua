local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local json = require("sidecar.core.json")
local paths = require("sidecar.host.paths")
local store = require("sidecar.core.store")
local store_repair = require("sidecar.task.repair")
local usage = require("sidecar.service.usage")
local cli_output = require("sidecar.cli.output")

local root
test.before_each(function()
  root = os.tmpname()
  os.remove(root)
  root = root .. "/.agent"
end)
test.after_each(function()
  os.execute("rm -rf '" .. root:gsub("/%.agent$", "") .. "'")
end)

local function read(path)
  local f = assert(io.open(path))
  local text = f:read("a")
  f:close()
  return text
end

local write = test.write

local function problems_of(report)
  local out = {}
  for _, p in ipairs(report.problems) do
    out[#out + 1] = p.id .. " " .. p.problem
  end
  return out
end

describe("store", function()
  it("creates tasks and runs with ids from the store and writes their JSON copies", function()
    local s <close> = assert(store.open(root, { create = true }))
    local task = assert(s:create_task({ title = "Fix the parser", summary = "s" }))
    expect(task.task_id):equals("T-0001")
    expect(task.status):equals("draft")
    expect(task.created_at):matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ$")
    local run = assert(s:create_run({ task_id = task.task_id, runner_type = "codex" }))
    expect(run.run_id):equals("R-0001")
    expect(run.status):equals("queued")
    expect(run.revision):equals(1)
    local copy = json.decode(read(root .. "/runs/R-0001/run.json"))
    expect(copy):equals(run)
    expect(read(root .. "/tasks/T-0001.json")):equals(json.encode(task, { indent = 2 }) .. "\n")

    run.status = "completed"
    run.usage = { input = 10, cached_input = json.null, output = 2, reasoning_output = json.null, total = 12 }
    assert(s:update_run(run))
    expect(run.revision):equals(2)
    expect(s:get_run("R-0001").status):equals("completed")
    expect(s:get_run("R-0001").revision):equals(2)
    expect(json.decode(read(root .. "/runs/R-0001/run.json")).usage.input):equals(10)
    assert(s:set_task_status("T-0001", "review"))
    expect(s:get_task("T-0001").status):equals("review")
    expect(json.decode(read(root .. "/tasks/T-0001.json")).status):equals("review")
    expect(#s:list_runs({ status = "completed" })):equals(1)
    expect(#s:list_tasks({ status = "draft" })):equals(0)
  end)

  it("keeps ids unique when a record cannot be encoded (the transaction rolls back)", function()
    local s <close> = assert(store.open(root, { create = true }))
    expect(function() s:create_run({ status = "queued", note = function() end }) end):raises("cannot encode a function value at $.note")
    local run = assert(s:create_run({ status = "queued" }))
    expect(run.run_id):equals("R-0001")
    expect(io.open(root .. "/runs/R-0002/run.json")):is_nil()
  end)

  it("raises on ill-typed columns and returns failures as data", function()
    local s <close> = assert(store.open(root, { create = true }))
    expect(function() s:create_run({ status = 3 }) end):raises("run.status must be a string")
    local run, message, code = s:get_run("R-0099")
    expect(run):is_nil()
    expect(code):equals("ENOENT")
    expect(message):contains("R-0099")
    run, message, code = s:create_run({ parent_run_id = "R-0042" })
    expect(run):is_nil()
    expect(code):equals("ENOENT")
    expect(message):contains("parent run R-0042")
    local none
    none, message, code = store.open(root .. "/nowhere")
    expect(none):is_nil()
    expect(code):equals("ENOENT")
    expect(message):contains("does not exist")
  end)

  it("redacts secrets from the store and the copies alike", function()
    local s <close> = assert(store.open(root, { create = true }))
    local key = "sk-proj-" .. string.rep("Zq7", 12)
    local run = assert(s:create_run({ summary = "leaked " .. key }))
    local stored = s:get_run(run.run_id)
    expect(stored.summary:find(key, 1, true)):is_nil()
    expect(stored.summary):contains("[REDACTED:openai-key]")
    expect(read(root .. "/runs/R-0001/run.json"):find(key, 1, true)):is_nil()
    expect(store_repair.check(root).ok):is_true()
  end)

  it("writes each copy from the text the store holds: redacted, at the store's revision", function()
    local s <close> = assert(store.open(root, { create = true }))
    local key = "sk-proj-" .. string.rep("Zq7", 12)
    local function copy()
      return json.decode(read(root .. "/runs/R-0001/run.json"))
    end
    local run = assert(s:create_run({ status = "preparing", summary = "leaked " .. key }, nil, { copy_later = true }))
    assert(s:write_copy("run", run.run_id, run)) -- unchanged since: the copy of revision 1
    expect(copy().revision):equals(1)
    expect(copy().summary):equals("leaked [REDACTED:openai-key]")
    run = assert(s:create_run({ status = "preparing" }, nil, { copy_later = true }))
    run.summary = "leaked again " .. key -- changed before its copy came: stored again, then copied
    assert(s:write_copy("run", run.run_id, run))
    local second = json.decode(read(root .. "/runs/R-0002/run.json"))
    expect(second.revision):equals(2)
    expect(second.summary):equals("leaked again [REDACTED:openai-key]")
    local stale = s:get_run("R-0001")
    assert(s:update_run(s:get_run("R-0001"))) -- another writer meanwhile: revision 2
    stale.status = "failed"
    assert(s:update_run(stale)) -- saved from revision 1: the store gives it 3, and so does its copy
    expect(s:get_run("R-0001").revision):equals(3)
    expect(copy().revision):equals(3)
    expect(copy().status):equals("failed")
    expect(read(root .. "/runs/R-0001/run.json"):find(key, 1, true)):is_nil()
    expect(store_repair.check(root).ok):is_true()
  end)

  it("links runs, keeps validation results and events", function()
    local s <close> = assert(store.open(root, { create = true }))
    local parent = assert(s:create_run({ status = "failed" }))
    local child = assert(s:create_run({ parent_run_id = parent.run_id, replay_reason = "flaky" }))
    expect(s:lineage(parent.run_id).children[1].child_run_id):equals(child.run_id)
    expect(s:lineage(child.run_id).parents[1].kind):equals("replay")
    expect(s:add_validation(child.run_id, { kind = "test", command = "make test", ok = true, duration_ms = 5 }))
      :equals(1)
    expect(s:validation(child.run_id)[1].command):equals("make test")
    expect(s:append_event(child.run_id, "note", { text = "hi" })):equals(1)
    expect(s:events(child.run_id)[1].fields.text):equals("hi")
  end)

  it("finds the nearest .agent folder above the current one", function()
    local top = root:gsub("/%.agent$", "")
    os.execute("mkdir -p '" .. top .. "/.agent' '" .. top .. "/a/b'")
    expect(store.find_root(top .. "/a/b")):equals(top .. "/a/b/../../.agent")
    expect(store.find_root("/")):equals("//.agent")
  end)

  it("makes a run's folder in its own runs/, never through a symbolic link planted there", function()
    local s <close> = assert(store.open(root, { create = true }))
    local dir = assert(s:run_dir("R-0001"))
    assert(dir:write("x.txt", "x\n"))
    expect(read(root .. "/runs/R-0001/x.txt")):equals("x\n")
    expect(s:run_dir("R-0001") ~= nil):is_true() -- there already: fine
    local outside = root:gsub("/%.agent$", "") .. "/outside"
    os.execute("mkdir -p '" .. outside .. "' && ln -s '" .. outside .. "' '" .. root .. "/runs/R-0002'")
    local none, why, code = s:run_dir("R-0002")
    expect(none):is_nil()
    expect(why):contains("symbolic link")
    expect(why):contains("remove it")
    expect(code):equals("ESYMLINK")
    -- Nor does a run's lock: taking it there would create worker.lock wherever the link points.
    local lock, lock_why, lock_code = require("sidecar.run.reconcile").try_lock(s, "R-0002")
    expect(lock):is_nil()
    expect(lock_why):contains("symbolic link")
    expect(lock_code):equals("ESYMLINK")
    local listing = io.popen("ls -A '" .. outside .. "'")
    expect(listing:read("a")):equals("")
    listing:close()
    expect(store.run_path(root, "R-0001", "worker.lock")):equals(root .. "/runs/R-0001/worker.lock")
  end)

  it("opens no store in a folder that is none (`--root` given the repository or any folder): nothing made there", function()
    local top = root:gsub("/%.agent$", "")
    os.execute("mkdir -p '" .. top .. "/plain' '" .. top .. "/repo/.agent' '" .. top .. "/clone/.agent'")
    local none, why, code = store.open(top .. "/plain")
    expect(none):is_nil()
    expect(why):equals("no Sidecar store at " .. top .. "/plain: the folder holds no sidecar.db nor config.lua, and is no "
      .. ".agent folder")
    expect(code):equals("ENOENT")
    expect(io.popen("ls -A '" .. top .. "/plain'"):read("a")):equals("")
    none, why = store.open(top .. "/repo")
    expect(none):is_nil()
    expect(why):contains("(did you mean " .. top .. "/repo/.agent?)")
    -- a clone's .agent holds its config and presets, never its database: a store all the same
    os.execute("mv '" .. top .. "/clone/.agent' '" .. top .. "/clone/store' && touch '" .. top .. "/clone/store/config.lua'")
    assert(store.open(top .. "/clone/store")):close()
    assert(store.open(top .. "/repo/.agent")):close()
  end)

  it("makes a new run's folder new: one there before (a clone's, with links and a FIFO) is moved aside whole", function()
    local top = root:gsub("/%.agent$", "")
    write(top .. "/victim", "precious\n")
    write(root .. "/runs/R-0001/output.md", "planted answer\n")
    os.execute("ln -s '" .. top .. "/victim' '" .. root .. "/runs/R-0001/stdout.log' && mkfifo '" .. root
      .. "/runs/R-0001/events.jsonl'")
    local s <close> = assert(store.open(root, { create = true }))
    local run = assert(s:create_run({ status = "running" }, { { "prompt.md", "hi\n" } }))
    expect(run.run_id):equals("R-0001")
    local listing = io.popen("ls -A '" .. root .. "/runs/R-0001'")
    expect(listing:read("a")):equals("prompt.md\nrun.json\n")
    listing:close()
    listing = io.popen("ls -A '" .. root .. "/runs-aside/'*")
    expect(listing:read("a")):equals("events.jsonl\noutput.md\nstdout.log\n")
    listing:close()
    expect(read(top .. "/victim")):equals("precious\n")
    -- a later run's folder, not there before, is simply made
    expect(assert(s:create_run({ status = "running" }, nil, { copy_later = true })).run_id):equals("R-0002")
    expect(paths.lstat(root .. "/runs/R-0002").kind):equals("directory")
    -- a folder that cannot be moved aside (runs-aside is a file a clone committed): the run is
    -- refused, and its row ends failed saying why, not left running with nothing behind it
    os.execute("rm -rf '" .. root .. "/runs-aside'")
    write(root .. "/runs-aside", "planted\n")
    write(root .. "/runs/R-0003/x", "planted\n")
    local none, why = s:create_run({ status = "running" })
    expect(none):is_nil()
    expect(why):contains("runs/R-0003 was there before run R-0003 was made, and cannot be moved aside")
    local row = assert(s:get_run("R-0003"))
    expect(row.status):equals("failed")
    expect(row.failure_reason):contains("cannot be moved aside")
  end)

  it("opens no store that is, or holds where it writes, a symbolic link: nothing written through it", function()
    local top = root:gsub("/%.agent$", "")
    local outside = top .. "/outside"
    os.execute("mkdir -p '" .. outside .. "' && ln -s '" .. outside .. "' '" .. root .. "'")
    local none, why, code = store.open(root, { create = true })
    expect(none):is_nil()
    expect(why):contains(root .. " is a symbolic link (to " .. outside .. ")")
    expect(why):contains("remove the link and run `sidecar init` there")
    expect(code):equals("ESYMLINK")
    os.remove(root)
    for _, entry in ipairs({ "sidecar.db", "sidecar.db-wal", "runs", "runs-aside", "tasks", "sessions", "worktrees",
      "notify", "otel", "acp", "ui" }) do
      os.execute("rm -rf '" .. root .. "' && mkdir -p '" .. root .. "' && ln -s '" .. outside .. "/" .. entry .. "' '"
        .. root .. "/" .. entry .. "'")
      none, why, code = store.open(root, { create = true })
      expect(none):is_nil()
      expect(why):contains(root .. "/" .. entry .. " is a symbolic link (to a path that does not exist)")
      expect(why):contains("remove the link (Sidecar makes it itself)")
      expect(code):equals("ESYMLINK")
      expect(store.planted_link(root)):equals(why)
    end
    local listing = io.popen("ls -A '" .. outside .. "'")
    expect(listing:read("a")):equals("")
    listing:close()
    os.execute("rm -rf '" .. root .. "'")
    expect(store.planted_link(root)):is_nil()
    local s <close> = assert(store.open(root, { create = true }))
    expect(store.planted_link(root)):is_nil()
  end)
end)

describe("store check and rebuild", function()
  local function seeded()
    local s = assert(store.open(root, { create = true }))
    assert(s:create_task({ title = "t" }))
    for i = 1, 4 do
      assert(s:create_run({ task_id = "T-0001", status = "completed", runner_type = i % 2 == 0 and "codex" or "claude" }))
    end
    s:close()
  end

  it("agree on a store written through the facade", function()
    seeded()
    local report = assert(store_repair.check(root))
    expect(report.ok):is_true()
    expect(report.runs):equals({ store = 4, copies = 4 })
    expect(report.tasks):equals({ store = 1, copies = 1 })
    expect(report.integrity):equals("ok")
  end)

  it("report each kind of disagreement, then rebuild from the newer of store and copy", function()
    seeded()
    local r2 = root .. "/runs/R-0002/run.json"
    write(r2, (read(r2):gsub('"completed"', '"failed"')))
    os.remove(root .. "/runs/R-0003/run.json")
    write(root .. "/runs/R-0009/run.json", '{"run_id":"R-0009","status":"review","created_at":"2026-01-01T00:00:00Z"}')
    write(root .. "/runs/R-0010/run.json", "{broken")
    write(root .. "/runs/R-0011/run.json", '{"run_id":"R-0012"}')
    write(root .. "/runs/oops/run.json", "{}")
    write(root .. "/runs/R-0001/events.jsonl",
      '{"fields":{"n":1},"kind":"start","seq":1,"ts":"2026-01-01T00:00:00.000Z"}\n{"fields":{},"kind":"end","seq":2,"ts":"x"}\n')

    local report = assert(store_repair.check(root))
    expect(report.ok):is_false()
    -- R-0002's copy says revision 1, as the store does, with another status: a conflict.
    expect(problems_of(report)):equals({ "oops conflict", "R-0002 conflict", "R-0003 missing_copy",
      "R-0009 copy_ahead", "R-0010 conflict", "R-0011 conflict" })
    expect(report.problems[2].detail):contains("status")
    expect(report.counts):equals({ missing_copy = 1, stale_copy = 0, copy_ahead = 1, conflict = 4, unfinished_decision = 0,
      leftover_temp = 0 })
    expect(report.repaired):equals(0)

    local rebuilt = assert(store_repair.rebuild(root))
    expect(rebuilt.runs):equals(5) -- 1, 4, 9 from copies; 2 (in conflict) and 3 kept from the store
    expect(rebuilt.copies_written):equals({ "R-0003" })
    expect(rebuilt.events):equals(2)
    expect(problems_of(rebuilt)):equals({ "oops conflict", "R-0002 conflict", "R-0010 conflict", "R-0011 conflict" })

    local s <close> = assert(store.open(root))
    expect(s:get_run("R-0002").status):equals("completed")
    expect(s:get_run("R-0009").status):equals("review")
    expect(json.decode(read(root .. "/runs/R-0003/run.json")).run_id):equals("R-0003")
    expect(s:events("R-0001")[2].kind):equals("end")
    -- A new run never reuses a number a copy holds.
    expect(assert(s:create_run({})).run_id):equals("R-0010")
    os.execute("rm -rf '" .. root .. "/runs/R-0010' '" .. root .. "/runs/R-0011' '" .. root .. "/runs/oops'")
    expect(problems_of(assert(store_repair.check(root)))):equals({ "R-0002 conflict", "R-0010 missing_copy" })
  end)

  it("move a corrupt database aside and rebuild a new one", function()
    seeded()
    os.remove(root .. "/sidecar.db-wal")
    os.remove(root .. "/sidecar.db-shm")
    write(root .. "/sidecar.db", string.rep("not a database ", 100))
    local none, _, code = store_repair.check(root)
    expect(none):is_nil()
    expect(code):equals("ENOTDB")
    local report = assert(store_repair.rebuild(root))
    expect(report.moved_aside):matches("sidecar%.db%.broken%-%d+%-%d+$")
    expect(read(report.moved_aside)):contains("not a database")
    expect(report.runs):equals(4)
    expect(assert(store_repair.check(root)).ok):is_true()
  end)
end)

describe("usage", function()
  it("reads --since and --until forms and refuses others with what is accepted", function()
    local now = os.time({ year = 2026, month = 11, day = 21, hour = 12, min = 0, sec = 0, isdst = false })
    local offset = os.time(os.date("!*t", now)) - now -- os.time reads local time
    now = now - offset
    expect(usage.parse_when("7d", now)):equals("2026-11-14T12:00:00Z")
    expect(usage.parse_when("90m", now)):equals("2026-11-21T10:30:00Z")
    expect(usage.parse_when("2026-11-01", now)):equals("2026-11-01T00:00:00Z")
    expect(usage.parse_when("2026-11-01T09:30:00Z", now)):equals("2026-11-01T09:30:00Z")
    for _, bad in ipairs({ "yesterday", "7", "2026-13-01", "2026-11-01 09:30", "-3d" }) do
      local when, message = usage.parse_when(bad, now)
      expect(when):is_nil()
      expect(message):contains("90m, 24h, 7d, 2w")
    end
  end)

  it("totals usage by group through the store", function()
    local s <close> = assert(store.open(root, { create = true }))
    assert(s:create_run({ runner_type = "codex", usage = { input = 7, output = 1, total = 8 } }))
    assert(s:create_run({ runner_type = "codex", usage = { input = 3, output = json.null } }))
    local rows = assert(s:usage({ group_by = "runner" }))
    expect(#rows):equals(1)
    expect(rows[1].input):equals({ sum = 10, reported = 2 })
    expect(rows[1].output):equals({ sum = 1, reported = 1 })
    -- A figure no run reports (an imported record's, say) is unknown: no total overflows.
    assert(s:create_run({ runner_type = "codex", usage = { input = math.maxinteger, output = -4 }, cost_usd = 1e308 }))
    assert(s:create_run({ runner_type = "codex", usage = { input = math.maxinteger }, cost_usd = 0.5 }))
    rows = assert(s:usage({ group_by = "runner" }))
    expect(rows[1].input):equals({ sum = 10, reported = 2 })
    expect(rows[1].output):equals({ sum = 1, reported = 1 })
    expect(rows[1].cost_usd):equals({ sum = 0.5, reported = 1 })
  end)
end)

describe("cli_output", function()
  it("aligns tables and quotes CSV", function()
    expect(cli_output.table({ "A", "N" }, { { "long name", "1" }, { "b", "100" } }, { [2] = true }))
      :equals("A            N\nlong name    1\nb          100\n")
    -- a title with a line break stays on its row: it cannot make a row that passes for another's
    expect(cli_output.table({ "ID", "TITLE" }, { { "T-1", "fix\nT-2  forged\tx" } }))
      :equals("ID   TITLE\nT-1  fix T-2  forged x\n")
    expect(cli_output.csv({ "a", "b", "c" }, { { "x,y", 'say "hi"', nil }, { 1, nil, 3 } }))
      :equals('a,b,c\r\n"x,y","say ""hi""",\r\n1,,3\r\n')
    expect(cli_output.thousands(1234567)):equals("1,234,567")
    expect(cli_output.thousands(999)):equals("999")
  end)
end)
