#!/usr/bin/env bash
# The board of `sidecar ui` over a store of 2 000 tasks and 400 runs a year long (bench/ui_board_store.lua,
# the benchmark's store made smaller), in headless Chromium: see ui_board_test.mjs. SKIP when Debian's
# chromium, node or playwright-core (scripts/setup) is missing.
set -u
. "$(dirname "$0")/../e2e/lib.sh"
pw=$root/.tools/npm/lib/node_modules/playwright-core
if ! command -v chromium >/dev/null || [ ! -d "$pw" ] || ! command -v node >/dev/null; then
  echo "SKIP: chromium, node or playwright-core (scripts/setup) missing"
  exit 0
fi
git_repo board
"$S" script "$root/bench/ui_board_store.lua" 2000 400 1314 >/dev/null || { echo "FAIL: cannot fill the store"; exit 1; }
# A cap of 5 agents, 2 of claude's; another process holds a slot of each (as a claude run would).
sed -i 's|^  runner = "codex",|  runner = "codex",\n  max_agents = 5,\n  max_agents_per_runner = { claude = 2 },|' .agent/config.lua
sleep 600 | "$S" -e 'assert(require("sidecar.run.agent_slots").acquire_for("claude", { cap = 5, runner_cap = 2,
  run_id = "R-0001" })); print("held"); io.stdout:flush(); io.read("a")' >"$work/held" &
holder=$!
for _ in $(seq 100); do [ -s "$work/held" ] && break; sleep 0.1; done
"$S" ui --no-open --port 0 >"$work/url" 2>"$work/ui.err" &
ui_pid=$!
trap 'kill $ui_pid $holder 2>/dev/null; pkill -f "^sleep 600$" -P $$ 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do [ -s "$work/url" ] && break; sleep 0.1; done
SIDECAR="$S" REPO="$PWD" NODE_PATH="$root/.tools/npm/lib/node_modules" timeout 120 \
  node "$here/../browser/ui_board_test.mjs" "$(head -1 "$work/url")"
