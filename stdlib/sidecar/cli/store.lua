--- `sidecar store check`, `sidecar store rebuild` and `sidecar usage`: each takes the options
--- the command line parsed ({root, since, until, by, json, csv, version}), prints, and returns the
--- exit status.
local json = require("sidecar.core.json")
local out = require("sidecar.cli.output")
local secrets = require("sidecar.core.secrets")
local service_store = require("sidecar.service.store")
local store = require("sidecar.core.store")
local store_repair = require("sidecar.task.repair")
local usage = require("sidecar.service.usage")

local M = {}

local EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2

local root_of = service_store.root

-- Prints an operational failure the way the output asks for (a missing store with the way out:
-- sidecar.service.store.hint); returns the exit status.
local function failed(o, command, message, status)
  return out.fail(o, command, service_store.hint(o, message), status)
end

-- "1 run", "2 runs", "1 copy", "2 copies".
local function count(n, noun)
  if n == 1 then
    return "1 " .. noun
  end
  return n .. " " .. (noun:match("y$") and noun:sub(1, -2) .. "ies" or noun .. "s")
end

-- What check did or would do about a problem, for the DONE column.
local DONE = { write_copy = "written from the store", import = "imported into the store",
  finish = "finished (task moved, decision.md written)", remove = "removed" }

local function done_text(p, dry_run)
  if p.repaired then
    return DONE[p.repair] or DONE.write_copy
  elseif p.repair_failed then
    return "repair failed: " .. p.repair_failed
  elseif p.repair and dry_run then
    return "repairable"
  end
  return "needs you"
end

local function problem_lines(problems, dry_run)
  local rows = {}
  for _, p in ipairs(problems) do
    rows[#rows + 1] = { p.id or "?", p.problem, p.path .. ": " .. tostring(p.detail), done_text(p, dry_run) }
  end
  return rows
end

local function problems_json(problems)
  local list = {}
  for i, p in ipairs(problems) do
    list[i] = { kind = p.kind, id = p.id or json.null, path = p.path, problem = p.problem, detail = tostring(p.detail),
      store_revision = p.store_revision or json.null, copy_revision = p.copy_revision or json.null,
      repair = p.repair or json.null, repaired = p.repaired or false, repair_failed = p.repair_failed or json.null }
  end
  return json.array(list)
end

-- How to settle what check cannot: one line per kind of problem left.
local function advice(report)
  local lines = {}
  if report.integrity ~= "ok" then
    lines[#lines + 1] = "The database failed its integrity check: `sidecar store rebuild` rebuilds it from the copies."
  end
  local conflicts = {}
  for _, p in ipairs(report.problems) do
    if p.problem == "conflict" and not p.repaired then
      conflicts[#conflicts + 1] = p.id or p.path
    end
  end
  if #conflicts > 0 then
    lines[#lines + 1] = ("%s in conflict (%s): to keep the store's record, remove the copy; to keep the copy, set "
      .. "its \"revision\" above the store's (or fix the file). Then run `sidecar store check` again, which "
      .. "writes or imports it."):format(count(#conflicts, "copy"), table.concat(conflicts, ", "))
  end
  for _, p in ipairs(report.problems) do
    if p.repair_failed then
      lines[#lines + 1] = ("%s: the repair failed (%s); fix that and run `sidecar store check` again."):format(
        p.id or p.path, p.repair_failed)
    elseif p.problem == "bad_events" then
      lines[#lines + 1] = ("%s: %s could not be read (%s); its events were not imported."):format(p.id, p.path,
        tostring(p.detail))
    end
  end
  return lines
end

---`sidecar store check`: repairs what it can (not with --dry-run); exit 0 when the store and the
---copies agree at the end, 1 when something needs the user.
function M.check(o)
  local report, message, code = store_repair.check(root_of(o), { repair = not o.dry_run })
  if not report then
    if code == "ENOTDB" or code == "ECORRUPT" then
      message = message .. " (`sidecar store rebuild` moves it aside and rebuilds it from the copies)"
    end
    return failed(o, "store check", message)
  end
  local status = report.ok and EXIT_OK or EXIT_FAILURE
  if o.json then
    local errors = {}
    if report.integrity ~= "ok" then
      errors[#errors + 1] = "integrity check: " .. report.integrity
    end
    for _, p in ipairs(report.problems) do
      if not p.repaired then
        errors[#errors + 1] = ("%s: %s (%s)"):format(p.path, p.detail, p.problem)
      end
    end
    out.envelope("store check", report.ok, {
      root = report.root, store = report.store, integrity = report.integrity, repair = not o.dry_run,
      tasks = report.tasks, runs = report.runs, problems = problems_json(report.problems), counts = report.counts,
      repaired = report.repaired, needs_user = report.needs_user, settled = json.array(report.settled),
    }, errors, o.version)
    return status
  end
  print(("Store %s: integrity %s; %s and %s in the store, %s and %s in the folders."):format(
    report.store, report.integrity == "ok" and "ok" or "FAILED", count(report.tasks.store, "task"),
    count(report.runs.store, "run"), count(report.tasks.copies, "task copy"),
    count(report.runs.copies, "run copy")))
  if report.integrity ~= "ok" then
    print(report.integrity)
  end
  if #report.settled > 0 then
    print(("Wrote %s a crash had left behind: %s"):format(count(#report.settled, "copy"),
      table.concat(report.settled, ", ")))
  end
  local n = #report.problems
  if n > 0 then
    io.write(out.table({ "ID", "PROBLEM", "WHERE AND WHAT", "DONE" }, problem_lines(report.problems, o.dry_run)))
  end
  if o.dry_run and n > 0 then
    print(("%s; `sidecar store check` (without --dry-run) repairs %d of them."):format(count(n, "problem"),
      n - report.needs_user))
  elseif report.repaired > 0 then
    print(("Repaired %d of %s%s"):format(report.repaired, count(n, "problem"),
      report.ok and "; the store and the copies agree now." or "."))
  elseif report.ok then
    print("The store and the copies agree.")
  end
  for _, line in ipairs(advice(report)) do
    print(line)
  end
  return status
end

---`sidecar store rebuild`
function M.rebuild(o)
  local progress = not o.json and function(text)
    io.stderr:write("sidecar: store rebuild: ", text, "\n")
  end or nil
  local report, message = store_repair.rebuild(root_of(o), progress)
  if not report then
    return failed(o, "store rebuild", message)
  end
  local ok = #report.problems == 0
  if o.json then
    local errors = {}
    for _, p in ipairs(report.problems) do
      errors[#errors + 1] = ("%s: %s (%s)"):format(p.path, p.detail, p.problem)
    end
    out.envelope("store rebuild", ok, {
      root = report.root, store = report.store, tasks = report.tasks, runs = report.runs, events = report.events,
      copies_written = json.array(report.copies_written), kept = json.array(report.kept),
      moved_aside = report.moved_aside or json.null, problems = problems_json(report.problems),
    }, errors, o.version)
    return ok and EXIT_OK or EXIT_FAILURE
  end
  if report.moved_aside then
    print("The old store was not a readable database; it was moved to " .. report.moved_aside)
  end
  print(("Rebuilt %s: %s, %s, %s."):format(report.store, count(report.tasks, "task"), count(report.runs, "run"),
    count(report.events, "event")))
  if #report.kept > 0 then
    print(("Kept the store's record where its copy was older (%s): %s"):format(count(#report.kept, "record"),
      table.concat(report.kept, ", ")))
  end
  if #report.copies_written > 0 then
    print(("Wrote the copies of %s from the store: %s"):format(count(#report.copies_written, "record"),
      table.concat(report.copies_written, ", ")))
  end
  if not ok then
    io.write(out.table({ "ID", "PROBLEM", "WHERE AND WHAT" }, problem_lines(report.problems)))
    print(("%s left as %s: the store kept its own record where it had one. "
      .. "Fix or remove %s and rebuild again (or run `sidecar store check`)."):format(
      count(#report.problems, "file"), #report.problems == 1 and "it was" or "they were",
      #report.problems == 1 and "it" or "them"))
  end
  return ok and EXIT_OK or EXIT_FAILURE
end

-- A figure for people: blank when nobody reported it, marked * when only some runs did.
local function figure(cell, runs, text)
  if cell.reported == 0 then
    return "-"
  end
  return text .. (cell.reported < runs and "*" or "")
end

-- The rows shown: one per group, then the total (only the total with --by none).
local function shown_rows(rows, total, by)
  local list = {}
  for _, r in ipairs(by == "none" and {} or rows) do
    list[#list + 1] = r
  end
  list[#list + 1] = total
  return list
end

-- One JSON object per line: each row, then the total (`source` says which: store, prepared, total).
local function usage_jsonl(by, rows, total)
  for _, r in ipairs(shown_rows(rows, total, by)) do
    local line = usage.row_json(r)
    line.by = by
    io.write(json.encode(secrets.redact_value(line)), "\n")
  end
  return EXIT_OK
end

local function usage_csv(by, rows, total)
  local lines = {}
  for _, r in ipairs(shown_rows(rows, total, by)) do
    -- Explicit places: an unreported figure is an empty cell, not a missing one.
    local line = { r.group, r.runs }
    for i, f in ipairs(usage.FIELDS) do
      line[2 * i + 1] = r[f].reported > 0 and r[f].sum or nil
      line[2 * i + 2] = r[f].reported
    end
    line[13] = r.cost_usd.reported > 0 and ("%.6f"):format(r.cost_usd.sum) or nil
    line[14] = r.cost_usd.reported
    line[15] = r.first_at
    line[16] = r.last_at
    line[17] = usage.row_json(r).source
    lines[#lines + 1] = line
  end
  local names = { by == "none" and "group" or by, "runs" }
  for _, f in ipairs(usage.FIELDS) do
    names[#names + 1] = f
    names[#names + 1] = f .. "_runs"
  end
  for _, n in ipairs({ "cost_usd", "cost_usd_runs", "first_at", "last_at", "source" }) do
    names[#names + 1] = n
  end
  io.write(out.csv(names, lines))
  return EXIT_OK
end

-- The table for people, with notes on figures some runs did not report.
local function usage_table(o, q, by, rows, total, unreadable)
  local prepared = 0
  for _, r in ipairs(rows) do
    prepared = prepared + (r.prepared and r.runs or 0)
  end
  local span = (q.since and ("since " .. q.since) or "all time") .. (q["until"] and (", until " .. q["until"]) or "")
  if total.runs == 0 then
    print("No runs (" .. span .. ") in " .. root_of(o) .. ".")
    return EXIT_OK
  end
  local cells, partial = {}, false
  for _, r in ipairs(shown_rows(rows, total, by)) do
    local label = r.group == "" and "(none)" or r.group
    local line = { r.prepared and label .. " (prepared)" or label, tostring(r.runs) }
    for _, f in ipairs(usage.FIELDS) do
      line[#line + 1] = figure(r[f], r.runs, out.thousands(r[f].sum))
      partial = partial or (r[f].reported > 0 and r[f].reported < r.runs)
    end
    line[#line + 1] = figure(r.cost_usd, r.runs, ("%.4f"):format(r.cost_usd.sum))
    partial = partial or (r.cost_usd.reported > 0 and r.cost_usd.reported < r.runs)
    cells[#cells + 1] = line
  end
  local headers = { by == "none" and "ALL" or by:upper(), "RUNS", "INPUT", "CACHED INPUT", "OUTPUT", "REASONING",
    "TOTAL", "COST (USD)" }
  print(("Token usage, %s, %d run%s:"):format(span, total.runs, total.runs == 1 and "" or "s"))
  io.write(out.table(headers, cells, { [2] = true, [3] = true, [4] = true, [5] = true, [6] = true, [7] = true,
    [8] = true }))
  if partial then
    print("* only some runs reported this figure; the sum covers those runs (nothing is estimated).")
  end
  if prepared > 0 then
    print(("%d prepared folder%s (.agent/sidecars) run outside Sidecar, with usage in model.json, counted as runs."):format(
      prepared, prepared == 1 and "" or "s"))
  end
  if #unreadable > 0 then
    local names = {}
    for i, u in ipairs(unreadable) do
      names[i] = ("%s (%s)"):format(u.name, u.why)
    end
    print(("%d prepared folder%s could not be read: %s"):format(#unreadable, #unreadable == 1 and "" or "s",
      table.concat(names, ", ")))
  end
  if total.input.reported < total.runs then
    print(("%d run%s reported no usage: shown as -, never estimated."):format(
      total.runs - total.input.reported, total.runs - total.input.reported == 1 and "" or "s"))
  end
  return EXIT_OK
end

---`sidecar usage`
function M.usage(o)
  local q, by = usage.query(o)
  if not q then
    return failed(o, "usage", by, EXIT_USAGE)
  end
  if (o.json and 1 or 0) + (o.csv and 1 or 0) + (o.jsonl and 1 or 0) > 1 then
    return failed(o, "usage", "give one of --json, --jsonl and --csv", EXIT_USAGE)
  end
  if o.budgets and (o.csv or o.jsonl or o.since or o["until"] or o.by ~= "runner") then
    return failed(o, "usage", "--budgets shows each budget as the config sets it (today, each task, each run): "
      .. "it takes --json, not --csv, --jsonl, --by, --since or --until", EXIT_USAGE)
  end
  if o.budgets then -- spent against each budget of the config, and the runs a budget stopped
    local s, message = store.open(root_of(o))
    if not s then
      return failed(o, "usage", message)
    end
    local status = require("sidecar.cli.usage_budgets").show(o, s)
    s:close()
    return status
  end
  local r = usage.report(o)
  if not r.ok or o.json then
    return out.answer(o, "usage", r)
  end
  local t = r.report
  if o.jsonl then
    return usage_jsonl(t.by, t.rows, t.total)
  elseif o.csv then
    return usage_csv(t.by, t.rows, t.total)
  end
  return usage_table(o, t.query, t.by, t.rows, t.total, t.unreadable)
end

return M
