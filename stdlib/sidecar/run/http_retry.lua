--- What Sidecar's own senders (notifications, OpenTelemetry exports) share: one bounded HTTP POST
--- read as an attempt, and attempts tried again after a backoff while another try may help.
---
---   local ok, why = http_retry.attempts({ 1000, 4000 }, function()
---     return http_retry.post(url, body, headers, 10000)
---   end, function(facts) log(facts) end)   -- facts: {ok, attempt, http_status?, error?, ...}
local M = {}

M.SAID_BYTES = 200 -- of an answer's body, in the error of a refused request

---": <the first line of an answer's body>" (bounded, shown harmlessly), or "" for an empty one.
---@param body string|nil
---@return string
function M.said(body)
  local text = require("sidecar.core.text")
  local line = text.first_line(body, M.SAID_BYTES) or ""
  return line ~= "" and ": " .. (text.visible(line)) or ""
end

---One HTTP POST (sidecar.host.http, never an agent's): ok, facts {http_status?, error?}, and whether
---another try may help (no answer, a 5xx, 408 or 429; not another 4xx).
---@return boolean ok, table facts, boolean again
function M.post(url, body, headers, timeout_ms)
  local status, excerpt, retry_after = require("sidecar.host.http").post(url, body,
    { headers = headers, timeout_ms = timeout_ms })
  if not status then
    return false, { error = excerpt }, true
  end
  if status >= 200 and status < 300 then
    return true, { http_status = status }
  end
  return false, { http_status = status, error = ("HTTP %d%s"):format(status, M.said(excerpt)),
    retry_after_ms = retry_after and retry_after * 1000 or nil }, status >= 500 or status == 408 or status == 429
end

M.MAX_RETRY_AFTER_MS = 60000 -- the longest an endpoint's Retry-After makes a sender wait

---Calls try() (-> ok, facts, again) until it succeeds, says no other try may help, or #backoff_ms + 1
---attempts were made, waiting backoff_ms[i] after the i-th, or longer when the endpoint asked to
---(facts.retry_after_ms: its Retry-After, up to MAX_RETRY_AFTER_MS); record(facts) is told of each,
---with facts.ok and facts.attempt (from 1) set. Returns ok, the last attempt's error and its facts.
---@param backoff_ms integer[]
---@param try fun(): boolean, table, boolean?
---@param record fun(facts: table)
---@return boolean ok, string? why, table facts
function M.attempts(backoff_ms, try, record)
  for i = 1, #backoff_ms + 1 do
    local ok, facts, again = try()
    facts.ok, facts.attempt = ok, i
    record(facts)
    if ok or not again or i > #backoff_ms then
      return ok, facts.error, facts
    end
    local wait = math.max(backoff_ms[i], math.min(facts.retry_after_ms or 0, M.MAX_RETRY_AFTER_MS))
    for _ = 1, wait // 500 do -- slices: sleep_ms takes at most a second
      require("sidecar.host.time").sleep_ms(500)
    end
  end
end

return M
