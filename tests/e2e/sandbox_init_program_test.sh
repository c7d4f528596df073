#!/usr/bin/env bash
# End-to-end: the first process of a run's OS sandbox is `sidecar-sandbox-init`, the small program
# built and installed beside the binary (cli/sandbox_init_program.cpp), found beside the binary's
# real path (a link to it finds it too), in a folder the sandbox makes private (/tmp) as well; where
# it is not there, cannot be run, is a link to one elsewhere or is of another build, the binary's
# own `sidecar sandbox-init`. The agent, which sees both, can replace neither. In bubblewrap's
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
mkdir -p "$work/alone" "$work/pair" "$work/unrunnable" "$work/linked" "$work/elsewhere" "$work/stale"
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
}

cases bwrap env
expect_run "doctor: names the program each agent starts under" 0 \
  "OS sandbox: bwrap, network model: ok\n  each agent starts under \Q$build/sidecar-sandbox-init\E\n" '^$' -- "$S" doctor
expect_run "doctor: without it, says so and what to do" 0 \
  "\n  each agent starts under \Q$work/alone/sidecar sandbox-init\E \(sidecar-sandbox-init is not beside the binary; .*reinstall" \
  '^$' -- "$work/alone/sidecar" doctor
expect_run "doctor: a link to one elsewhere, not taken" 0 \
  "\n  each agent starts under \Q$work/elsewhere/sidecar sandbox-init\E \(\Q$work/elsewhere/sidecar-sandbox-init\E is not an executable file of the binary's own folder" \
  '^$' -- "$work/elsewhere/sidecar" doctor
expect_run "doctor: one of another build, not taken" 0 \
  "\n  each agent starts under \Q$work/stale/sidecar sandbox-init\E \(\Q$work/stale/sidecar-sandbox-init\E is not this build's \(to --protocol it says \"0.0.1-0000000000000000\"" \
  '^$' -- "$work/stale/sidecar" doctor
eq "doctor --json: the command" "$build/sidecar-sandbox-init" "$("$S" doctor --json | jv .data.sandbox.init.1)"
if [ -n "${NO_USERNS:-}" ] && [ "$("$S" -e 'print(require("sidecar.host.sandbox").landlock_abi())')" -ge 1 ]; then
  cases landlock "$NO_USERNS"
else
  echo "SKIP: the Landlock sandbox's cases (no NO_USERNS helper, or no Landlock in this kernel)"
fi
finish
