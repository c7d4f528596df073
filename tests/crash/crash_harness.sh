#!/usr/bin/env bash
# Crash harness (issue 14, item 6): SIGKILLs `sidecar` at random moments, then checks that nothing
# is left unfinished, nothing is lost and nothing is left running. Each iteration kills one of:
#   foreground  `sidecar run T-…` (4 in 5) or `sidecar run start-ready -j 2` (1 in 5), running the
#               fake agent (tests/crash/crash_agent.sh) in one of four variants: plain, a child in
#               its group, a grandchild that calls setsid(), an agent that hangs;
#   background  the worker of `sidecar run T-… --background` (its pid from the run record; 3 in 4),
#               or the starting command itself mid-start (1 in 4; its worker, if any, then ends);
#   store       `task create`, `task set-status`, `run approve`, `run block`, `run T-… --dry-run`.
# The kinds take turns. A kill comes at a uniform random moment from 0 to 1.25 times (store
# commands: 1 time) the measured duration of the same command after its start (measured unkilled at
# the beginning), so kills land in start-up, mid-agent and while the end is recorded; the figures
# say how many landed where (from the agent's own marks).
#
# After each batch of iterations: ONE `sidecar run list --json --limit 0` (it must reconcile), and
# from its output and `task list --json`: no run queued, preparing or running, no task running or
# queued; `store check --json` leaves 0 problems (it may repair some on its own: counted); and no
# process of any run is alive (settling for up to --settle-ms): found by the harness's CRASH_TAG
# and the runs' SIDECAR_RUN_MARK in /proc/*/environ, the recorded agent process groups
# (runs/*/agent_process.json) and the fake agents' argv markers, setsid() escapees included.
# Whatever is found is reported, then killed, so one failure does not spill into the next batch.
# At the end, `store rebuild` on a copy of the store must not change the status of any run.
# Prints the figures; exits 1 if any failure figure is not 0, 2 on bad usage or setup.
#
#   bash tests/crash/crash_harness.sh build/sidecar                   # CI: 100 iterations
#   bash tests/crash/crash_harness.sh build/sidecar --iterations 1000 # the long run
#   CRASH_ITERATIONS=1000 ctest --test-dir build -R crash_harness     # the same through ctest
#   SIDECAR_LONG_TESTS=1 scripts/test                                  # 1000 here, with the other long tests
# Options: --iterations N, --batch N (iterations between checks, 5), --seed N (repeats the choices
# of kinds, variants and delays; timing does the rest), --kinds foreground,background,store,
# --settle-ms N (5000), --keep (keep the temporary folder and its log), --verbose (every iteration),
# --hostile (1 in 10 agents leaves an escapee that also cleared its environment: env -i setsid),
# --variants plain,child,setsid,envclear,hang (only these agents, for a reproduction).
set -u
usage() {
  sed -n '25,33p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
[ $# -ge 1 ] || usage
S=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
shift
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
default_iterations=100
[ "${SIDECAR_LONG_TESTS:-}" = 1 ] && default_iterations=1000
iterations=${CRASH_ITERATIONS:-$default_iterations} batch=5 seed=${CRASH_SEED:-} settle_ms=5000 keep=0 verbose=0 hostile=0
kinds_arg=foreground,background,store
variants=()
while [ $# -gt 0 ]; do
  case "$1" in
    --iterations) iterations=$2; shift ;;
    --batch) batch=$2; shift ;;
    --seed) seed=$2; shift ;;
    --kinds) kinds_arg=$2; shift ;;
    --settle-ms) settle_ms=$2; shift ;;
    --keep) keep=1 ;;
    --hostile) hostile=1 ;;
    --variants) IFS=, read -r -a variants <<<"$2"; shift ;;
    --verbose) verbose=1 ;;
    *) echo "crash_harness: unknown option $1" >&2; usage ;;
  esac
  shift
done
[ -x "$S" ] || { echo "crash_harness: $S is not an executable" >&2; exit 2; }
IFS=, read -r -a kinds <<<"$kinds_arg"
seed=${seed:-$(($(date +%s%N) / 1000 % 1000000))}
RANDOM=$seed

. "$here/crash_lib.sh"
work=$(mktemp -d "${TMPDIR:-/tmp}/sidecar-crash.XXXXXX")
# The harness's repository is its own: its .agent/config.lua (which names the fake agent) runs
# without `sidecar trust`, and nothing touches the user's state folder.
export SIDECAR_TRUST=all XDG_STATE_HOME="$work/state"
TAG=${work##*/}.$$
M=5$(printf '%03d' $((RANDOM % 1000)))$$ # `sleep $M.1`: a marker no other test uses
repo=$work/repo
log=$work/crash.log
mkdir -p "$work/marks" "$work/out"
: >"$work/marks.txt"
: >"$log"

cleanup() {
  local j
  for j in $(jobs -p); do kill -KILL "$j" 2>/dev/null; done
  kill_all_found || echo "crash_harness: some processes of the runs would not die: $(scan_processes | tr '\n' ' ')" >&2
  if [ "$keep" = 1 ]; then
    echo "kept: $work (log: $log)"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

die() {
  echo "crash_harness: $*" >&2
  exit 2
}

# --- the repository: the fake agent is the codex runner -----------------------------------------
{ mkdir "$repo" && git -C "$repo" init -q &&
  git -C "$repo" -c user.email=t@e -c user.name=t commit -q --allow-empty -m init; } ||
  die "could not make a git repository in $repo"
plain init >/dev/null || die "sidecar init failed in $repo"
cp "$here/crash_agent.sh" "$work/crash_agent.sh" && chmod +x "$work/crash_agent.sh"
sed -i "s|^  runners = {\$|  runners = {\n    codex = { program = { \"$work/crash_agent.sh\" } },|" \
  "$repo/.agent/config.lua"
grep -q "crash_agent.sh" "$repo/.agent/config.lua" || die "could not set the fake agent in $repo/.agent/config.lua"
# The agent's marks: its OS sandbox lets it write them there (docs/security.md).
sed -i "s|^    write = {},|    write = { \"$work/marks\" },|" "$repo/.agent/config.lua"
# The recorded stream the agent replays, wherever the checkout is (under /tmp the sandbox makes it private).
sed -i "s|^    read = {},|    read = { \"$root/tests/fixtures\" },|" "$repo/.agent/config.lua"
grep -q "\"$root/tests/fixtures\"" "$repo/.agent/config.lua" || die "could not let the agent read $root/tests/fixtures"
grep -q "\"$work/marks\"" "$repo/.agent/config.lua" || die "could not let the agent write $work/marks"
sed -i 's|^    env = {},|    env = { "CRASH_*" },|' "$repo/.agent/config.lua" # the agent's orders: given by name
grep -q '"CRASH_\*"' "$repo/.agent/config.lua" || die "could not give the agent the CRASH_* variables"

# Failure figures and their details (each thing counted once, however many batches see it).
declare -A seen=() kills=() phases=() task_iter=() iter_info=() repaired_kinds=()
nonterminal_runs=0 nonterminal_tasks=0 store_problems=0 survivors=0 escapees=0 command_failures=0
rebuild_changes=0 unprinted=0 repairs=0
declare -A printed=()
DETAIL_MAX=12 # failure lines printed per kind of failure (run, task, problem, pid...); all are logged

# fail KEY TEXT...: a failure line, once per KEY (its first word, up to "-", is the kind of
# failure); returns 1 if KEY was seen before.
fail() {
  [ -n "${seen[$1]:-}" ] && return 1
  seen[$1]=1
  echo "FAIL ${*:2}" >>"$log"
  local kind=${1%%-*}
  printed[$kind]=$((${printed[$kind]:-0} + 1))
  if [ "${printed[$kind]}" -le "$DETAIL_MAX" ]; then
    echo "FAIL ${*:2}"
  else
    unprinted=$((unprinted + 1))
  fi
  return 0
}

state() {
  "$S" script "$here/crash_state.lua" "$@"
}

# new_task TITLE [STATUS]: creates a task (not killed: it is not what an iteration kills); prints its id.
# Its validation step takes a moment, so that kills land while a run is being finished as well.
new_task() {
  local out
  out=$(plain task create --title "$1" --goal "the crash harness runs it" --status "${2:-draft}" \
    --validate-cmds "custom:sleep 0.2" 2>"$work/create.err")
  [[ $out =~ ^created\ (T-[0-9]+) ]] ||
    { echo "crash_harness: task create failed: $out $(head -c 300 "$work/create.err")" >&2; return 1; }
  echo "${BASH_REMATCH[1]}"
}

# runs_of TASK: the ids of the task's runs, newest first.
runs_of() {
  plain run list --task "$1" --json --limit 0 >"$work/runs_of.json" 2>/dev/null
  state runs "$work/runs_of.json" | cut -f2
}

pick_variant() {
  local r
  if [ ${#variants[@]} -gt 0 ]; then
    echo "${variants[$(rand ${#variants[@]})]}"
    return
  fi
  r=$(rand 10)
  if [ "$r" -lt 3 ]; then echo plain; elif [ "$r" -lt 5 ]; then echo child; elif [ "$r" -lt 8 ]; then
    [ "$hostile" = 1 ] && [ "$r" = 7 ] && echo envclear || echo setsid
  else echo hang; fi
}

# note KIND SUB DELAY PHASE TASK: counts the kill and remembers the iteration for reproductions.
note() {
  kills[$1]=$((${kills[$1]:-0} + 1))
  kills[$1/$2]=$((${kills[$1/$2]:-0} + 1))
  phases[$4]=$((${phases[$4]:-0} + 1))
  local info="iteration $iter: $1/$2, variant $variant, agent delay ${adelay} ms/line, kill at $3 ms ($4)"
  iter_info[$iter]=$info
  [ -n "$5" ] && task_iter[$5]=$iter
  echo "$info${5:+, task $5}" >>"$log"
  [ "$verbose" = 1 ] && echo "  $info${5:+, task $5}"
  return 0
}

# --- calibration: how long each command takes, unkilled -----------------------------------------
# took ARGS...: the milliseconds `sidecar ARGS` takes, started and reaped as launch_kill does it.
took() {
  local t
  t=$(now_ms)
  sc_exec "$@" </dev/null >/dev/null 2>&1 &
  wait $!
  echo $(($(now_ms) - t))
}

# middle3 ARGS...: the middle of three samples of took (a busy machine makes one sample noisy).
middle3() {
  local a b c
  a=$(took "$@") b=$(took "$@") c=$(took "$@")
  printf '%s\n' "$a" "$b" "$c" | sort -n | sed -n 2p
}

iter=0 variant=plain adelay=60
task=$(new_task "calibration") || die "task create failed"
c_ms=$(middle3 task create --title calibration)
fg_ms=$(middle3 run "$task")
dr_ms=$(middle3 run "$task" --dry-run)
plain run list --task "$task" --json --limit 0 >"$work/cal.json" 2>/dev/null
mapfile -t pending < <(state runs "$work/cal.json" |
  awk -F'\t' '$4 == "pending" && ($3 == "review" || $3 == "blocked") { print $2 }')
[ ${#pending[@]} -ge 3 ] || die "the calibration runs of $task did not end in review: $(state runs "$work/cal.json")"
ap_ms=$(for rid in "${pending[@]:0:3}"; do took run approve "$rid" --note calibration; done | sort -n | sed -n 2p)
samples=()
for _ in 1 2 3; do
  t=$(now_ms)
  (sc_exec run "$task" --background --json) >"$work/bg.json" 2>&1
  st=$(($(now_ms) - t))
  rid=$(state created "$work/bg.json" | cut -f2)
  [ -n "$rid" ] && [ "$rid" != - ] || die "run $task --background printed no run: $(head -c 300 "$work/bg.json")"
  t=$(now_ms)
  plain run wait "$rid" --timeout 2m >/dev/null 2>&1
  samples+=("$st $(($(now_ms) - t))")
done
read -r st_ms _ < <(printf '%s\n' "${samples[@]}" | sort -n -k1 | sed -n 2p)
read -r _ bg_ms < <(printf '%s\n' "${samples[@]}" | sort -n -k2 | sed -n 2p)
rm -f "$work"/marks/0.*
echo "crash harness: $iterations iterations in batches of $batch, kinds ${kinds[*]}, seed $seed"
echo "  binary $S${SIDECAR_STDLIB_DIR:+, stdlib from $SIDECAR_STDLIB_DIR}"
echo "  calibration (ms): task create $c_ms, run $fg_ms, run approve $ap_ms, run --dry-run $dr_ms," \
  "run --background $st_ms then its worker $bg_ms"

# --- the kinds ---------------------------------------------------------------------------------
do_foreground() {
  variant=$(pick_variant) adelay=$(rand 121)
  local task delay
  if [ "$(rand 5)" = 0 ]; then
    # Only this iteration's two tasks are ready: start-ready runs exactly them.
    plain task list --status ready --json >"$work/ready.json" 2>/dev/null
    for t in $(state tasks "$work/ready.json" | cut -f2); do plain task set-status "$t" draft >/dev/null 2>&1; done
    task=$(new_task "crash $iter a" ready) && task_iter[$task]=$iter
    task=$(new_task "crash $iter b" ready) || return 0
    delay=$(rand $((fg_ms * 3 / 2 + 1)))
    launch_kill "$delay" run start-ready -j 2
    note foreground start-ready "$delay" "$(phase_of "$iter" "$killed")" "$task"
  else
    task=$(new_task "crash $iter") || return 0
    delay=$(rand $((fg_ms * 5 / 4 + 1)))
    launch_kill "$delay" run "$task"
    note foreground run "$delay" "$(phase_of "$iter" "$killed")" "$task"
  fi
}

# workers_of ITER: the living `run --worker` processes this harness's iteration ITER started.
workers_of() {
  local p
  for p in $(grep -l -z -x -F "CRASH_ITER=$1" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3); do
    grep -q -z -x -F "CRASH_TAG=$TAG" "/proc/$p/environ" 2>/dev/null || continue
    { tr '\0' ' ' <"/proc/$p/cmdline"; } 2>/dev/null | grep -q -- ' --worker ' && proc_stat "$p" && echo "$p"
  done
}

do_background() {
  variant=$(pick_variant) adelay=$(rand 121)
  local task delay rid wpid deadline
  task=$(new_task "crash $iter") || return 0
  if [ "$(rand 4)" = 0 ]; then
    delay=$(rand $((st_ms * 5 / 4 + 1)))
    launch_kill "$delay" run "$task" --background --json
    note background starter "$delay" "$([ "$killed" = 1 ] && echo start-up || echo after-end)" "$task"
    # A worker it started before it died goes on: that is a run, not a leftover. It ends, or the hang
    # variant never does: then it is killed like any other worker.
    deadline=$(($(now_ms) + 60000))
    while [ -n "$(workers_of "$iter")" ]; do
      if [ "$variant" = hang ] || [ "$(now_ms)" -ge "$deadline" ]; then
        if [ "$variant" != hang ] && fail "worker-$iter" "${iter_info[$iter]}: its worker did not end within 60 s"; then
          command_failures=$((command_failures + 1))
        fi
        for wpid in $(workers_of "$iter"); do kill -KILL "$wpid" 2>/dev/null; done
        # Until they have died (and released their locks), as after any kill.
        deadline=$(($(now_ms) + 5000))
        while [ -n "$(workers_of "$iter")" ] && [ "$(now_ms)" -lt "$deadline" ]; do sleep 0.01; done
        break
      fi
      sleep 0.1
    done
    return 0
  fi
  (sc_exec run "$task" --background --json) >"$work/bg.json" 2>&1
  read -r _ rid wpid < <(state created "$work/bg.json")
  if [ -z "${rid:-}" ] || [ "${wpid:-}" = - ] || [ -z "${wpid:-}" ]; then
    command_failures=$((command_failures + 1))
    fail "bg-$iter" "iteration $iter: run $task --background printed no run and worker: $(head -c 300 "$work/bg.json")"
    return 0
  fi
  delay=$(rand $((bg_ms * 5 / 4 + 1)))
  sleep_ms "$delay"
  killed=0
  # Only the worker this iteration started (a pid can be reused once it has gone).
  if grep -q -z -x -F "CRASH_ITER=$iter" "/proc/$wpid/environ" 2>/dev/null &&
    grep -q -z -x -F "CRASH_TAG=$TAG" "/proc/$wpid/environ" 2>/dev/null && proc_stat "$wpid"; then
    kill -KILL "$wpid" 2>/dev/null && killed=1
    # A kill is delivered at once but a process takes a moment to die (and release its lock): the
    # harness checks what the kill left, not a worker still dying.
    deadline=$(($(now_ms) + 5000))
    while proc_stat "$wpid" && [ "$(now_ms)" -lt "$deadline" ]; do sleep 0.01; done
  fi
  note background worker "$delay" "$(phase_of "$iter" "$killed")" "$task"
}

do_store() {
  variant=plain adelay=0
  local sub task delay rid list
  case $(rand 5) in
    0) sub=create ;; 1) sub=set-status ;; 2) sub=approve ;; 3) sub=block ;; *) sub=dry-run ;;
  esac
  case $sub in
    create)
      delay=$(rand $((c_ms + 1)))
      launch_kill "$delay" task create --title "crash $iter, created while killed" --goal "g" \
        --validate-cmds "test:true" --tag crash --read README.md
      ;;
    set-status)
      list=("${!task_iter[@]}")
      [ ${#list[@]} -gt 0 ] || list=(T-0001)
      local to=(draft ready blocked done)
      delay=$(rand $((c_ms + 1)))
      launch_kill "$delay" task set-status "${list[$(rand ${#list[@]})]}" "${to[$(rand 4)]}"
      ;;
    approve | block)
      # A run waiting for a decision: from the last check, else one made now (not killed).
      rid=$(awk -F'\t' '$1 == "run" && $4 == "pending" && ($3 == "review" || $3 == "blocked") { print $2; exit }' \
        "$work/runs.txt" 2>/dev/null)
      if [ -z "$rid" ] || [ -n "${seen[decided-$rid]:-}" ]; then
        task=$(new_task "crash $iter, to decide") || return 0
        (sc_exec run "$task") >/dev/null 2>&1
        rid=$(runs_of "$task" | head -n 1)
      fi
      seen[decided-$rid]=1
      delay=$(rand $((ap_ms + 1)))
      if [ "$sub" = approve ]; then
        launch_kill "$delay" run approve "$rid" --note "crash harness, iteration $iter"
      else
        launch_kill "$delay" run block "$rid" --reason "crash harness, iteration $iter"
      fi
      ;;
    dry-run)
      task=$(new_task "crash $iter, dry run") || return 0
      delay=$(rand $((dr_ms + 1)))
      launch_kill "$delay" run "$task" --dry-run
      ;;
  esac
  note store "$sub" "$delay" "$([ "$killed" = 1 ] && echo mid-command || echo after-end)" "${task:-}"
}

# --- the check after a batch -------------------------------------------------------------------
# who TASK: the iteration that made TASK, for people.
who() {
  local it=${task_iter[$1]:-}
  if [ -n "$it" ]; then
    echo "${iter_info[$it]:-iteration $it}"
  else
    echo "no iteration of the harness (a calibration run, or a task a killed command made)"
  fi
}

# read_state NAME ARGS...: `sidecar ARGS --json` into NAME.json and its facts into NAME.txt; a
# command that fails (or prints no envelope) is a failure of its own.
read_state() {
  local name=$1 mode=$2 status
  shift 2
  plain "$@" --json >"$work/$name.json" 2>"$work/$name.err"
  status=$?
  if ! state "$mode" "$work/$name.json" >"$work/$name.txt" || grep -q "traceback" "$work/$name.err" ||
    { [ "$status" != 0 ] && [ "$mode" != store ]; }; then
    fail "cmd-$name-$batch_no" "batch $batch_no: \`sidecar $* --json\` exited $status:" \
      "$(head -c 300 "$work/$name.err" | tr '\n' ' ') $(head -c 300 "$work/$name.txt" | tr '\n' ' ')" &&
      command_failures=$((command_failures + 1))
  fi
}

check_batch() {
  local kind id st review task bg wpid mark reason pkind problem path detail list pid src line deadline
  # ONE run list: it must reconcile whatever the kills left; its output is the state checked.
  read_state runs runs run list --limit 0
  read_state tasks tasks task list
  read_state store store store check
  while IFS=$'\t' read -r kind id st review task bg wpid mark reason; do
    [ "$kind" = run ] || continue
    [ "$mark" != - ] && echo "$mark" >>"$work/marks.txt"
    case $st in
      queued | preparing | running)
        fail "run-$id" "batch $batch_no: run $id of $task is $st after run list ($([ "$bg" = true ] &&
          echo "background, worker pid $wpid" || echo foreground)); $(who "$task")" &&
          nonterminal_runs=$((nonterminal_runs + 1)) ;;
    esac
  done <"$work/runs.txt"
  sort -u -o "$work/marks.txt" "$work/marks.txt"
  while IFS=$'\t' read -r kind id st; do
    [ "$kind" = task ] || continue
    case $st in
      running | queued)
        fail "task-$id" "batch $batch_no: task $id is $st after run list; $(who "$id")" &&
          nonterminal_tasks=$((nonterminal_tasks + 1)) ;;
    esac
  done <"$work/tasks.txt"
  while IFS=$'\t' read -r kind pkind id problem path detail; do
    if [ "$kind" = store ]; then # store OK INTEGRITY PROBLEMS REPAIRED
      [[ $path =~ ^[0-9]+$ ]] && repairs=$((repairs + path))
      if [ "$id" != ok ]; then
        fail "integrity-$batch_no" "batch $batch_no: store check: integrity $id" &&
          store_problems=$((store_problems + 1))
      elif [ "$pkind" != true ] && [ "$problem" = 0 ]; then
        fail "storecheck-$batch_no" "batch $batch_no: store check says not ok without a problem:" \
          "$(head -c 400 "$work/store.json" | tr '\n' ' ')" && store_problems=$((store_problems + 1))
      fi
    fi
    if [ "$kind" = repaired ]; then
      repaired_kinds[$pkind]=$((${repaired_kinds[$pkind]:-0} + 1))
      continue
    fi
    [ "$kind" = problem ] || continue
    task=$id
    [ "$pkind" = run ] && task=$(awk -F'\t' -v id="$id" '$1 == "run" && $2 == id { print $5 }' "$work/runs.txt")
    fail "problem-$pkind-$id-$problem" "batch $batch_no: store check: $pkind $id: $problem ($path: $detail);" \
      "$(who "$task")" && store_problems=$((store_problems + 1))
  done <"$work/store.txt"
  # No process of any run: give what was killed time to go (a SIGKILLed process needs no more).
  deadline=$(($(now_ms) + settle_ms))
  while list=$(scan_processes) && [ -n "$list" ] && [ "$(now_ms)" -lt "$deadline" ]; do sleep 0.2; done
  if [ -n "$list" ]; then
    while read -r pid src; do
      line=$(describe "$pid" "$src") && [ -n "$line" ] || continue
      local it=${line#*(iteration } && it=${it%%,*}
      if fail "pid-$pid" "batch $batch_no: alive ${settle_ms} ms after run list: $line; ${iter_info[$it]:-}"; then
        survivors=$((survivors + 1))
        [[ $line == escapee* ]] && escapees=$((escapees + 1))
      fi
    done <<<"$list"
    kill_all_found || fail "unkillable-$batch_no" "batch $batch_no: processes survive SIGKILL: $(scan_processes)"
  fi
}

# store rebuild on a copy of the store must not change any run's status (an older copy must never
# replace a newer state).
rebuild_check() {
  local id st other
  cp -a "$repo/.agent" "$work/rebuilt" || return 0
  "$S" store rebuild --root "$work/rebuilt" --json >"$work/rebuild.json" 2>&1
  "$S" run list --root "$work/rebuilt" --json --limit 0 >"$work/rebuilt.json" 2>/dev/null
  if ! state runs "$work/rebuilt.json" >"$work/rebuilt.txt"; then
    fail rebuild "store rebuild left a store run list cannot read: $(head -c 300 "$work/rebuild.json")" &&
      rebuild_changes=$((rebuild_changes + 1))
    return 0
  fi
  while IFS=$'\t' read -r _ id st _ task _; do
    other=$(awk -F'\t' -v id="$id" '$1 == "run" && $2 == id { print $3 }' "$work/rebuilt.txt")
    [ "$other" = "$st" ] && continue
    fail "rebuild-$id" "store rebuild (on a copy) turned run $id from $st into ${other:-nothing}; $(who "$task")" &&
      rebuild_changes=$((rebuild_changes + 1))
  done < <(awk -F'\t' '$1 == "run"' "$work/runs.txt")
}

# --- the iterations --------------------------------------------------------------------------
plain run list --json --limit 0 >"$work/runs.json" 2>/dev/null
calibration_runs=$(state runs "$work/runs.json" | grep -c '^run')
: >"$work/runs.txt"
t0=$(now_ms)
batch_no=0
for ((iter = 1; iter <= iterations; iter++)); do
  kind=${kinds[$(((iter - 1) % ${#kinds[@]}))]}
  killed=0
  case $kind in
    foreground) do_foreground ;;
    background) do_background ;;
    store) do_store ;;
    *) die "unknown kind $kind (foreground, background, store)" ;;
  esac
  if [ $((iter % batch)) = 0 ] || [ "$iter" = "$iterations" ]; then
    batch_no=$((batch_no + 1))
    check_batch
    echo "  after $iter: runs non-terminal $nonterminal_runs, tasks $nonterminal_tasks, store problems" \
      "$store_problems, survivors $survivors, command failures $command_failures ($((($(now_ms) - t0) / 1000)) s)"
  fi
done
rebuild_check

# --- the figures ---------------------------------------------------------------------------------
list_of() { # list_of KIND SUB...: "N (sub a, sub b)"
  local k=$1 out="" s
  shift
  for s in "$@"; do out="$out${out:+, }$s ${kills[$k/$s]:-0}"; done
  echo "${kills[$k]:-0} ($out)"
}
statuses=$(awk -F'\t' '$1 == "run" { n[$3]++ } END { for (s in n) printf "%s %d, ", s, n[s] }' "$work/runs.txt")
runs_total=$(grep -c '^run' "$work/runs.txt")
echo "figures ($((($(now_ms) - t0) / 1000)) s, seed $seed):"
echo "  iterations: $iterations"
echo "  kills by kind: foreground $(list_of foreground run start-ready);" \
  "background $(list_of background worker starter);" \
  "store $(list_of store create set-status approve block dry-run)"
echo "  kill moments: start-up ${phases[start-up]:-0}, mid-agent ${phases[mid-agent]:-0}, end of the run" \
  "${phases[end]:-0}, mid-command ${phases[mid-command]:-0}, after the end ${phases[after-end]:-0} (nothing to kill)"
echo "  runs created: $((runs_total - calibration_runs)) (and $calibration_runs by the calibration; ${statuses%, })"
echo "  runs left non-terminal: $nonterminal_runs"
echo "  tasks left non-terminal: $nonterminal_tasks"
repaired_list=""
for k in $(printf '%s\n' "${!repaired_kinds[@]}" | sort); do repaired_list+="${repaired_list:+, }$k ${repaired_kinds[$k]}"; done
echo "  store problems after reconciliation: $store_problems (store check repaired $repairs on its own${repaired_list:+: $repaired_list})"
echo "  surviving agents: $survivors (setsid escapees among them: $escapees)"
echo "  failed commands (run list, task list, store check, workers): $command_failures"
echo "  runs whose status store rebuild changed: $rebuild_changes"
[ "$unprinted" -gt 0 ] && echo "  ($unprinted more failure lines in $log; --keep keeps it)"
total=$((nonterminal_runs + nonterminal_tasks + store_problems + survivors + command_failures + rebuild_changes))
[ "$total" = 0 ] && echo "crash harness: passed" && exit 0
echo "crash harness: FAILED"
exit 1
