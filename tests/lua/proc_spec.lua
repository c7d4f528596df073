local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect

local proc = require("sidecar.core.proc")
local errors = require("sidecar.core.errors")
local time = require("sidecar.host.time")

-- Milliseconds since `t0` (a monotonic_ns reading).
local function elapsed_ms(t0)
  return (time.monotonic_ns() - t0) / 1e6
end

-- "in range" when lo <= value < hi, else a text that shows the value, for
-- expect(in_range(v, lo, hi)):equals("in range"), so a failure names the spec line and the value.
local function in_range(value, lo, hi)
  if type(value) == "number" and value >= lo and value < hi then
    return "in range"
  end
  return ("%s is not in [%s, %s)"):format(tostring(value), lo, hi)
end

-- The children these tests stop sleep 30 s: a process that ends in less than half of that was
-- stopped, not waited out, however busy the machine is. (Upper time bounds are that generous;
-- lower bounds, which a slow machine cannot break, stay exact.)
local NATURAL_END_MS = 30000
local WELL_BEFORE_END_MS = NATURAL_END_MS // 2

-- The error a function raises (the test fails when it raises none).
local function error_of(fn) return expect(fn):raises() end

-- Temporary files made by a test, removed after it.
local temp_files = {}

local function temp_path()
  local path = os.tmpname()
  temp_files[#temp_files + 1] = path
  return path
end

test.after_each(function()
  collectgarbage() -- the 50 MB strings must not make later forks slow
  for _, path in ipairs(temp_files) do
    os.remove(path)
  end
  temp_files = {}
end)

local function read_file(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("a")
  f:close()
  return text
end

local function write_file(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

-- True while `pid` is a live process (a zombie counts as gone).
local function alive(pid)
  local f = io.open("/proc/" .. pid .. "/stat")
  if not f then
    return false
  end
  local stat = f:read("a") or ""
  f:close()
  local state = stat:match("%) (%a)")
  return state ~= nil and state ~= "Z"
end

-- The states (ps STAT) of the live, non-zombie members of session/group `pgid`.
local function live_group_members(pgid)
  local p = assert(io.popen("ps -o stat= -g " .. pgid .. " 2>/dev/null"))
  local text = p:read("a")
  p:close()
  local live = {}
  for stat in text:gmatch("%S+") do
    if stat:sub(1, 1) ~= "Z" then
      live[#live + 1] = stat
    end
  end
  return live
end

-- Open descriptors of this Sidecar process, as "fd -> target" lines. `ls /proc/self/fd` in a popen
-- would list the fds of `ls` itself (ours are close-on-exec, so it would never see a leak): name our
-- own pid. The popen's own pipe is left out: for a moment after the spawn Sidecar still holds both
-- of its ends, which would make the count differ by one now and then.
local own_pid = read_file("/proc/self/stat"):match("^%d+")
local function open_fds()
  local p = assert(io.popen('own=$(readlink /proc/$$/fd/1); for f in /proc/' .. own_pid .. '/fd/*; do '
    .. 'l=$(readlink "$f") || continue; [ "$l" = "$own" ] || echo "${f##*/} -> $l"; done'))
  local text = p:read("a")
  p:close()
  local fds = {}
  for line in text:gmatch("[^\n]+") do
    fds[#fds + 1] = line
  end
  table.sort(fds)
  return fds
end

-- Lets every process of the loop end (a test that left one running must not disturb the next).
local function drain_loop()
  local t0 = time.monotonic_ns()
  while proc.poll(50) > 0 and elapsed_ms(t0) < 5000 do
  end
end

describe("proc.run", function()
  it("collects stdout and stderr and reports code, ok, pid, cmd, name and duration", function()
    local cmd = { "sh", "-c", "echo out; echo err >&2" }
    local r = proc.run(cmd, { name = "greeting" })
    expect(r.stdout):equals("out\n")
    expect(r.stderr):equals("err\n")
    expect(r.code):equals(0)
    expect(r.ok):is_true()
    expect(r.signal):is_nil()
    expect(r.signal_name):is_nil()
    expect(r.timed_out):is_false()
    expect(r.timeout_reason):is_nil()
    expect(r.truncated):is_false()
    expect(r.stdout_bytes):equals(4)
    expect(r.stderr_bytes):equals(4)
    expect(r.pid):has_type("integer")
    expect(r.pid > 0):is_true()
    expect(r.cmd):equals(cmd)
    expect(rawequal(r.cmd, cmd)):is_false() -- a copy: changing cmd later leaves the result alone
    expect(r.name):equals("greeting")
    expect(r.duration_ms):has_type("number")
    expect(r.duration_ms >= 0):is_true()
    expect(r.error):is_nil()
  end)

  it("closes a handle that ended before its end was dispatched; waits on others go on", function()
    -- A pool's process that died, closed with the pool before anyone waited on it: its end, still
    -- queued, goes with it rather than failing the next wait on another process.
    local a = proc.spawn({ "true" })
    local b = proc.spawn({ "sh", "-c", "sleep 0.2; echo b" })
    for _ = 1, 200 do
      if not a:running() then
        break
      end
      require("sidecar.host.time").sleep_ms(10)
    end
    expect(a:running()):is_false()
    a:close()
    local r = b:wait()
    expect(r.ok):is_true()
    expect(r.stdout):equals("b\n")
  end)

  it("poll returns at once with the callbacks of what running() had read, not after its wait", function()
    -- A pool's last result line, read by running() and not yet handed on, kept a preset's
    -- Pool:wait(1000) waiting a second for nothing more to come.
    drain_loop() -- no other process's event to end the poll
    local lines = {}
    local h = proc.spawn({ "sh", "-c", "echo ready; sleep 5" }, { stdout = { on_line = function(l)
      lines[#lines + 1] = l
    end } })
    time.sleep_ms(300) -- the line is in the pipe
    for _ = 1, 3 do
      expect(h:running()):is_true() -- reads it, hands nothing on
    end
    local t0 = time.monotonic_ns()
    while #lines == 0 and elapsed_ms(t0) < 4000 do -- (a line that came late is waited for)
      proc.poll(math.max(0, 4000 - math.floor(elapsed_ms(t0))))
    end
    local waited = elapsed_ms(t0)
    expect(lines):equals({ "ready" })
    expect(waited < 3000):is_true() -- it waited for the sleep to end before: 4 s
    h:close()
  end)

  it("lets an interrupt that lands while a process starts go on up as the interrupt it is", function()
    -- Made a bad_option error, a SIGTERM during a pool's check of sandbox-init was swallowed by
    -- the check's pcall (errors.is_interrupt did not know it), and the pool read its input on.
    local host_proc = require("sidecar.host.proc")
    local spawn = host_proc.spawn
    host_proc.spawn = function() error("interrupted! stopped 1 child process", 0) end
    local ok, err = pcall(proc.run, { "true" })
    host_proc.spawn = spawn
    expect(ok):is_false()
    expect(err):equals("interrupted! stopped 1 child process")
    expect(require("sidecar.core.errors").is_interrupt(err)):is_true()
  end)

  it("has no name when none is given", function()
    local r = proc.run({ "true" })
    expect(r.name):is_nil()
    expect(r.ok):is_true()
  end)

  it("returns a non-zero exit as data, not as an error", function()
    local r = proc.run({ "sh", "-c", "echo partial; exit 3" })
    expect(r.code):equals(3)
    expect(r.ok):is_false()
    expect(r.stdout):equals("partial\n")
    expect(r.signal):is_nil()
    expect(r.timed_out):is_false()
  end)

  it("reports a process ended by SIGTERM with code nil and the signal", function()
    local r = proc.run({ "sh", "-c", "kill -TERM $$; sleep 5" })
    expect(r.code):is_nil()
    expect(r.signal):equals(15)
    expect(r.signal_name):equals("TERM")
    expect(r.ok):is_false()
    expect(r.killed):is_false() -- Sidecar did not end it
    expect(r.stopped):is_false()
  end)

  it("reports a process ended by SIGKILL with code nil and the signal", function()
    local r = proc.run({ "sh", "-c", "kill -KILL $$; sleep 5" })
    expect(r.code):is_nil()
    expect(r.signal):equals(9)
    expect(r.signal_name):equals("KILL")
    expect(r.ok):is_false()
  end)

  it("accepts numbers as arguments", function()
    local r = proc.run({ "echo", 1, 2.5 })
    expect(r.stdout):equals("1 2.5\n")
  end)
end)

describe("spawn failures", function()
  it("raise a spawn_failed error naming the program and the PATH searched", function()
    local cmd = { "sidecar-no-such-program-xyz", "arg" }
    local err = error_of(function()
      proc.run(cmd)
    end)
    expect(errors.is(err, "spawn_failed")):is_true()
    expect(err.message):contains("sidecar-no-such-program-xyz")
    expect(err.message):contains("not found in PATH")
    expect(err.message):contains(os.getenv("PATH"))
    expect(err.errno):equals("ENOENT")
    expect(err.cmd):equals(cmd)
  end)

  it("search the PATH the child would get", function()
    local err = error_of(function()
      proc.run({ "sidecar-no-such-program-xyz" }, { env = { PATH = "/nowhere/a:/nowhere/b" } })
    end)
    expect(errors.is(err, "spawn_failed")):is_true()
    expect(err.message):contains("(/nowhere/a:/nowhere/b)")
  end)

  it("name a missing absolute program with ENOENT", function()
    local err = error_of(function()
      proc.run({ "/nonexistent/dir/prog" })
    end)
    expect(errors.is(err, "spawn_failed")):is_true()
    expect(err.message):contains("/nonexistent/dir/prog")
    expect(err.errno):equals("ENOENT")
  end)

  it("give EACCES for a file that is not executable", function()
    local path = temp_path()
    write_file(path, "#!/bin/sh\necho hi\n")
    os.execute("chmod 644 " .. path)
    local err = error_of(function()
      proc.run({ path })
    end)
    expect(errors.is(err, "spawn_failed")):is_true()
    expect(err.errno):equals("EACCES")
    expect(err.message):contains(path)
    expect(err.message):contains("not executable")
  end)

  it("give EACCES for a directory", function()
    local err = error_of(function()
      proc.run({ "/tmp" })
    end)
    expect(errors.is(err, "spawn_failed")):is_true()
    expect(err.errno):equals("EACCES")
    expect(err.message):contains("directory")
  end)

  it("include a missing working directory", function()
    local err = error_of(function()
      proc.run({ "echo", "x" }, { cwd = "/nonexistent-sidecar-dir" })
    end)
    expect(errors.is(err, "spawn_failed")):is_true()
    expect(err.message):contains("/nonexistent-sidecar-dir")
    expect(err.message):contains("does not exist")
  end)

  -- Regression: errno was once read after a stat() that succeeded, so after a failed PATH
  -- search (ENOENT) a cwd that is a regular file was reported as "does not exist".
  it("name a working directory that is a file as not a directory", function()
    pcall(proc.run, { "sidecar-no-such-program-xyz" }) -- leaves errno = ENOENT
    local err = error_of(function()
      proc.run({ "echo", "x" }, { cwd = "/etc/passwd" })
    end)
    expect(errors.is(err, "spawn_failed")):is_true()
    expect(err.message):contains("/etc/passwd")
    expect(err.message):contains("is not a directory")
  end)

  it("include an output file that cannot be opened", function()
    local err = error_of(function()
      proc.run({ "echo", "x" }, { stdout = "/nonexistent-sidecar-dir/out.txt" })
    end)
    expect(errors.is(err, "spawn_failed")):is_true()
    expect(err.message):contains("/nonexistent-sidecar-dir/out.txt")
    expect(err.errno):equals("ENOENT")
  end)

  it("refuse an output file that is a symbolic link or a FIFO, writing nothing through it", function()
    local dir = test.temp_dir()
    test.write(dir .. "/victim", "precious\n")
    os.execute("ln -s '" .. dir .. "/victim' '" .. dir .. "/log' && mkfifo '" .. dir .. "/fifo'")
    local err = error_of(function()
      proc.run({ "echo", "x" }, { stdout = { file = dir .. "/log" } })
    end)
    expect(errors.is(err, "spawn_failed")):is_true()
    expect(err.message):contains(dir .. "/log: it is a symbolic link")
    err = error_of(function() -- no reader: refused at once, not waited on
      proc.run({ "echo", "x" }, { stderr = { file = dir .. "/fifo" } })
    end)
    expect(errors.is(err, "spawn_failed")):is_true()
    err = error_of(function() -- a bounded log, opened to read and write: a FIFO would open, and then fill
      proc.run({ "echo", "x" }, { stdout = { file = dir .. "/fifo", max_bytes = 1000000 } })
    end)
    expect(err.message):contains(dir .. "/fifo: it is not a regular file")
    local f = assert(io.open(dir .. "/victim"))
    expect(f:read("a")):equals("precious\n")
    f:close()
  end)

  it("raise from proc.spawn too", function()
    local err = error_of(function()
      proc.spawn({ "sidecar-no-such-program-xyz" })
    end)
    expect(errors.is(err, "spawn_failed")):is_true()
    expect(err.errno):equals("ENOENT")
  end)
end)

describe("stdin", function()
  it("is /dev/null by default: cat ends on its own with no output", function()
    -- A cat on an open pipe would wait for its input until the timeout stopped it.
    local r = proc.run({ "cat" }, { timeout_ms = NATURAL_END_MS })
    expect(r.stdout):equals("")
    expect(r.code):equals(0)
    expect(r.timed_out):is_false()
  end)

  it("feeds a string and closes it", function()
    local r = proc.run({ "cat" }, { stdin = "hello\nworld" })
    expect(r.stdout):equals("hello\nworld")
    expect(r.ok):is_true()
  end)

  it("feeds a large string while the output is collected", function()
    local data = string.rep("0123456789abcdef", 256 * 1024) -- 4 MiB, more than any pipe buffer
    local r = proc.run({ "cat" }, { stdin = data, timeout_ms = 10000 })
    expect(r.timed_out):is_false()
    expect(#r.stdout):equals(#data)
    expect(r.stdout == data):is_true()
  end)

  it("streams handle:write pieces and handle:write(nil) sends EOF", function()
    local h <close> = proc.spawn({ "cat" }, { stdin = true, timeout_ms = 5000 })
    expect(h:write("abc")):is_true()
    expect(h:write("def\n")):is_true()
    expect(h:write("")):is_true()
    expect(h:write(nil)):is_true()
    local r = h:wait()
    expect(r.stdout):equals("abcdef\n")
    expect(r.code):equals(0)
    expect(r.timed_out):is_false()
  end)

  it("refuses writes after EOF", function()
    local h <close> = proc.spawn({ "cat" }, { stdin = true, timeout_ms = 5000 })
    expect(h:write(nil)):is_true()
    local ok, message = h:write("late")
    expect(ok):is_nil()
    expect(message):contains("closed")
    ok, message = h:write(nil)
    expect(ok):is_nil()
    expect(message):contains("closed")
    expect(h:wait().stdout):equals("")
  end)

  it("takes 50 MB through handle:write in 1 MB pieces without deadlocking", function()
    local piece = string.rep("0123456789abcdef", 65536) -- 1 MiB
    local h <close> = proc.spawn({ "cat" }, { stdin = true, timeout_ms = 15000 })
    for _ = 1, 50 do
      local ok, message = h:write(piece)
      expect(message):is_nil()
      expect(ok):is_true()
    end
    expect(h:write(nil)):is_true()
    local r = h:wait()
    expect(r.timed_out):is_false()
    expect(r.code):equals(0)
    expect(r.stdout_bytes):equals(50 * #piece)
    expect(#r.stdout):equals(50 * #piece)
    expect(r.stdout == string.rep(piece, 50)):is_true()
  end)

  it("write on a handle without stdin = true returns nil and a message", function()
    local h <close> = proc.spawn({ "sleep", "5" })
    local ok, message = h:write("x")
    expect(ok):is_nil()
    expect(message):has_type("string")
    expect(message):contains("stdin = true")
    ok, message = h:write(nil)
    expect(ok):is_nil()
    expect(message):has_type("string")
  end)

  it("stdin = false is /dev/null too", function()
    local r = proc.run({ "cat" }, { stdin = false, timeout_ms = 3000 })
    expect(r.stdout):equals("")
    expect(r.timed_out):is_false()
  end)
end)

describe("env and cwd", function()
  it("adds a variable", function()
    local r = proc.run({ "sh", "-c", 'printf %s "$SIDECAR_SPEC_VAR"' }, { env = { SIDECAR_SPEC_VAR = "hello there" } })
    expect(r.stdout):equals("hello there")
  end)

  it("takes numbers as values", function()
    local r = proc.run({ "sh", "-c", 'printf %s "$N"' }, { env = { N = 42 } })
    expect(r.stdout):equals("42")
  end)

  it("overrides a variable of the parent", function()
    expect(os.getenv("HOME")):exists()
    local r = proc.run({ "sh", "-c", 'printf %s "$HOME"' }, { env = { HOME = "/elsewhere" } })
    expect(r.stdout):equals("/elsewhere")
  end)

  it("keeps the parent's variables otherwise", function()
    local r = proc.run({ "sh", "-c", 'printf %s "$HOME"' }, { env = { OTHER = "1" } })
    expect(r.stdout):equals(os.getenv("HOME"))
  end)

  it("removes a variable set to false", function()
    local r = proc.run({ "sh", "-c", 'printf %s "${HOME-unset}"' }, { env = { HOME = false } })
    expect(r.stdout):equals("unset")
  end)

  it("gives an empty environment with clear_env", function()
    local r = proc.run({ "/usr/bin/env" }, { clear_env = true })
    expect(r.stdout):equals("")
    expect(r.ok):is_true()
  end)

  it("gives only the listed variables with clear_env and env", function()
    local r = proc.run({ "/usr/bin/env" }, { clear_env = true, env = { ONLY = "this" } })
    expect(r.stdout):equals("ONLY=this\n")
  end)

  it("runs in cwd", function()
    expect(proc.run({ "pwd" }, { cwd = "/" }).stdout):equals("/\n")
    expect(proc.run({ "pwd" }, { cwd = "/usr/bin" }).stdout):equals("/usr/bin\n")
  end)
end)

describe("output sinks", function()
  it("false discards: no stdout or stderr in the result, bytes still counted", function()
    local r = proc.run({ "sh", "-c", "echo out; echo err >&2" }, { stdout = false, stderr = false })
    expect(r.stdout):is_nil()
    expect(r.stderr):is_nil()
    expect(r.ok):is_true()
  end)

  it("discarding one stream keeps the other", function()
    local r = proc.run({ "sh", "-c", "echo out; echo err >&2" }, { stderr = false })
    expect(r.stdout):equals("out\n")
    expect(r.stderr):is_nil()
  end)

  it("true and {} collect", function()
    local r = proc.run({ "sh", "-c", "echo out; echo err >&2" }, { stdout = true, stderr = {} })
    expect(r.stdout):equals("out\n")
    expect(r.stderr):equals("err\n")
  end)

  it("a file path writes the stream into the file and does not collect it", function()
    local out, err = temp_path(), temp_path()
    local r = proc.run({ "sh", "-c", "echo out; echo err >&2" }, { stdout = out, stderr = err })
    expect(r.stdout):is_nil()
    expect(r.stderr):is_nil()
    expect(r.stdout_bytes):equals(4)
    expect(read_file(out)):equals("out\n")
    expect(read_file(err)):equals("err\n")
  end)

  it("a file path truncates an existing file", function()
    local out = temp_path()
    write_file(out, "old content that is longer\n")
    proc.run({ "echo", "new" }, { stdout = out })
    expect(read_file(out)):equals("new\n")
  end)

  it("a function gets every chunk, and the chunks add up to the output", function()
    local expected = proc.run({ "seq", "1", "30000" }).stdout
    local chunks = {}
    local r = proc.run({ "seq", "1", "30000" }, {
      stdout = function(chunk)
        chunks[#chunks + 1] = chunk
      end,
    })
    expect(r.stdout):is_nil()
    expect(#chunks > 0):is_true()
    expect(table.concat(chunks)):equals(expected)
    expect(r.stdout_bytes):equals(#expected)
  end)

  it("a function works for stderr", function()
    local chunks = {}
    local r = proc.run({ "sh", "-c", "echo oops >&2" }, {
      stderr = function(chunk)
        chunks[#chunks + 1] = chunk
      end,
    })
    expect(r.stderr):is_nil()
    expect(table.concat(chunks)):equals("oops\n")
  end)

  it("on_line gets lines without the newline, and the last partial line", function()
    local lines = {}
    local r = proc.run({ "printf", "a\\nbb\\n\\nccc" }, {
      stdout = {
        on_line = function(line)
          lines[#lines + 1] = line
        end,
      },
    })
    expect(lines):equals({ "a", "bb", "", "ccc" })
    expect(r.stdout):is_nil()
  end)

  it("on_line with collect = true also collects", function()
    local lines = {}
    local r = proc.run({ "printf", "x\\ny\\n" }, {
      stdout = {
        collect = true,
        on_line = function(line)
          lines[#lines + 1] = line
        end,
      },
    })
    expect(lines):equals({ "x", "y" })
    expect(r.stdout):equals("x\ny\n")
  end)

  it("on_line sees lines split across many chunks whole", function()
    local lines = {}
    proc.run({ "seq", "1", "20000" }, {
      stdout = {
        on_line = function(line)
          lines[#lines + 1] = line
        end,
      },
    })
    expect(#lines):equals(20000)
    for i = 1, #lines do
      if lines[i] ~= tostring(i) then
        expect(lines[i]):equals(tostring(i))
      end
    end
  end)

  it("{file =, collect = true} writes the file and collects", function()
    local out = temp_path()
    local r = proc.run({ "echo", "both" }, { stdout = { file = out, collect = true } })
    expect(r.stdout):equals("both\n")
    expect(read_file(out)):equals("both\n")
  end)

  it("{file =, append = true} appends to the file", function()
    local out = temp_path()
    write_file(out, "first\n")
    local r = proc.run({ "echo", "second" }, { stdout = { file = out, append = true } })
    expect(r.stdout):is_nil()
    proc.run({ "echo", "third" }, { stdout = { file = out, append = true } })
    expect(read_file(out)):equals("first\nsecond\nthird\n")
  end)

  -- A file-only sink is the child's own stdout; the count is its growth from the size it had
  -- before the spawn (read after, a fast writer could already have written: a race no test
  -- can force, found by bench_proc's check of this count).
  it("counts exactly what a fast writer put into a file-only sink, appended or not", function()
    local src, out = temp_path(), temp_path()
    write_file(src, string.rep("z", 20 * 1000 * 1000))
    for _ = 1, 3 do
      local r = proc.run({ "cat", src }, { stdout = out })
      expect(r.stdout_bytes):equals(20 * 1000 * 1000)
      r = proc.run({ "cat", src }, { stdout = { file = out, append = true } })
      expect(r.stdout_bytes):equals(20 * 1000 * 1000)
      expect(#read_file(out)):equals(40 * 1000 * 1000)
    end
  end)

  it("{on_chunk =} gets chunks", function()
    local chunks = {}
    local r = proc.run({ "echo", "chunky" }, {
      stdout = {
        on_chunk = function(c)
          chunks[#chunks + 1] = c
        end,
      },
    })
    expect(table.concat(chunks)):equals("chunky\n")
    expect(r.stdout):is_nil()
  end)
end)

describe("timeouts", function()
  it("timeout_ms ends the process after the wall time", function()
    local t0 = time.monotonic_ns()
    local r = proc.run({ "sleep", "30" }, { timeout_ms = 300 })
    local wall = elapsed_ms(t0)
    expect(r.timed_out):is_true()
    expect(r.timeout_reason):equals("wall")
    expect(r.ok):is_false()
    expect(r.stopped):is_true()
    expect(r.killed):is_false()
    expect(r.signal_name):equals("TERM")
    expect(r.code):is_nil()
    -- Not before the limit, and long before the sleep's own end. The loop's clock counts whole
    -- milliseconds, so the timer may fire a fraction of a millisecond before 300 ms have passed
    -- on the nanosecond clock: the lower bound allows 1 ms.
    expect(in_range(r.duration_ms, 299, WELL_BEFORE_END_MS)):equals("in range")
    expect(in_range(wall, 299, WELL_BEFORE_END_MS)):equals("in range")
  end)

  it("a process that ends in time is not timed out", function()
    local r = proc.run({ "echo", "quick" }, { timeout_ms = 5000 })
    expect(r.timed_out):is_false()
    expect(r.timeout_reason):is_nil()
    expect(r.ok):is_true()
  end)

  it("idle_timeout_ms restarts with every chunk of output", function()
    -- A line every 0.1 s fifteen times (at least 1.4 s), then silence, under a 1 s idle limit:
    -- a clock that did not restart would stop it before the last lines. The gaps are a tenth of
    -- the limit, so a busy machine does not make one look idle. It ends no sooner than 1 s after
    -- the last line (so at 2.4 s at the earliest), long before the sleep's own end.
    local r = proc.run({ "sh", "-c", "for i in $(seq 15); do echo $i; sleep 0.1; done; sleep 30" },
      { idle_timeout_ms = 1000 })
    expect(r.timed_out):is_true()
    expect(r.timeout_reason):equals("idle")
    expect(r.stdout):equals(proc.run({ "seq", "15" }).stdout)
    expect(in_range(r.duration_ms, 1400 + 999, WELL_BEFORE_END_MS)):equals("in range")
  end)

  it("idle_timeout_ms works when the output is discarded", function()
    local r = proc.run({ "sleep", "30" }, { idle_timeout_ms = 200, stdout = false, stderr = false })
    expect(r.timed_out):is_true()
    expect(r.timeout_reason):equals("idle")
    expect(in_range(r.duration_ms, 199, WELL_BEFORE_END_MS)):equals("in range")
  end)

  it("a child that ignores SIGTERM is killed after kill_grace_ms", function()
    local t0 = time.monotonic_ns()
    local r = proc.run({ "sh", "-c", "trap '' TERM; sleep 30" }, { timeout_ms = 100, kill_grace_ms = 200 })
    expect(r.timed_out):is_true()
    expect(r.stopped):is_true()
    expect(r.killed):is_true()
    expect(r.signal):equals(9)
    expect(r.signal_name):equals("KILL")
    -- 100 ms + 200 ms of grace, not the 30 s sleep
    expect(in_range(r.duration_ms, 299, WELL_BEFORE_END_MS)):equals("in range")
    expect(in_range(elapsed_ms(t0), 299, WELL_BEFORE_END_MS)):equals("in range")
  end)
end)

describe("process groups", function()
  it("a grandchild holding the pipes does not hold up run, and the group is ended", function()
    local t0 = time.monotonic_ns()
    local r = proc.run({ "sh", "-c", "sleep 30 & echo started" })
    expect(in_range(elapsed_ms(t0), 0, WELL_BEFORE_END_MS)):equals("in range")
    expect(r.stdout):equals("started\n")
    expect(r.code):equals(0)
    expect(r.descendants_killed):is_true()
    expect(live_group_members(r.pid)):equals({})
  end)

  it("a timeout ends the grandchildren too", function()
    -- "ready" once both sleeps are forked; the timeout comes later (a generous 3 s, so that a busy
    -- machine still shows the three of them first).
    local ready = false
    local h <close> = proc.spawn({ "sh", "-c", "sleep 30 & sleep 30 & echo ready; wait" }, { timeout_ms = 3000,
      stdout = { on_line = function() ready = true end } })
    while not ready and h:running() do
      h:wait(10)
    end
    expect(ready):is_true()
    expect(#live_group_members(h:pid())):equals(3) -- sh and both sleeps: the check sees them
    local r = h:wait()
    expect(r.timed_out):is_true()
    expect(live_group_members(r.pid)):equals({})
  end)
end)

describe("max_output", function()
  it("keeps the tail and sets truncated; stdout_bytes counts everything", function()
    local full = proc.run({ "seq", "1", "10000" }).stdout
    local r = proc.run({ "seq", "1", "10000" }, { max_output = 100 })
    expect(r.truncated):is_true()
    expect(#r.stdout):equals(100)
    expect(r.stdout):equals(full:sub(-100))
    expect(r.stdout_bytes):equals(#full)
  end)

  it("applies to stderr too", function()
    local r = proc.run({ "sh", "-c", "seq 1 10000 >&2" }, { max_output = 10 })
    expect(r.truncated):is_true()
    expect(r.stderr):equals("999\n10000\n")
    expect(r.stderr_bytes):equals(48894)
  end)

  it("is not truncated when the output fits", function()
    local r = proc.run({ "seq", "1", "100" }, { max_output = 100000 })
    expect(r.truncated):is_false()
    expect(#r.stdout):equals(r.stdout_bytes)
  end)
end)

describe("a sink's max_bytes (a bounded log file)", function()
  local function read(path)
    local f = assert(io.open(path, "rb"))
    local text = f:read("a")
    f:close()
    return text
  end

  it("keeps the file's head and tail with a marker; on_chunk and the counts see every byte", function()
    local full = proc.run({ "seq", "1", "20000" }).stdout
    local path, seen = temp_path(), {}
    local r = proc.run({ "seq", "1", "20000" }, { stdout = { file = path, max_bytes = 1001, redact = true,
      on_chunk = function(c) seen[#seen + 1] = c end } })
    expect(table.concat(seen)):equals(full)
    expect(r.stdout_bytes):equals(#full)
    expect(r.stdout_log):equals({ max_bytes = 1001, seen = #full, kept = 1001, dropped = #full - 1001,
      truncated = true })
    expect(read(path)):equals(full:sub(1, 500) .. "\n[sidecar: " .. (#full - 1001) ..
      " bytes dropped here: the log passed max_log_bytes = 1001 bytes]\n" .. full:sub(-501))
  end)

  it("leaves a log within its bound as it was written", function()
    local path = temp_path()
    local r = proc.run({ "seq", "1", "100" }, { stdout = { file = path, max_bytes = 1 << 20 } })
    expect(read(path)):equals(proc.run({ "seq", "1", "100" }).stdout)
    expect(r.stdout_log.truncated):is_false()
    expect(r.stdout_log.kept):equals(r.stdout_log.seen)
  end)

  it("is a whole number of bytes and bounds a file", function()
    expect(error_of(function()
      proc.run({ "true" }, { stdout = { file = temp_path(), max_bytes = 1.5 } })
    end).message):contains("option 'stdout.max_bytes' must be a whole number of bytes >= 0, got 1.5")
    expect(error_of(function()
      proc.run({ "true" }, { stderr = { collect = true, max_bytes = 10 } })
    end).message):contains("option 'stderr.max_bytes' bounds a file: give 'stderr.file' too")
  end)

  it("collected output is bounded by default (proc.MAX_OUTPUT): its tail is kept", function()
    local saved = proc.MAX_OUTPUT
    proc.MAX_OUTPUT = 1000
    local ok, r = pcall(proc.run, { "seq", "1", "10000" })
    proc.MAX_OUTPUT = saved
    assert(ok, r)
    expect(r.truncated):is_true()
    expect(#r.stdout):equals(1000)
    expect(proc.run({ "seq", "1", "10000" }, { max_output = 0 }).truncated):is_false() -- 0: no bound
    expect(saved):equals(256 * 1024 * 1024)
  end)
end)

describe("pty", function()
  it("gives the program a terminal and captures its output", function()
    local script = "test -t 1 && echo tty || echo notty"
    local plain = proc.run({ "sh", "-c", script })
    expect(plain.stdout):equals("notty\n")
    local r = proc.run({ "sh", "-c", script }, { pty = true, timeout_ms = 5000 })
    expect(r.stdout):matches("^tty\r?\n$")
    expect(r.code):equals(0)
    expect(r.stderr):is_nil() -- the terminal carries both streams
  end)

  it("sets the terminal size from {cols =, rows =}", function()
    local r = proc.run({ "stty", "size" }, { pty = { cols = 100, rows = 30 }, timeout_ms = 5000 })
    expect(r.stdout):matches("^30 100\r?\n$")
  end)

  it("carries stderr on the same terminal", function()
    local r = proc.run({ "sh", "-c", "echo err >&2" }, { pty = true, timeout_ms = 5000 })
    expect(r.stdout):matches("^err\r?\n$")
  end)
end)

describe("proc.spawn handles", function()
  it("wait(ms) returns nil, 'timeout' and leaves the process running; kill() ends it with TERM", function()
    local h <close> = proc.spawn({ "sleep", "10" })
    local r, why = h:wait(50)
    expect(r):is_nil()
    expect(why):equals("timeout")
    expect(h:running()):is_true()
    expect(alive(h:pid())):is_true()
    expect(h:kill()):is_true()
    r = h:wait()
    expect(r.signal):equals(15)
    expect(r.signal_name):equals("TERM")
    expect(r.code):is_nil()
    expect(r.stopped):is_true()
    expect(r.killed):is_false()
    expect(r.timed_out):is_false()
    expect(h:running()):is_false()
  end)

  it("wait(0) only looks", function()
    local h <close> = proc.spawn({ "sleep", "30" })
    local t0 = time.monotonic_ns()
    local r, why = h:wait(0)
    expect(r):is_nil()
    expect(why):equals("timeout")
    expect(in_range(elapsed_ms(t0), 0, WELL_BEFORE_END_MS)):equals("in range") -- not a wait for the end
    expect(h:running()):is_true()
  end)

  it("wait returns the same result table every time", function()
    local h <close> = proc.spawn({ "echo", "again" })
    local r1 = h:wait()
    local r2 = h:wait(10)
    expect(r2):is(r1)
    expect(r1.stdout):equals("again\n")
  end)

  it("kill('KILL'), kill('SIGKILL') and kill(9) end it with SIGKILL", function()
    for _, sig in ipairs({ "KILL", "SIGKILL", 9 }) do
      local h <close> = proc.spawn({ "sleep", "10" })
      expect(h:kill(sig)):is_true()
      local r = h:wait()
      expect(r.signal):equals(9)
      expect(r.signal_name):equals("KILL")
      expect(r.killed):is_true()
    end
  end)

  it("kill('TERM') and kill('SIGINT') send that signal", function()
    local h <close> = proc.spawn({ "sleep", "10" })
    expect(h:kill("TERM")):is_true()
    expect(h:wait().signal_name):equals("TERM")
    local h2 <close> = proc.spawn({ "sleep", "10" })
    expect(h2:kill("SIGINT")):is_true()
    local r = h2:wait()
    expect(r.signal):equals(2)
    expect(r.signal_name):equals("INT")
  end)

  it("kill on a finished process returns false", function()
    local h <close> = proc.spawn({ "true" })
    h:wait()
    expect(h:kill()):is_false()
    expect(h:kill("KILL")):is_false()
  end)

  it("kill with an unknown signal raises", function()
    local h <close> = proc.spawn({ "sleep", "10" })
    expect(function()
      h:kill("NOPE")
    end):raises("unknown signal 'NOPE'")
    expect(function()
      h:kill(0)
    end):raises("not a signal number")
    expect(function()
      h:kill(99)
    end):raises("not a signal number")
    expect(h:running()):is_true()
  end)

  it("pid() is the integer pid of the result", function()
    local h <close> = proc.spawn({ "echo" })
    local pid = h:pid()
    expect(pid):has_type("integer")
    expect(pid > 0):is_true()
    expect(h:wait().pid):equals(pid)
  end)

  it("on_exit receives the result, the same table wait returns", function()
    local got, calls = nil, 0
    local h <close> = proc.spawn({ "echo", "bye" }, nil, function(result)
      got = result
      calls = calls + 1
    end)
    local r = h:wait()
    expect(calls):equals(1)
    expect(got):is(r)
    expect(got.stdout):equals("bye\n")
    h:wait()
    expect(calls):equals(1)
  end)

  it("<close> on a running handle stops the process", function()
    local pid
    local t0 = time.monotonic_ns()
    do
      local h <close> = proc.spawn({ "sleep", "30" })
      pid = h:pid()
      expect(alive(pid)):is_true()
    end
    expect(alive(pid)):is_false()
    expect(os.execute("kill -0 " .. pid .. " 2>/dev/null")):is_nil()
    expect(in_range(elapsed_ms(t0), 0, WELL_BEFORE_END_MS)):equals("in range")
  end)

  it("a closed handle raises 'closed' and close twice is harmless", function()
    local h = proc.spawn({ "sleep", "10" })
    h:close()
    h:close()
    expect(function()
      h:wait()
    end):raises("closed")
    expect(function()
      h:pid()
    end):raises("closed")
    expect(function()
      h:kill()
    end):raises("closed")
    expect(function()
      h:write("x")
    end):raises("closed")
    expect(function()
      h:running()
    end):raises("closed")
    expect(tostring(h)):contains("closed")
  end)

  it("tostring mentions the pid and the state", function()
    local h <close> = proc.spawn({ "sleep", "10" })
    local pid = h:pid()
    expect(tostring(h)):contains("pid " .. pid)
    expect(tostring(h)):contains("running")
    h:kill("KILL")
    h:wait()
    expect(tostring(h)):contains("finished")
  end)

  it("running() turns false without a wait", function()
    local h <close> = proc.spawn({ "true" })
    local t0 = time.monotonic_ns()
    while h:running() and elapsed_ms(t0) < NATURAL_END_MS do
      os.execute("sleep 0.01")
    end
    expect(h:running()):is_false()
    expect(h:wait().code):equals(0)
  end)
end)

describe("proc.wait_any", function()
  it("returns the first handle to finish and its index", function()
    local a <close> = proc.spawn({ "sleep", "10" })
    local b <close> = proc.spawn({ "sh", "-c", "sleep 0.05; echo b" })
    local c <close> = proc.spawn({ "sleep", "10" })
    local h, i = proc.wait_any({ a, b, c })
    expect(h):is(b)
    expect(i):equals(2)
    expect(h:wait().stdout):equals("b\n")
  end)

  it("returns nil, 'timeout' after ms when none finished", function()
    local a <close> = proc.spawn({ "sleep", "30" })
    local b <close> = proc.spawn({ "sleep", "30" })
    local t0 = time.monotonic_ns()
    local h, why = proc.wait_any({ a, b }, 100)
    expect(h):is_nil()
    expect(why):equals("timeout")
    -- at least 100 ms (the clock counts whole ms), and not a wait for either to end
    expect(in_range(elapsed_ms(t0), 99, WELL_BEFORE_END_MS)):equals("in range")
    expect(a:running()):is_true()
  end)

  it("returns a handle that already finished at once", function()
    local a <close> = proc.spawn({ "sleep", "10" })
    local b <close> = proc.spawn({ "true" })
    b:wait()
    local h, i = proc.wait_any({ a, b }, 0)
    expect(h):is(b)
    expect(i):equals(2)
  end)

  it("raises for an empty list, a closed handle or something else", function()
    expect(function()
      proc.wait_any({})
    end):raises("no handles")
    local h = proc.spawn({ "true" })
    h:close()
    expect(function()
      proc.wait_any({ h })
    end):raises("closed")
    expect(function()
      proc.wait_any({ "x" })
    end):raises("not a process handle")
  end)
end)

describe("proc.parallel", function()
  it("runs 200 commands 16 at a time, in input order, without leaking descriptors", function()
    local specs = {}
    for i = 1, 200 do
      specs[i] = { "echo", tostring(i) }
    end
    local before = open_fds()
    local results, all_ok = proc.parallel(specs, { max_jobs = 16 })
    local after = open_fds()
    expect(all_ok):is_true()
    expect(#results):equals(200)
    for i = 1, 200 do
      if results[i].stdout ~= i .. "\n" or not results[i].ok then
        expect(results[i].stdout):equals(i .. "\n")
        expect(results[i].ok):is_true()
      end
    end
    expect(#before > 3):is_true() -- the listing works: at least stdin, stdout and stderr
    expect(#after):equals(#before)
    expect(after):equals(before) -- the same descriptors, to show which one differs
    expect(proc.poll(0)):equals(0)
  end)

  it("takes {cmd =, options} specs and argv specs with named options", function()
    local results, all_ok = proc.parallel({
      { cmd = { "sh", "-c", "echo a; exit 2" }, timeout_ms = 5000 },
      { "echo", "hi", name = "x" },
      { cmd = { "sleep", "10" }, timeout_ms = 100 },
    })
    expect(all_ok):is_false()
    expect(results[1].code):equals(2)
    expect(results[1].stdout):equals("a\n")
    expect(results[1].cmd):equals({ "sh", "-c", "echo a; exit 2" })
    expect(results[2].ok):is_true()
    expect(results[2].name):equals("x")
    expect(results[2].stdout):equals("hi\n")
    expect(results[2].cmd):equals({ "echo", "hi" })
    expect(results[3].timed_out):is_true()
    expect(results[3].timeout_reason):equals("wall")
  end)

  it("calls a spec's on_exit", function()
    local seen = {}
    local results = proc.parallel({
      { "echo", "one", on_exit = function(r) seen[#seen + 1] = r end },
    })
    expect(#seen):equals(1)
    expect(seen[1]):is(results[1])
  end)

  it("gives a spec that cannot start {ok = false, error =} without raising", function()
    local results, all_ok = proc.parallel({
      { "sidecar-no-such-program-xyz" },
      { "echo", "fine" },
    })
    expect(all_ok):is_false()
    expect(results[1].ok):is_false()
    expect(results[1].error):has_type("string")
    expect(results[1].error):contains("sidecar-no-such-program-xyz")
    expect(results[1].errno):equals("ENOENT")
    expect(results[1].cmd):equals({ "sidecar-no-such-program-xyz" })
    expect(results[2].ok):is_true()
    expect(results[2].stdout):equals("fine\n")
  end)

  it("with fail_fast, the first failure stops the running ones and skips the rest", function()
    local t0 = time.monotonic_ns()
    local results, all_ok = proc.parallel({
      { "sleep", "30" },
      { "sh", "-c", "sleep 0.1; exit 1" },
      { "echo", "never" },
      { "echo", "never" },
    }, { fail_fast = true, max_jobs = 2 })
    expect(in_range(elapsed_ms(t0), 0, WELL_BEFORE_END_MS)):equals("in range")
    expect(all_ok):is_false()
    expect(results[2].code):equals(1)
    expect(results[2].cancelled):is_nil()
    expect(results[1].cancelled):is_true()
    expect(results[1].ok):is_false()
    expect(results[1].signal_name):equals("TERM")
    expect(results[3]):equals({ cmd = { "echo", "never" }, ok = false, skipped = true })
    expect(results[4].skipped):is_true()
    expect(proc.poll(0)):equals(0)
  end)

  -- Regression: a spec that could not start once stopped new starts but left the running ones
  -- to their natural end, marked cancelled although nothing cancelled them.
  it("with fail_fast, a spec that cannot start also stops the running ones", function()
    local t0 = time.monotonic_ns()
    local results, all_ok = proc.parallel({
      { "sleep", "30" },
      { "sidecar-no-such-program-xyz" },
      { "echo", "never" },
    }, { fail_fast = true })
    local wall = elapsed_ms(t0)
    expect(all_ok):is_false()
    expect(results[2].ok):is_false()
    expect(results[2].errno):equals("ENOENT")
    expect(results[3].skipped):is_true()
    expect(results[1].cancelled):is_true()
    expect(results[1].signal_name):equals("TERM")
    expect(in_range(wall, 0, WELL_BEFORE_END_MS)):equals("in range") -- stopped, not after the 30 s sleep
  end)

  it("runs max_jobs at a time: 100 x sleep 0.2 with 50 jobs, never more than 50 at once", function()
    -- Each job logs "+" as it starts and "-" before it ends, so the log's running count never
    -- exceeds how many ran at once, whatever the machine's speed.
    local log = temp_path()
    local specs = {}
    for i = 1, 100 do
      specs[i] = { "sh", "-c", "echo + >> \"$0\"; sleep 0.2; echo - >> \"$0\"", log }
    end
    local t0 = time.monotonic_ns()
    local results, all_ok = proc.parallel(specs, { max_jobs = 50 })
    local wall = elapsed_ms(t0)
    expect(all_ok):is_true()
    expect(#results):equals(100)
    local running, most = 0, 0
    for mark in read_file(log):gmatch("[+-]") do
      running = running + (mark == "+" and 1 or -1)
      most = math.max(most, running)
    end
    expect(running):equals(0)
    expect(in_range(most, 2, 51)):equals("in range") -- side by side, and never more than max_jobs
    expect(wall >= 400):is_true() -- at least two rounds of 0.2 s
  end)

  it("returns an empty list for no specs", function()
    local results, all_ok = proc.parallel({})
    expect(results):equals({})
    expect(all_ok):is_true()
  end)

  it("rejects a bad max_jobs or an unknown option", function()
    for _, bad in ipairs({ 0, -1, 1.5, "4" }) do
      local err = error_of(function()
        proc.parallel({ { "true" } }, { max_jobs = bad })
      end)
      expect(errors.is(err, "bad_option")):is_true()
      expect(err.message):contains("max_jobs must be an integer >= 1")
    end
    expect(function()
      proc.parallel({ { "true" } }, { jobs = 2 })
    end):raises("unknown option 'jobs' (options: fail_fast, max_jobs)")
    expect(function()
      proc.parallel("echo")
    end):raises("specs must be an array")
  end)

  it("checks every spec before anything starts", function()
    local out = temp_path()
    os.remove(out)
    local err = error_of(function()
      proc.parallel({
        { "sh", "-c", "echo ran > " .. out },
        { "echo", timeout = 1 },
      })
    end)
    expect(errors.is(err, "bad_option")):is_true()
    expect(err.message):contains("specs[2]")
    expect(err.message):contains("unknown option 'timeout'")
    expect(proc.poll(0)):equals(0)
    expect(io.open(out)):is_nil()
    expect(function()
      proc.parallel({ { "true" }, 42 })
    end):raises("specs[2]: must be a table, got number")
    expect(function()
      proc.parallel({ { "true" }, {} })
    end):raises("specs[2]: the command is empty")
  end)

  -- Regression: a bad on_exit was once rejected only at its spec's turn, after earlier specs had
  -- started, and those kept running unowned after parallel raised.
  it("checks a spec's on_exit before anything starts", function()
    local ok, err = pcall(proc.parallel, {
      { "sleep", "0.3" },
      { "echo", "x", on_exit = 42 },
    })
    local left_running = proc.poll(0)
    drain_loop()
    expect(ok):is_false()
    expect(tostring(err)):contains("on_exit")
    expect(left_running):equals(0) -- the sleep of specs[1] was started and abandoned
    expect(errors.is(err, "bad_option")):is_true() -- a plain string from host.spawn instead
    expect(tostring(err)):contains("specs[2]")
  end)

  -- Regression: the error levels were once one too high, naming the line above the caller.
  it("names the caller's line in a bad spec's error", function()
    local function bad()
      local r = proc.parallel({ { "true", timeout = 1 } })
      return r
    end
    local function outer()
      local r = bad()
      return r
    end
    local line = debug.getinfo(bad, "S").linedefined + 1
    local err = error_of(outer)
    expect(err.message):contains("unknown option 'timeout'")
    expect(err.where):matches("proc_spec%.lua:" .. line .. ": $")
  end)

  it("names the caller's line in a bad max_jobs error", function()
    local function bad()
      local r = proc.parallel({ { "true" } }, { max_jobs = 0 })
      return r
    end
    local line = debug.getinfo(bad, "S").linedefined + 1
    local err = error_of(bad)
    expect(err.where):matches("proc_spec%.lua:" .. line .. ": $")
  end)
end)

describe("proc.shell", function()
  it("returns the argv that runs the script with /bin/sh -c", function()
    expect(proc.shell("echo hi | tr a-z A-Z")):equals({ "/bin/sh", "-c", "echo hi | tr a-z A-Z" })
    expect(proc.run(proc.shell("echo hi | tr a-z A-Z")).stdout):equals("HI\n")
  end)

  it("rejects a script that is not a string", function()
    local err = error_of(function()
      proc.shell({ "echo" })
    end)
    expect(errors.is(err, "bad_option")):is_true()
    expect(err.message):contains("the script must be a string, got table")
  end)
end)

describe("proc.poll", function()
  it("runs a spawned process's callbacks while the script does other things", function()
    local lines, exit_result, work = {}, nil, 0
    local h <close> = proc.spawn({ "sh", "-c", "for i in 1 2 3; do echo $i; sleep 0.05; done" }, {
      stdout = {
        on_line = function(line)
          lines[#lines + 1] = line
        end,
      },
    }, function(result)
      exit_result = result
    end)
    local t0 = time.monotonic_ns()
    local running = 1
    while exit_result == nil and elapsed_ms(t0) < NATURAL_END_MS do
      work = work + 1 -- the script's other work
      running = proc.poll(20)
    end
    expect(exit_result):exists()
    expect(exit_result.code):equals(0)
    expect(lines):equals({ "1", "2", "3" })
    expect(work > 1):is_true()
    expect(running):equals(0)
    expect(h:running()):is_false()
    expect(h:wait()):is(exit_result)
  end)

  it("returns how many processes are running", function()
    expect(proc.poll(0)):equals(0)
    local a <close> = proc.spawn({ "sleep", "10" })
    local b <close> = proc.spawn({ "sleep", "10" })
    expect(proc.poll(0)):equals(2)
    a:kill("KILL")
    a:wait()
    expect(proc.poll(0)):equals(1)
  end)

  it("with nothing running waits at most ms", function()
    local t0 = time.monotonic_ns()
    expect(proc.poll(NATURAL_END_MS)):equals(0)
    expect(in_range(elapsed_ms(t0), 0, WELL_BEFORE_END_MS)):equals("in range")
  end)

  it("rejects negative milliseconds", function()
    expect(function()
      proc.poll(-1)
    end):raises("milliseconds must be >= 0")
  end)
end)

-- Detached processes outlive Sidecar on purpose; each test kills the group of every one it
-- starts, pass or fail.
local SIDECAR = proc.executable()

-- A to-be-closed value that kills the groups the pids in `pids` lead.
local function group_killer(pids)
  return setmetatable({}, { __close = function()
    for _, pid in ipairs(pids) do
      if pid then
        proc.signal(pid, "KILL", { group = true })
      end
    end
  end })
end

-- state, ppid, pgrp, session and tty_nr from /proc/PID/stat ("pid (comm) S ppid pgrp ...").
local function stat_of(pid)
  local f = io.open("/proc/" .. pid .. "/stat")
  if not f then
    return nil
  end
  local text = f:read("a")
  f:close()
  local state, ppid, pgrp, session, tty = text:match(".*%) (%a) (%-?%d+) (%-?%d+) (%-?%d+) (%-?%d+)")
  return { state = state, ppid = math.tointeger(ppid), pgrp = math.tointeger(pgrp),
    session = math.tointeger(session), tty = math.tointeger(tty) }
end

-- Polls `done` every 20 ms for up to `limit_ms` (default 30 s); true once it returned true.
local function wait_until(done, limit_ms)
  local t0 = time.monotonic_ns()
  while not done() do
    if elapsed_ms(t0) > (limit_ms or NATURAL_END_MS) then
      return false
    end
    proc.run({ "sleep", "0.02" })
  end
  return true
end

-- This process's children as "pid stat comm" lines, the ps (or sh) listing them left out.
local function own_children()
  local p = assert(io.popen("ps -o pid=,stat=,comm= --ppid " .. own_pid))
  local text = p:read("a")
  p:close()
  local children = {}
  for line in text:gmatch("[^\n]+") do
    local comm = line:match("(%S+)%s*$")
    if comm ~= "ps" and comm ~= "sh" then
      children[#children + 1] = line
    end
  end
  return children
end

describe("proc.detach", function()
  it("starts a program that outlives the sidecar that started it, in its own session", function()
    local r = proc.run({ SIDECAR, "-e", "io.write(require('sidecar.core.proc').detach({'sleep', '30'}))" }, { timeout_ms = 10000 })
    local pid = math.tointeger(tonumber(r.stdout))
    local _ <close> = group_killer({ pid })
    expect(r.code):equals(0)
    expect(r.stderr):equals("")
    expect(pid):exists()
    -- The starter ended at once: the sleep holds none of its pipes and is not in its group.
    expect(r.timed_out):is_false()
    expect(r.descendants_killed):is_false()
    expect(in_range(r.duration_ms, 0, WELL_BEFORE_END_MS)):equals("in range")
    expect(proc.alive(pid)):is_true()
    expect(alive(pid)):is_true()
    local st = stat_of(pid)
    expect(st.session):equals(pid) -- getsid(pid) == pid: no terminal's SIGHUP reaches it
    expect(st.pgrp):equals(pid)
    expect(st.tty):equals(0)
    expect(st.ppid):not_equals(r.pid)
    expect(st.ppid):not_equals(math.tointeger(own_pid))
    expect(read_file("/proc/" .. pid .. "/comm")):equals("sleep\n")
    expect(proc.signal(pid, "KILL")):is_true()
    expect(wait_until(function() return not proc.alive(pid) end)):is_true()
  end)

  it("leaves no child behind: the middle process is reaped, the program is not ours", function()
    expect(own_children()):equals({})
    local pid = proc.detach({ "sleep", "30" })
    local _ <close> = group_killer({ pid })
    expect(own_children()):equals({})
    expect(stat_of(pid).ppid):not_equals(math.tointeger(own_pid))
    expect(proc.poll(0)):equals(0) -- not one of the loop's processes either
    local quick = proc.detach({ "true" })
    local _q <close> = group_killer({ quick })
    expect(wait_until(function() return not proc.alive(quick) end)):is_true()
    expect(own_children()):equals({})
  end)

  it("appends stdout and stderr to their files; stdin is /dev/null", function()
    local out, err = temp_path(), temp_path()
    write_file(out, "old\n")
    os.remove(err)
    local pid = proc.detach({ "sh", "-c", "echo out; echo err >&2; cat; echo end" }, { stdout = out, stderr = err })
    local _ <close> = group_killer({ pid })
    expect(wait_until(function() return not proc.alive(pid) end)):is_true()
    expect(read_file(out)):equals("old\nout\nend\n")
    expect(read_file(err)):equals("err\n")
  end)

  it("sends output nowhere without files, or with false", function()
    local pid = proc.detach({ "sleep", "30" }, { stdout = false })
    local _ <close> = group_killer({ pid })
    expect(wait_until(function() return read_file("/proc/" .. pid .. "/comm") == "sleep\n" end)):is_true()
    for fd = 0, 2 do
      local p = assert(io.popen("readlink /proc/" .. pid .. "/fd/" .. fd))
      expect(p:read("a")):equals("/dev/null\n")
      p:close()
    end
  end)

  it("applies cwd, env and clear_env as proc.spawn does", function()
    local out = temp_path()
    local pid = proc.detach({ "sh", "-c", 'pwd; echo "$DETACH_SET"; echo "${HOME-unset}"' },
      { cwd = "/tmp", env = { DETACH_SET = "yes", HOME = false }, stdout = out })
    local _ <close> = group_killer({ pid })
    expect(wait_until(function() return not proc.alive(pid) end)):is_true()
    expect(read_file(out)):equals("/tmp\nyes\nunset\n")

    local env_out = temp_path()
    local bare = proc.detach({ "env" }, { clear_env = true, env = { ONLY = "1" }, stdout = env_out })
    local _b <close> = group_killer({ bare })
    expect(wait_until(function() return not proc.alive(bare) end)):is_true()
    expect(read_file(env_out)):equals("ONLY=1\n")
  end)

  it("raises spawn_failed at once for a program that cannot start, naming it", function()
    local err = error_of(function()
      proc.detach({ "sidecar-no-such-program", "x" })
    end)
    expect(errors.is(err, "spawn_failed")):is_true()
    expect(err.message):contains("sidecar-no-such-program")
    expect(err.message):contains("not found in PATH")
    expect(err.errno):equals("ENOENT")
    expect(err.cmd):equals({ "sidecar-no-such-program", "x" })

    local script = temp_path()
    write_file(script, "not a program\n")
    proc.run({ "chmod", "755", script })
    err = error_of(function()
      proc.detach({ script })
    end)
    expect(err.errno):equals("ENOEXEC")

    err = error_of(function()
      proc.detach({ "true" }, { cwd = "/nonexistent-sidecar-dir" })
    end)
    expect(err.errno):equals("ENOENT")
    expect(err.message):contains("does not exist")
    expect(own_children()):equals({})
  end)

  it("checks its options and command, naming the caller's line", function()
    local function bad()
      local pid = proc.detach({ "true" }, { timeout_ms = 5 })
      return pid
    end
    local line = debug.getinfo(bad, "S").linedefined + 1
    local err = error_of(bad)
    expect(errors.is(err, "bad_option")):is_true()
    expect(err.message):contains("unknown option 'timeout_ms' (options: clear_env, cwd, env, stderr, stdout)")
    expect(err.where):matches("proc_spec%.lua:" .. line .. ": $")
    expect(error_of(function() proc.detach({ "true" }, { stdout = true }) end).message)
      :contains("option 'stdout' must be a file path or false, got boolean")
    expect(error_of(function() proc.detach({ "true" }, { stderr = "" }) end).message)
      :contains("option 'stderr' must be a file path or false, got an empty string")
    expect(error_of(function() proc.detach({ "true" }, { cwd = 1 }) end).message)
      :contains("option 'cwd' must be a string, got number")
    expect(error_of(function() proc.detach({ "true" }, "x") end).message):contains("options must be a table")
    expect(error_of(function() proc.detach("true") end).message):contains("argv array")
    expect(error_of(function() proc.detach({}) end).message):contains("the command is empty")
    expect(error_of(function() proc.detach({ "true" }, { env = { X = {} } }) end).message)
      :equals("proc.detach: option 'env': X must be a string, or false to remove it, got table")
  end)
end)

describe("proc.signal and proc.alive", function()
  it("signal a process, or the group it leads with group = true", function()
    local pid = proc.detach({ "sh", "-c", "sleep 30 & wait" })
    local _ <close> = group_killer({ pid })
    expect(wait_until(function() return #live_group_members(pid) == 2 end)):is_true()
    expect(proc.signal(pid, "SIGKILL")):is_true() -- the leader alone
    expect(wait_until(function() return not proc.alive(pid) end)):is_true()
    expect(#live_group_members(pid)):equals(1)
    expect(proc.signal(pid, proc.signals.TERM, { group = true })):is_true()
    expect(wait_until(function() return #live_group_members(pid) == 0 end)):is_true()
  end)

  it("default to TERM", function()
    local pid = proc.detach({ "sleep", "30" })
    local _ <close> = group_killer({ pid })
    expect(proc.signal(pid)):is_true()
    expect(wait_until(function() return not proc.alive(pid) end)):is_true()
  end)

  it("report a process that is gone as nil, message, ESRCH", function()
    local gone = proc.run({ "true" }).pid
    expect(proc.alive(gone)):is_false()
    local ok, message, code = proc.signal(gone, "TERM")
    expect(ok):is_nil()
    expect(code):equals("ESRCH")
    expect(message):contains("process " .. gone)
    expect(proc.alive(math.tointeger(own_pid))):is_true()
  end)

  it("count a zombie as not alive", function()
    -- A popen child stays a zombie until the pipe is closed.
    local p = assert(io.popen("echo $$; exec true"))
    local pid = math.tointeger(tonumber(p:read("l")))
    expect(wait_until(function() return (stat_of(pid) or {}).state == "Z" end)):is_true()
    expect(proc.alive(pid)):is_false()
    expect(alive(pid)):is_false()
    p:close()
  end)

  it("reject bad arguments", function()
    for _, pid in ipairs({ 0, -1, 1.5, "12", false }) do
      expect(error_of(function() proc.alive(pid) end).message):contains("the pid must be a positive integer")
      expect(error_of(function() proc.signal(pid, "TERM") end).message)
        :contains("the pid must be a positive integer")
    end
    local me = math.tointeger(own_pid)
    expect(error_of(function() proc.signal(me, "BOGUS") end).message):contains("unknown signal 'BOGUS'")
    expect(error_of(function() proc.signal(me, 99) end).message):contains("not a signal number")
    expect(error_of(function() proc.signal(me, "TERM", { pgroup = true }) end).message)
      :contains("unknown option 'pgroup'")
    expect(error_of(function() proc.signal(me, "TERM", { group = 1 }) end).message)
      :contains("option 'group' must be a boolean")
  end)
end)

describe("paths.program: the file a name runs, found as proc.spawn finds it", function()
  local paths = require("sidecar.host.paths")

  it("searches PATH for a bare name, and takes a name with a slash as it is", function()
    local sh = paths.program("sh")
    expect(sh):matches("/sh$")
    expect(paths.real(sh)):equals(paths.real(paths.program(sh)))
  end)

  it("says what was missing or not executable, with the code spawn would give", function()
    local none, why, code = paths.program("sidecar-no-such-program-here")
    expect(none):is_nil()
    expect(why):contains("sidecar-no-such-program-here")
    expect(code):equals("ENOENT")
    local plain = os.tmpname() -- a file that is not executable
    none, why, code = paths.program(plain)
    expect(none):is_nil()
    expect(why):contains("not executable")
    expect(code):equals("EACCES")
    os.remove(plain)
  end)
end)
