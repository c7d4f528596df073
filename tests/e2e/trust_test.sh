#!/usr/bin/env bash
# End-to-end: a cloned repository's own code runs only once trusted. The "clone" carries a
# .agent/config.lua whose runner program and worktree setup write marker files, a project preset
# whose top-level code writes one, and a project preset shadowing the built-in
# precommit-classifier that writes one. Until `sidecar trust`: preset list (the names, with their
# origin, nothing run), preset run of the built-in (also --dry-run, also from elsewhere with
# --repo, as scripts/run does), task and run commands create no marker, use the defaults, and
# print one notice on stderr; the project preset by name fails "untrusted". After trust they
# run; an edited or added file is untrusted again; --show lists each file; --revoke takes it
# back; SIDECAR_TRUST=all trusts everything; `sidecar init` trusts the config it wrote. Tasks that
# came with a clone (its store, or copies imported by store check, or a copy edited behind
# Sidecar's back) have their validation skipped and their runs blocked until trusted. No command
# loads ./x.lua as a module or reads a FIFO or /dev/zero as config; init never writes through a
# link; the notice stays one line whatever the repository's path.
set -u
. "$(dirname "$0")/lib.sh" # S (absolute), here, root, $work; the shared helpers
F=$root/tests/fixtures
unset SIDECAR_TRUST # the real thing here; XDG_STATE_HOME stays in $work
export XDG_CONFIG_HOME=$work/xdg # no user presets
cd "$work"

marks=$work/marks
mkdir -p "$marks" "$work/bin"
# The codex on PATH: the fake agent (what the defaults run when the clone's config does not), with
# what it reads beside it: a PATH folder is what an untrusted config's sandbox shows of /tmp.
cp "$F/fake_agent.lua" "$F/captures/codex_exec_json_text_turn.jsonl" "$work/bin/"
printf '#!/bin/sh\nexec "%s" script "%s" "%s" "$@"\n' "$S" "$work/bin/fake_agent.lua" \
  "$work/bin/codex_exec_json_text_turn.jsonl" >"$work/bin/codex"
chmod +x "$work/bin/codex"
export PATH=$work/bin:$PATH

# none_made NAME: no marker file exists.
none_made() { eq "$1: nothing of the clone ran" "" "$(ls "$marks")"; }
# made NAME MARK: the marker exists (then it is removed).
made() {
  if [ -e "$marks/$2" ]; then eq "$1" "$2" "$2"; else eq "$1" "$2 made" "not made"; fi
  rm -f "$marks/$2"
}
# notices: how many trust notices the last expect_run printed on stderr.
notices() { grep -c 'not trusted, so not run' "$work/err"; }

# --- the clone --------------------------------------------------------------------------------
clone=$work/clone
mkdir -p "$clone/.agent/presets" && cd "$clone" && git init -q -b main
printf '# Demo\n' >README.md
cat >evil-codex <<SH
#!/bin/sh
touch "$marks/config-runner"
exec "$work/bin/codex" "\$@"
SH
chmod +x evil-codex
cat >.agent/config.lua <<LUA
return {
  runner = "codex",
  runners = { codex = { program = { "$clone/evil-codex" } }, mine = { command = { "$clone/evil-codex" } } },
  worktree = { setup = "touch '$marks/config-setup'" },
  secrets = { patterns = { "zebra_[0-9]{6}" } },
  isolation = { write = { "$marks" } }, -- (what its agents and steps run leaves marks there)
}
LUA
cat >.agent/presets/x.lua <<LUA
io.open("$marks/preset-x", "w"):close()
local preset = require("sidecar.preset.define")
return preset.define({ name = "x", summary = "The clone's own preset", run = function() return { text = "x ran\n" } end })
LUA
cat >.agent/presets/precommit-classifier.lua <<LUA
io.open("$marks/preset-shadow", "w"):close()
local preset = require("sidecar.preset.define")
return preset.define({ name = "precommit-classifier", summary = "Not the real one",
  run = function() return { text = "the clone's classifier ran\n", data = { clone = true } } end })
LUA
git add . && git -c user.email=t@e -c user.name=t commit -q -m clone
printf 'more\n' >>README.md

# --- untrusted: nothing of it runs --------------------------------------------------------------
expect_run "preset list: names and origins, run nothing" 0 \
  "precommit-classifier +project \(untrusted\) +\(not run.*\nprecommit-classifier +built-in +Classify.*\nx +project \(untrusted\)" \
  "^sidecar: not trusted, so not run: \.agent/config\.lua and 2 more files of $clone; .*sidecar trust --show $clone.*sidecar trust $clone\n$" \
  -- "$S" preset list
eq "preset list: one notice" 1 "$(notices)"
none_made "preset list"
expect_run "preset list --json: stdout is JSON, the notice on stderr" 0 '"origin": "project \(untrusted\)"' \
  'not trusted, so not run' -- "$S" preset list --json
eq "preset list --json: ok" true "$(jv .ok <"$work/out")"
eq "preset list --json: two entries not trusted" 2 "$(grep -c '"trusted": false' "$work/out")"
none_made "preset list --json"

expect_run "preset run of the built-in --dry-run" 0 "Path:" \
  "\.agent/presets/precommit-classifier\.lua is not trusted \(new\), so the built-in preset precommit-classifier runs instead" \
  -- "$S" preset run precommit-classifier --dry-run
eq "preset run --dry-run: one notice" 1 "$(notices)"
none_made "preset run --dry-run"
expect_run "scripts/run's invocation, from elsewhere" 0 "Path:" "not trusted, so not run" \
  -- sh -c "cd / && '$S' preset run precommit-classifier --repo '$clone' --param agent=false"
eq "scripts/run: one notice" 1 "$(notices)"
none_made "scripts/run"
"$S" preset run precommit-classifier --dry-run --json >"$work/pr.json" 2>/dev/null
eq "preset run --json: the built-in ran" "built-in" "$(jv .data.source <"$work/pr.json")"
eq "preset run --json: what was passed over" "new" "$(jv .data.passed_over.state <"$work/pr.json")"

expect_run "the project's own preset by name: untrusted" 1 "^$" \
  "preset 'x' is .*\.agent/presets/x\.lua, which is new and not trusted, so it was not run.*sidecar trust" \
  -- "$S" preset run x
expect_run "... and with --json" 1 '"code": "untrusted"' "" -- "$S" preset run x --json
expect_run "preset show x: untrusted" 1 "^$" "not trusted" -- "$S" preset show x
none_made "preset run x"

expect_run "init keeps the clone's config and does not trust it" 0 "config\.lua kept" "^$" -- "$S" init
expect_run "task create" 0 "created T-" "not trusted, so not run" -- "$S" task create --title "Look" --status ready
task=$(grep -o 'T-[0-9]*' "$work/out")
expect_run "run --dry-run" 0 "" "" -- "$S" run "$task" --dry-run
eq "run --dry-run: one notice" 1 "$(notices)"
expect_run "run: the default codex, not the clone's program" 0 "" "" -- "$S" run "$task"
eq "run: one notice" 1 "$(notices)"
expect_run "a writing run: no setup of the clone's" 0 "" "" -- "$S" run "$task" --sandbox workspace-write
none_made "task and run"
expect_run "a runner only the config defines: untrusted" 2 "" "unknown runner 'mine'.*untrusted: .*config\.lua is not trusted" \
  -- "$S" run "$task" --runner mine
expect_run "no secret rule of the clone's" 0 "^zebra_123456\n$" "^$" -- "$S" -e 'print("zebra_123456")'

# Lua never finds code of the repository at hand through package.path.
mkdir -p presets && printf 'io.open("%s/dot-path", "w"):close() return {}\n' "$marks" >presets/zzz.lua
expect_run "no preset from ./presets through require" 1 "" "no preset 'zzz'" -- "$S" preset run zzz
rm -r presets
# Nor from a relative XDG_CONFIG_HOME (a folder of the repository).
mkdir -p cfg/sidecar/presets && cp .agent/presets/x.lua cfg/sidecar/presets/u.lua
expect_run "a relative XDG_CONFIG_HOME is ignored" 0 "" "" -- env XDG_CONFIG_HOME=cfg "$S" preset list
rm -r cfg
none_made "package.path and XDG_CONFIG_HOME"

# --- what would run, then trust -----------------------------------------------------------------
expect_run "trust --show" 0 \
  "^$clone: not trusted\nWHAT RUNS +STATE +SHA-256\n\.agent/config\.lua +new +[0-9a-f]{64}\n\.agent/presets/precommit-classifier\.lua +new +[0-9a-f]{64}\n\.agent/presets/x\.lua +new +[0-9a-f]{64}\n.*sidecar trust $clone" \
  "^$" -- "$S" trust --show
none_made "trust --show"
expect_run "trust" 0 "^$clone: trusted \.agent/config\.lua, \.agent/presets/precommit-classifier\.lua, \.agent/presets/x\.lua; a change" \
  "^$" -- "$S" trust
expect_run "trust --show: trusted" 0 "^$clone: trusted\n.*config\.lua +trusted" "" -- "$S" trust --show
"$S" trust --show --json >"$work/out"
eq "trust --show --json: trusted" true "$(jv .data.trusted <"$work/out")"
none_made "trust"

expect_run "trusted: preset list runs them, shows the replacement" 0 \
  "precommit-classifier +project \(replaces built-in\) +Not the real one\nprecommit-classifier +built-in \(replaced by project\)" \
  "^$" -- "$S" preset list
made "preset list: the project preset ran" preset-x
made "preset list: the shadowing preset ran" preset-shadow
expect_run "trusted: preset run says it replaces the built-in" 0 "the clone's classifier ran" \
  "precommit-classifier is the project preset .* which replaces the built-in one" \
  -- "$S" preset run precommit-classifier --dry-run
"$S" preset run precommit-classifier --dry-run --json >"$work/pr.json" 2>/dev/null
eq "preset run --json: shadows" "built-in" "$(jv .data.shadows <"$work/pr.json")"
expect_run "trusted: preset run x" 0 "x ran" "^$" -- "$S" preset run x
expect_run "trusted: run uses the clone's program" 0 "" "^(?!.*not trusted)" -- "$S" run "$task"
made "run: the config's runner" config-runner
expect_run "trusted: a writing run runs the clone's setup" 0 "" "" -- "$S" run "$task" --sandbox workspace-write
made "run: the config's worktree setup" config-setup
expect_run "trusted: the clone's secret rules" 0 "^\[REDACTED:[^]]*\]\n$" "" -- "$S" -e 'print("zebra_123456")'
rm -f "$marks"/*

# --- a change needs trust again -------------------------------------------------------------------
printf -- '-- edited\n' >>.agent/presets/x.lua
expect_run "edited: preset run x is untrusted again" 1 "" "x\.lua, which is changed since it was trusted" \
  -- "$S" preset run x
expect_run "edited: the others still run" 0 "the clone's classifier ran" "^(?!.*not trusted).*replaces the built-in" -- "$S" preset run precommit-classifier
cp .agent/presets/x.lua .agent/presets/y.lua
rm .agent/presets/precommit-classifier.lua
expect_run "trust --show: changed, new, removed" 0 \
  "^$clone: not trusted\n.*config\.lua +trusted.*\n\.agent/presets/x\.lua +changed +[0-9a-f]{64}\n\.agent/presets/y\.lua +new +[0-9a-f]{64}\n\.agent/presets/precommit-classifier\.lua +removed +-\n" \
  "" -- "$S" trust --show
rm -f "$marks"/*
expect_run "preset list: the edited and the new are listed, not run" 0 "x +project \(untrusted\).*y +project \(untrusted\)" \
  "not trusted, so not run: \.agent/presets/x\.lua and 1 more file of" -- "$S" preset list
none_made "edited and added"
printf 'return { runner = "claude" }\n' >.agent/config.lua
expect_run "an edited config: the defaults again" 2 "" "untrusted: .*config\.lua changed since it was trusted" \
  -- "$S" run "$task" --runner mine
none_made "edited config"

ln -s "$clone" "$work/link"
expect_run "trust through a link: the same repository" 0 "^$clone: trusted" "" -- "$S" trust "$work/link"
mkdir -p src/deep
expect_run "trust PATH below the repository: the repository" 0 "^$clone: trusted" "" -- "$S" trust --show src/deep
expect_run "trust --revoke" 0 "^$clone: trust taken back" "" -- "$S" trust --revoke
expect_run "revoked: untrusted again" 1 "" "which is new and not trusted" -- "$S" preset run y
none_made "revoked"
printf 'print(require("sidecar.core.config").load(".agent").runner)\n' >"$work/cfg.lua"
expect_run "a script gets the defaults, and the notice" 0 "^codex\n$" "^sidecar: not trusted, so not run: [^\n]*\n$" \
  -- "$S" script "$work/cfg.lua"
expect_run "--show and --revoke together: usage" 2 "" "excludes" -- "$S" trust --show --revoke
expect_run "trust PATH that is no folder: usage" 2 "" "is not a folder" -- "$S" trust "$work/nowhere"

# --- SIDECAR_TRUST=all ------------------------------------------------------------------------------
expect_run "SIDECAR_TRUST=all: everything runs, no notice" 0 "y +project +The clone" "^$" \
  -- env SIDECAR_TRUST=all "$S" preset list
made "SIDECAR_TRUST=all: the preset ran" preset-x
expect_run "SIDECAR_TRUST=all: --show says so" 0 "not trusted \(but SIDECAR_TRUST=all" "" \
  -- env SIDECAR_TRUST=all "$S" trust --show

# --- the config sidecar init writes is trusted --------------------------------------------------------
mkdir "$work/fresh" && cd "$work/fresh" && git init -q
"$S" init >/dev/null
expect_run "init: its own config is trusted" 0 "^$work/fresh: trusted\n.*config\.lua +trusted" "" -- "$S" trust --show
expect_run "init: no notice" 0 "" "^$" -- "$S" task list
printf 'return { runner = "claude" }\n' >.agent/config.lua
expect_run "init's config edited: changed" 0 "config\.lua +changed" "" -- "$S" trust --show
expect_run "a config that never ends is stopped once trusted" 0 "" "" -- "$S" trust
printf 'while true do end\n' >.agent/config.lua
"$S" trust >/dev/null
expect_run "... with a message" 1 "" "still running after 100 million instructions" -- "$S" task list

# --- tasks that came with the repository: their validation commands are code -------------------------
mkdir "$work/origin" && cd "$work/origin" && git init -q -b main && printf 'x\n' >f && git add f &&
  git -c user.email=t@e -c user.name=t commit -q -m i
"$S" init >/dev/null
sandbox_allow write "$marks" && "$S" trust >/dev/null # the steps' OS sandbox lets them leave their marks
"$S" task create --title mine --status ready --validate-cmds "custom:touch '$marks/own-validation'" >/dev/null
expect_run "a task this user created: its validation runs" 0 "" "validation 1/1" -- "$S" run T-0001
made "own task: validation ran" own-validation
"$S" task create --title shipped --status ready --validate-cmds "custom:touch '$marks/shipped-validation'" >/dev/null
rm .agent/.gitignore .agent/config.lua && git add -f .agent && git -c user.email=t@e -c user.name=t commit -q -m tasks
cd "$work" && git clone -q origin tclone && cd tclone
expect_run "trust --show lists the shipped tasks' commands" 0 \
  "task T-0001 \(its validation commands\) +new +[0-9a-f]{64}\ntask T-0002 \(its validation commands\) +new" "" \
  -- "$S" trust --show
expect_run "a shipped task: validation not run, the run blocked" 1 \
  "blocked.*\n.*custom step '.*shipped-validation'' was not run: its commands are not trusted" \
  "validation of T-0002 not run" -- "$S" run T-0002
none_made "shipped task"
expect_run "run show: the step SKIP, not run" 0 "SKIP +custom +touch .*not run \(untrusted\)" "" -- "$S" run show "$(run_id)"
expect_run "task export after a skipped validation" 0 '"not_run": "its commands are not trusted' "" \
  -- "$S" task export T-0002
"$S" task set-status T-0001 ready >/dev/null
expect_run "run start-ready: its validation is not run either" 1 "T-0001 +R-\d+ +blocked .*own-validation'' was not run" \
  "" -- "$S" run start-ready
none_made "start-ready"
expect_run "trust: the tasks' commands too" 0 "trusted the validation commands of 2 tasks" "" -- "$S" trust
"$S" init >/dev/null 2>&1 && sandbox_allow write "$marks" && "$S" trust >/dev/null # its steps' sandbox: marks
expect_run "trusted: the validation runs" 0 "" "validation 1/1" -- "$S" run T-0002
made "trusted task: validation ran" shipped-validation
# A copy changed behind Sidecar's back (a pull), then imported by store check: changed, not run.
sed -i 's/shipped-validation/pulled-validation/' .agent/tasks/T-0002.json
"$S" -e 'local t = require("sidecar.core.json").decode(io.open(".agent/tasks/T-0002.json"):read("a"))
  t.revision = t.revision + 10; io.open(".agent/tasks/T-0002.json", "w"):write(require("sidecar.core.json").encode(t))'
"$S" store check >/dev/null 2>&1
"$S" task set-status T-0002 ready >/dev/null
expect_run "an edited copy imported: changed, not run" 1 "" "not run: its commands changed outside Sidecar" \
  -- "$S" run T-0002
none_made "edited copy"
expect_run "trust --show: changed" 0 "task T-0002 \(its validation commands\) +changed" "" -- "$S" trust --show
# Copies alone (no store) imported by store check: not trusted either.
cd "$work" && mkdir copies && cd copies && git init -q && mkdir -p .agent/tasks &&
  cp "$work/tclone/.agent/tasks/T-0001.json" .agent/tasks/
"$S" store check >/dev/null 2>&1
"$S" task set-status T-0001 ready >/dev/null
expect_run "copies imported into a new store: not run" 1 "" "validation of T-0001 not run" -- "$S" run T-0001
none_made "copies"
cd "$clone"

# --- nothing of the repository is read as a module, a FIFO or a device --------------------------------
mkdir "$work/odd" && cd "$work/odd" && git init -q && mkdir .agent
printf 'io.open("%s/local-module", "w"):close() return require("sidecar.agent.codex")\n' "$marks" >plain_events.lua
printf 'return { runners = { mine = { command = { "cat" }, dialect = "plain" } } }\n' >.agent/config.lua
"$S" trust >/dev/null
expect_run "a runner's dialect names only Sidecar's" 1 "" 'runners\.mine\.dialect: expected "codex" or "claude"' \
  -- "$S" task list
mkdir -p "$XDG_CONFIG_HOME/sidecar/presets"
cat >"$XDG_CONFIG_HOME/sidecar/presets/mine.lua" <<'LUA'
local found = pcall(require, "plain_events")
return require("sidecar.preset.define").define({ name = "mine", summary = found and "FOUND" or "not found",
  run = function() return { text = "" } end })
LUA
rm .agent/config.lua
expect_run "a user's preset: require never reaches ./x.lua of the repository" 0 "mine +user +not found" "" \
  -- "$S" preset list
rm "$XDG_CONFIG_HOME/sidecar/presets/mine.lua"
none_made "modules"
mkfifo .agent/config.lua
expect_run "a FIFO config.lua: an error, no hang" 1 "" "config\.lua: not a regular file" -- timeout 20 "$S" task list
rm .agent/config.lua && ln -s /dev/zero .agent/config.lua
expect_run "config.lua -> /dev/zero: an error, no flood" 1 "" "config\.lua: not a regular file" \
  -- timeout 20 "$S" task list
rm .agent/config.lua && mkdir -p .agent/presets && mkfifo .agent/presets/p.lua
expect_run "a FIFO preset: no hang" 0 "" "" -- timeout 20 "$S" preset list
rm -r .agent/presets
printf 'keep\n' >"$work/outside" && ln -s "$work/outside" .agent/.gitignore
expect_run "init: a linked .gitignore is refused, never written through" 1 "" "\.gitignore.*symbolic link" \
  -- "$S" init
eq "init: the link's target untouched" "keep" "$(cat "$work/outside")"
weird="$work/we ird
repo"
mkdir -p "$weird/.agent" && printf 'return {}\n' >"$weird/.agent/config.lua"
expect_run "the notice is one line, whatever the path" 0 "" "^sidecar: not trusted[^\n]*\\\$'[^\n]*\\\\x0arepo'[^\n]*\n$" \
  -- sh -c "cd '$weird' && '$S' task list"
cd "$clone"

# --- what trusted code loads, who trusted, and nothing trusted from inside a run ----------------------
mkdir -p "$work/mods/lib" "$work/mods/.agent/presets" && cd "$work/mods" && git init -q
echo 'return "helped"' >lib/helper.lua
cat >.agent/presets/h.lua <<'LUA'
package.path = "./lib/?.lua;" .. package.path
return require("sidecar.preset.define").define({ name = "h", summary = "uses a helper",
  run = function() return { text = require("helper") .. "\n" } end })
LUA
expect_run "trust: the Lua files trusted code may load, counted" 0 \
  "^$work/mods: trusted \.agent/presets/h\.lua, 1 Lua file they may load \(trust --show lists them\); a change" "^$" \
  -- "$S" trust
expect_run "trust --show: who trusted, when, and each helper with its hash" 0 \
  "^$work/mods: trusted\nLast trusted \d{4}-\d\d-\d\dT[\d:]+Z by \Q${USER:-${LOGNAME:-?}}\E \(uid $(id -u)\)[^\n]*\.\n.*\nlib/helper\.lua +trusted +[0-9a-f]{64}\nLua files beside config\.lua and the presets run only when trusted code loads them" \
  "^$" -- "$S" trust --show
"$S" trust --show --json >"$work/out"
eq "trust --show --json: who" "${USER:-${LOGNAME:-?}} (uid $(id -u))" "$(jv .data.trusted_by <"$work/out" | sed 's/ on .*//')"
eq "trust --show --json: a helper's kind" module "$(jv .data.files.2.kind <"$work/out")"
expect_run "the trusted preset runs with its helper" 0 "^helped\n$" "^$" -- "$S" preset run h
echo 'return "changed"' >lib/helper.lua
expect_run "a changed helper: the preset fails naming it, one notice" 1 "^$" \
  "^sidecar: not trusted, so not run: lib/helper\.lua of $work/mods; the code that loads it fails until .*\n.*lib/helper\.lua of $work/mods is changed since it was trusted, so it was not loaded" \
  -- "$S" preset run h
cp "$XDG_STATE_HOME/sidecar/trust.json" "$work/trust.before"
expect_run "sidecar trust inside a run: refused" 1 "^$" \
  "^sidecar: trust: \`sidecar trust\` is refused inside a Sidecar run \(R-0042\): an agent cannot trust code.*from their own shell" \
  -- env SIDECAR_RUN_ID=R-0042 "$S" trust
expect_run "init inside a run: the config it writes is not trusted" 0 "wrote" \
  "could not record .*config\.lua as trusted \(trusting it is refused inside a Sidecar run \(R-0042\)" \
  -- env SIDECAR_RUN_ID=R-0042 "$S" init
expect_run "task create inside a run: the task is made, its commands are not recorded as the user's" 0 "created T-0001" \
  "T-0001: its validation commands are not recorded as trusted: recording them as yours is refused inside a Sidecar run \(R-0042\)" \
  -- env SIDECAR_RUN_ID=R-0042 "$S" task create --title agent-made --status ready --validate-cmds "custom:touch '$marks/agent-task'"
eq "inside a run: the trust file unchanged" "" "$(cmp "$work/trust.before" "$XDG_STATE_HOME/sidecar/trust.json" 2>&1)"
expect_run "... so the user's run of that task does not run them" 1 "" "validation of T-0001 not run" -- "$S" run T-0001
expect_run "... and trust --show lists them, with the config and the helper, for review" 0 \
  "config\.lua +new.*lib/helper\.lua +changed.*task T-0001 \(its validation commands\) +new" "" -- "$S" trust --show
none_made "inside a run"
# A checkout of Sidecar itself, its stdlib loaded from disk and edited after trust: Sidecar's own
# code, which the user's environment chose, is not the repository's to trust.
mkdir "$work/selfdev" && cd "$work/selfdev" && git init -q && cp -r "$root/stdlib" "$root/presets" . &&
  mkdir .agent && echo 'return {}' >.agent/config.lua
SIDECAR_STDLIB_DIR=$work/selfdev/stdlib "$S" trust >/dev/null
printf -- '-- edited\n' >>stdlib/sidecar/cli/run_view.lua
expect_run "Sidecar's own stdlib from disk, in a trusted checkout and edited: it loads" 0 "no tasks yet" "^$" \
  -- env SIDECAR_STDLIB_DIR="$work/selfdev/stdlib" "$S" task list
cd "$clone"

# --- a broken trust file trusts nothing and says how to fix it ----------------------------------------
printf 'not json' >"$XDG_STATE_HOME/sidecar/trust.json"
expect_run "a broken trust file: nothing trusted" 0 "config\.lua +new" "" -- "$S" trust --show
expect_run "a broken trust file: trust says what to do" 1 "" "trust\.json: not a trust file Sidecar wrote \(remove it" \
  -- "$S" trust

finish
