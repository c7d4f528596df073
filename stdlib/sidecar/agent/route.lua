--- Routing: which runner, model and sandbox a piece of work goes to. Fast models take scans,
--- first drafts and pre-reviews; strong ones take risky or core work. A preset names the kind of
--- each step and its risk; the table below decides, `.agent/config.lua` (`routes`) changes it,
--- and the command line (--runner, --model) overrides everything. A tier may also carry `effort`
--- and `search` (routes.tiers.strong = {runner = "codex", effort = "high"}), mapped to the runner's
--- CLI by stdlib/sidecar/agent/effort.lua.
---
---   local r = route.resolve("scan")                      -- {runner, model, sandbox, tier, why}
---   local r = route.resolve("review", {risk = "high"})    -- escalated to the strong tier
local option_keys = require("sidecar.core.option_keys")

local M = {}

-- The tiers: a runner and a model each.
M.TIERS = {
  fast = { runner = "codex", model = "gpt-5.3-codex-spark" },
  strong = { runner = "codex", model = "gpt-5.5" },
}

-- Kinds of work and their tier; a high risk moves any kind to the strong tier.
M.KINDS = {
  scan = "fast", classify = "fast", draft = "fast", pre_review = "fast", research = "fast", verify = "fast",
  review = "strong", synthesis = "strong", implement = "strong", core = "strong", risky = "strong",
}

-- Kinds that may write to the work tree; everything else is read-only.
local WRITES = { implement = true, draft = false }

local RESOLVE_OPTIONS = { "risk", "routes", "runner", "model", "sandbox", "config_runner", "config_model" }

---Where `kind` goes. opts: risk ("low" | "medium" | "high"), routes (the config's `routes`:
---{tiers = {fast = {runner, model}}, kinds = {scan = "strong"}}), runner and model (command
---line overrides), sandbox (a preset's own choice), config_runner and config_model (the config's
---`runner` and `model`: a config runner other than a built-in tier's takes the tiers that
---`routes.tiers` leaves alone, with config_model or its own default model). First found wins:
---the command line, routes.tiers, the config's runner, the built-in tiers. Another option raises
---a bad_option error.
---@param kind string  scan, classify, draft, pre_review, research, verify, review, synthesis, implement, core, risky
---@param opts? {risk?: string, routes?: table, runner?: string, model?: string, sandbox?: string, config_runner?: string, config_model?: string}
---@return {runner: string, model: string|nil, sandbox: string, tier: string, why: string, effort: string|nil, search: boolean|nil}
function M.resolve(kind, opts)
  opts = opts or {}
  option_keys.check("route.resolve", opts, RESOLVE_OPTIONS, 2)
  local routes = opts.routes or {}
  local kinds = routes.kinds or {}
  local tier = kinds[kind] or M.KINDS[kind]
  assert(tier, ("route.resolve: unknown kind '%s'"):format(tostring(kind)))
  local why = ("%s work goes to the %s tier"):format(kind, tier)
  if opts.risk == "high" and tier ~= "strong" then
    tier, why = "strong", ("%s work at high risk is escalated to the strong tier"):format(kind)
  end
  local configured = (routes.tiers or {})[tier]
  local t = configured or M.TIERS[tier]
  assert(t, ("route.resolve: unknown tier '%s' (config routes.kinds.%s)"):format(tostring(tier), kind))
  local r = { tier = tier, runner = t.runner or M.TIERS[tier].runner, model = t.model, why = why,
    sandbox = opts.sandbox or (WRITES[kind] and "workspace-write" or "read-only") }
  if opts.runner then
    r.runner, r.model = opts.runner, opts.model -- another runner: its own default model unless given
    r.why = r.why .. "; runner from the command line"
  elseif not configured and opts.config_runner and opts.config_runner ~= r.runner then
    r.runner, r.model = opts.config_runner, opts.model or opts.config_model
    r.why = ("%s; runner %s from .agent/config.lua"):format(r.why, opts.config_runner)
  elseif opts.model then
    r.model = opts.model
  end
  -- The tier's reasoning effort and web search, when the runner that takes the work can be asked
  -- for them (stdlib/sidecar/agent/effort.lua); otherwise the route says why they were left out.
  r.effort, r.search = t.effort, t.search
  local ok, why_not = require("sidecar.agent.effort").args(r.runner, r.effort, r.search)
  if not ok then
    r.effort, r.search, r.why = nil, nil, r.why .. "; " .. why_not .. ", so the tier's effort is left out"
  end
  return r
end

return M
