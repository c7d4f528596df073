#!/usr/bin/env bash
# End-to-end: `sidecar repl` on a real pseudo-terminal, as a person uses it: prompts, continuation,
# Ctrl-C on a running chunk (and on one waiting for a child process, and on an agent run) and on a
# half-typed line, Tab completion, Ctrl-D, persisted history, help(), inspect, progress lines.
# Usage: repl_tty_test.sh path/to/sidecar path/to/pty_driver
set -u
. "$(dirname "$0")/lib.sh" # S (absolute), here, root, $work; the shared helpers
DRIVER=$2
export XDG_STATE_HOME=$work/state

stdin_text='expect > 
type 1 + 1
expect 2
type for i = 1, 2 do
expect >> 
type print(i * 10) end
expect 10
expect 20
type while true do end
ctrl-c
expect interrupted
expect > 
type h = require("sidecar.core.proc").spawn({"sleep", "30"}); h:wait()
ctrl-c
expect interrupted (stopped 1 child process)
expect > 
type print(h:running(), h:wait().signal_name)
expect false	TERM
key partial line
ctrl-c
expect > 
key string.fo
tab
expect rmat
type ("<%d>", 7)
expect "<7>"
type print("af" .. "ter")
expect after
type error("boom")
expect stdin:1: boom
expect > 
ctrl-d
exit 0
' expect_run "interactive session" 0 'Sidecar [0-9.]+ \(Lua 5\.4' '' -- "$DRIVER" "$S" repl

expect_run "history saved under XDG_STATE_HOME" 0 '1\\040\+\\0401.*print\("af"' '' -- cat "$XDG_STATE_HOME/sidecar/repl_history"

stdin_text='expect > 
up
expect error("boom")
up
expect "ter")
type 
expect after
ctrl-d
exit 0
' expect_run "history recalled in the next session" 0 '' '' -- "$DRIVER" "$S" repl

# help() from the reference compiled in; inspect's rendering printed as it is; `sidecar` a global;
# an agent run shows a line per step (progress(false) turns them off).
git init -q "$work/helped"
stdin_text='expect > 
type help("json.decode")
expect Decodes JSON text.
expect > 
type inspect({ answer = 42 })
expect { answer = 42 }
expect > 
type sidecar.json.encode({ 1 })
expect "[1]"
expect > 
type r = agent.execute({ runner = "command", prompt = "hi", command = { "true" } })
expect run R-0001: started on command
expect run R-0001: review
expect > 
type progress(false)
expect > 
type r = agent.execute({ runner = "command", prompt = "hi", command = { "true" } }); print(r.run_id .. " quiet")
expect R-0002 quiet
ctrl-d
exit 0
' expect_run "help, inspect, the sidecar global, progress lines" 0 '' '' -- \
  sh -c 'cd "$1" && shift && exec "$@"' sh "$work/helped" "$DRIVER" "$S" repl
eq "... inspect's result not quoted, and no line for the quiet run" "0 0" \
  "$(grep -c '"{ answer' "$work/out") $(grep -c 'run R-0002:' "$work/out")"

# Ctrl-C on an agent run: one line says what it stopped and which run it recorded, no traceback.
git init -q "$work/repo"
stdin_text='expect > 
type r = require("sidecar.agent.run").execute({ runner = "command", prompt = "hi", command = { "sleep", "30" }, on_spawn = function() print("agent " .. "up") end })
expect agent up
ctrl-c
expect interrupted (stopped 
expect ; run R-0001 recorded interrupted)
expect > 
type print(require("sidecar.core.store").open(".agent"):get_run("R-0001").status)
expect interrupted
ctrl-d
exit 0
' expect_run "Ctrl-C on an agent run: one line, the run named" 0 '' '' -- \
  sh -c 'cd "$1" && shift && exec "$@"' sh "$work/repo" "$DRIVER" "$S" repl
eq "... and no traceback nor where Lua was" "0" "$(grep -c 'stack traceback\|watch\.lua' "$work/out")"

finish
