--- The JSON API of `sidecar ui`: each route calls the service function of the command that
--- `--json` would run (stdlib/sidecar/service/*.lua) and answers with the envelope `{ok, version,
--- command, data, errors[]}`.
--- The C++ server (ui/ui_server.cpp) has already checked the Host, the Origin and the token; this
--- module decides which method a route takes (a change of state: POST only) and which of a
--- command's options a request may set (only those listed: never `--worker` or `--prepared`).
---
---   local api = require("sidecar.ui.api")
---   local ctx = assert(api.start({ root = nil, version = "0.1.0" }))
---   local status, content_type, body = api.handle(ctx, "GET", "/api/runs", { limit = "10" }, "")
local board = require("sidecar.ui.board")
local json = require("sidecar.core.json")
local presets = require("sidecar.service.presets")
local result = require("sidecar.service.result")
local run_board = require("sidecar.service.run_board")
local run_changes = require("sidecar.service.run_changes")
local run_start = require("sidecar.service.run_start")
local runs = require("sidecar.service.runs")
local store = require("sidecar.core.store")
local tasks = require("sidecar.service.tasks")
local usage = require("sidecar.service.usage")
local usage_budgets = require("sidecar.service.usage_budgets")

local M = {}

-- The files of a run's folder the page shows (the final message, the prompt, the patch).
local RUN_FILES = { ["output.md"] = true, ["prompt.md"] = true, ["changes.patch"] = true }

-- `GET /api/runs/R-…/files/NAME`: {run_id, name, text (null when the run has no such file)}.
local function run_file(o)
  local s, message = store.open(o.root)
  if not s then
    return result.fail(message)
  end
  local dir = s:run_dir(o.id)
  local text = dir and dir:read(o.name)
  if dir then
    dir:close()
  end
  s:close()
  return result.ok({ run_id = o.id, name = o.name, text = text or json.null })
end

-- `POST /api/presets/NAME/run`: starts `sidecar preset run` in the background (sidecar.ui.preset_runs).
local function preset_start(o)
  local id, message = require("sidecar.ui.preset_runs").start(o.root, o.name, o.params or {})
  return id and result.ok({ id = id, preset = o.name }) or result.fail(message)
end

-- `GET /api/preset-runs/P-…`: {id, preset, params, running, report (the command's envelope, or null)}.
local function preset_state(o)
  local state, message = require("sidecar.ui.preset_runs").state(o.root, o.id)
  return state and result.ok(state) or result.fail(message)
end

-- A route's answer: a service function (sidecar.service.*, or this module's own) returning a
-- result, whose envelope names `command`.
local function service(fn, command)
  return { service = fn, command = command }
end

-- Each route: method, path pattern (its captures fill `ids`), the command, the options a request may
-- give ({name = "text" | "integer"}), fixed options.
local ROUTES = {
  { "GET", "^/api/tasks$", service(tasks.list, "task list"), { status = "text" } },
  { "GET", "^/api/board$", service(board.board, "ui board"), { q = "text", per_status = "integer", shown = "text" } },
  { "GET", "^/api/board/runs$", service(run_board.board, "ui runs board"), { runner = "text", status = "text",
    task = "text", preset = "text", q = "text", column = "text", cursor = "text", limit = "integer" } },
  { "GET", "^/api/runs$", service(runs.list, "run list"), { task = "text", status = "text", limit = "integer" },
    { limit = 50 } },
  { "GET", "^/api/runs/(R%-%d+)$", service(runs.show, "run show"), {}, {}, { "id" } },
  { "GET", "^/api/runs/(R%-%d+)/budgets$", service(usage_budgets.run_report, "run budgets"), {}, {}, { "id" } },
  { "GET", "^/api/runs/(R%-%d+)/events$", service(runs.events, "run tail"), {}, { follow = false }, { "id" } },
  { "GET", "^/api/runs/(R%-%d+)/files/([%w._-]+)$", service(run_file, "run file"), {}, {}, { "id", "name" } },
  { "GET", "^/api/review$", service(runs.review, "run review"), {} },
  { "GET", "^/api/presets$", service(presets.list, "preset list"), {} },
  { "GET", "^/api/presets/([%w_-]+)$", service(presets.show, "preset show"), {}, {}, { "name" } },
  { "POST", "^/api/presets/([%w_-]+)/run$", service(preset_start, "preset run"), { params = "params" }, {}, { "name" } },
  { "GET", "^/api/preset%-runs/(P%-%d+T%d+%-%d+)$", service(preset_state, "preset run"), {}, {}, { "id" } },
  { "GET", "^/api/usage/budgets$", service(usage_budgets.report, "usage budgets"), {} },
  { "GET", "^/api/usage$", service(usage.report, "usage"), { by = "text", since = "text", ["until"] = "text" },
    { by = "runner" } },
  { "POST", "^/api/tasks/(T%-%d+)/run$", service(run_start.start, "run"), { runner = "text", agent_role = "text", model = "text" },
    { background = true }, { "task" } },
  { "POST", "^/api/runs/(R%-%d+)/approve$", service(runs.approve, "run approve"), { note = "text", decision = "text" }, {},
    { "id" } },
  { "POST", "^/api/runs/(R%-%d+)/block$", service(runs.block, "run block"), { reason = "text", decision = "text" }, {},
    { "id" } },
  { "POST", "^/api/runs/(R%-%d+)/kill$", service(runs.kill, "run kill"), {}, {}, { "id" } },
  { "POST", "^/api/runs/(R%-%d+)/replay$", service(run_start.replay, "run replay"), { reason = "text", runner = "text",
    agent_role = "text", model = "text" }, { background = true }, { "id" } },
  { "POST", "^/api/runs/(R%-%d+)/apply$", service(run_changes.apply, "run apply"), {}, {}, { "id" } },
  { "POST", "^/api/runs/(R%-%d+)/discard$", service(run_changes.discard, "run discard"), {}, {}, { "id" } },
  { "POST", "^/api/tasks/(T%-%d+)/dry%-run$", service(run_start.start, "run"), { runner = "text", agent_role = "text", model = "text" },
    { dry_run = true, explain = true }, { "task" } },
}

local function envelope(ctx, command, message, code)
  return json.encode({ ok = false, version = ctx.version, command = command, data = json.null,
    errors = json.array({ { code = code or "failed", message = message } }) })
end

---Finds the store the server shows: `opts.root` (the `.agent` folder) or the nearest one.
---@param opts {root: string?, version: string}
---@return table|nil ctx  {root, version, watch = {files whose changes are events}}
---@return string? message
function M.start(opts)
  local root = opts.root or store.find_root(".")
  local s, message = store.open(root)
  if not s then
    return nil, message .. (message:find("^no Sidecar store") and " (run `sidecar init` in the repository first)" or "")
  end
  s:close()
  local db = root .. "/" .. store.DB_NAME
  return { root = root, version = opts.version, watch = { db, db .. "-wal" } }
end

-- A preset's parameters: an object of names to text (numbers and booleans as the command line
-- would write them).
local function params_field(v)
  if type(v) ~= "table" or json.is_array(v) then
    return nil
  end
  local params = {}
  for k, x in pairs(v) do
    if type(k) ~= "string" or not k:match("^[%w_]+$") then
      return nil
    end
    if type(x) == "number" or type(x) == "boolean" then
      x = tostring(x)
    end
    if type(x) ~= "string" then
      return nil
    end
    params[k] = x
  end
  return params
end

-- The options for a route's command from the request: its ids, the allowed fields of `given`.
local function options(ctx, route, ids, given)
  local o = { root = ctx.root, json = true, version = ctx.version, repo = ctx.root .. "/.." }
  for k, v in pairs(route[5] or {}) do
    o[k] = v
  end
  for i, key in ipairs(route[6] or {}) do
    o[key] = ids[i]
  end
  for key, kind in pairs(route[4]) do
    local v = given[key]
    if v ~= nil and v ~= json.null and v ~= "" then
      if kind == "params" then
        v = params_field(v)
        if not v then
          return nil, ("'%s' must be an object of parameter names to values"):format(key)
        end
      elseif kind == "integer" then
        v = math.tointeger(tonumber(v))
        if not v then
          return nil, ("'%s' must be a whole number"):format(key)
        end
      elseif type(v) ~= "string" then
        return nil, ("'%s' must be a string"):format(key)
      end
      o[key] = v
    end
  end
  return o
end

-- The fields of a POST body: a JSON object, or none.
local function body_fields(body)
  if body == nil or body == "" then
    return {}
  end
  local ok, value = json.try_decode(body)
  if not ok or type(value) ~= "table" or json.is_array(value) then
    return nil, "the body must be a JSON object"
  end
  return value
end

local function find_route(method, path)
  local other
  for _, route in ipairs(ROUTES) do
    local ids = { path:match(route[2]) }
    if #ids > 0 or path:match(route[2]) then
      if route[1] == method then
        return route, ids
      end
      other = route[1]
    end
  end
  return nil, other
end

---Answers one API request.
---@param ctx table  from M.start
---@param method string  "GET" or "POST"
---@param path string
---@param query table<string, string>
---@param body string
---@return integer status, string content_type, string body, string? allow
function M.handle(ctx, method, path, query, body)
  local route, ids = find_route(method, path)
  if route and route[3].service == run_file and not RUN_FILES[ids[2]] then
    return 404, "application/json", envelope(ctx, "ui", ("%s: not a file the page shows (output.md, prompt.md, "
      .. "changes.patch)"):format(ids[2]), "not_found")
  end
  if not route then
    if ids then -- the path is a route of the other method
      return 405, "application/json", envelope(ctx, "ui", ("%s %s: use %s"):format(method, path, ids), "method_not_allowed"), ids
    end
    return 404, "application/json", envelope(ctx, "ui", "no such API route: " .. path, "not_found")
  end
  local given, why = query, nil
  if method == "POST" then
    given, why = body_fields(body)
  end
  local o
  if given then
    o, why = options(ctx, route, ids, given)
  end
  if not o then
    return 400, "application/json", envelope(ctx, "ui", why, "usage")
  end
  local r = route[3].service(o)
  local e = result.envelope(r, route[3].command, ctx.version)
  local code = e.ok and 200 or r.status == 2 and 400 or 422
  return code, "application/json", json.encode(e)
end

return M
