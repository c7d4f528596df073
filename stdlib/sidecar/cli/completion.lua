--- `sidecar completion bash|zsh|fish`: a shell completion script generated from the command
--- declarations (cli/*_command.cpp, as `sidecar.cli.declared` gives them), so it never drifts from
--- `--help`. It completes commands, subcommands and flags; a flag's value and a positional
--- argument fall back to the shell's file names.
---
---   local completion = require("sidecar.cli.completion")
---   local model = completion.model()          -- {[path] = {subs, flags, values, help}}
---   io.write(completion.script("bash", model))
local out = require("sidecar.cli.output")

local M = {}

M.SHELLS = { "bash", "zsh", "fish" }

-- The commands cli/main.cpp, ui_command.cpp and model_server_command.cpp declare in C++ rather
-- than in the tables: their flags, as their --help shows them (completion_e2e checks both agree).
local NATIVE = {
  { path = "script", help = "Run a Lua script: sidecar script FILE.lua [ARGS...]", flags = { { "--json" } } },
  { path = "repl", help = "Interactive Lua prompt with the stdlib loaded", flags = {} },
  { path = "test", help = "Run Lua spec files", flags = { { "--filter", true }, { "-v,--verbose" }, { "--json" } } },
  { path = "ui", help = "Serve a web page over the store", flags = { { "--port", true }, { "--no-open" },
    { "--host", true }, { "--root", true } } },
  { path = "model-server", help = "Serve a scripted model on 127.0.0.1", flags = { { "--scenario", true },
    { "--port", true }, { "--log", true }, { "--json" } } },
}

local GLOBAL_FLAGS = { { "-e", true }, { "-V,--version" } }

local function node(model, path)
  local n = model[path]
  if not n then
    n = { subs = {}, flags = {}, values = {}, help = {} }
    model[path] = n
  end
  return n
end

-- Adds one declared flag ("-j,--jobs") to a command's node.
local function add_flag(n, names, takes_value, help)
  for name in names:gmatch("[^,]+") do
    n.flags[#n.flags + 1] = name
    n.help[name] = help
    if takes_value then
      n.values[#n.values + 1] = name
    end
  end
end

local function add_command(model, path, help)
  local parent, word = path:match("^(.*) (%S+)$")
  parent, word = parent or "", word or path
  local p = node(model, parent)
  p.subs[#p.subs + 1] = word
  p.help[word] = help
  return node(model, path)
end

---Every command path ("" is `sidecar` itself) with its subcommands, its flags, the flags that
---take a value, and a line of help for each word.
---@return table<string, {subs: string[], flags: string[], values: string[], help: table<string, string>}>
function M.model()
  local model = {}
  local top = node(model, "")
  for _, f in ipairs(GLOBAL_FLAGS) do
    add_flag(top, f[1], f[2], "")
  end
  for _, c in ipairs(require("sidecar.cli.declared")) do
    local n = add_command(model, c.path, c.help)
    for _, f in ipairs(c.flags) do
      if not f.hidden and f.names:sub(1, 1) == "-" then
        add_flag(n, f.names, f.type ~= "bool", f.help)
      end
    end
  end
  for _, c in ipairs(NATIVE) do
    local n = add_command(model, c.path, c.help)
    for _, f in ipairs(c.flags) do
      add_flag(n, f[1], f[2], "")
    end
  end
  for _, n in pairs(model) do
    add_flag(n, "-h,--help", false, "Print help and exit")
  end
  return model
end

local function sorted_paths(model)
  local paths = {}
  for path in pairs(model) do
    paths[#paths + 1] = path
  end
  table.sort(paths)
  return paths
end

-- A shell `case` over command paths, one branch per path whose list `field` is not empty.
local function case_lines(model, field, branch)
  local lines = {}
  for _, path in ipairs(sorted_paths(model)) do
    local words = model[path][field]
    if #words > 0 then
      lines[#lines + 1] = branch(path, table.concat(words, " "))
    end
  end
  return table.concat(lines, "\n")
end

local BASH_BODY = [=[
_sidecar() {
  local cur="$2" prev="$3" path="" w n=0 skip=0
  # The words before the current one (COMP_WORDS is indexed from 0 in bash and from 1 in zsh's
  # bashcompinit, so it is walked as a list): each known subcommand extends the path.
  for w in "${COMP_WORDS[@]}"; do
    n=$((n + 1))
    [ "$n" -eq 1 ] && continue
    [ "$n" -gt "$COMP_CWORD" ] && break
    if [ "$skip" -eq 1 ]; then skip=0; continue; fi
    case "$w" in
      -*) case " $(_sidecar_values "$path") " in *" $w "*) skip=1 ;; esac; continue ;;
    esac
    case " $(_sidecar_subs "$path") " in *" $w "*) path="${path:+$path }$w" ;; esac
  done
  COMPREPLY=()
  case " $(_sidecar_values "$path") " in *" $prev "*) return 0 ;; esac
  if [ "${cur#-}" != "$cur" ]; then
    COMPREPLY=($(compgen -W "$(_sidecar_flags "$path")" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$(_sidecar_subs "$path")" -- "$cur"))
  fi
  return 0
}
complete -o default -F _sidecar sidecar
]=]

local function bash(model)
  local function fn(name, field)
    return ("%s() {\n  case \"$1\" in\n%s\n  esac\n}\n"):format(name, case_lines(model, field, function(path, words)
      return ("    %q) echo %q ;;"):format(path, words)
    end))
  end
  return fn("_sidecar_subs", "subs") .. fn("_sidecar_flags", "flags") .. fn("_sidecar_values", "values")
      .. BASH_BODY
end

local FISH_BODY = [=[
function __sidecar_path
  set -l path ""
  set -l skip 0
  for w in (commandline -opc)[2..-1]
    if test $skip -eq 1
      set skip 0
      continue
    end
    if string match -q -- '-*' $w
      contains -- $w (__sidecar_values "$path"); and set skip 1
      continue
    end
    contains -- $w (__sidecar_subs "$path"); and set path (string trim -- "$path $w")
  end
  echo $path
end
function __sidecar_at
  test (__sidecar_path) = "$argv[1]"
end
]=]

-- A single-quoted fish string.
local function fish_quote(s)
  return "'" .. tostring(s):gsub("[\\']", "\\%0"):gsub("\n", " ") .. "'"
end

local function fish_switch(model, name, field)
  local lines = { "function " .. name, "  switch $argv[1]" }
  for _, path in ipairs(sorted_paths(model)) do
    local words = model[path][field]
    if #words > 0 then
      lines[#lines + 1] = ("    case %s\n      printf '%%s\\n' %s"):format(fish_quote(path), table.concat(words, " "))
    end
  end
  lines[#lines + 1] = "  end\nend\n"
  return table.concat(lines, "\n")
end

local function fish_flag_line(path, flag, n)
  local value = false
  for _, v in ipairs(n.values) do
    value = value or v == flag
  end
  local option = flag:sub(2, 2) == "-" and "-l " .. flag:sub(3) or "-s " .. flag:sub(2)
  return ("complete -c sidecar -n %s %s%s -d %s"):format(fish_quote("__sidecar_at " .. fish_quote(path)), option,
    value and " -r" or "", fish_quote((n.help[flag] or ""):sub(1, 80)))
end

local function fish(model)
  local lines = { fish_switch(model, "__sidecar_subs", "subs") .. fish_switch(model, "__sidecar_values", "values")
      .. FISH_BODY }
  for _, path in ipairs(sorted_paths(model)) do
    local n = model[path]
    local at = fish_quote("__sidecar_at " .. fish_quote(path))
    for _, sub in ipairs(n.subs) do
      lines[#lines + 1] = ("complete -c sidecar -n %s -f -a %s -d %s"):format(at, sub, fish_quote((n.help[sub] or ""):sub(1, 80)))
    end
    for _, flag in ipairs(n.flags) do
      lines[#lines + 1] = fish_flag_line(path, flag, n)
    end
  end
  return table.concat(lines, "\n") .. "\n"
end

---The completion script for `shell` ("bash", "zsh" or "fish"), or nil and a message.
---@param shell string
---@param model? table  from M.model
---@return string|nil script, string? message
function M.script(shell, model)
  model = model or M.model()
  local head = ("# sidecar completion for %s, generated by `sidecar completion %s`.\n"):format(shell, shell)
  if shell == "bash" then
    return head .. "# Load it with: source <(sidecar completion bash)\n" .. bash(model)
  elseif shell == "zsh" then
    return head .. "# Load it with: source <(sidecar completion zsh)   (after compinit)\n"
        .. "autoload -U +X bashcompinit && bashcompinit\n" .. bash(model)
  elseif shell == "fish" then
    return head .. "# Load it with: sidecar completion fish | source\n" .. fish(model)
  end
  return nil, ("unknown shell '%s': give bash, zsh or fish"):format(tostring(shell))
end

---`sidecar completion SHELL`: prints the script (with --json, the envelope with data.script).
---@param o {shell: string, json: boolean?, version: string?}
---@return integer
function M.print(o)
  local script, message = M.script(o.shell)
  if not script then
    return out.fail(o, "completion", message, 2)
  end
  if o.json then
    out.envelope("completion", true, { shell = o.shell, script = script }, nil, o.version)
  else
    io.write(script)
  end
  return 0
end

return M
