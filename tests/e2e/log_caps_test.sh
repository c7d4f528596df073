#!/usr/bin/env bash
# End-to-end: max_log_bytes bounds every raw log of a run (stdlib/sidecar/core/log_caps.lua, host/process/log_cap.hpp).
# A `yes` agent under timeout = "3s" with max_log_bytes = "1MiB": the run ends timed out, its
# stdout.log is the first and last 512 KiB with the marker between, the record and `run show`
# say what was dropped, and sidecar's memory stays flat while the pipe is drained at full speed.
# Then a codex stream past the bound (every event still parsed, agent.jsonl cut), a flood on
# stderr, a plain answer whose end is read from the cut log's tail, and false (no bound).
set -u
. "$(dirname "$0")/lib.sh" # S (absolute), here, root, $work; the shared helpers
cd "$work"
MIB=1048576
# AddressSanitizer (scripts/test --sanitize) keeps shadow memory and runs slower: a wider bound.
max_rss_mb=200
if [ -n "${ASAN_OPTIONS:-}" ]; then max_rss_mb=1024; fi

# new_repo NAME CONFIG: a git repository with `sidecar init` done, CONFIG as its config.lua, and a
# ready task T-0001.
new_repo() {
  git_repo "$1"
  printf '%s\n' "$2" >.agent/config.lua
  "$S" task create --title "Flood" --goal "a lot of output" --status ready >/dev/null 2>&1
}
# marker DROPPED BOUND_TEXT: the line between head and tail, without its two newlines.
marker() { echo "[sidecar: $1 bytes dropped here: the log passed max_log_bytes = $2]"; }
# R: the folder of the run the last `run T-0001` (its stdout in out.txt) created.

# --- the `yes` agent ----------------------------------------------------------------------------
new_repo yes 'return { runner = "command", timeout = "3s", max_log_bytes = "1MiB",
  runners = { command = { command = { "yes" } } } }'
if [ -x /usr/bin/time ]; then
  /usr/bin/time -v -o time.txt "$S" run T-0001 >out.txt 2>err.txt
else
  "$S" run T-0001 >out.txt 2>err.txt
fi
R=.agent/runs/$(run_ids out.txt | head -n 1)
eq "yes: the run ends on its wall timeout" "failed true" "$(jv .status <$R/run.json) $(jv .timed_out <$R/run.json)"
grep -q "wall timeout: still running after 3000 ms" out.txt || { echo "FAIL yes: the run does not say why"; cat out.txt err.txt; failed=$((failed + 1)); }
seen=$(jv .log_truncated.1.bytes_seen <$R/run.json)
dropped=$((seen - MIB))
eq "yes: the record names the log, what it saw, kept and dropped" "stdout stdout.log $MIB $dropped $MIB" \
  "$(for k in stream file bytes_kept bytes_dropped max_log_bytes; do jv ".log_truncated.1.$k" <$R/run.json; done | tr '\n' ' ' | sed 's/ $//')"
eq "yes: far more was written than kept (the pipe was drained)" yes "$([ "$seen" -gt $((20 * MIB)) ] && echo yes)"
m=$(marker $dropped "1 MiB")
eq "yes: stdout.log is the bound plus the marker line" $((MIB + ${#m} + 2)) "$(stat -c %s $R/stdout.log)"
eq "yes: the head is the stream's first 512 KiB" "$(yes | head -c $((MIB / 2)) | md5sum)" "$(head -c $((MIB / 2)) $R/stdout.log | md5sum)"
eq "yes: the marker follows the head, on its own line" "$m" "$(tail -c +$((MIB / 2 + 2)) $R/stdout.log | head -n 1)"
eq "yes: the tail is the stream's last 512 KiB" "$(yes | head -c $((MIB / 2)) | md5sum)" "$(tail -c $((MIB / 2)) $R/stdout.log | md5sum)"
eq "yes: the marker appears once" 1 "$(grep -c 'bytes dropped here' $R/stdout.log)"
expect_run "yes: run show says the log was cut" 0 \
  "Log cut: +stdout\.log: [0-9.]+ [MG]iB written, [0-9.]+ [MG]iB dropped from its middle \(max_log_bytes = 1 MiB\)" "" \
  -- "$S" run show "${R##*/}"
"$S" run show "${R##*/}" --json >show.json
eq "yes: run show --json has it" "$dropped" "$(jv .data.log_truncated.1.bytes_dropped <show.json)"
grep -q "stdout.log passed max_log_bytes (1 MiB)" $R/run.json || { echo "FAIL yes: no warning in the record"; failed=$((failed + 1)); }
duration_ms=$(jv .duration_ms <$R/run.json)
echo "yes: $((seen / MIB)) MiB drained in $duration_ms ms through the redacting, capped sink: $((seen / 1000 / duration_ms)) MB/s"
if [ -f time.txt ]; then
  peak_kb=$(grep -oP 'Maximum resident set size \(kbytes\): \K[0-9]+' time.txt)
  echo "yes: sidecar's peak RSS $((peak_kb / 1024)) MB"
  eq "yes: peak memory below $max_rss_mb MB" yes "$([ "${peak_kb:-9999999}" -lt $((max_rss_mb * 1024)) ] && echo yes)"
fi

# --- a codex stream past the bound: every event parsed, agent.jsonl cut ------------------------
item='{"type":"item.completed","item":{"id":"item_1","type":"agent_message","text":"still going"}}'
new_repo codex "return { runner = \"flood\", max_log_bytes = \"256KiB\", runners = { flood = { dialect = \"codex\",
  command = { \"sh\", \"-c\", [[echo '{\"type\":\"thread.started\",\"thread_id\":\"t-1\"}'; yes '$item' | head -n 50000
  echo '{\"type\":\"item.completed\",\"item\":{\"id\":\"item_2\",\"type\":\"agent_message\",\"text\":\"the last word\"}}'
  echo '{\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":5,\"output_tokens\":6}}']] } } } }"
"$S" run T-0001 >out.txt 2>err.txt
R=.agent/runs/$(run_ids out.txt | head -n 1)
eq "codex: the run completes with the last message" "review the last word" \
  "$(jv .status <$R/run.json) $(cat $R/output.md)"
eq "codex: every event was parsed" 50003 "$(jv .stream.events <$R/run.json)"
eq "codex: agent.jsonl is cut" "stdout agent.jsonl 262144" \
  "$(jv .log_truncated.1.stream <$R/run.json) $(jv .log_truncated.1.file <$R/run.json) $(jv .log_truncated.1.bytes_kept <$R/run.json)"
eq "codex: its head starts the stream and its tail ends it" '{"type":"thread.started","thread_id":"t-1"} {"type":"turn.completed","usage":{"input_tokens":5,"output_tokens":6}}' \
  "$(head -n 1 $R/agent.jsonl) $(tail -n 1 $R/agent.jsonl)"
eq "codex: usage" "5 6" "$(jv .usage.input <$R/run.json) $(jv .usage.output <$R/run.json)"

# --- stderr floods; the answer on stdout is whole -----------------------------------------------
new_repo stderr 'return { runner = "command", max_log_bytes = "64KiB",
  runners = { command = { command = { "sh", "-c", "head -c 3000000 /dev/zero | tr \"\\0\" e >&2; echo done" } } } }'
"$S" run T-0001 >out.txt 2>err.txt
R=.agent/runs/$(run_ids out.txt | head -n 1)
eq "stderr: the run completes" "review done" "$(jv .status <$R/run.json) $(cat $R/output.md)"
eq "stderr: stderr.log is cut, stdout.log is not" "stderr stderr.log 3000000 nil" \
  "$(for k in stream file bytes_seen; do jv ".log_truncated.1.$k" <$R/run.json; done | tr '\n' ' ')$(jv .log_truncated.2 <$R/run.json)"
m=$(marker $((3000000 - 65536)) "64 KiB")
eq "stderr: stderr.log is the bound plus the marker" $((65536 + ${#m} + 2)) "$(stat -c %s $R/stderr.log)"

# --- a plain answer past the bound: its end comes from the log's tail, not the marker ------------
new_repo answer 'return { runner = "command", max_log_bytes = "64KiB",
  runners = { command = { command = { "sh", "-c", "seq 1 200000; echo [BLOCKED] the end" } } } }'
"$S" run T-0001 >out.txt 2>err.txt
R=.agent/runs/$(run_ids out.txt | head -n 1)
eq "answer: the final message is the stream's last 32 KiB" "$( (seq 1 200000; echo '[BLOCKED] the end') | tail -c 32768 | md5sum)" \
  "$(md5sum <$R/output.md)"
eq "answer: its marker is read (the run is blocked)" "blocked the end" "$(jv .status <$R/run.json) $(jv .blockers.1 <$R/run.json)"
eq "answer: final_message_bytes is the whole stream" "$( (seq 1 200000; echo '[BLOCKED] the end') | wc -c)" \
  "$(jv .final_message_bytes <$R/run.json)"

# --- false: no bound ---------------------------------------------------------------------------
new_repo unbounded 'return { runner = "command", max_log_bytes = false,
  runners = { command = { command = { "sh", "-c", "head -c 3000000 /dev/zero | tr \"\\0\" x" } } } }'
"$S" run T-0001 >out.txt 2>err.txt
R=.agent/runs/$(run_ids out.txt | head -n 1)
eq "false: every byte is kept, nothing recorded as cut" "3000000 nil" \
  "$(stat -c %s $R/stdout.log) $(jv .log_truncated <$R/run.json)"

expect_run "capabilities lists log-caps" 0 "log-caps" "" -- "$S" capabilities

# --- a bad value is refused, naming the setting -------------------------------------------------
new_repo bad 'return { max_log_bytes = "plenty" }'
expect_run "a bad max_log_bytes is refused" 1 "" "max_log_bytes: 'plenty' is not a size \(write 64MiB, 512KiB" \
  -- "$S" run T-0001

finish
