#!/usr/bin/env bash
# End-to-end: terminal injection (issue 39). A fake agent answers with escape sequences in its
# summary, its blocker and its question (conceal, clear screen, cursor moves, OSC 52 clipboard
# writes, OSC 8 links, a window title, DCS, an 8-bit CSI, bidi overrides) and a task carries them
# in its title; every view a person reads (`run`, `run show`, `run tail`, `run list`, `task list`,
# `task show`, `run show --json`) must print no raw ESC, BEL or C1 byte. Each sequence x view is a
# case: prevented when none got through. `run show --raw` and `run tail --raw` keep the bytes.
set -u
. "$(dirname "$0")/lib.sh" # S (absolute), here, root, $work; the shared helpers
. "$here/hostile_lib.sh"
cd "$work"

# name|bytes (printf format)
SEQS=(
  'conceal|\033[8m'
  'clear|\033[2J\033[H'
  'clipboard|\033]52;c;ZXZpbA==\007'
  'link|\033]8;;https://e.vil/\033\\here\033]8;;\033\\'
  'title|\033]0;pwned\007'
  'dcs|\033P1$r0m\033\\'
  'csi8|\302\233'"2J"
  'bidi|\342\200\256'
  'cursor-up|\033[1A\033[2K'
)
git_repo repo
cat >"$work/agent.sh" <<'SH'
#!/bin/sh
cat >/dev/null
printf "done $SEQ hidden\n\n[BLOCKED] needs $SEQ a db\n"
SH
chmod +x "$work/agent.sh"
add_runners "    seq = { command = $(lua_list "$work/agent.sh") },"

# raw_bytes FILE: whether FILE holds ESC, BEL or a C1 control (as UTF-8: C2 80-9F) or a bidi override.
raw_bytes() { LC_ALL=C grep -qP '\x1b|\x07|\xc2[\x80-\x9f]|\xe2\x80[\xaa-\xae]|\xe2\x81[\xa6-\xa9]' "$1"; }

for entry in "${SEQS[@]}"; do
  name=${entry%%|*} seq=${entry#*|}
  bytes=$(printf "$seq")
  "$S" task create --title "title $bytes end" --status ready >"$work/create.out" 2>&1
  task=$(grep -oP 'T-\d+' "$work/create.out" | head -n 1)
  SEQ=$seq "$S" run "$task" --runner seq >"$work/views.run" 2>&1
  id=$(run_ids "$work/views.run" | head -n 1)
  "$S" run show "$id" >"$work/views.show" 2>&1
  "$S" run show "$id" --json >"$work/views.json" 2>&1
  "$S" run tail "$id" >"$work/views.tail" 2>&1
  "$S" run list >"$work/views.list" 2>&1
  "$S" task list >"$work/views.tasks" 2>&1
  "$S" task show "$task" >"$work/views.task" 2>&1
  eq "$name: run show shows the summary, made visible" yes "$(grep -q "^Summary: .*done .* hidden" "$work/views.show" && echo yes)"
  for view in run show json tail list tasks task; do
    if raw_bytes "$work/views.$view"; then
      hostile_case "$name in $view" silent "raw bytes reached the terminal"
    else
      hostile_case "$name in $view" prevented
    fi
  done
  "$S" run show "$id" --raw >"$work/raw.show" 2>&1
  eq "$name: run show --raw keeps the bytes" yes "$(grep -qF "$bytes" "$work/raw.show" && echo yes)"
done
hostile_summary terminal
finish
