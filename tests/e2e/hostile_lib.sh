# Shared helpers for the hostile-agent tests (tests/e2e/hostile_*_test.sh): each case is one thing
# a hostile agent tries; it ends as
#   prevented  the sandbox or the host refused it: nothing happened,
#   detected   it happened inside the run, and the run is blocked with the reason in `run show`,
#   silent     it happened and nothing says so (a failure: the goal is none),
#   documented it happened, and docs/security.md lists it among what the Landlock sandbox does not
#              give (HOSTILE_KIND=landlock only: a case HOSTILE_DOCUMENTED names, "a|b c").
# HOSTILE_KIND=landlock runs the cases in the Landlock sandbox (the test is then started where user
# namespaces are refused: tests/e2e/no_userns.cpp), and checks that each run had it.
# Source after lib.sh. Every script ends with `hostile_summary` then `finish`; the summary line
# (`hostile <area>: tried N, prevented P, detected D, silent S`) is what the notes add up.
hostile_tried=0
hostile_prevented=0
hostile_detected=0
hostile_silent=0
hostile_documented=0
HOSTILE_KIND=${HOSTILE_KIND:-bwrap}

# hostile_watch_home: from now on a case is prevented only if the user's home ($HOME) is as it is
# now, byte for byte (a script whose cases leave the home alone says so once, after setting it up).
hostile_home=""
hostile_watch_home() { hostile_home=$(tree_digest "$HOME"); }

# hostile_case NAME OUTCOME [WHY]: records one case. OUTCOME is prevented, detected or silent;
# silent fails the test, and so does a prevented case after which the watched home changed. In
# the Landlock sandbox, a silent case that HOSTILE_DOCUMENTED names is `documented`.
hostile_case() {
  local name=$1 outcome=$2 why=${3:-}
  if [ "$outcome" = prevented ] && [ -n "$hostile_home" ] && [ "$(tree_digest "$HOME")" != "$hostile_home" ]; then
    outcome=silent why="the user's home changed"
  fi
  hostile_tried=$((hostile_tried + 1))
  if [ "$outcome" = silent ] && [ "$HOSTILE_KIND" = landlock ] && [[ "|${HOSTILE_DOCUMENTED:-}|" == *"|$name|"* ]]; then
    outcome=documented
  fi
  case $outcome in
    prevented) hostile_prevented=$((hostile_prevented + 1)) passed=$((passed + 1)) ;;
    detected) hostile_detected=$((hostile_detected + 1)) passed=$((passed + 1)) ;;
    documented) hostile_documented=$((hostile_documented + 1)) passed=$((passed + 1))
      echo "hostile $name: documented (docs/security.md, the Landlock sandbox): $why" ;;
    *)
      hostile_silent=$((hostile_silent + 1)) failed=$((failed + 1))
      echo "FAIL hostile $name: silent${why:+ ($why)}"
      ;;
  esac
}

# hostile_need_sandbox: ends the script (a pass, its SKIP line said) where bubblewrap cannot make a
# sandbox: not installed, user namespaces off, or SIDECAR_OS_SANDBOX=off (scripts/test says so).
hostile_need_sandbox() {
  if [ "$HOSTILE_KIND" = landlock ]; then
    if [ "$("$S" -e 'print(require("sidecar.host.sandbox").landlock_abi())')" -lt 4 ]; then
      echo "SKIP: this kernel's Landlock cannot limit TCP (ABI 4, Linux 6.7)"
      exit 0
    fi
    return
  fi
  if [ "${SIDECAR_OS_SANDBOX:-}" = off ] || ! command -v bwrap >/dev/null ||
    ! bwrap --unshare-all --ro-bind / / true 2>/dev/null; then
    echo "SKIP: bubblewrap cannot make a sandbox here (not installed, or user namespaces are off)"
    exit 0
  fi
}

# tree_digest DIR...: one digest of every file, symlink and mode under DIR (a repository with its
# .git, a bare remote, a home folder): equal digests mean byte-identical trees.
tree_digest() {
  local d
  for d in "$@"; do
    [ -e "$d" ] || { echo "missing $d"; continue; }
    (cd "$d" && find . \( -type f -o -type l \) -printf '%p %m %l\n' | LC_ALL=C sort &&
      find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum)
  done | sha256sum | cut -d' ' -f1
}

# hostile_summary AREA: prints the counts of this script's cases.
hostile_summary() {
  echo "hostile $1${HOSTILE_KIND:+ ($HOSTILE_KIND)}: tried $hostile_tried, prevented $hostile_prevented," \
    "detected $hostile_detected, silent $hostile_silent$([ "$HOSTILE_KIND" = landlock ] && echo ", documented $hostile_documented")"
}
