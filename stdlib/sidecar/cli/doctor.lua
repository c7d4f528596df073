--- `sidecar doctor`: for each runner, whether its CLI is on PATH, its version, whether it accepts
--- the flags Sidecar relies on, and what to do when not.
---
---   local report = doctor.check()   -- {runners = {{name, ok, installed, version, missing_flags, advice}}}
local cli_output = require("sidecar.cli.output")
local json = require("sidecar.core.json")
local proc = require("sidecar.core.proc")
local runners = require("sidecar.agent.runners")

local M = {}

local TIMEOUT_MS = 20000

local function first_line(text)
  return text and text:match("^%s*([^\n]-)%s*\n") or (text and text:match("^%s*(.-)%s*$")) or nil
end

-- Whether `flag` appears in help text as a flag of its own (not inside a longer one).
local function mentions(help, flag)
  local at = 1
  while true do
    local s, e = help:find(flag, at, true)
    if not s then
      return false
    end
    local before, after = help:sub(s - 1, s - 1), help:sub(e + 1, e + 1)
    if not before:match("[%w-]") and not after:match("[%w-]") then
      return true
    end
    at = e + 1
  end
end

---Checks every registered runner that names a CLI (the command runner needs none), all at once.
function M.check()
  local specs, checks = {}, {}
  for _, name in ipairs(runners.names()) do
    local spec = runners.get(name)
    if spec.version then
      checks[#checks + 1] = { name = name, spec = spec }
      specs[#specs + 1] = { cmd = spec.version, timeout_ms = TIMEOUT_MS }
      specs[#specs + 1] = { cmd = spec.probe and spec.probe.cmd or spec.version, timeout_ms = TIMEOUT_MS }
    end
  end
  local results = proc.parallel(specs, { max_jobs = 8 })
  local report = { runners = {} }
  for i, c in ipairs(checks) do
    local version, probe = results[2 * i - 1], results[2 * i]
    local entry = { name = c.name, describe = c.spec.describe, missing_flags = {} }
    if version.error and version.code == nil and not version.signal then
      entry.installed, entry.ok = false, false
      entry.advice = ("%s is not on PATH: install it with `%s`"):format(c.spec.version[1], c.spec.install or "?")
    else
      entry.installed = true
      entry.version = first_line(version.stdout) or first_line(version.stderr)
      local help = (probe.stdout or "") .. (probe.stderr or "")
      for _, flag in ipairs(c.spec.probe and c.spec.probe.flags or {}) do
        if not mentions(help, flag) then
          entry.missing_flags[#entry.missing_flags + 1] = flag
        end
      end
      if not version.ok then
        entry.ok = false
        entry.advice = ("`%s` failed (%s): reinstall it with `%s`"):format(table.concat(c.spec.version, " "),
          first_line(version.stderr) or ("exit " .. tostring(version.code)), c.spec.install or "?")
      elseif #entry.missing_flags > 0 then
        entry.ok = false
        entry.advice = ("its help does not mention %s, which Sidecar relies on: update it with `%s@latest`"):format(
          table.concat(entry.missing_flags, ", "), c.spec.install or "?")
      else
        entry.ok = true
      end
    end
    report.runners[#report.runners + 1] = entry
  end
  report.usable = 0
  for _, e in ipairs(report.runners) do
    if e.ok then
      report.usable = report.usable + 1
    end
  end
  -- Unusable: no agent CLI works, or one is installed but broken (it would fail every run).
  report.ok = report.usable > 0
  for _, e in ipairs(report.runners) do
    if e.installed and not e.ok then
      report.ok = false
    end
  end
  return report
end

---`sidecar doctor [--json]`: prints the report; exit 1 when no runner is usable or an installed
---one is broken.
function M.cli(o)
  local report = M.check()
  if o.json then
    for _, e in ipairs(report.runners) do
      e.missing_flags = json.array(e.missing_flags)
    end
    report.runners = json.array(report.runners)
    cli_output.envelope("doctor", report.ok, report, {}, o.version)
    return report.ok and 0 or 1
  end
  local rows = {}
  for _, e in ipairs(report.runners) do
    rows[#rows + 1] = { e.name, e.ok and "ok" or (e.installed and "BROKEN" or "missing"), e.version or "-",
      e.advice or "ready" }
  end
  rows[#rows + 1] = { "command", "ok", "-", "any argv you give the command runner; nothing to install" }
  io.write(cli_output.table({ "RUNNER", "STATUS", "VERSION", "NOTES" }, rows))
  if report.usable == 0 then
    print("No agent CLI is usable: install one of the above (or run a plain command with the command runner).")
  end
  return report.ok and 0 or 1
end

return M
