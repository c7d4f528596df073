#!/usr/bin/env bash
# End-to-end: the first process of a run's OS sandbox is `sidecar-sandbox-init`, the small program
# built and installed beside the binary (cli/sandbox_init_program.cpp), found beside the binary's
# real path (a link to it finds it too), in a folder the sandbox makes private (/tmp) as well; where
# it is not there, cannot be run, is a link to one elsewhere, may be written by others, does not
# answer or is of another build, the binary's own `sidecar sandbox-init`. The agent, which sees both, can replace neither. In bubblewrap's
# sandbox, then (NO_USERNS, tests/e2e/no_userns.cpp: user namespaces refused) in Landlock's, where
# sandbox-init is the agent's subreaper. `sidecar doctor` names it, and says why when it is not.
set -u
. "$(dirname "$0")/lib.sh" # S (absolute), here, root, $work; the shared helpers
. "$here/hostile_lib.sh"
cd "$work"
hostile_need_sandbox
build=$(dirname "$S")
[ -x "$build/sidecar-sandbox-init" ] || { echo "FAIL no sidecar-sandbox-init beside $S (the build makes it)"; exit 1; }

git_repo repo
"$S" task create --title "Say who started you" --status ready >/dev/null
# The agent: says what started it (its parent, sandbox-init in both sandboxes), then tries to
# replace the program that did, and the binary: a file of its own renamed over each (both are
# running, so writing them in place fails anyway, "text file busy"). What it did is checked from
# outside after the run: both files and their folders as they were.
cat >"$work/who.sh" <<'SH'
#!/bin/sh
cat >/dev/null
printf 'parent: %s\n' "$(tr '\0' ' ' </proc/$PPID/cmdline)"
for f in "$INIT" "$BINARY"; do
  d=${f%/*}
  { cp /bin/sh "$d/.probe" && mv -f "$d/.probe" "$f"; } 2>/dev/null && echo "REACHED $f"
  rm -f "$d/.probe" 2>/dev/null
done
echo done
SH
chmod +x "$work/who.sh"
add_runners "    who = { command = $(lua_list "$work/who.sh") },"
sandbox_allow env INIT BINARY

# Layouts of the binary: the build's; alone in a folder of /tmp; with its program beside it there;
# with that program not executable; a link to the build's binary.
mkdir -p "$work/alone" "$work/pair" "$work/unrunnable" "$work/linked" "$work/elsewhere" "$work/stale" "$work/writable" \
  "$work/hangs"
cp "$S" "$work/alone/sidecar"
cp "$S" "$build/sidecar-sandbox-init" "$work/pair/"
cp "$S" "$build/sidecar-sandbox-init" "$work/unrunnable/" && chmod -x "$work/unrunnable/sidecar-sandbox-init"
ln -s "$S" "$work/linked/sidecar"
# The program a link to one elsewhere (a folder the binary's is not: never taken), and one of
# another build (its --protocol says another: it would misread the arguments).
cp "$S" "$work/elsewhere/sidecar" && ln -s "$build/sidecar-sandbox-init" "$work/elsewhere/sidecar-sandbox-init"
cp "$S" "$work/stale/sidecar"
printf '#!/bin/sh\n[ "$1" = --protocol ] && echo 0.0.1-0000000000000000 && exit 0\nexec %s --from-another-build "$@"\n' \
  "$build/sidecar-sandbox-init" >"$work/stale/sidecar-sandbox-init"
chmod +x "$work/stale/sidecar-sandbox-init"
# One others may write (it would run outside any sandbox to answer --protocol), and one that never
# answers.
cp "$S" "$build/sidecar-sandbox-init" "$work/writable/" && chmod go+w "$work/writable/sidecar-sandbox-init"
cp "$S" "$work/hangs/sidecar"
printf '#!/bin/sh\nexec sleep 30\n' >"$work/hangs/sidecar-sandbox-init" && chmod +x "$work/hangs/sidecar-sandbox-init"
protocol=$("$S" sandbox-init --protocol)

# outside FILE...: each file's digest and what its folder holds (names only).
outside() {
  local f
  for f in "$@"; do
    sha256sum "$(readlink -f "$f")"
    ls -a "$(dirname "$(readlink -f "$f")")" | tr '\n' ' '
  done
}

# started_by KIND BINARY EXPECTED_PARENT INIT [LAUNCH...]: one run of the agent by BINARY, launched
# by LAUNCH (the Landlock case's no_userns); its sandbox is KIND and its parent's command line
# starts with EXPECTED_PARENT followed by sandbox-init's first option; INIT is the program the agent
# then tries to open.
started_by() {
  local kind=$1 binary=$2 parent=$3 init=$4
  shift 4
  local name="$kind, $(basename "$(dirname "$binary")")/sidecar" before
  before=$(outside "$init" "$binary")
  INIT=$init BINARY=$binary expect_run "$name: the run ends" 0 "" "" -- "$@" "$binary" run T-0001 --runner who
  local id dir
  id=$(run_ids "$work/out" | tail -n 1)
  dir=$PWD/.agent/runs/$id
  eq "$name: its sandbox" "$kind" "$(field "$dir/run.json" .os_sandbox.kind)"
  local want="parent: $parent --report-fd 3 " line
  line=$(grep -m 1 '^parent: ' "$dir/stdout.log")
  eq "$name: started by" "$want" "${line:0:${#want}}"
  eq "$name: neither program replaced by the agent" "" "$(grep REACHED "$dir/stdout.log")"
  eq "$name: both, and their folders, as they were" "$before" "$(outside "$init" "$binary")"
  eq "$name: the agent ran to its end" "done" "$(tail -n 1 "$dir/stdout.log")"
}

# cases KIND LAUNCH...: every layout in sandbox KIND.
cases() {
  local kind=$1
  shift
  started_by "$kind" "$S" "$build/sidecar-sandbox-init" "$build/sidecar-sandbox-init" "$@"
  started_by "$kind" "$work/alone/sidecar" "$work/alone/sidecar sandbox-init" "$work/alone/sidecar" "$@"
  started_by "$kind" "$work/pair/sidecar" "$work/pair/sidecar-sandbox-init" "$work/pair/sidecar-sandbox-init" "$@"
  started_by "$kind" "$work/unrunnable/sidecar" "$work/unrunnable/sidecar sandbox-init" \
    "$work/unrunnable/sidecar-sandbox-init" "$@"
  started_by "$kind" "$work/linked/sidecar" "$build/sidecar-sandbox-init" "$build/sidecar-sandbox-init" "$@"
  started_by "$kind" "$work/elsewhere/sidecar" "$work/elsewhere/sidecar sandbox-init" \
    "$work/elsewhere/sidecar-sandbox-init" "$@"
  started_by "$kind" "$work/stale/sidecar" "$work/stale/sidecar sandbox-init" "$work/stale/sidecar-sandbox-init" "$@"
  started_by "$kind" "$work/writable/sidecar" "$work/writable/sidecar sandbox-init" \
    "$work/writable/sidecar-sandbox-init" "$@"
  started_by "$kind" "$work/hangs/sidecar" "$work/hangs/sidecar sandbox-init" "$work/hangs/sidecar-sandbox-init" "$@"
}

cases bwrap env
expect_run "doctor: names the program each agent starts under" 0 \
  "OS sandbox: bwrap, network model: ok\n  each agent starts under \Q$build/sidecar-sandbox-init\E\n" '^$' -- "$S" doctor
# doctor_says BINARY WHY: `sidecar doctor` by BINARY says, on one line, that agents start under its
# own sandbox-init and WHY (a literal text), then what to do.
doctor_says() {
  expect_run "doctor, $(basename "$(dirname "$1")")/sidecar: the binary's own, and why" 0 \
    "\n  each agent starts under \Q$1 sandbox-init (\E\Q$2\E; sidecar-sandbox-init starts quicker: reinstall Sidecar to have this build's beside it\)\n" \
    '^$' -- "$1" doctor
}
doctor_says "$work/alone/sidecar" "sidecar-sandbox-init is not beside the binary"
doctor_says "$work/elsewhere/sidecar" "$work/elsewhere/sidecar-sandbox-init is not an executable file of the binary's own folder"
doctor_says "$work/stale/sidecar" \
  "$work/stale/sidecar-sandbox-init is not this build's (its protocol is 0.0.1-0000000000000000; this binary's protocol is $protocol)"
doctor_says "$work/writable/sidecar" \
  "$work/writable/sidecar-sandbox-init is not the binary's owner's alone (another user's, or others may write it)"
doctor_says "$work/hangs/sidecar" \
  "$work/hangs/sidecar-sandbox-init is not this build's (it did not answer --protocol within 2000 ms; this binary's protocol is $protocol)"
eq "doctor --json: the program, and no why" "$build/sidecar-sandbox-init nil" \
  "$("$S" doctor --json >"$work/doctor.json"; jv .data.sandbox.init.1 <"$work/doctor.json") $(jv .data.sandbox.init_why <"$work/doctor.json")"
eq "doctor --json: the binary's own, and why" "$work/stale/sidecar sandbox-init $work/stale/sidecar-sandbox-init is not" \
  "$("$work/stale/sidecar" doctor --json >"$work/doctor.json"; jv .data.sandbox.init.1 <"$work/doctor.json") \
$(jv .data.sandbox.init.2 <"$work/doctor.json") $(jv .data.sandbox.init_why <"$work/doctor.json" | cut -d' ' -f1-3)"
if [ -n "${NO_USERNS:-}" ] && [ "$("$S" -e 'print(require("sidecar.host.sandbox").landlock_abi())')" -ge 1 ]; then
  cases landlock "$NO_USERNS"
else
  echo "SKIP: the Landlock sandbox's cases (no NO_USERNS helper, or no Landlock in this kernel)"
fi
finish
