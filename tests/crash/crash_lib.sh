# Helpers of the crash harness (sourced by tests/crash/crash_harness.sh): random numbers, starting
# `sidecar` with an iteration's environment and killing it, and finding the processes of runs.
# Needs: $S (the binary), $work, $TAG, $M, $repo, $root; the iteration's $iter, $variant, $adelay.

# rand N: a number in 0..N-1 (30 random bits; $RANDOM is seeded by --seed).
rand() {
  echo $((((RANDOM << 15) | RANDOM) % $1))
}

now_ms() {
  echo $(($(date +%s%N) / 1000000))
}

sleep_ms() {
  [ "$1" -gt 0 ] && sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"
  return 0
}

# sc_exec ARGS...: replaces the (sub)shell it runs in with `sidecar ARGS`, in the repository, with
# the iteration's environment: call it as `(sc_exec ...)`, or `sc_exec ... &` (then $! is sidecar
# itself). CRASH_TAG marks every process the harness caused (agents, workers and escapees inherit
# it); the harness never exports it, so its own processes are never taken for a run's.
sc_exec() {
  cd "$repo" && exec env CRASH_TAG="$TAG" CRASH_ITER="$iter" CRASH_VARIANT="$variant" \
    CRASH_DELAY_MS="$adelay" CRASH_REPLAY="$root/tests/fixtures/captures/codex_exec_json_text_turn.jsonl" \
    CRASH_MARKS="$work/marks" CRASH_M="$M" "$S" "$@"
}

# plain ARGS...: `sidecar ARGS` in the repository, as a person would type it (no harness marks).
plain() {
  (cd "$repo" && exec "$S" "$@")
}

# launch_kill DELAY_MS ARGS...: starts `sidecar ARGS` (sc_exec), SIGKILLs exactly that process
# DELAY_MS later and reaps it. Sets $killed: 1 when the kill ended it, 0 when it had exited before.
launch_kill() {
  local delay=$1
  shift
  sc_exec "$@" </dev/null >"$work/out/$iter.out" 2>&1 &
  local pid=$!
  sleep_ms "$delay"
  kill -KILL "$pid" 2>/dev/null
  # (The braces keep bash's "Killed" job notice off the output.)
  { wait "$pid"; } 2>/dev/null
  local status=$?
  killed=$([ "$status" = 137 ] && echo 1 || echo 0)
}

# phase_of ITER KILLED: where a kill landed, from the agent's marks: start-up (no agent yet),
# mid-agent, end (the agent had ended, the run was being recorded), after-end (nothing to kill).
phase_of() {
  if [ "$2" = 0 ]; then
    echo after-end
  elif [ -e "$work/marks/$1.end" ]; then
    echo end
  elif [ -e "$work/marks/$1.start" ]; then
    echo mid-agent
  else
    echo start-up
  fi
}

# proc_stat PID: sets st_state st_ppid st_pgid st_sid st_start; fails when PID is gone or a zombie.
proc_stat() {
  local line
  { read -r line <"/proc/$1/stat"; } 2>/dev/null || return 1
  # The command name, in parentheses, may hold spaces: the fields start after the last ") ".
  # shellcheck disable=SC2086
  set -- ${line##*) }
  st_state=$1 st_ppid=$2 st_pgid=$3 st_sid=$4 st_start=${20}
  [ "$st_state" != Z ] && [ "$st_state" != X ]
}

# scan_processes: prints "PID SOURCES" for each living process of the harness's runs, found four
# ways: the harness's CRASH_TAG in its environment (tag), a run's SIDECAR_RUN_MARK as recorded in
# the run records (mark, from $work/marks.txt), the argv markers of the fake agents (argv), and the
# members of a recorded agent process group with the recorded session that started no earlier
# than the agent (group, from runs/*/agent_process.json).
scan_processes() {
  local f=$work/scan
  printf 'CRASH_TAG=%s\n' "$TAG" >"$f.tag"
  sed 's/^/SIDECAR_RUN_MARK=/' "$work/marks.txt" 2>/dev/null >"$f.mark"
  printf '%s.\n%s/crash_agent.sh\n' "$M" "$work" >"$f.argv"
  {
    grep -l -z -x -F -f "$f.tag" /proc/[0-9]*/environ 2>/dev/null | sed 's|^/proc/\([0-9]*\)/.*|\1 tag|'
    [ -s "$f.mark" ] && grep -l -z -x -F -f "$f.mark" /proc/[0-9]*/environ 2>/dev/null |
      sed 's|^/proc/\([0-9]*\)/.*|\1 mark|'
    grep -l -z -F -f "$f.argv" /proc/[0-9]*/cmdline 2>/dev/null | sed 's|^/proc/\([0-9]*\)/.*|\1 argv|'
    scan_groups
  } >"$f.found"
  local pid src
  declare -A sources=()
  while read -r pid src; do
    [ "$pid" = "$$" ] && continue
    sources[$pid]="${sources[$pid]:+${sources[$pid]},}$src"
  done <"$f.found"
  for pid in "${!sources[@]}"; do
    proc_stat "$pid" && echo "$pid ${sources[$pid]}"
  done
}

# The members of the recorded agent groups (see scan_processes).
scan_groups() {
  local file pgid sid start p
  declare -A want=()
  for file in "$repo"/.agent/runs/*/agent_process.json; do
    [ -e "$file" ] || continue
    pgid=$(grep -oP '"pgid":\s*\K[0-9]+' "$file")
    sid=$(grep -oP '"sid":\s*\K[0-9]+' "$file")
    start=$(grep -oP '"start":\s*\K[0-9]+' "$file")
    [ -n "$pgid" ] && [ -n "$sid" ] && [ -n "$start" ] || continue
    # A living leader that started at another time got the number after the whole group had
    # gone: its group is a stranger's.
    proc_stat "$pgid" && [ "$st_start" != "$start" ] && continue
    want[$pgid]="$sid $start"
  done
  [ ${#want[@]} -eq 0 ] && return 0
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    proc_stat "$p" || continue
    [ -n "${want[$st_pgid]:-}" ] || continue
    read -r sid start <<<"${want[$st_pgid]}"
    [ "$st_sid" = "$sid" ] && [ "$st_start" -ge "$start" ] && echo "$p group"
  done
}

# describe PID SOURCES: one line for people: what the process is, which iteration made it (its
# CRASH_ITER), its group and session, and its command line.
describe() {
  local pid=$1 it cmd what
  proc_stat "$pid" || return 0
  it=$({ tr '\0' '\n' <"/proc/$pid/environ"; } 2>/dev/null | sed -n 's/^CRASH_ITER=//p')
  cmd=$({ tr '\0\n\t' '   ' <"/proc/$pid/cmdline"; } 2>/dev/null | head -c 160)
  case "$cmd" in
    "sleep $M.2"* | "sleep $M.3"*) what=escapee ;;
    "sleep $M.1"*) what=group-child ;;
    *" run --worker "*) what=worker ;;
    *crash_agent.sh* | "sleep $M.4"*) what=agent ;;
    *sidecar*) what=sidecar ;;
    *) what=other ;;
  esac
  echo "$what pid $pid (iteration ${it:-?}, state $st_state, ppid $st_ppid, pgid $st_pgid, sid $st_sid," \
    "found by $2): $cmd"
}

# kill_all_found: SIGKILL to every process scan_processes finds that provably is the harness's (its
# tag, a run's mark or an argv marker: never one found only as a member of a recorded group, which
# could be a stranger's), until none is left (5 s at most).
kill_all_found() {
  local deadline pid src
  deadline=$(($(now_ms) + 5000))
  while :; do
    local list
    list=$(scan_processes | grep -E ' (.*,)?(tag|mark|argv)(,|$)')
    [ -z "$list" ] && return 0
    while read -r pid src; do kill -KILL "$pid" 2>/dev/null; done <<<"$list"
    [ "$(now_ms)" -ge "$deadline" ] && return 1
    sleep 0.05
  done
}
