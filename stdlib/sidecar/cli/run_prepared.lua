--- `sidecar run --prepared DIR`: runs a folder `sidecar prepare` made and fills it
--- (sidecar.task.prepared_run). Prints the run (text, or the JSON envelope with --json) and
--- returns the exit status: 0 the run ended in review, 1 it did not (or could not run: a broken
--- folder, one run already), 2 the command line is wrong (DIR is no prepared folder).
local json = require("sidecar.core.json")
local out = require("sidecar.cli.output")
local prepared_run = require("sidecar.task.prepared_run")
local runs = require("sidecar.task.runs")

local M = {}

local EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2

---`sidecar run --prepared DIR`
function M.run(o)
  local p, why, code = prepared_run.read(o.prepared)
  if not p then
    return out.fail(o, "run", why, code == "usage" and EXIT_USAGE or EXIT_FAILURE)
  end
  local s, cfg = runs.open(o.root or p.root, { create = true })
  if not s then
    return out.fail(o, "run", cfg)
  end
  out.progress(("%s: %s started (%s)"):format(p.meta.task_id, o.runner or p.runner, p.meta.model))
  local run, message, code = prepared_run.run(p, s, cfg, o)
  s:close()
  if not run then
    return out.fail(o, "run", message, code == "usage" and EXIT_USAGE or EXIT_FAILURE)
  end
  local ok = run.status == "review" or run.status == "completed"
  if o.json then
    out.envelope("run", ok, { run_id = run.run_id, status = run.status, prepared = p.dir, summary = run.summary or json.null,
      usage = run.usage or json.null, failure_reason = run.failure_reason or json.null },
      not ok and { run.failure_reason or ("the run ended " .. run.status) } or nil, o.version)
  else
    print(("%s %s: %s"):format(run.run_id, run.status, run.summary or run.failure_reason or ""))
    io.stderr:write(("sidecar: %s filled: output.md, model.json, model.md, events.jsonl, run.json; decide in "
      .. "decision.md\n"):format(p.dir))
  end
  return ok and EXIT_OK or EXIT_FAILURE
end

return M
