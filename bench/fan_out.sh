#!/usr/bin/env bash
# A fan-out of many sandboxed agents at once (issue 51): `sidecar preset run` starting N fake agents
# side by side (-j N, the machine's cap raised to N), each a command runner that sleeps S seconds in
# its OS sandbox (bubblewrap, sandbox-init, the network proxy, a record per run); against the
# reference in the same run, `xargs -P N` starting bubblewrap around the same `sleep S` N times.
# Goal: within 1.2x of the reference.
#
# Each side's wall time (median of the rounds) and its memory per agent: the peak, over the fan-out,
# of the proportional set size (PSS, /proc/PID/smaps_rollup) of every process of the side's tree
# (Sidecar's processes, bubblewrap, the sandbox's own, the agent), divided by N. PSS splits shared
# pages between the processes that share them, so N copies of one binary count once in all.
# Then when the last timed round's agents started and the last one ended, after its first run was
# recorded: the spread of the starts is the CPU of starting them (on 2 cores, one after another in
# effect), which the reference's starts, bubblewrap alone, barely have.
# Last, where one run's CPU goes, runs one after another (bench/fan_out_split.lua): in one process,
# as a preset's pool runs them, and bubblewrap around the agent alone; the machine's CPU and page
# faults per run.
#
#   bench/fan_out.sh path/to/sidecar [agents] [seconds] [rounds] [files]
#
# `files` (default 0: an empty repository): the repository holds that many committed files, ten
# to a folder, as a real one would; each agent's run then reads its work tree before and after
# (what it changed) and walks it for secret files to hide.
set -eu
sidecar=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
n=${2:-100}
secs=${3:-2}
rounds=${4:-3}
files=${5:-0}
command -v bwrap >/dev/null || { echo "bench_fan_out: needs bubblewrap (scripts/setup)" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/bench_fan_out.XXXXXX") # TMPDIR=/dev/shm: the store on a memory file system
trap 'rm -rf "$work"' EXIT
export SIDECAR_TRUST=all XDG_STATE_HOME="$work/state" XDG_RUNTIME_DIR="$work/runtime" SIDECAR_MAX_AGENTS=$n
mkdir -p "$work/runtime"

cd "$work" && mkdir repo && cd repo && git init -q
FILES=$files "$sidecar" -e '
  local paths = require("sidecar.host.paths")
  for i = 0, tonumber(os.getenv("FILES")) - 1 do
    local dir = ("src/d%d/m%d"):format(i // 500, i // 10)
    if i % 10 == 0 then assert(paths.make_dirs(dir)) end
    local f = assert(io.open(("%s/f%d.txt"):format(dir, i % 10), "w"))
    f:write("file ", i, "\n")
    f:close()
  end'
git add -A && git -c user.email=b@e -c user.name=b commit -q --allow-empty -m i
"$sidecar" init >/dev/null
sed -i "s|^  runner = \"codex\",|  runner = \"command\",|" .agent/config.lua
"$sidecar" -e '
  local f = assert(io.open(".agent/config.lua")); local text = f:read("a"); f:close()
  text = text:gsub("  runners = {\n", "  runners = {\n    command = { command = { \"sh\", \"-c\", \"cat >/dev/null; sleep '"$secs"'; echo done\" } },\n"
    .. "    quick = { command = { \"sh\", \"-c\", \"cat >/dev/null; echo done\" } },\n", 1)
  f = assert(io.open(".agent/config.lua", "w")); f:write(text); f:close()'
mkdir -p .agent/presets
cp "$here/../tests/fixtures/presets/fan.lua" .agent/presets/fan.lua

# peak_pss_kib PID: until PID ends, every 100 ms, the PSS of PID and every process below it (one
# Lua process reading /proc, so the sampling costs the machine little); prints the peak in KiB.
peak_pss_kib() {
  ROOT=$1 "$sidecar" -e '
    local root, peak = tonumber(os.getenv("ROOT")), 0
    local time, paths = require("sidecar.host.time"), require("sidecar.host.paths")
    local function read(path)
      local f = io.open(path)
      if not f then return nil end
      local text = f:read("a")
      f:close()
      return text
    end
    while read("/proc/" .. root .. "/stat") do
      local parent = {}
      for _, name in ipairs(paths.entries("/proc") or {}) do
        local stat = name:match("^%d+$") and read("/proc/" .. name .. "/stat")
        local ppid = stat and stat:match("^%d+ %b() %a (%d+)")
        if ppid then parent[tonumber(name)] = tonumber(ppid) end
      end
      local total = 0
      for pid in pairs(parent) do
        local p = pid
        while p and p ~= root and p > 1 do p = parent[p] end
        if p == root then
          total = total + tonumber((read("/proc/" .. pid .. "/smaps_rollup") or ""):match("\nPss:%s+(%d+)") or 0)
        end
      end
      peak = math.max(peak, total)
      time.sleep_ms(100)
    end
    print(peak)'
}

# busy_ms: the CPU time the machine has spent busy since it started (/proc/stat: user, nice, system,
# irq and softirq of all its cores), in ms.
busy_ms() { awk -v hz="$(getconf CLK_TCK)" '/^cpu / { print int(($2 + $3 + $4 + $7 + $8) * 1000 / hz) }' /proc/stat; }

# timed NAME COMMAND...: runs COMMAND; prints its wall time in ms, and adds the CPU the machine spent
# meanwhile (every process, the kernel's work for them included: the namespaces a sandbox makes
# and unmakes) as a line of $work/NAME.cpu.
timed() {
  local name=$1 t0 b0 wall
  shift
  t0=$(date +%s%N) b0=$(busy_ms)
  "$@" >"$work/$name.out" 2>"$work/$name.err" || { echo "bench_fan_out: $name failed:" >&2; tail -5 "$work/$name.err" >&2; exit 1; }
  wall=$((($(date +%s%N) - t0) / 1000000))
  echo "$(($(busy_ms) - b0))" >>"$work/$name.cpu"
  echo "$wall"
}

# sampled NAME COMMAND...: runs COMMAND once more with its memory sampled; prints the peak PSS in KiB.
sampled() {
  local name=$1 pid
  shift
  "$@" >"$work/$name.out" 2>"$work/$name.err" &
  pid=$!
  peak_pss_kib "$pid"
  wait "$pid" || { echo "bench_fan_out: $name failed:" >&2; tail -5 "$work/$name.err" >&2; exit 1; }
}

reference() {
  seq "$n" | xargs -P "$n" -I{} bwrap --ro-bind / / --dev /dev --proc /proc --tmpfs /tmp --unshare-all \
    --die-with-parent sh -c "cat >/dev/null </dev/null; sleep $secs; echo done"
}
sidecar_fan() {
  "$sidecar" preset run fan -p "n=$n" -j "$n" | tee "$work/fan.out"
  grep -q "^$n of $n agents done" "$work/fan.out"
}

median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

echo "bench_fan_out: $n agents of $secs s at once in a repository of $files files, $rounds rounds each, alternating; $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f", $2 / 1048576 }' /proc/meminfo) GiB"
# Which bubblewrap both sides use (the first on PATH): one that sets a mount's flags by re-reading
# the namespace's mount table (every release before containers/bubblewrap#756, merged in June
# 2026, which sets them with mount_setattr) pays for each bind mount of the sandbox.
echo "sandboxes by $(command -v bwrap): $(bwrap --version)"
# Where the store is: an ext4 without a journal makes each new file search past the inodes freed in
# the last minutes (the kernel's recently_deleted), so there the figures follow what ran before.
fs=$(df --output=fstype "$work" | tail -n 1 | tr -d ' ')
dev=$(basename "$(df --output=source "$work" | tail -n 1 | tr -d ' ')")
journal=""
if [ "$fs" = ext4 ]; then
  journal=" without a journal (each new file searches past the inodes freed in the last minutes)"
  ls /proc/fs/jbd2/"$dev"-* >/dev/null 2>&1 && journal=" with a journal"
fi
echo "the store: $work, on $fs$journal"
ref=() side=()
for r in $(seq "$rounds"); do
  ref+=("$(timed reference reference)")
  side+=("$(timed sidecar sidecar_fan)")
done
ref_ms=$(printf '%s\n' "${ref[@]}" | median)
side_ms=$(printf '%s\n' "${side[@]}" | median)
printf '%-44s %8s ms   (rounds: %s)\n' "xargs -P $n + bwrap + sleep (reference)" "$ref_ms" "${ref[*]}"
printf '%-44s %8s ms   (rounds: %s)\n' "sidecar preset run, $n sandboxed agents" "$side_ms" "${side[*]}"
awk -v s="$side_ms" -v r="$ref_ms" 'BEGIN { printf "ratio: %.2fx the reference (goal: within 1.2x)\n", s / r }'
# The CPU the machine spent on each side, per agent (median of the rounds; whatever else ran on the
# machine meanwhile counts too): on 2 cores the agents' starts are this CPU one after another in
# effect, so it says where a side's time goes better than its wall time on a noisy machine.
cpu_per_agent() { awk -v n="$n" '{ print $1 / n }' "$work/$1.cpu" | median; }
printf 'CPU per agent (the machine busy / %d): sidecar %.1f ms, reference %.1f ms\n' "$n" \
  "$(cpu_per_agent sidecar)" "$(cpu_per_agent reference)"
# Where the last timed round's time went: when its agents started, after its first run was
# recorded (each start is its run's CPU: the run recorded, its sandbox planned and opened, then
# bubblewrap's), and when the last one ended. Past the last start, the agents' sleep and the ends.
N=$n "$sidecar" -e '
  local json, paths = require("sidecar.core.json"), require("sidecar.host.paths")
  local function seconds(ts) -- "2026-11-27T06:51:31.680Z"
    local y, mo, d, h, mi, s = ts:match("^(%d+)-(%d+)-(%d+)T(%d+):(%d+):([%d.]+)Z$")
    return os.time({ year = y, month = mo, day = d, hour = h, min = mi, sec = 0 }) + tonumber(s)
  end
  local runs = {}
  for _, name in ipairs(paths.entries(".agent/runs") or {}) do
    runs[#runs + 1] = name
  end
  table.sort(runs, function(a, b) return tonumber(a:match("%d+")) > tonumber(b:match("%d+")) end)
  local first, starts, last_end = math.huge, {}, 0
  for i = 1, math.min(tonumber(os.getenv("N")), #runs) do
    for line in io.lines(".agent/runs/" .. runs[i] .. "/events.jsonl") do
      local e = json.decode(line)
      if e.kind == "run.started" then
        first = math.min(first, seconds(e.ts))
      elseif e.kind == "span" and e.fields.name == "agent" then
        local at = seconds(e.fields.started_at)
        starts[#starts + 1], last_end = at, math.max(last_end, at + e.fields.duration_ms / 1000)
      end
    end
  end
  table.sort(starts)
  print(("the agents started %.0f ms (first), %.0f ms (median), %.0f ms (last) after the first run was "
    .. "recorded; the last ended at %.0f ms"):format(
    (starts[1] - first) * 1000, (starts[(#starts + 1) // 2] - first) * 1000, (starts[#starts] - first) * 1000,
    (last_end - first) * 1000))'
# Memory: one more round of each, sampled (the sampling is kept out of the timed rounds).
ref_kib=$(sampled reference reference)
side_kib=$(sampled sidecar sidecar_fan)
awk -v s="$side_kib" -v r="$ref_kib" -v n="$n" 'BEGIN {
  printf "memory per agent (peak PSS of the tree / %d): sidecar %.1f MiB, reference %.1f MiB\n", n, s / n / 1024, r / n / 1024 }'

# Where one run's CPU goes: runs one after another (no fan-out) in one process, as the pool runs
# them (bench/fan_out_split.lua), against bubblewrap around the same agent, alternating; the
# medians of the rounds. The reference is what the agent in its sandbox costs by itself.
split_runs=20
faults() { awk '/^pgfault / { print $2 }' /proc/vmstat; }
reference_one_by_one() {
  local b0 f0 i
  b0=$(busy_ms) f0=$(faults)
  for i in $(seq "$split_runs"); do
    bwrap --ro-bind / / --dev /dev --proc /proc --tmpfs /tmp --unshare-all --die-with-parent \
      sh -c "cat >/dev/null </dev/null; echo done" >/dev/null
  done
  awk -v b="$(($(busy_ms) - b0))" -v f="$(($(faults) - f0))" -v n="$split_runs" 'BEGIN { printf "%.1f %d\n", b / n, f / n }'
}
for r in $(seq "$rounds"); do
  reference_one_by_one >>"$work/split.reference"
  N=$split_runs CLK_TCK=$(getconf CLK_TCK) "$sidecar" script "$here/fan_out_split.lua" >>"$work/split.run" ||
    { echo "bench_fan_out: the runs one at a time failed" >&2; exit 1; }
done
echo "one run at a time, per run (the machine's CPU and page faults, median of $rounds rounds of $split_runs runs):"
for mode in reference run; do
  case $mode in
  reference) what="bwrap + sh (reference)" ;;
  run) what="a run, as a preset's pool runs it" ;;
  esac
  printf '  %-46s %7.1f ms %6.0f faults\n' "$what" "$(cut -d' ' -f1 "$work/split.$mode" | median)" \
    "$(cut -d' ' -f2 "$work/split.$mode" | median)"
done
