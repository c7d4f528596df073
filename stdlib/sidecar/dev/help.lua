--- help() for the REPL: the public API's documentation, from the reference compiled into the
--- binary (docs/lua-api.md, which scripts/lua-api makes from the stdlib's annotations).
---
---   help()                  -- the public modules, one line each
---   help(merge)             -- a module: what it is, and its functions
---   help("merge.combine")   -- one function (or help(merge.combine): the function itself)
local docs = require("sidecar.host.docs")
local sidecar = require("sidecar")

local M = {}

-- The reference's sections: modules[short] = {title, lines, functions = {name -> lines}, order}.
local reference

-- Reads the reference into modules by "## short: module" and functions by "### `name(...)`".
local function parse(text)
  local modules, module, fn = {}, nil, nil
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    local short = line:match("^## ([%w_]+): [%w_.]+$")
    local name = line:match("^### `([%w_.:]+)%(") or line:match("^### `([%w_.:]+)`$")
    if short then
      module, fn = { title = line:sub(4), lines = {}, functions = {}, order = {} }, nil
      modules[short] = module
    elseif line:match("^## ") then
      module, fn = nil, nil
    elseif module and name then
      fn = { line:sub(5) }
      module.functions[name] = fn
      module.order[#module.order + 1] = name
    elseif fn then
      fn[#fn + 1] = line
    elseif module then
      module.lines[#module.lines + 1] = line
    end
  end
  return modules
end

local function modules()
  reference = reference or parse(docs.lua_api())
  return reference
end

-- Lines without the blank ones at either end.
local function trimmed(lines)
  local first, last = 1, #lines
  while first <= last and not lines[first]:find("%S") do
    first = first + 1
  end
  while last >= first and not lines[last]:find("%S") do
    last = last - 1
  end
  return table.concat(lines, "\n", first, last)
end

M.SUMMARY_WIDTH = 72 -- the list's line for a module, at most

-- The first sentence of a module's description (its first paragraph's), cut to SUMMARY_WIDTH.
local function summary(module)
  local words = {}
  for _, line in ipairs(module.lines) do
    if line:find("%S") then
      words[#words + 1] = line:match("^%s*(.-)%s*$")
    elseif #words > 0 then
      break
    end
  end
  local paragraph = table.concat(words, " ")
  local sentence = paragraph:match("^(.-%.)%s") or paragraph
  if #sentence > M.SUMMARY_WIDTH then
    sentence = sentence:sub(1, M.SUMMARY_WIDTH - 3):gsub("%s+%S*$", "") .. "..."
  end
  return sentence
end

-- The short name and the field of a public module's function value; nil when it is none.
local function name_of(fn)
  for short, name in pairs(sidecar.public) do
    local m = package.loaded[name]
    for k, v in pairs(type(m) == "table" and m or {}) do
      if v == fn then
        return short .. "." .. k
      end
    end
  end
end

-- The short name of a public module's table; nil when it is none.
local function module_of(t)
  for short, name in pairs(sidecar.public) do
    if package.loaded[name] == t then
      return short
    end
  end
end

local function list()
  local shorts, out = {}, { "The public modules (help(\"name\") or help(name) says more; require(\"sidecar\").name):", "" }
  for short in pairs(modules()) do
    shorts[#shorts + 1] = short
  end
  table.sort(shorts)
  for _, short in ipairs(shorts) do
    out[#out + 1] = ("  %-15s %s"):format(short, summary(modules()[short]))
  end
  return table.concat(out, "\n")
end

local function module_text(short)
  local m = modules()[short]
  local out = { m.title, "", trimmed(m.lines), "", "Functions:" }
  for _, name in ipairs(m.order) do
    out[#out + 1] = "  " .. name
  end
  return table.concat(out, "\n")
end

---The documentation of `what`, as help() prints it: nil (every public module), a module's short
---name or table, "module.function" (or "Class:method" as the reference names it), or a public
---function itself. nil and why when the reference has nothing under that name.
---@param what? string|table|function
---@return string|nil text, string? why
function M.text(what)
  if what == nil then
    return list()
  end
  local name = type(what) == "string" and what or (type(what) == "function" and name_of(what))
    or (type(what) == "table" and module_of(what))
  if not name then
    return nil, ("help: no documentation for this %s: it is not one of the public API's (help() lists them)")
      :format(type(what))
  end
  if modules()[name] then
    return module_text(name)
  end
  for _, m in pairs(modules()) do
    if m.functions[name] then
      return trimmed(m.functions[name])
    end
  end
  return nil, ("help: nothing is documented as %q (help() lists the modules; help(\"merge\") a module's functions)")
    :format(name)
end

---Prints the documentation of `what` (see M.text), or why there is none.
---@param what? string|table|function
function M.help(what)
  local text, why = M.text(what)
  print(text or why)
end

return M
