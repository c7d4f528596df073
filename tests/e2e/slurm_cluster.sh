# A throwaway single-node Slurm cluster for the end-to-end tests: munged, slurmctld and slurmd
# on loopback, every file under one folder, nothing in /etc. Source it, then
#   slurm_start DIR    starts it (returns non-zero with $slurm_skip set to the reason when it
#                      cannot: Slurm not installed, not root, a daemon that would not start)
#   slurm_stop         stops what slurm_start started (only those pids); call it from a trap
#   slurm_test_start DIR   for a test script: the trap set (slurm_stop, then $work removed unless a
#                      check failed) and slurm_start DIR, or "SKIP: no Slurm cluster: <why>" and the
#                      script ends (exit 0)
# After slurm_start, SLURM_CONF is exported for the client commands (sbatch, squeue, scancel).
# Slurm's defaults that matter here: no accounting daemon (accounting_storage/none), so `sacct`
# knows nothing; finished jobs stay visible to `scontrol show job` for MinJobAge seconds.
slurm_pids=()
slurm_skip=""

# A free TCP port on loopback (the kernel's pick; another cluster on the machine never collides).
slurm_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
    echo $((20000 + RANDOM % 20000))
}

slurm_write_conf() {
  local dir=$1 node=$2 cpus=$3
  cat >"$dir/slurm.conf" <<EOF
ClusterName=sidecartest
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$(slurm_free_port)
SlurmdPort=$(slurm_free_port)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/jobcomp.txt
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
MailProg=/bin/true
ReturnToService=2
# The node may claim more CPUs than the machine has, so -j 8 runs 8 at once on 2 cores.
SlurmdParameters=config_overrides
MinJobAge=600
# A cancelled job's worker gets SIGTERM, then SIGKILL after KillWait: it must outlast the agent's
# own grace (kill_grace_ms, 2 s) so the worker can record the run interrupted (2 s raced it).
KillWait=10
OverTimeLimit=0
InactiveLimit=0
MessageTimeout=10
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=test Nodes=$node Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
}

# slurm_wait_for SECONDS COMMAND...: polls until COMMAND succeeds.
slurm_wait_for() {
  local tries=$(($1 * 10))
  shift
  while [ "$tries" -gt 0 ]; do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
    tries=$((tries - 1))
  done
  return 1
}

slurm_start() {
  local dir=$1 node
  node=$(hostname -s)
  for cmd in munged slurmctld slurmd sbatch squeue scontrol scancel; do
    if ! command -v "$cmd" >/dev/null; then
      slurm_skip="$cmd is not installed (scripts/setup installs slurm-wlm and munge)"
      return 1
    fi
  done
  if [ "$(id -u)" -ne 0 ]; then
    slurm_skip="the throwaway cluster runs its daemons as root (SlurmdUser=root); this user is $(id -un)"
    return 1
  fi
  mkdir -p "$dir/munge" "$dir/state" "$dir/spool"
  chmod 700 "$dir/munge"
  head -c 1024 /dev/urandom >"$dir/munge/munge.key"
  chmod 400 "$dir/munge/munge.key"
  # --force: the folder is under /tmp (world-writable sticky), which munged otherwise refuses.
  munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
    --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" \
    --seed-file="$dir/munge/munged.seed" 2>"$dir/munge/start.err" || {
    slurm_skip="munged would not start: $(head -c 300 "$dir/munge/start.err")"
    return 1
  }
  slurm_wait_for 5 test -s "$dir/munge/munged.pid"
  slurm_pids+=("$(cat "$dir/munge/munged.pid")")
  slurm_write_conf "$dir" "$node" "${SLURM_TEST_CPUS:-8}"
  export SLURM_CONF=$dir/slurm.conf
  slurmctld -f "$SLURM_CONF" 2>"$dir/slurmctld.err" || {
    slurm_skip="slurmctld would not start: $(tail -c 300 "$dir/slurmctld.log" "$dir/slurmctld.err" 2>/dev/null)"
    return 1
  }
  slurm_wait_for 10 test -s "$dir/slurmctld.pid" && slurm_pids+=("$(cat "$dir/slurmctld.pid")")
  # -N: the node's name as slurm.conf gives it, whatever the container's full host name is.
  slurmd -f "$SLURM_CONF" -N "$node" 2>"$dir/slurmd.err" || {
    slurm_skip="slurmd would not start: $(tail -c 300 "$dir/slurmd.log" "$dir/slurmd.err" 2>/dev/null)"
    return 1
  }
  slurm_wait_for 10 test -s "$dir/slurmd.pid" && slurm_pids+=("$(cat "$dir/slurmd.pid")")
  if ! slurm_wait_for 30 sh -c "sinfo -h -N -o '%T' | grep -Eq '^(idle|mixed|allocated)'"; then
    slurm_skip="the node never became idle: $(sinfo -h -N -o '%T %E' 2>&1 | head -c 300)"
    return 1
  fi
}

slurm_stop() {
  [ -n "${SLURM_CONF:-}" ] && command -v scancel >/dev/null && scancel --full -u root >/dev/null 2>&1
  local pid
  for pid in "${slurm_pids[@]}"; do
    kill "$pid" 2>/dev/null
  done
  for pid in "${slurm_pids[@]}"; do
    for _ in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null
  done
  slurm_pids=()
}

slurm_test_start() {
  # As lib.sh's trap: a failed script keeps its folder (the runs' records and worker.log say why).
  trap 'slurm_stop; if [ "${failed:-0}" -eq 0 ]; then rm -rf "$work"; else echo "kept for a look: $work" >&2; fi' EXIT
  if ! slurm_start "$1"; then
    echo "SKIP: no Slurm cluster: $slurm_skip"
    exit 0
  fi
}
