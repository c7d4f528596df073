-- The service layer's answers (stdlib/sidecar/service/): a result and its envelope, and the
-- requests refused before any store is opened, whichever surface asks.
local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local json = require("sidecar.core.json")
local result = require("sidecar.service.result")
local runs = require("sidecar.service.runs")
local tasks = require("sidecar.service.tasks")
local usage = require("sidecar.service.usage")

describe("service.result", function()
  it("makes results whose status is the command line's exit status", function()
    local ok = result.ok({ n = 1 }, { "a warning" })
    expect({ ok.ok, ok.status, #ok.errors, ok.warnings[1] }):equals({ true, 0, 0, "a warning" })
    expect(result.ok().data):equals(json.null)
    local usage_error = result.fail("--limit is wrong", "usage")
    expect({ usage_error.ok, usage_error.status, usage_error.errors[1].code }):equals({ false, 2, "usage" })
    expect(result.fail("gone").status):equals(1)
    expect(result.fail("refused", nil, { why = "x" }).data.why):equals("x")
    -- a callee's own code (an unknown id, a run in the wrong state) is "failed", as the README says
    for _, code in ipairs({ "not_found", "bad_state", "ENOENT" }) do
      expect({ result.fail("no run R-0099", code).errors[1].code, result.fail("x", code).status }):equals({ "failed", 1 })
    end
  end)

  it("gives the envelope every surface sends, redacted", function()
    local e = result.envelope(result.fail("no such run"), "run show", "1.0")
    expect({ e.ok, e.command, e.version, e.data, e.errors[1].code, e.errors[1].message }):equals({ false, "run show",
      "1.0", json.null, "failed", "no such run" })
    local secret = "sk-" .. string.rep("Ab1", 16)
    local with = result.envelope(result.ok({ note = "key " .. secret }), "run show")
    expect(with.data.note:find(secret, 1, true)):is_nil()
    expect(result.envelope_of("x", false, nil, nil).errors[1].message):equals("x failed (it gave no reason)")
  end)
end)

describe("service requests refused before the store", function()
  it("refuses a bad run id, status or limit as usage", function()
    for _, r in ipairs({ runs.show({ id = "nope" }), runs.events({}), runs.kill({ id = "R-1x" }),
      runs.list({ limit = -1 }), runs.list({ status = "sleeping" }), runs.approve({ id = "R-0001", decision = "maybe" }),
      runs.block({ id = "R-0001", reason = " " }), tasks.list({ status = "later" }), usage.report({ by = "colour" }) }) do
      expect({ r.ok, r.status, r.errors[1].code }):equals({ false, 2, "usage" })
    end
    expect(runs.show({}).errors[1].message):equals("give a run id (R-0001)")
  end)

  it("names what a store that is not there lacks", function()
    local r = runs.list({ root = "/nonexistent/sidecar-spec/.agent" })
    expect({ r.ok, r.status }):equals({ false, 1 })
    expect(r.errors[1].message):matches("sidecar init")
  end)
end)
