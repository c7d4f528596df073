--- The local executor: a run's worker as a detached process on this machine. Starting it is
--- task/background's own (no launcher here); its reconcile and kill are the owner checks of
--- run/reconcile and task/background, so it has none of the optional parts of an executor
--- (stdlib/sidecar/executor/init.lua).
local M = { name = "local", remote = false }

---Where the run runs, for "R-0001 runs …".
---@param run table
function M.where(run)
  return ("in the background (pid %d)"):format(run.worker_pid)
end

return M
