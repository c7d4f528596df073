--- Checking the store against the JSON copies of its records, repairing what can be repaired, and
--- rebuilding the store from them (`sidecar store check`, `sidecar store rebuild`).
---
--- Both sides carry each record's revision (stdlib/sidecar/core/store.lua), so a disagreement is one of:
---   missing_copy  the store has the record, the folder has no copy      repair: write it from the store
---   stale_copy    the copy is an older revision than the store's         repair: rewrite it from the store
---   copy_ahead    the copy is newer than the store's, or the store lacks repair: import it into the store
---                 the record (the store lost a write)
---   conflict      the same revision with other contents, or a copy that  the user decides
---                 is not a record (or would take a run back to running)
---   unfinished_decision  an approve or block a crash cut short           repair: finish it (review)
---   leftover_temp a killed writer's temporary file                       repair: remove it
--- Copies written before revisions existed are revision 0, as are their records in the store: when
--- such a pair differs, the store's is the newer (it was always written first): a stale copy.
---
---   local report = store_repair.check(".agent", {repair = true})   -- report.ok, report.problems
---   local report = store_repair.rebuild(".agent")   -- never replaces a newer record with an older
local artifact = require("sidecar.core.artifact")
local host = require("sidecar.host.store")
local json = require("sidecar.core.json")
local procinfo = require("sidecar.host.procinfo")
local store = require("sidecar.core.store")
local store_copy = require("sidecar.core.store_copy")

local M = {}

local KINDS = {
  { kind = "task", id_key = "task_id", glob = "tasks/*.json", pattern = "^tasks/(.+)%.json$" },
  { kind = "run", id_key = "run_id", glob = "runs/*/run.json", pattern = "^runs/([^/]+)/run%.json$" },
}

---The kinds of problem, in the order they are counted; `repairable` says which check repairs.
M.PROBLEMS = { "missing_copy", "stale_copy", "copy_ahead", "conflict", "unfinished_decision", "leftover_temp" }
local REPAIR = { missing_copy = "write_copy", stale_copy = "write_copy", copy_ahead = "import",
  unfinished_decision = "finish", leftover_temp = "remove" }

local function revision_of(record)
  return math.type(record.revision) == "integer" and record.revision or 0
end

-- The statuses a record of each kind may have.
local STATUS = { task = {}, run = {} }
for _, st in ipairs(require("sidecar.task.packet").STATUSES) do
  STATUS.task[st] = true
end
for _, st in ipairs(store.RUN_STATUSES) do
  STATUS.run[st] = true
end
local ACTIVE = store.ACTIVE

-- Why a decoded copy is not a record of kind `k` named `id`, or nil: it must name itself, and its
-- status be one of its kind and its revision a whole number (absent: written before revisions).
local function not_a_record(k, id, record)
  if not json.is_object(record) then
    return "not a JSON object"
  elseif record[k.id_key] ~= id then
    return record[k.id_key] == nil and ("it has no %s"):format(k.id_key)
      or ("it says %s is %s"):format(k.id_key, tostring(record[k.id_key]))
  elseif record.status ~= nil and not STATUS[k.kind][record.status] then
    return ("its status %s is not a %s status"):format(json.encode(record.status == nil and json.null or record.status),
      k.kind)
  elseif record.revision ~= nil and not (math.type(record.revision) == "integer" and record.revision >= 0) then
    return ("its revision %s is not a whole number (write it as one, such as 7)"):format(json.encode(record.revision))
  end
  return nil
end

local function add(list, p)
  p.repair = REPAIR[p.problem]
  list[#list + 1] = p
  return p
end

-- Every usable copy of one kind: {id = {path, text, record, revision}}, and its count. Copies that
-- cannot be used (unreadable, not JSON, not an object, named for another id) go to `bad`.
local function read_copies(dir, k, bad)
  local copies, count = {}, 0
  local paths, message, code = dir:list(k.glob)
  if not paths then
    return nil, message, code
  end
  for _, path in ipairs(paths) do
    local id = path:match(k.pattern)
    local body, err = nil, "the file name is not a " .. k.kind .. " id"
    if host.parse_id(k.kind, id) then
      body, err = dir:read(path)
    end
    local ok, record = false, nil
    if body then
      ok, record = json.try_decode(body)
      if not ok then
        err = "not valid JSON: " .. tostring(record.message or record)
      else
        err = not_a_record(k, id, record)
      end
    end
    if body and not err then
      copies[id] = { path = path, text = body, record = record, revision = revision_of(record) }
      count = count + 1
    else
      bad[#bad + 1] = { kind = k.kind, id = id, path = path, detail = tostring(err) }
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

-- What a copy is to the store's row of the same record: nil when they agree, else a problem.
local function compare(k, id, row, copy)
  local p = { kind = k.kind, id = id, path = copy.path, store_revision = row.revision, copy_revision = copy.revision }
  if copy.revision < row.revision then
    p.problem, p.detail = "stale_copy", ("revision %d, older than the store's %d"):format(copy.revision, row.revision)
    return p
  elseif copy.revision > row.revision then
    local stored_status = k.kind == "run" and json.decode(row.record).status
    if stored_status and not ACTIVE[stored_status] and ACTIVE[copy.record.status] then
      -- A run never goes back from its end to running: importing this would undo a result.
      p.problem, p.detail = "conflict", ("revision %d is newer than the store's %d, but would take the run back from "
        .. "%s to %s"):format(copy.revision, row.revision, stored_status, copy.record.status)
      return p
    end
    p.problem, p.detail = "copy_ahead", ("revision %d, newer than the store's %d"):format(copy.revision, row.revision)
    return p
  end
  -- Keys sorted both ways: the texts are equal exactly when the records are.
  local canonical = json.encode(copy.record)
  if canonical == row.record then
    return nil
  end
  local stored = json.decode(row.record)
  if json.encode(stored) == canonical then
    return nil
  end
  local keys = table.concat(differing_keys(stored, copy.record), ", ")
  if row.revision == 0 then
    p.problem, p.detail = "stale_copy", "written before revisions, and the store (always written first) differs on: "
      .. keys
  else
    p.problem, p.detail = "conflict", ("revision %d in both, but they differ on: %s"):format(row.revision, keys)
  end
  return p
end

local function by_id(kind)
  return function(a, b)
    return host.parse_id(kind, a) < host.parse_id(kind, b)
  end
end

-- The problems of one kind of record; the copies that can be imported are kept in `copies`.
local function check_kind(s, k, report)
  local bad = {}
  local copies, n = assert(read_copies(s.dir, k, bad))
  local ids = assert(s.db:ids(k.kind))
  report[k.kind .. "s"] = { store = #ids, copies = n }
  local in_store, unusable = {}, {}
  for _, b in ipairs(bad) do
    unusable[b.id or ""] = true
    add(report.problems, { kind = k.kind, id = b.id, path = b.path, problem = "conflict",
      detail = "the copy is not a usable record: " .. b.detail })
  end
  for _, id in ipairs(ids) do
    in_store[id] = true
    local row = assert(store_copy.row(s.db, k.kind, id))
    if copies[id] then
      local p = compare(k, id, row, copies[id])
      if p then
        add(report.problems, p).copy = copies[id]
      end
    elseif not unusable[id] then
      add(report.problems, { kind = k.kind, id = id, path = store_copy.path(k.kind, id), problem = "missing_copy",
        detail = "in the store (revision " .. row.revision .. "), but its copy is missing",
        store_revision = row.revision })
    end
  end
  local sorted = {}
  for id in pairs(copies) do
    if not in_store[id] then
      sorted[#sorted + 1] = id
    end
  end
  table.sort(sorted, by_id(k.kind))
  for _, id in ipairs(sorted) do
    add(report.problems, { kind = k.kind, id = id, path = copies[id].path, problem = "copy_ahead",
      detail = "revision " .. copies[id].revision .. ", not in the store", copy_revision = copies[id].revision, copy = copies[id] })
  end
end

-- Indexes a run's events.jsonl; a file that cannot be read is a problem, not a failure.
local function import_events(s, run_id, problems)
  local path = "runs/" .. run_id .. "/events.jsonl"
  if not s.dir:exists(path) then
    return 0
  end
  local events, message = s.dir:read_jsonl(path)
  if not events then
    problems[#problems + 1] = { kind = "run", id = run_id, path = path, problem = "bad_events", detail = message }
    return 0
  end
  for _, e in ipairs(events) do
    local fields = json.is_object(e.fields) and e.fields or json.object({})
    assert(s.db:append_event(run_id, type(e.ts) == "string" and e.ts or nil, tostring(e.kind or "event"),
      json.encode(fields)))
  end
  return #events
end

-- Repairs one problem: a copy written from the store, or a copy imported into it (only if it is
-- still newer when the store looks, under its lock; else the store's newer record is copied).
local function repair(s, p, report)
  local ok, message
  if p.repair == "remove" then
    ok, message = os.remove(s.root .. "/" .. p.path)
  elseif p.repair == "finish" then
    local run
    run, message = s:get_run(p.id)
    ok, message = run and require("sidecar.task.review").finish_decision(s, run), message
  elseif p.repair == "import" then
    local fresh = p.store_revision == nil
    ok, message = s.db:import_if_newer(p.kind, p.id, p.copy.text)
    if ok == false then
      ok, message = s:restore_copy(p.kind, p.id)
    elseif ok and fresh and p.kind == "run" then
      import_events(s, p.id, report.problems)
    end
  else
    ok, message = s:restore_copy(p.kind, p.id)
  end
  if ok then
    p.repaired = true
  else
    p.repair_failed = tostring(message)
  end
end

local function sort_problems(problems)
  table.sort(problems, function(a, b)
    if a.kind ~= b.kind then
      return a.kind > b.kind -- tasks first
    end
    return (host.parse_id(a.kind, a.id or "") or 0) < (host.parse_id(b.kind, b.id or "") or 0)
  end)
end

---Compares the store with the copies and, with `opts.repair`, repairs what it can (see the top of
---this file). Returns a report {ok, root, store, integrity, tasks = {store, copies}, runs, problems
---= {{kind, id, path, problem, detail, store_revision?, copy_revision?, repair?, repaired?,
---repair_failed?}...}, counts = {problem = n}, repaired = n, needs_user = n, settled = {ids}}: ok
---when the integrity check passes and no problem is left. `settled` lists the copies a crash had
---left owing, written on opening (not with `repair = false`). nil, message, code when the store
---cannot be opened.
---@param root string
---@param opts? {repair: boolean?}
function M.check(root, opts)
  local fix = opts and opts.repair or false
  local s, message, code = store.open(root, { settle = fix })
  if not s then
    return nil, message, code
  end
  local report = { root = root, store = s:path(), problems = {}, counts = {}, repaired = 0, needs_user = 0,
    settled = s.settled.written }
  local ok, result = pcall(function()
    report.integrity = assert(s.db:integrity())
    for _, k in ipairs(KINDS) do
      check_kind(s, k, report)
    end
    -- The temporary file of an atomic write whose writer was killed before its rename
    -- (".T-0001.json.tmp-PID-N"): nothing reads it; it goes once its writer has.
    for _, glob in ipairs({ "tasks/.*.tmp-*", "runs/*/.*.tmp-*" }) do
      for _, path in ipairs(s.dir:list(glob) or {}) do
        local pid = math.tointeger(tonumber(path:match("%.tmp%-(%d+)%-%d+$")))
        if pid and not procinfo.get(pid) then
          add(report.problems, { kind = path:match("^tasks/") and "task" or "run", id = path:match("(%u%-%d+)"),
            path = path, problem = "leftover_temp", detail = ("left by process %d, which is gone"):format(pid) })
        end
      end
    end
    -- A decision (approve, block) a crash cut short: the run says what it still owed.
    for _, run in ipairs(assert(s:list_runs({ limit = 0 }))) do
      if type(run.decision_todo) == "table" then
        add(report.problems, { kind = "run", id = run.run_id, path = store_copy.path("run", run.run_id),
          problem = "unfinished_decision", detail = ("%s by %s, but its task was not moved to %s (or decision.md "
            .. "not written): a crash cut it short"):format(tostring(run.review_state), tostring(run.reviewed_by),
            tostring(run.decision_todo.task_status)) })
      end
    end
    if fix then
      for _, p in ipairs(report.problems) do
        if p.repair then
          repair(s, p, report)
        end
      end
    end
  end)
  s:close()
  if not ok then
    return nil, tostring(result), "EIO"
  end
  sort_problems(report.problems)
  for _, name in ipairs(M.PROBLEMS) do
    report.counts[name] = 0
  end
  for _, p in ipairs(report.problems) do
    p.copy = nil
    report.counts[p.problem] = (report.counts[p.problem] or 0) + 1
    if p.repaired then
      report.repaired = report.repaired + 1
    elseif not p.repair or p.repair_failed then
      report.needs_user = report.needs_user + 1
    end
  end
  report.ok = report.integrity == "ok" and report.repaired == #report.problems
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

-- For each record, the text to rebuild it from: the newer of the store's and the copy's; on a
-- conflict the store's, reported. {kind, id, text, from = "copy"|"store", write_copy}, in order.
local function choose(s, k, copies, report, unusable)
  local chosen, seen = {}, {}
  for _, id in ipairs(assert(s.db:ids(k.kind))) do
    seen[id] = true
    local row = assert(store_copy.row(s.db, k.kind, id))
    local copy = copies[id]
    local p = copy and compare(k, id, row, copy)
    if copy and (not p or p.problem == "copy_ahead") then
      chosen[#chosen + 1] = { id = id, text = copy.text, from = "copy" }
    else
      if p and p.problem == "conflict" then
        add(report.problems, p)
      end
      -- The copy is written when missing or older; a conflicting one, or one that is no record
      -- (a typo in a hand edit, say), is left for the user.
      chosen[#chosen + 1] = { id = id, text = row.record, from = "store",
        write_copy = (not copy and not unusable[id]) or (p and p.problem == "stale_copy"),
        newer = copy and p.problem == "stale_copy" }
    end
  end
  for id, copy in pairs(copies) do
    if not seen[id] then
      chosen[#chosen + 1] = { id = id, text = copy.text, from = "copy" }
    end
  end
  local order = by_id(k.kind)
  table.sort(chosen, function(a, b) return order(a.id, b.id) end)
  return chosen
end

---Rebuilds the store from the copies (tasks/*.json, runs/*/run.json) and the events of
---runs/*/events.jsonl, in one transaction, keeping for each record the newer of the store's and
---the copy's (by revision: an older copy never replaces the store's record, whose copy is written
---instead). A record only the store has keeps its place and gets its copy. Returns a report
---{root, store, tasks, runs, events, copies_written = {ids}, kept = {ids whose store record was
---newer than the copy}, problems = {...}, moved_aside?}; nil, message, code when the store cannot
---be opened or written. `progress(text)`, if given, hears of each phase.
function M.rebuild(root, progress)
  progress = progress or function() end
  local report = { root = root, problems = {}, copies_written = {}, kept = {}, tasks = 0, runs = 0, events = 0 }
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
    local chosen = {}
    for _, k in ipairs(KINDS) do
      progress("reading " .. k.glob)
      local bad, unusable = {}, {}
      local copies = assert(read_copies(s.dir, k, bad))
      for _, b in ipairs(bad) do
        unusable[b.id or ""] = true
        add(report.problems, { kind = k.kind, id = b.id, path = b.path, problem = "conflict",
          detail = "the copy is not a usable record: " .. b.detail })
      end
      chosen[k.kind] = choose(s, k, copies, report, unusable)
    end
    assert(s.db:begin_batch())
    assert(s.db:clear())
    for _, k in ipairs(KINDS) do
      local list = chosen[k.kind]
      progress(("importing %d %s%s"):format(#list, k.kind, #list == 1 and "" or "s"))
      for _, c in ipairs(list) do
        assert(s.db:import(k.kind, c.id, c.text))
        report[k.kind .. "s"] = report[k.kind .. "s"] + 1
      end
    end
    -- Written inside the transaction: should it not commit, the store keeps these records anyway.
    for _, k in ipairs(KINDS) do
      for _, c in ipairs(chosen[k.kind]) do
        if c.write_copy then
          assert(s:restore_copy(k.kind, c.id))
          report.copies_written[#report.copies_written + 1] = c.id
        end
        if c.newer then
          report.kept[#report.kept + 1] = c.id
        end
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
  sort_problems(report.problems)
  for _, p in ipairs(report.problems) do
    p.copy = nil
  end
  return report
end

return M
