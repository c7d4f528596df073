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
# And an escape sequence and a right-to-left override (JSON escapes in the capture), shown, never obeyed.
sed 's#Hello from the mock model.#Done. <script>alert(1)</script> <img src=x onerror=alert(2)> [click](javascript:alert(3)) **bold** \\u001b[2J\\u202eevil#' \
  "$F/captures/codex_exec_json_text_turn.jsonl" >"$work/hostile.jsonl"
# A run of known usage: 700 input and 50 output tokens (the usage chart is checked against it).
sed -e 's/"input_tokens":100/"input_tokens":700/' -e 's/"output_tokens":20/"output_tokens":50/' \
  "$F/captures/codex_exec_json_text_turn.jsonl" >"$work/big.jsonl"
printf '#!/bin/sh\ncat >/dev/null; echo from-the-agent >> new.txt; echo wrote new.txt\n' >"$work/writer.sh"
# An agent that commits (the commit gate blocks its run) a line that looks like HTML.
printf '#!/bin/sh\ncat >/dev/null; echo "gated <b>bold</b>" >> gated.txt; git add gated.txt && git -c user.email=a@b -c user.name=a commit -qm agent-commit; echo committed\n' >"$work/committer.sh"
git_repo ui
add_runners "    codex = { program = $(fake_agent "$work/hostile.jsonl") },
    big = { command = $(fake_agent "$work/big.jsonl"), dialect = \"codex\" },
    writer = { command = { \"sh\", \"$work/writer.sh\" } },
    committer = { command = { \"sh\", \"$work/committer.sh\" } },
    hang = { command = $(fake_agent "$work/hostile.jsonl" --hang-after 3 --wait-file "$PWD/.git/tail-goes-on"),
      dialect = \"codex\" },"
sed -i "s/auto_approve_on_all_green = true/auto_approve_on_all_green = false/" .agent/config.lua
# The hanging agent goes silent: flagged stuck after a second (the board and its page show it).
sed -i 's/^  stuck_after = "5m"/  stuck_after = "1s"/' .agent/config.lua
"$S" task create --title "first task" --status ready >/dev/null
"$S" task create --title "a draft" >/dev/null
"$S" task create --title "write a file" --status ready >/dev/null
"$S" task create --title "a big one" --status ready >/dev/null
"$S" run T-0003 --runner writer --sandbox workspace-write >/dev/null 2>&1
"$S" run T-0004 --runner big >/dev/null 2>&1
"$S" task create --title "a gated one" --status ready --validate-cmds "test:false" >/dev/null
"$S" run T-0005 --runner committer --sandbox workspace-write >/dev/null 2>&1
# A budget per task, set after the runs (the usage page draws each against its limit).
sed -i 's/^    allow_unknown = false,/    per_task = { tokens = 500 },\n    allow_unknown = true,/' .agent/config.lua
mkdir -p .agent/presets
cp "$F/ui_greet_preset.lua" .agent/presets/greet.lua
SIDECAR_TRUST=all "$S" ui --no-open --port 0 >"$work/url" 2>"$work/ui.err" &
ui_pid=$!
trap 'kill $ui_pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do [ -s "$work/url" ] && break; sleep 0.1; done
# Screenshots of each view stay beside the binary, as the test's artifacts.
artifacts=$(dirname "$S")/test-artifacts/ui
mkdir -p "$artifacts"
axe=$root/.tools/npm/lib/node_modules/axe-core/axe.min.js
[ -f "$axe" ] || { echo "FAIL: axe-core is not installed (scripts/setup installs it into .tools/npm)"; exit 1; }
SIDECAR="$S" REPO="$PWD" AXE="$axe" ARTIFACTS="$artifacts" NODE_PATH="$root/.tools/npm/lib/node_modules" timeout 300 \
  node "$here/../browser/ui_browser_test.mjs" "$(head -1 "$work/url")"
