#!/bin/sh
# The agent of the crash harness (tests/crash/crash_harness.sh copies it into its temporary folder
# and makes it the codex runner's program). It reads the prompt, replays a recorded codex event
# stream ($CRASH_REPLAY), CRASH_DELAY_MS between lines, writes the final message where codex's
# `-o FILE` says, and by CRASH_VARIANT leaves behind what a run must not leave behind:
#   plain     nothing else
#   child     a long sleep in the agent's own process group (its stdio closed, so the run's pipes end)
#   setsid    a long sleep that left the agent's group and session with setsid(): an escapee
#   envclear  (crash_harness.sh --hostile) an escapee that also cleared its environment, so no
#             variable of the run marks it
#   hang      stops talking after two lines and sleeps: the run cannot end on its own
# The sleeps are `sleep $CRASH_M.1` (child), `.2` (setsid), `.3` (envclear) and `.4` (hang): an
# argv marker unique to one harness invocation. The agent notes its start and its end in
# $CRASH_MARKS/<iteration>.start and .end, which tell the harness where a kill landed. Everything
# comes from the environment the harness gave `sidecar` (CRASH_*), which the agent inherits.
# Plain sh and sleep only: the agent does not depend on the binary under test.
marks=$CRASH_MARKS/$CRASH_ITER
: >"$marks.start"
case $CRASH_VARIANT in
  child) sleep "$CRASH_M.1" </dev/null >/dev/null 2>&1 & ;;
  setsid) setsid sleep "$CRASH_M.2" </dev/null >/dev/null 2>&1 & ;;
  envclear) env -i setsid sleep "$CRASH_M.3" </dev/null >/dev/null 2>&1 & ;;
esac
last_message_file=
previous=
for a in "$@"; do
  [ "$previous" = -o ] && last_message_file=$a
  previous=$a
done
cat >/dev/null # the prompt
delay=$(printf '%d.%03d' $((CRASH_DELAY_MS / 1000)) $((CRASH_DELAY_MS % 1000)))
n=0
while IFS= read -r line; do
  n=$((n + 1))
  if [ "$CRASH_VARIANT" = hang ] && [ "$n" -gt 2 ]; then
    sleep "$CRASH_M.4"
  fi
  printf '%s\n' "$line" || exit 141 # the reader has gone
  sleep "$delay"
done <"$CRASH_REPLAY"
if [ -n "$last_message_file" ]; then
  sed -n 's/.*"type":"agent_message","text":"\([^"]*\)".*/\1/p' "$CRASH_REPLAY" | tr -d '\n' >"$last_message_file"
fi
: >"$marks.end"
