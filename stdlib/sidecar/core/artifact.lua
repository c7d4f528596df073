--- Artifact folders: files Sidecar writes for people and tools to read, confined to their
--- folder (no "..", absolute path or symbolic link ever leads out), written atomically.
---
---   local dir = assert(artifact.open(".agent/sidecars/T-1", {create = true}))
---   dir:write("prompt.md", text)              -- atomic; secrets redacted
---   dir:write_json("model.json", record)      -- sorted keys, 2-space indent, trailing newline
---   dir:append_jsonl("events.jsonl", event)   -- one whole line
---   local rec, err = dir:read_json("model.json")
---
--- Operational failures return nil, message, code (codes such as "ENOENT", "ESCAPE",
--- "ESYMLINK", "EHARDLINK", "EEXIST"); bad arguments raise.
local host = require("sidecar.host.artifact")
local hostlock = require("sidecar.host.lock")
local json = require("sidecar.core.json")
local secrets = require("sidecar.core.secrets")
local lines = require("sidecar.core.text")
local option_keys = require("sidecar.core.option_keys")

local M = {}

local Dir = {}
Dir.__index = Dir
Dir.__name = "sidecar.artifact"

-- Every text written passes through this: secrets (values of *_KEY, *_TOKEN, ... variables, and
-- API-key shapes) never reach an artifact.
local function redact(text)
  return (secrets.redact(text))
end

local OPEN_OPTIONS = { "create" }

---Opens an artifact folder. With create, the folders it makes are made durable (their names
---fsynced in their parents) by the first "now" write through it, dir:sync() or the close. An
---unknown option raises a bad_option error.
---@param root string
---@param opts? {create: boolean?}
---@return table|nil dir, string? message, string? code
function M.open(root, opts)
  option_keys.check("artifact.open", opts, OPEN_OPTIONS, 2)
  local handle, message, code = host.open(root, opts and opts.create)
  if not handle then
    return nil, message, code
  end
  return setmetatable({ handle = handle }, Dir)
end

---Replaces a file atomically (its folders are created); the text is redacted first. Whole
---however the process dies; `durability` says what a power loss may do (host/store/artifact_store.hpp):
---"now" (the default: on disk when it returns), "whole" (the folder's fsync waits for
---dir:sync() or the close: the previous version may come back, never a cut one) or "atomic"
---(no fsync: the file may be lost or cut).
---@param durability? "now"|"whole"|"atomic"
function Dir:write(path, text, durability)
  return self.handle:write(path, redact(text), durability)
end

---Writes several files ({{path, text}, ...}), each atomically, with fewer fsyncs.
---@param durability? "now"|"whole"|"atomic"  as in write
function Dir:write_all(files, durability)
  local redacted = {}
  for i, f in ipairs(files) do
    redacted[i] = { f[1], redact(f[2]) }
  end
  return self.handle:write_all(redacted, durability)
end

---Fsyncs, once each, the folders whose fsync this folder holds back: those "whole" writes left
---unsynced and the parents of folders it created (the close does it too).
function Dir:sync()
  return self.handle:sync()
end

---Writes a value as JSON: keys sorted, 2-space indent, trailing newline. String values are
---redacted before encoding (a secret holding a quote would be escaped in the text).
---@param durability? "now"|"whole"|"atomic"  as in write
function Dir:write_json(path, value, durability)
  return self.handle:write(path, json.encode(secrets.redact_value(value), { indent = 2 }) .. "\n", durability)
end

---Appends one value as a JSON line (string values redacted).
---@param sync? boolean  also fsync the file
function Dir:append_jsonl(path, value, sync)
  return self.handle:append(path, json.encode(secrets.redact_value(value)) .. "\n", sync)
end

---Appends text as is (after redaction); give whole lines.
function Dir:append(path, text, sync)
  return self.handle:append(path, redact(text), sync)
end

---Keeps the last `max_lines` lines of an appended file (a log) and drops the rest, in one atomic
---rewrite under the lock every append takes: a line another process appends meanwhile is kept. A
---missing file is fine.
---@param path string
---@param max_lines integer
---@return boolean|nil ok, string? message, string? code
function Dir:keep_last_lines(path, max_lines)
  return self.handle:keep_last_lines(path, max_lines)
end

function Dir:read(path)
  return self.handle:read(path)
end

---Reads and decodes a JSON file; nil, message, code when missing or malformed.
function Dir:read_json(path)
  local text, message, code = self.handle:read(path)
  if not text then
    return nil, message, code
  end
  local ok, value = json.try_decode(text)
  if not ok then
    return nil, path .. ": " .. tostring(value.message or value), "EJSON"
  end
  return value
end

---Reads a JSON Lines file into a list (a last line without its newline is ignored: a write
---that never finished).
function Dir:read_jsonl(path)
  local data, message, code = self.handle:read(path)
  if not data then
    return nil, message, code
  end
  local out, n, bad = {}, 0, nil
  lines.each_line(data, function(line)
    if line ~= "" and not bad then
      n = n + 1
      local ok, value = json.try_decode(line)
      if ok then
        out[#out + 1] = value
      else
        bad = ("%s:%d: %s"):format(path, n, tostring(value.message or value))
      end
    end
  end)
  if bad then
    return nil, bad, "EJSON"
  end
  return out
end

function Dir:exists(path)
  return self.handle:exists(path)
end

function Dir:list(pattern)
  return self.handle:list(pattern)
end

function Dir:make_dirs(path)
  return self.handle:make_dirs(path)
end

---Creates a new folder; nil, message, "EEXIST" when another process got there first. Its name
---is made durable by the next "now" write through this folder, dir:sync() or the close.
function Dir:create_dir(path)
  return self.handle:create_dir(path)
end

---Takes the lock of file `path` in the folder (created when missing; its folders must exist) without
---waiting, as host.lock's try does, but opened one component at a time, never through a link: a
---link swapped in after a check cannot send it elsewhere. The lock, or nil, message, code
---("EWOULDBLOCK": another holds it; "ENOENT", "ESYMLINK", "EHARDLINK": as read's).
function Dir:lock(path)
  return hostlock.try_in(self.handle, path)
end

function Dir:root()
  return self.handle:root()
end

function Dir:close()
  self.handle:close()
end

Dir.__close = Dir.close

function Dir:__tostring()
  return "sidecar.artifact (" .. self.handle:root() .. ")"
end

return M
