--- `sidecar task create|list|show|import|export|set-status`: each takes the options the command
--- line parsed, prints (text, or the JSON envelope with --json), and returns the exit status:
--- 0 done, 1 could not be done (an unknown id, an invalid packet file), 2 the command line is
--- wrong (a malformed flag value). A refused command changes nothing in the store.
local service_store = require("sidecar.service.store")
local tasks = require("sidecar.service.tasks")
local json = require("sidecar.core.json")
local out = require("sidecar.cli.output")
local run_view = require("sidecar.cli.run_view")
local task_packet = require("sidecar.task.packet")

local M = {}

local EXIT_OK, EXIT_USAGE = 0, 2

local failed = out.fail

local function show_created(o, command, task, note)
  if o.json then
    out.envelope(command, true, task, nil, o.version)
  else
    print(("%s %s: %s%s"):format(note, task.task_id, task.title, task.status ~= "draft" and (" (" .. task.status .. ")") or ""))
  end
  return EXIT_OK
end

---`sidecar task create`
function M.create(o)
  return out.answer(o, "task create", tasks.create(o), function(task)
    print(("created %s: %s%s"):format(task.task_id, task.title, task.status ~= "draft" and (" (" .. task.status .. ")") or ""))
  end)
end

---`sidecar task list`
function M.list(o)
  return out.answer(o, "task list", tasks.list(o), function(list)
    local rows = {}
    for i, t in ipairs(list) do
      local deps = type(t.dependencies) == "table" and table.concat(t.dependencies, ",") or ""
      rows[i] = { t.task_id, t.status or "-", t.priority or "-", t.type or "-", deps ~= "" and deps or "-", t.title or "" }
    end
    if #rows == 0 then
      print(o.status and ("no tasks with status " .. o.status) or "no tasks yet (sidecar task create --title ...)")
    else
      io.write(out.table({ "TASK", "STATUS", "PRIORITY", "TYPE", "DEPENDS", "TITLE" }, rows))
    end
  end)
end

local function get_task(o, command)
  local s, message = service_store.open(o)
  if not s then
    return nil, failed(o, command, message)
  end
  local task = s:get_task(o.id)
  if not task then
    s:close()
    return nil, failed(o, command, ("no task %s (see sidecar task list)"):format(o.id))
  end
  return s, task
end

local function bullets(title, list)
  if type(list) ~= "table" or #list == 0 then
    return ""
  end
  return title .. ":\n  - " .. table.concat(list, "\n  - ") .. "\n"
end

---`sidecar task show`
function M.show(o)
  local s, task = get_task(o, "task show")
  if not s then
    return task
  end
  if require("sidecar.executor.reconcile").reconcile_active(s) > 0 then -- a run or task whose owner died is ended first
    task = s:get_task(o.id) or task
  end
  local task_runs = s:list_runs({ task_id = o.id, limit = 0 }) or {}
  s:close()
  if o.json then
    local data = {}
    for k, v in pairs(task) do
      data[k] = v
    end
    data.runs = json.array(task_runs)
    out.envelope("task show", true, data, nil, o.version)
    return EXIT_OK
  end
  local lines = { ("%s  %s"):format(task.task_id, task.title),
    ("Status: %s   Type: %s   Priority: %s"):format(task.status or "-", task.type or "-", task.priority or "-"),
    ("Created: %s   Updated: %s"):format(task.created_at or "-", task.updated_at or "-") }
  io.write(table.concat(lines, "\n"), "\n")
  if task.summary then
    io.write("Summary: ", task.summary, "\n")
  end
  if task.goal then
    io.write("Goal: ", task.goal, "\n")
  end
  local impl = type(task.implementation) == "table" and task.implementation or {}
  io.write(bullets("Depends on", task.dependencies), bullets("Read first", impl.files_to_read),
    bullets("Avoid", impl.files_to_avoid), bullets("Blockers", task.blockers))
  local steps = {}
  for i, v in ipairs(task_packet.validation_entries(task)) do
    steps[i] = ("%s: %s"):format(v.kind, v.command)
  end
  io.write(bullets("Validation", steps))
  if #task_runs > 0 then
    io.write("Runs:\n", run_view.list_table(task_runs))
  else
    io.write(("Runs: none yet (sidecar run %s)\n"):format(task.task_id))
  end
  return EXIT_OK
end

local function read_input(path)
  if path == "-" then
    return io.read("a")
  end
  return require("sidecar.core.files").read(path)
end

---`sidecar task import FILE`: strict; the task gets a new id, its packet's own id is kept as
---source_task_id.
function M.import(o)
  local text, why = read_input(o.file)
  if not text then
    return failed(o, "task import", "cannot read " .. tostring(why))
  end
  local source = o.file == "-" and "standard input" or o.file
  local packet, message = task_packet.decode(text, source)
  if not packet then
    return failed(o, "task import", message)
  end
  local applied, bad = service_store.apply_config(o)
  if not applied then
    return failed(o, "task import", bad)
  end
  local refused = task_packet.refused_inputs(packet)
  if refused then
    return failed(o, "task import", source .. ": " .. refused)
  end
  local s
  s, message = service_store.open(o)
  if not s then
    return failed(o, "task import", message)
  end
  if packet.task_id then
    packet.source_task_id, packet.task_id = packet.task_id, nil
  end
  packet.created_at, packet.updated_at = nil, nil
  local task, code
  task, message, code = s:create_task(packet)
  local warning = task and tasks.trust_own(s, task) -- the user chose this file: its commands are theirs
  if warning then
    out.error("task import", warning)
  end
  s:close()
  if not task then
    return failed(o, "task import", message .. (code and (" (" .. code .. ")") or ""))
  end
  return show_created(o, "task import", task,
    "imported" .. (task.source_task_id and (" " .. task.source_task_id .. " as") or ""))
end

-- Writes text to path atomically (a temporary file beside it, then a rename).
local function write_atomic(path, text)
  local tmp = path .. ".tmp-" .. tostring(os.time())
  local f, why = io.open(tmp, "wb")
  if not f then
    return nil, why
  end
  local ok, werr = f:write(text)
  local closed, cerr = f:close()
  if not ok or not closed then
    os.remove(tmp)
    return nil, werr or cerr
  end
  local renamed, rerr = os.rename(tmp, path)
  if not renamed then
    os.remove(tmp)
    return nil, rerr
  end
  return true
end

---`sidecar task export ID [-o FILE]`
function M.export(o)
  local s, task = get_task(o, "task export")
  if not s then
    return task
  end
  s:close()
  task.revision = nil -- the store's count of its writes (stdlib/sidecar/core/store.lua), not part of the packet
  local text, message = task_packet.encode(task)
  if not text then
    return failed(o, "task export", message)
  end
  if o.json and not o.output then
    out.envelope("task export", true, json.decode(text), nil, o.version)
  elseif o.output then
    local ok, why = write_atomic(o.output, text)
    if not ok then
      return failed(o, "task export", "cannot write " .. tostring(why))
    end
    io.stderr:write(("sidecar: exported %s to %s\n"):format(task.task_id, o.output))
  else
    io.write(text)
  end
  return EXIT_OK
end

---`sidecar task set-status ID STATUS`
function M.set_status(o)
  local bad = tasks.check_status(o.status)
  if bad then
    return failed(o, "task set-status", bad.errors[1].message, EXIT_USAGE)
  end
  local s, task = get_task(o, "task set-status")
  if not s then
    return task
  end
  local before = task.status
  local updated, message = s:set_task_status(o.id, o.status)
  s:close()
  if not updated then
    return failed(o, "task set-status", message)
  end
  if o.json then
    out.envelope("task set-status", true, updated, nil, o.version)
  else
    print(("%s: %s -> %s"):format(o.id, tostring(before), o.status))
  end
  return EXIT_OK
end

return M
