#!/usr/bin/env bash
# End-to-end: `sidecar store check`, `sidecar store rebuild` and `sidecar usage` on a store filled
# through the Lua API, as a user runs them (text, --json and --csv), including tampered copies.
set -u
S=$1
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
cd "$work"
mkdir -p repo/sub && cd repo

# Three codex runs (one without usage) and a claude run with a cost, on two days.
"$S" -e '
local json = require("json")
local s = assert(require("store").open(".agent", {create = true}))
local t = assert(s:create_task({title = "Audit"}))
local function run(r) r.task_id = t.task_id; r.status = "completed"; assert(s:create_run(r)) end
run({runner_type = "codex", model = "gpt-5", created_at = "2026-11-01T10:00:00Z",
     usage = {input = 1200, cached_input = 200, output = 300, reasoning_output = 50, total = 1500}})
run({runner_type = "codex", model = "gpt-5", created_at = "2026-11-02T10:00:00Z",
     usage = {input = 800, cached_input = json.null, output = 100, reasoning_output = json.null, total = 900}})
run({runner_type = "codex", model = "gpt-5", created_at = "2026-11-02T11:00:00Z"})
run({runner_type = "claude", model = "sonnet", created_at = "2026-11-03T10:00:00Z", cost_usd = 0.125,
     usage = {input = 10, cached_input = 5, output = 20, reasoning_output = json.null, total = 35}})
s:close()' || { echo "FAIL: could not fill the store"; exit 1; }

expect_run "store check: a consistent store, found from a subfolder" 0 \
  'integrity ok; 1 task and 4 runs in the store, 1 task copy and 4 run copies.*agree' '^$' \
  -- sh -c "cd sub && '$S' store check"
expect_run "usage: by runner, unreported figures left out and marked" 0 \
  'Token usage, all time, 4 runs:\nRUNNER +RUNS +INPUT.*\nclaude +1 +10 +5 +20 +- +35 +0\.1250\ncodex +3 +2,000\* +200\* +400\* +50\* +2,400\* +-\ntotal +4 +2,010\* +205\* +420\* +50\* +2,435\* +0\.1250\*\n\* only some runs.*\n1 run reported no usage' \
  '^$' -- "$S" usage
expect_run "usage: --since a date, by day" 0 \
  'since 2026-11-02T00:00:00Z, 3 runs.*\n2026-11-02 +2 +800\* .*\n2026-11-03 +1 +10 ' '^$' \
  -- "$S" usage --since 2026-11-02 --by day
expect_run "usage: --csv with empty cells for unknown figures" 0 \
  '^model,runs,input,input_runs,cached_input,cached_input_runs,output,output_runs,reasoning_output,reasoning_output_runs,total,total_runs,cost_usd,cost_usd_runs,first_at,last_at\r\ngpt-5,3,2000,2,200,1,400,2,50,1,2400,2,,0,2026-11-01T10:00:00Z,2026-11-02T11:00:00Z\r\nsonnet,1,10,1,5,1,20,1,,0,35,1,0\.125000,1,.*\r\ntotal,4,2010,3,205,2,420,3,50,1,2435,3,0\.125000,1,' \
  '^$' -- "$S" usage --by model --csv
expect_run "usage: --json envelope, null for a figure nobody reported" 0 \
  '"command": "usage".*"by": "none".*"total": \{.*"cost_usd": 0\.125.*"usage": \{\s*"cached_input": 205,\s*"input": 2010,\s*"output": 420,\s*"reasoning_output": 50,\s*"total": 2435.*"ok": true' \
  '^$' -- "$S" usage --by none --json
expect_run "usage: --until before every run" 0 'No runs \(all time, until 2026-10-01T00:00:00Z\)' '^$' \
  -- "$S" usage --until 2026-10-01
expect_run "usage: a bad --since says what is accepted" 2 '^$' \
  "usage: --since 'last week' is not a time: give a date \(2026-11-01\).*\(90m, 24h, 7d, 2w\)" \
  -- "$S" usage --since "last week"
expect_run "usage: --json and --csv together" 2 '^$' 'excludes' -- "$S" usage --json --csv
expect_run "usage: an unknown --by, as a JSON error" 2 '"errors": \[\s*"--by colour: expected runner, model' '^$' \
  -- "$S" usage --by colour --json
expect_run "store: a subcommand is needed" 2 '^$' 'store needs a subcommand: sidecar store check \| sidecar store rebuild' \
  -- "$S" store

# Tamper: change one copy, lose another, add one the store lacks, and break one.
sed -i 's/"completed"/"failed"/' .agent/runs/R-0002/run.json
rm .agent/runs/R-0003/run.json
mkdir -p .agent/runs/R-0007 .agent/runs/R-0008
printf '{"run_id":"R-0007","status":"review","runner_type":"codex","created_at":"2026-11-04T00:00:00Z"}' >.agent/runs/R-0007/run.json
printf '{"run_id": ' >.agent/runs/R-0008/run.json

expect_run "store check: each disagreement, one a line" 1 \
  'ID +PROBLEM +WHERE AND WHAT\nR-0002 +different +runs/R-0002/run.json: the store and the copy disagree on: status\nR-0003 +missing_copy +runs/R-0003/run.json: in the store, but its copy is missing\nR-0007 +not_in_store +runs/R-0007/run.json: the copy is not in the store\nR-0008 +bad_copy +runs/R-0008/run.json: not valid JSON.*\n4 problems\. `sidecar store rebuild`' \
  '^$' -- "$S" store check
expect_run "store check --json: the problems as data" 1 \
  '"command": "store check".*"problem": "different".*"problem": "missing_copy".*"problem": "not_in_store".*"problem": "bad_copy".*"ok": false' \
  '^$' -- "$S" store check --json
expect_run "store rebuild: from the copies, keeping what only the store had" 1 \
  'Rebuilt \./\.agent/sidecar\.db: 1 task, 5 runs, 0 events\.\nWrote the missing copies of 1 record only the store had: R-0003\n.*R-0008 +bad_copy.*1 file could not be used and was skipped' \
  'store rebuild: reading tasks/\*\.json' -- "$S" store rebuild
rm -r .agent/runs/R-0008
expect_run "store check: consistent after the rebuild" 0 'agree' '^$' -- "$S" store check
expect_run "store check: the rebuilt store has the changed copy" 0 '"status": "failed"' '' \
  -- "$S" -e 'local s = require("store").open(".agent"); print(require("json").encode(s:get_run("R-0002"), {indent = 2}))'

# A store that is not a database: check says how to recover, rebuild moves it aside.
rm -f .agent/sidecar.db-wal .agent/sidecar.db-shm
printf 'this is not a database, just text that is long enough to look like a header' >.agent/sidecar.db
expect_run "store check: a broken database names the way out" 1 '^$' \
  'store check: cannot open the store \./\.agent/sidecar\.db: it is not an SQLite database \(`sidecar store rebuild` moves it aside' \
  -- "$S" store check
expect_run "store rebuild --json: moves it aside and rebuilds" 0 \
  '"command": "store rebuild".*"moved_aside": "\./\.agent/sidecar\.db\.broken-[0-9-]+".*"runs": 5.*"ok": true' '^$' \
  -- "$S" store rebuild --json
expect_run "store check: outside any store" 1 '^$' \
  'store check: no Sidecar store at /nonexistent/\.agent: the folder does not exist' \
  -- "$S" store check --root /nonexistent/.agent
finish
