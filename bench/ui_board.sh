#!/usr/bin/env bash
# The board of `sidecar ui` over a big store (issue 18): 10 000 runs over 2 000 tasks (bench/
# ui_board_store.lua), measured in headless Chromium and over HTTP by bench/ui_board.mjs. Targets:
# the board's first render <= 300 ms, the page and its assets <= 150 KB, the board's API calls
# <= 20 ms. The reference, in the same run: the same page and calls over a store of 10 tasks and
# 20 runs (what the page costs whatever the store holds), and a static asset of the same server.
#
# bench_ui_board_100k (issue 52): 100 000 runs against a reference of 1 000, for the first render and
# a filter change of the board's runs.
#
#   bench/ui_board.sh path/to/sidecar [loads] [tasks] [runs] [reference tasks] [reference runs]
set -eu
sidecar=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
loads=${2:-15}
tasks=${3:-2000}
runs=${4:-10000}
ref_tasks=${5:-10}
ref_runs=${6:-20}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
npm_modules=$here/../.tools/npm/lib/node_modules
if ! command -v chromium >/dev/null || [ ! -d "$npm_modules/playwright-core" ]; then
  echo "bench_ui_board: needs Debian's chromium and playwright-core in .tools/npm (scripts/setup)" >&2
  exit 2
fi
work=$(mktemp -d /tmp/bench_ui_board.XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$work"' EXIT
export SIDECAR_TRUST=all XDG_STATE_HOME="$work/state"

# serve NAME TASKS RUNS: a repository with that store, its `sidecar ui` started; prints the URL.
serve() {
  mkdir "$work/$1" && cd "$work/$1" && git init -q && "$sidecar" init >/dev/null
  local t0
  t0=$(date +%s%N)
  "$sidecar" script "$here/ui_board_store.lua" "$2" "$3" >/dev/null
  echo "store $1: $2 tasks, $3 runs built in $((($(date +%s%N) - t0) / 1000000)) ms" >&2
  "$sidecar" ui --no-open --port 0 >"$work/$1.url" 2>"$work/$1.err" &
  pids+=($!)
  for _ in $(seq 100); do [ -s "$work/$1.url" ] && break; sleep 0.1; done
  cd - >/dev/null
}
serve big "$tasks" "$runs"
serve small "$ref_tasks" "$ref_runs"
NODE_PATH=$npm_modules node "$here/ui_board.mjs" "$(head -1 "$work/big.url")" "$(head -1 "$work/small.url")" "$loads" \
  "$tasks tasks / $runs runs; reference: the same page over $ref_tasks tasks / $ref_runs runs"
