--- The JSON copies of the store's records (stdlib/sidecar/core/store.lua): each written at the revision the
--- store gave its record, never left behind a newer write, and the copies a crash cut off written
--- by the next process that opens the store. See host/store/run_store.hpp for the store's side (the
--- revisions and the pending marks).
local json = require("sidecar.core.json")
local secrets = require("sidecar.core.secrets")

local M = {}

---Where a record's JSON copy lives, relative to the `.agent` folder.
---@param kind "task"|"run"
function M.path(kind, id)
  if kind == "task" then
    return "tasks/" .. id .. ".json"
  end
  return "runs/" .. id .. "/run.json"
end

---The text of a record's copy: redacted as the store's text of it, keys sorted, 2-space indent.
---`redacted`: the record as redacted already (the store's text was encoded from it), or nil.
---@param record table
---@param redacted? table
function M.text(record, redacted)
  return json.encode(redacted or secrets.redact_value(record), { indent = 2 }) .. "\n"
end

---The store's row of a record ({record = JSON text, revision, ...}), or nil, message, code.
---@param db userdata  the host store (host.store)
---@param kind "task"|"run"
function M.row(db, kind, id)
  if kind == "task" then
    return db:get_task(id)
  end
  return db:get_run(id)
end

---Puts the copy of `record` (as the store holds it, at its revision) on disk, with `files` (each
---atomic, their fsyncs side by side), and clears the store's mark of the write `mark` (default: the
---record's revision). Should a newer write have overtaken it (another process), this copy may have
---landed on top of the newer one's: the newest is written from the store then, until the copy is
---the store's. Returns true, or nil, message, code.
---@param self table  an open store (stdlib/sidecar/core/store.lua)
---@param kind "task"|"run"
---@param files? {[1]: string, [2]: string}[]  a run's files beside its copy
---@param mark? integer
---@param redacted? table  `record` as redacted already, at the same revision (M.text)
function M.put(self, kind, id, record, files, mark, redacted)
  local path = M.path(kind, id)
  local batch = { { path, M.text(record, redacted) } }
  for _, f in ipairs(files or {}) do
    assert(kind == "run", "write_copy: only a run has a folder for files")
    batch[#batch + 1] = { "runs/" .. id .. "/" .. f[1], f[2] }
  end
  -- "whole": each file's data is on disk before its rename, so a copy is never cut, even by a
  -- power loss; the folders' fsyncs wait for the store's close (one per folder for all the
  -- copies of a command, not one per copy). Should the power fail before it, a copy may be the
  -- one before, as the store's last commits may be (synchronous=NORMAL, host/store/run_store.hpp).
  local ok, message, code = self.dir:write_all(batch, "whole")
  local written = math.type(record.revision) == "integer" and record.revision or 0
  mark = mark or written
  for _ = 1, 20 do
    if not ok then
      return nil, ("%s %s is in the store, but its copy %s could not be written: %s"):format(kind, id, path,
        message), code
    end
    local now
    now, message, code = self.db:copy_written(kind, id, mark, written)
    if not now then
      return nil, message, code
    end
    if now <= written then
      return true
    end
    local row = M.row(self.db, kind, id)
    if not row then
      return true -- gone meanwhile: nothing to copy
    end
    written = row.revision
    ok, message, code = self.dir:write(path, M.text(json.decode(row.record)), "whole")
  end
  return true -- overtaken again and again: the store keeps the mark, and the next open writes it
end

---The revision of the copy on disk: nil when there is none, false when it is not a record.
---@param dir userdata  the `.agent` folder (artifact)
---@param kind "task"|"run"
function M.revision_on_disk(dir, kind, id)
  local body = dir:read(M.path(kind, id))
  if not body then
    return nil
  end
  local ok, record = json.try_decode(body)
  if not ok or not json.is_object(record) then
    return false
  end
  return math.type(record.revision) == "integer" and record.revision or 0
end

---Finishes the writes a crash cut off: for each record the store marks as owing its copy, writes
---the copy from the store unless the one on disk is as new (or newer, or not a record: `store
---check` reports those). Done holding the store's write lock, so no write can overtake these
---copies. Adds to s.settled ({written = {ids}, failed = {{kind?, id?, message}...}}); never
---raises: a command that only reads must still open the store.
---@param s table  an open store (stdlib/sidecar/core/store.lua)
function M.settle(s)
  local ok, why = s.db:begin_batch()
  local pending
  if ok then
    pending, why = s.db:pending() -- again, under the lock: their writers may have finished
  end
  if not pending then
    s.settled.failed[#s.settled.failed + 1] = { message = tostring(why) }
    s.db:rollback_batch()
    return
  end
  local rows = {}
  for _, p in ipairs(pending) do
    local key = p.kind .. " " .. p.id
    ok, why = pcall(function()
      local row = rows[key]
      if row == nil then
        row = M.row(s.db, p.kind, p.id) or false
        rows[key] = row
        local on_disk = M.revision_on_disk(s.dir, p.kind, p.id)
        if row and (on_disk == nil or (on_disk and on_disk < row.revision)) then
          assert(M.put(s, p.kind, p.id, json.decode(row.record), nil, p.revision))
          s.settled.written[#s.settled.written + 1] = p.id
          return
        end
      end
      -- The copy is there (a later mark of the same record, or only the clearing was cut off).
      assert(s.db:copy_written(p.kind, p.id, p.revision, row and row.revision or p.revision))
    end)
    if not ok then
      s.settled.failed[#s.settled.failed + 1] = { kind = p.kind, id = p.id, message = tostring(why) }
    end
  end
  ok, why = s.db:commit_batch()
  if not ok then
    s.db:rollback_batch()
    s.settled.failed[#s.settled.failed + 1] = { message = tostring(why) }
  end
end

return M
