#!/usr/bin/env bash
# The Slurm executor against the local one, on a throwaway one-node cluster
# (tests/e2e/slurm_cluster.sh): usage  bench/slurm.sh path/to/sidecar [TASKS] [JOBS]
#   submit-to-start  from `sidecar run T --background [--executor slurm]` to the agent's start,
#                    median and max of 10 runs one after another
#   wall time        `run start-ready -j JOBS` on TASKS short tasks (default 100 and 8), both ways
#   ingest           how many finished Slurm runs per second the submitting side imports
#                    (`run list` reading runs whose workers recorded their end)
# The agent is a command that notes when it starts and answers at once.
set -u
S=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
tasks=${2:-100}
jobs=${3:-8}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d)
. "$here/../tests/e2e/slurm_cluster.sh"
trap 'slurm_stop; rm -rf "$work"' EXIT
export SIDECAR_TRUST=all XDG_STATE_HOME="$work/state"
t0=$(date +%s%N)
if ! SLURM_TEST_CPUS=$jobs slurm_start "$work/cluster"; then
  echo "SKIP: no Slurm cluster: $slurm_skip"
  exit 0
fi
echo "cluster started in $((($(date +%s%N) - t0) / 1000000)) ms"

ms() { echo $((($(date +%s%N) - $1) / 1000000)); }

# repo NAME N: a repository with N ready tasks and the `quick` runner.
repo() {
  mkdir -p "$work/$1" && cd "$work/$1" && git init -q && git -c user.email=b@e -c user.name=b commit -q --allow-empty -m i
  "$S" init >/dev/null
  # The start times go outside the repository: a file written there is a change a read-only run may
  # not make (its gate would block the run).
  RUNNERS="    quick = { command = { \"sh\", \"-c\", \"cat >/dev/null; date +%s%N >>$work/$1.started; echo done\" } }," \
    "$S" -e '
    local f = assert(io.open(".agent/config.lua")); local text = f:read("a"); f:close()
    text = text:gsub("  runners = {\n", function() return "  runners = {\n" .. os.getenv("RUNNERS") .. "\n" end, 1)
    f = assert(io.open(".agent/config.lua", "w")); f:write(text); f:close()'
  for i in $(seq 1 "$2"); do
    "$S" task create --title "Task $i" --status ready >/dev/null
  done
}

# latency EXECUTOR: submit-to-start of 10 runs, one after another.
latency() {
  repo "lat-$1" 10
  local all=()
  for i in $(seq 1 10); do
    local id t
    id=$(printf 'T-%04d' "$i")
    t=$(date +%s%N)
    run=$("$S" run "$id" --runner quick --background --executor "$1" 2>/dev/null)
    "$S" run wait "$run" >/dev/null 2>&1
    all+=($((($(tail -1 "$work/lat-$1.started") - t) / 1000000)))
  done
  printf '%s\n' "${all[@]}" | sort -n | awk -v e="$1" '{ v[NR] = $1 } END {
    printf "submit-to-start %-6s median %d ms, max %d ms (10 runs)\n", e, v[int((NR + 1) / 2)], v[NR] }'
}

latency local
latency slurm
for e in local slurm; do
  repo "wall-$e" "$tasks"
  t=$(date +%s%N)
  "$S" run start-ready -j "$jobs" --runner quick --executor "$e" >/dev/null 2>&1
  done_count=$("$S" run list --limit 0 --json | "$S" -e 'local n = 0
    for _, r in ipairs(require("sidecar.core.json").decode(io.read("a")).data) do n = n + ((r.status == "review" or r.status == "completed") and 1 or 0) end
    print(n)')
  echo "wall time $e: $tasks tasks at -j $jobs in $(ms "$t") ms ($done_count ended in review or completed)"
done

# Ingest: finished Slurm runs whose records the submitting side has not read yet, read at once.
repo ingest "$tasks"
for i in $(seq 1 "$tasks"); do
  "$S" run "$(printf 'T-%04d' "$i")" --runner quick --background --executor slurm >/dev/null 2>&1
done
while [ -n "$(squeue -h)" ]; do sleep 0.2; done
t=$(date +%s%N)
"$S" run list --limit 0 >/dev/null
took=$(ms "$t")
echo "ingest: $tasks finished runs imported by one run list in $took ms ($((tasks * 1000 / (took > 0 ? took : 1))) runs/s)"
