#!/usr/bin/env bash
# `sidecar ui` in headless Chromium (Debian's chromium, driven by playwright-core from .tools/npm,
# both installed by scripts/setup): see ui_browser_test.mjs. SKIP when either is missing.
set -u
. "$(dirname "$0")/../e2e/lib.sh"
F=$root/tests/fixtures
pw=$root/.tools/npm/lib/node_modules/playwright-core
if ! command -v chromium >/dev/null || [ ! -d "$pw" ] || ! command -v node >/dev/null; then
  echo "SKIP: chromium, node or playwright-core (scripts/setup) missing"
  exit 0
fi
# An agent whose final message tries to run script three ways.
sed 's#Hello from the mock model.#Done. <script>alert(1)</script> <img src=x onerror=alert(2)> [click](javascript:alert(3)) **bold**#' \
  "$F/captures/codex_exec_json_text_turn.jsonl" >"$work/hostile.jsonl"
git_repo ui
add_runners "    codex = { program = $(fake_agent "$work/hostile.jsonl") },"
sed -i "s/auto_approve_on_all_green = true/auto_approve_on_all_green = false/" .agent/config.lua
"$S" task create --title "first task" --status ready >/dev/null
"$S" task create --title "a draft" >/dev/null
"$S" ui --no-open --port 0 >"$work/url" 2>"$work/ui.err" &
ui_pid=$!
trap 'kill $ui_pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do [ -s "$work/url" ] && break; sleep 0.1; done
SIDECAR="$S" REPO="$PWD" NODE_PATH="$root/.tools/npm/lib/node_modules" timeout 120 \
  node "$here/../browser/ui_browser_test.mjs" "$(head -1 "$work/url")"
