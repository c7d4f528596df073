--- `sidecar test --json`: the spec runner (sidecar.dev.test) with what the specs print captured
--- (sidecar.cli.json_run), so that stdout holds one document, the envelope {ok, version, command,
--- data, errors[]}.
---
---   local status = test_report.tests({ list = { "tests/lua" }, version = "0.1.0" })
local json = require("sidecar.core.json")
local json_run = require("sidecar.cli.json_run")
local out = require("sidecar.cli.output")
local test = require("sidecar.dev.test")

local M = {}

---Runs the spec files `o.list` as `sidecar test` does and prints the envelope: data {passed, failed,
---skipped, failures = [{name, message}], output}. ok when something ran and nothing failed.
---@param o {list: string[], filter: string?, verbose: boolean?, version: string}
---@return integer
function M.tests(o)
  local specs, opts, version = o.list, o, o.version
  local failures = {}
  local ok, results, printed = json_run.capture_stdout(function()
    return test.run_files(specs, { filter = opts.filter, verbose = opts.verbose,
      failures = failures })
  end)
  local counts = results[1]
  if not ok then
    out.envelope("test", false, { output = printed, traceback = tostring(counts) },
      { { code = "internal", message = tostring(counts):match("^[^\n]*") } }, version)
    return 1
  end
  local total = counts.passed + counts.failed + counts.skipped
  local errors = {}
  for i, f in ipairs(failures) do
    errors[i] = { code = "test_failed", message = f.name .. ": " .. f.message:match("^[^\n]*") }
  end
  if total == 0 then
    errors[1] = { code = "no_tests", message = "no tests ran" .. (opts.filter and (" (filter '" .. opts.filter .. "')") or "") }
  end
  out.envelope("test", #errors == 0, { passed = counts.passed, failed = counts.failed, skipped = counts.skipped,
    failures = json.array(failures), output = printed }, errors, version)
  return #errors == 0 and 0 or 1
end

return M
