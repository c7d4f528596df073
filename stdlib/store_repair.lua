--- Checking the store against the JSON copies of its records, and rebuilding it from them
--- (`sidecar store check`, `sidecar store rebuild`).
---
---   local report = store_repair.check(".agent")     -- report.ok, report.problems
---   local report = store_repair.rebuild(".agent")   -- the store now holds what the folders hold
local artifact = require("artifact")
local host = require("host.store")
local json = require("json")
local store = require("store")

local M = {}

local KINDS = {
  { kind = "task", id_key = "task_id", glob = "tasks/*.json", pattern = "^tasks/(.+)%.json$" },
  { kind = "run", id_key = "run_id", glob = "runs/*/run.json", pattern = "^runs/([^/]+)/run%.json$" },
}

local function problem(list, kind, id, path, code, detail)
  list[#list + 1] = { kind = kind, id = id, path = path, problem = code, detail = detail }
end

-- Every copy of one kind: {id = {path, text, record}}, plus problems for copies that cannot be
-- used (unreadable, not JSON, not an object, named for another id).
local function read_copies(dir, k, problems)
  local copies, count = {}, 0
  local paths, message, code = dir:list(k.glob)
  if not paths then
    return nil, message, code
  end
  for _, path in ipairs(paths) do
    local id = path:match(k.pattern)
    if not host.parse_id(k.kind, id) then
      problem(problems, k.kind, id, path, "bad_copy", "the file name is not a " .. k.kind .. " id")
    else
      local text, err = dir:read(path)
      local ok, record = false, nil
      if text then
        ok, record = pcall(json.decode, text)
      end
      if not text then
        problem(problems, k.kind, id, path, "bad_copy", err)
      elseif not ok then
        problem(problems, k.kind, id, path, "bad_copy", "not valid JSON: " .. tostring(record.message or record))
      elseif not json.is_object(record) then
        problem(problems, k.kind, id, path, "bad_copy", "not a JSON object")
      elseif record[k.id_key] ~= nil and record[k.id_key] ~= id then
        problem(problems, k.kind, id, path, "bad_copy",
          ("it says %s is %s"):format(k.id_key, tostring(record[k.id_key])))
      else
        copies[id] = { path = path, text = text, record = record }
        count = count + 1
      end
    end
  end
  return copies, count
end

-- The top-level keys whose values differ between two records, sorted.
local function differing_keys(a, b)
  local keys, seen = {}, {}
  for _, t in ipairs({ a, b }) do
    for key in pairs(t) do
      if not seen[key] then
        seen[key] = true
        if json.encode(a[key] == nil and json.null or a[key]) ~= json.encode(b[key] == nil and json.null or b[key]) then
          keys[#keys + 1] = key
        end
      end
    end
  end
  table.sort(keys)
  return keys
end

---Compares the store with the copies. Returns a report {ok, root, store, integrity, tasks = {store,
---copies}, runs = {store, copies}, problems = {{kind, id, path, problem, detail}...}} where problem
---is "missing_copy", "not_in_store", "different" or "bad_copy"; or nil, message, code when the
---store cannot be opened.
function M.check(root)
  local s, message, code = store.open(root)
  if not s then
    return nil, message, code
  end
  local report = { root = root, store = s:path(), problems = {} }
  local ok, result = pcall(function()
    report.integrity = assert(s.db:integrity())
    for _, k in ipairs(KINDS) do
      local copies, n = assert(read_copies(s.dir, k, report.problems))
      local ids = assert(s.db:ids(k.kind))
      report[k.kind .. "s"] = { store = #ids, copies = n }
      local in_store = {}
      for _, id in ipairs(ids) do
        in_store[id] = true
        if not copies[id] and not s.dir:exists(store.copy_path(k.kind, id)) then
          problem(report.problems, k.kind, id, store.copy_path(k.kind, id), "missing_copy",
            "in the store, but its copy is missing")
        end
      end
      local sorted = {}
      for id in pairs(copies) do
        sorted[#sorted + 1] = id
      end
      table.sort(sorted, function(a, b) return host.parse_id(k.kind, a) < host.parse_id(k.kind, b) end)
      for _, id in ipairs(sorted) do
        local copy = copies[id]
        if not in_store[id] then
          problem(report.problems, k.kind, id, copy.path, "not_in_store", "the copy is not in the store")
        else
          local match = assert(s.db:check(k.kind, id, copy.text))
          if match == "different" then
            local stored = json.decode(assert(k.kind == "task" and s.db:get_task(id) or s.db:get_run(id)).record)
            problem(report.problems, k.kind, id, copy.path, "different",
              "the store and the copy disagree on: " .. table.concat(differing_keys(stored, copy.record), ", "))
          end
        end
      end
    end
  end)
  s:close()
  if not ok then
    return nil, tostring(result), "EIO"
  end
  table.sort(report.problems, function(a, b)
    if a.kind ~= b.kind then
      return a.kind > b.kind -- tasks first
    end
    return (host.parse_id(a.kind, a.id or "") or 0) < (host.parse_id(b.kind, b.id or "") or 0)
  end)
  report.ok = #report.problems == 0 and report.integrity == "ok"
  return report
end

-- Opens the store for a rebuild; a file that is not a database or is corrupt is moved aside
-- (with its -wal and -shm) so a new one can be made. A newer schema is left alone.
local function open_for_rebuild(root, report)
  local s, message, code = store.open(root)
  if s or (code ~= "ENOTDB" and code ~= "ECORRUPT") then
    return s, message, code
  end
  local db = root .. "/" .. store.DB_NAME
  local aside = db .. ".broken-" .. os.date("!%Y%m%d-%H%M%S")
  for _, suffix in ipairs({ "", "-wal", "-shm" }) do
    os.rename(db .. suffix, aside .. suffix)
  end
  report.moved_aside = aside
  return store.open(root)
end

-- Indexes a run's events.jsonl; a file that cannot be read is a problem, not a failed rebuild.
local function import_events(s, run_id, problems)
  local path = "runs/" .. run_id .. "/events.jsonl"
  if not s.dir:exists(path) then
    return 0
  end
  local events, message = s.dir:read_jsonl(path)
  if not events then
    problem(problems, "run", run_id, path, "bad_events", message)
    return 0
  end
  for _, e in ipairs(events) do
    local fields = json.is_object(e.fields) and e.fields or json.object({})
    assert(s.db:append_event(run_id, type(e.ts) == "string" and e.ts or nil, tostring(e.kind or "event"),
      json.encode(fields)))
  end
  return #events
end

---Makes the store hold exactly the records of the copies (tasks/*.json, runs/*/run.json) and
---the events of runs/*/events.jsonl, in one transaction. Records only the store has keep their
---place and get their missing copy written, so nothing is lost. Returns a report {root, store,
---tasks, runs, events, copies_written = {ids}, problems = {...}, moved_aside?}; nil, message,
---code when the store cannot be opened or written. `progress(text)`, if given, hears of each phase.
function M.rebuild(root, progress)
  progress = progress or function() end
  local report = { root = root, problems = {}, copies_written = {}, tasks = 0, runs = 0, events = 0 }
  local probe = artifact.open(root)
  if not probe then
    return nil, "no Sidecar folder at " .. root .. " (nothing to rebuild from)", "ENOENT"
  end
  probe:close()
  local s, message, code = open_for_rebuild(root, report)
  if not s then
    return nil, message, code
  end
  report.store = s:path()
  local ok, result = pcall(function()
    local copies = {}
    for _, k in ipairs(KINDS) do
      progress("reading " .. k.glob)
      copies[k.kind] = assert(read_copies(s.dir, k, report.problems))
    end
    -- Records the store has and no usable copy does: keep them (read before clearing).
    local only_in_store = {}
    for _, k in ipairs(KINDS) do
      for _, id in ipairs(assert(s.db:ids(k.kind))) do
        if not copies[k.kind][id] then
          local row = assert(k.kind == "task" and s.db:get_task(id) or s.db:get_run(id))
          only_in_store[#only_in_store + 1] = { kind = k.kind, id = id, text = row.record }
        end
      end
    end
    assert(s.db:begin_batch())
    assert(s.db:clear())
    for _, k in ipairs(KINDS) do
      local ids = {}
      for id in pairs(copies[k.kind]) do
        ids[#ids + 1] = id
      end
      table.sort(ids, function(a, b) return host.parse_id(k.kind, a) < host.parse_id(k.kind, b) end)
      progress(("importing %d %s%s"):format(#ids, k.kind, #ids == 1 and "" or "s"))
      for _, id in ipairs(ids) do
        assert(s.db:import(k.kind, id, copies[k.kind][id].text))
        report[k.kind .. "s"] = report[k.kind .. "s"] + 1
      end
    end
    for _, r in ipairs(only_in_store) do
      assert(s.db:import(r.kind, r.id, r.text))
      report[r.kind .. "s"] = report[r.kind .. "s"] + 1
      if not s.dir:exists(store.copy_path(r.kind, r.id)) then
        assert(s:write_copy(r.kind, r.id, json.decode(r.text)))
        report.copies_written[#report.copies_written + 1] = r.id
      end
    end
    progress("importing events")
    for _, id in ipairs(assert(s.db:ids("run"))) do
      report.events = report.events + import_events(s, id, report.problems)
    end
    assert(s.db:commit_batch())
  end)
  if not ok then
    s.db:rollback_batch()
  end
  s:close()
  if not ok then
    return nil, "rebuild failed, the store is unchanged: " .. tostring(result), "EIO"
  end
  return report
end

return M
