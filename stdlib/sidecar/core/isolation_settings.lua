--- The choices of the OS sandbox's settings (`isolation.sandbox`, `isolation.network`, a runner's
--- `network`, `worktree.setup_network`, `--os-sandbox`, `--network`) and their check, for
--- sidecar.core.config; sidecar.run.sandbox says what each choice does.
local M = {}

---The networks an agent's OS sandbox may have: sidecar.run.sandbox says what each lets through.
M.NETWORKS = { "model", "none", "full", "host" }
---The OS sandboxes: bubblewrap, else Landlock ("auto"), either one, or none.
M.SANDBOXES = { "auto", "bwrap", "landlock", "off" }

---Checks a choice: `want` "network" (one of M.NETWORKS) or "os_sandbox" (one of M.SANDBOXES).
---True, or nil and a message naming `path` and the choices.
---@param path string  where it came from ("isolation.network")
---@param want "network"|"os_sandbox"
---@return boolean|nil ok, string? message
function M.check(path, want, v)
  local names = want == "network" and M.NETWORKS or M.SANDBOXES
  for _, name in ipairs(names) do
    if v == name then
      return true
    end
  end
  local quoted = {}
  for i, name in ipairs(names) do
    quoted[i] = ("%q"):format(name)
  end
  return nil, ("%s: expected %s, got %s"):format(path, table.concat(quoted, ", "),
    type(v) == "string" and ("%q"):format(v) or type(v))
end

return M
