#!/usr/bin/env bash
# End-to-end: no byte from an agent breaks a run (issue 14, item 3). An answer in Latin-1 (not
# UTF-8) ends the run properly with a valid record that says so, the raw log keeping the bytes;
# claude and codex event lines of unexpected shapes are counted and the good result after them is
# used; bytes that are not UTF-8 (or a lone surrogate escape) inside an event line are read as
# U+FFFD and the record says so; a FIFO, a link to /dev/zero or a flood planted at
# push_attempts.log neither hangs nor grows the run; 120 KB of spaces in an answer are read long
# before the run's deadline; escape sequences in a task's title and in an answer are shown, never
# obeyed, by run, task list/show, run show and run tail.
set -u
. "$(dirname "$0")/lib.sh" # S (absolute), here, root, $work; the shared helpers
F=$root/tests/fixtures
cd "$work"

# new_repo NAME: a git repository with `sidecar init` done, the fake agent replaying the odd-shape
# streams as codex and claude, and the agents below as runners of their own.
new_repo() {
  git_repo "$1"
  local a runners
  runners="    codex = { program = $(fake_agent "$F/hostile/codex_odd_shapes.jsonl") },
    claude = { program = $(fake_agent "$F/hostile/claude_odd_shapes.jsonl") },
    codex_latin1 = { command = $(fake_agent "$work/codex_latin1.jsonl"), dialect = \"codex\" },
    claude_latin1 = { command = $(fake_agent "$work/claude_latin1.jsonl"), dialect = \"claude\" },"
  for a in latin1 spaces escapes; do runners+=$'\n'"    $a = { command = $(lua_list sh "$work/$a.sh") },"; done
  # The agents that plant something in their run's folder are told which it is: their prompt's.
  for a in fifo zero pushes; do runners+=$'\n'"    $a = { command = $(lua_list sh "$work/$a.sh" "{prompt_file}") },"; done
  add_runners "$runners"
}

# The agents: each reads its prompt, then answers.
printf '%s\n' 'cat >/dev/null' "printf 'R\\351sum\\351: caf\\351 cr\\350me\\n'" >latin1.sh
printf '%s\n' 'cat >/dev/null' "printf '[BLOCKED] la base de donn\\351es\\n'" >latin1_blocked.sh
# 120 KB of spaces inside the lines a marker parser reads (a progress line, a file line, a
# question and its option), in runs of 24 KB: trims that backtrack take minutes on these.
cat >spaces.sh <<'EOF'
cat >/dev/null
sp=$(head -c 24000 /dev/zero | tr '\0' ' ')
printf '[PROGRESS] a%sb\n[FILES_MODIFIED]\n- a.txt%s(modified)%s\n\n[QUESTION] which?%s\n1.%sREST%s\n' \
  "$sp" "$sp" "$sp" "$sp" "$sp" "$sp"
EOF
# Event streams whose answer is Latin-1 inside the JSON (codex) or carries a lone surrogate
# escape (claude): a strict JSON reader refuses both lines.
sed "s/Hello from the mock model\./$(printf 'R\351sum\351') model./" "$F/captures/codex_exec_json_text_turn.jsonl" \
  >codex_latin1.jsonl
sed 's/Hello from the mock model\./Half \\ud800 model./' "$F/captures/claude_stream_json_text_turn.jsonl" \
  >claude_latin1.jsonl
# Agents that plant something at push_attempts.log, the file of their run folder they may write (the
# folder of their prompt file, their first argument).
runlog='d=$(dirname "$1"); rm -f "$d/push_attempts.log"'
printf '%s\n' "$runlog" 'mkfifo "$d/push_attempts.log"' 'echo done' >fifo.sh
printf '%s\n' "$runlog" 'ln -s /dev/zero "$d/push_attempts.log"' 'echo done' >zero.sh
printf '%s\n' "$runlog" 'seq 1 60000 | sed "s|^|origin\thttps://example.com/|" >"$d/push_attempts.log"' 'echo done' \
  >pushes.sh
printf '%s\n' 'cat >/dev/null' "printf 'Done \\033[31mred\\033[0m\\033]0;pwned\\007 \\342\\200\\256fdp.exe\\r\\033[2K\\n'" >escapes.sh

# --- a Latin-1 answer ----------------------------------------------------------------------------
new_repo latin
"$S" task create --title "Latin-1" --status ready >/dev/null
expect_run "latin-1 answer: the run ends in review" 0 "^R-\d+ review: R.+sum.+: caf" "" -- \
  "$S" run T-0001 --runner latin1
id=$(run_id) R=.agent/runs/$(run_id)/run.json
eq "latin-1: run.json is valid JSON" "review" "$(field $R .status)"
eq "latin-1: the summary, each bad byte a U+FFFD" "$(printf 'R\357\277\275sum\357\277\275: caf\357\277\275 cr\357\277\275me')" \
  "$(field $R .summary)"
eq "latin-1: the record says what was rewritten" "4 summary U+FFFD" \
  "$(field $R .invalid_utf8.bytes) $(field $R .invalid_utf8.fields.1) $(field $R .invalid_utf8.replaced_with)"
eq "latin-1: the raw log keeps the bytes" "52e9" "$(od -An -tx1 -N2 .agent/runs/$id/stdout.log | tr -d ' ')"
eq "latin-1: output.md keeps the bytes" "52e9" "$(od -An -tx1 -N2 .agent/runs/$id/output.md | tr -d ' ')"
eq "latin-1: the store agrees" "review" "$("$S" run show $id --json | jv .data.status)"
expect_run "latin-1: run list" 0 "$id +T-0001 +latin1 .*review" "" -- "$S" run list
cp "$work/latin1_blocked.sh" "$work/latin1.sh"
expect_run "latin-1 blocker: the run is blocked, its reason readable" 1 "^R-\d+ blocked" "" -- \
  "$S" run T-0001 --runner latin1
eq "latin-1 blocker: the reason" "$(printf 'la base de donn\357\277\275es')" "$(field .agent/runs/$(run_id)/run.json .blockers.1)"
expect_run "a title that is not UTF-8 is refused, saying which byte" 2 "^$" \
  "title: expected UTF-8 text, but byte 2 \(0xE9\)" -- "$S" task create --title "$(printf 'T\351t')"
eq "refused: nothing stored" "1" "$("$S" task list | grep -c '^T-')"
for flag in --agent-role --runner; do
  expect_run "$flag that is not UTF-8 is refused, named as the flag" 2 "^$" \
    "$flag: expected UTF-8 text, but byte 2 \(0xE9\)" -- "$S" task create --title ok $flag "$(printf 'T\351t')"
done
expect_run "a validation command that is not UTF-8 is refused" 2 "^$" "command: expected UTF-8 text" \
  -- "$S" task create --title ok --validate-cmds "$(printf 'echo \351')"
eq "refused: still nothing stored" "1" "$("$S" task list | grep -c '^T-')"
expect_run "an unknown command's name is shown, not obeyed" 2 "^$" "unknown command 'x\^\[\[2J'" \
  -- "$S" "$(printf 'x\033[2J')"
expect_run "an unknown option's value too" 2 "^$" "unknown option or argument: .*\^\[\[2J" \
  -- "$S" task list --bogus "$(printf '\033[2J')"

# --- odd event shapes, both dialects ----------------------------------------------------------
for d in claude codex; do
  cd "$work" && new_repo "odd_$d"
  "$S" task create --title "Odd $d" --status ready >/dev/null
  expect_run "odd $d lines: the good result after them is used" 0 "^R-\d+ review: Hello from the mock model\.\n" "" -- \
    "$S" run T-0001 --runner $d
  R=.agent/runs/$(run_id)/run.json
  eq "odd $d: usage from the good result" "120" "$(field $R .usage.total)"
  odd=$(field $R .stream.odd_lines)
  [ "$odd" -ge 8 ] && eq "odd $d: odd lines counted" ok ok || eq "odd $d: odd lines counted" ">= 8" "$odd"
  eq "odd $d: a sample says which line and what" "1 expected a string" \
    "$(field $R .stream.odd_sample.1.line) $(field $R .stream.odd_sample.1.what | grep -o 'expected a string' | head -n 1)"
done

# --- bytes that are not UTF-8 inside an event line ----------------------------------------------
declare -A latin_run # the record of each dialect's run
for d in codex claude; do
  cd "$work" && new_repo "latin_$d"
  "$S" task create --title "Latin-1 $d" --status ready >/dev/null
  expect_run "$d event with bad bytes: the answer is kept" 0 "^R-\d+ review: " "" -- "$S" run T-0001 --runner ${d}_latin1
  R=.agent/runs/$(run_id)/run.json
  latin_run[$d]=$work/latin_$d/$R
  # codex says the answer once; claude twice (its assistant message, then its result)
  eq "$d: the lines read leniently" "$([ $d = codex ] && echo 1 || echo 2)" "$(field $R .stream.repaired_lines)"
  eq "$d: the record says so" "stream (agent.jsonl) U+FFFD" \
    "$(field $R .invalid_utf8.fields.1) $(field $R .invalid_utf8.replaced_with)"
  [ "$(field $R .invalid_utf8.bytes)" -ge 1 ] && eq "$d: bytes counted" ok ok || eq "$d: bytes counted" ">= 1" "0"
  eq "$d: usage from that line or the next" "120" "$(field $R .usage.total)"
done
eq "codex: the answer with U+FFFD" "$(printf 'R\357\277\275sum\357\277\275 model.')" \
  "$(field "${latin_run[codex]}" .summary)"
eq "claude: the lone surrogate as U+FFFD" "$(printf 'Half \357\277\275 model.')" \
  "$(field "${latin_run[claude]}" .summary)"
eq "codex: agent.jsonl keeps the bytes" "1" "$(grep -c "$(printf 'R\351sum')" "$(dirname "${latin_run[codex]}")/agent.jsonl")"

# --- what an agent plants in its run folder ----------------------------------------------------
cd "$work" && new_repo planted
"$S" task create --title "Planted" --status ready >/dev/null
# planted DIR WORDS: the plant was removed and the run says so, or (in its OS sandbox, where the
# run's folder is read-only but for the file itself) it could not be planted: a regular file.
planted() {
  field "$1/run.json" .warnings.1 | grep -q "$2.*removed it" && return 0
  [ -f "$1/push_attempts.log" ] && [ ! -L "$1/push_attempts.log" ] && [ ! -p "$1/push_attempts.log" ]
}
expect_run "a FIFO at push_attempts.log: the run ends" 0 "^R-\d+ review: done" "" -- timeout 60 "$S" run T-0001 --runner fifo
eq "FIFO: removed and said, or never planted" yes "$(planted ".agent/runs/$(run_id)" 'not a regular file' && echo yes)"
expect_run "push_attempts.log -> /dev/zero: the run ends" 0 "^R-\d+ review: done" "" -- \
  timeout 60 "$S" run T-0001 --runner zero
id=$(run_id)
eq "/dev/zero: removed and said, or never planted" yes "$(planted ".agent/runs/$id" 'symbolic link' && echo yes)"
[ "$(du -sk .agent/runs/$id | cut -f1)" -lt 1000 ] && eq "/dev/zero: nothing grew" ok ok ||
  eq "/dev/zero: nothing grew" "< 1 MB" "$(du -sk .agent/runs/$id | cut -f1) KB"
expect_run "60 000 forged push lines: blocked, the record bounded" 1 "^R-\d+ blocked: done" "" -- \
  timeout 60 "$S" run T-0001 --runner pushes
R=.agent/runs/$(run_id)/run.json
eq "pushes: the log cut to its end, and said" "1" "$(field $R .warnings.1 | grep -c 'push_attempts.log was .* bytes: its first')"
eq "pushes: 100 attempts and one line for the rest" "git nil" \
  "$(field $R .git.push_attempts.101.source) $(field $R .git.push_attempts.102)"
eq "pushes: the rest counted" "1" "$(field $R .git.push_attempts.101.url | grep -c '^and [0-9]* more refused pushes')"
[ "$(wc -c <$R)" -lt 200000 ] && eq "pushes: run.json stays small" ok ok || eq "pushes: run.json stays small" "< 200 KB" "$(wc -c <$R)"

# --- 120 KB of spaces: read long before the deadline ------------------------------------------
cd "$work" && new_repo spaces
"$S" task create --title "Spaces" --status ready >/dev/null
start=$(date +%s)
expect_run "120 KB of spaces: the run ends" 1 "^R-\d+ blocked: " "" -- "$S" run T-0001 --runner spaces --timeout 20s
took=$(( $(date +%s) - start ))
[ "$took" -lt 20 ] && eq "spaces: ended before its 20 s deadline" ok ok || eq "spaces: ended before its 20 s deadline" "< 20 s" "$took s"
R=.agent/runs/$(run_id)/run.json
eq "spaces: the progress line, clipped" "4000" "$(field $R .markers.progress.1 | tr -d '\n' | wc -c)"
eq "spaces: the file line read" "a.txt modified" "$(field $R .markers.files_modified.1.path) $(field $R .markers.files_modified.1.change)"
eq "spaces: the question read" "question: which?" "$(field $R .blockers.1)"

# --- escape sequences in a title and in an answer ---------------------------------------------
cd "$work" && new_repo escapes
"$S" task create --title "$(printf 'Title \033[41mX\033[0m \342\200\256gnp')" --status ready >/dev/null
expect_run "escapes: run prints the answer neutralised" 0 \
  '^R-\d+ review: Done \^\[\[31mred\^\[\[0m\^\[\]0;pwned\^G <U\+202E>fdp\.exe\^M\^\[\[2K\n' "" -- \
  "$S" run T-0001 --runner escapes
id=$(run_id)
for args in "task list" "task show T-0001" "run show $id" "run list"; do
  # shellcheck disable=SC2086
  "$S" $args >"$work/shown" 2>&1
  if grep -q $'\033' "$work/shown" || grep -q $'\342\200\256' "$work/shown"; then
    eq "escapes: $args prints no raw control" "none" "raw"
  else
    eq "escapes: $args prints no raw control" ok ok
  fi
done
expect_run "escapes: task show shows the title" 0 'Title \^\[\[41mX\^\[\[0m <U\+202E>gnp' "" -- "$S" task show T-0001
expect_run "escapes: run show shows the summary" 0 'Summary: +Done \^\[\[31mred' "" -- "$S" run show $id
"$S" run tail $id >"$work/tail" 2>&1
eq "escapes: run tail prints no ESC" "0" "$(grep -c $'\033' "$work/tail")"
eq "escapes: --json escapes them" 'Done \u001b[31mred' \
  "$("$S" run show $id --json | grep -o 'Done \\u001b\[31mred' | head -n 1)"
eq "escapes: the raw log keeps them" "1" "$(grep -c $'\033\\[31m' .agent/runs/$id/stdout.log)"

finish
