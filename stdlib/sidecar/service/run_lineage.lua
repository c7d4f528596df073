--- The links between runs, read from the store for `sidecar run show`: replays, answers and the
--- steps of a pipeline (sidecar.service.run_data gives them, sidecar.cli.run_view prints them).
local json = require("sidecar.core.json")

local M = {}

---Whether a record's field holds something (not nil, json.null or "").
function M.present(v)
  return v ~= nil and v ~= json.null and v ~= ""
end
local present = M.present

local function step_order(a, b)
  local sa, sb = math.tointeger(a.pipeline_step) or math.huge, math.tointeger(b.pipeline_step) or math.huge
  if sa ~= sb then
    return sa < sb
  end
  return tostring(a.run_id) < tostring(b.run_id)
end

-- Every step of the run's pipeline: the runs joined to it by "pipeline" links (each step linked to
-- the previous one, or all to the first), in step order.
local function pipeline_steps(s, run)
  if not present(run.pipeline_id) then
    return {}
  end
  local seen, steps, todo = { [run.run_id] = true }, { run }, { run.run_id }
  while #todo > 0 do
    local id = table.remove(todo)
    local links, message, code = s:lineage(id)
    if not links then
      return nil, message, code
    end
    for _, side in ipairs({ links.parents, links.children }) do
      for _, l in ipairs(side) do
        local other = l.parent_run_id == id and l.child_run_id or l.parent_run_id
        if l.kind == "pipeline" and not seen[other] then
          seen[other] = true
          local r = s:get_run(other)
          if r and r.pipeline_id == run.pipeline_id then
            steps[#steps + 1] = r
            todo[#todo + 1] = other
          end
        end
      end
    end
  end
  table.sort(steps, step_order)
  return steps
end

---A run's links in the store: {replay_of = id?, replayed_as = {id...}, answer_of = id?,
---answered_by = {id...}, steps = {run...} (its pipeline's, in step order)}, or nil, message, code.
---@param s table  an open store
---@param run table  a run record
function M.of(s, run)
  local links, message, code = s:lineage(run.run_id)
  if not links then
    return nil, message, code
  end
  local l = { replayed_as = {}, answered_by = {} }
  for _, p in ipairs(links.parents) do
    if p.kind == "replay" then
      l.replay_of = p.parent_run_id
    elseif p.kind == "answer" then
      l.answer_of = p.parent_run_id
    end
  end
  if not (l.replay_of or l.answer_of) and present(run.parent_run_id) and not present(run.pipeline_id) then
    l[run.link_kind == "answer" and "answer_of" or "replay_of"] = run.parent_run_id
  end
  for _, c in ipairs(links.children) do
    local list = c.kind == "replay" and l.replayed_as or c.kind == "answer" and l.answered_by or nil
    if list then
      list[#list + 1] = c.child_run_id
    end
  end
  l.steps, message, code = pipeline_steps(s, run)
  if not l.steps then
    return nil, message, code
  end
  return l
end

return M
