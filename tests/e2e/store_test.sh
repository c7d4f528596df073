#!/usr/bin/env bash
# End-to-end: `sidecar store check`, `sidecar store rebuild` and `sidecar usage` on a store filled
# through the Lua API, as a user runs them (text, --json and --csv), including tampered copies.
set -u
. "$(dirname "$0")/lib.sh" # S (absolute), here, root, $work; the shared helpers
cd "$work"
mkdir -p repo/sub && cd repo

# Three codex runs (one without usage) and a claude run with a cost, on two days.
"$S" -e '
local json = require("sidecar.core.json")
local s = assert(require("sidecar.core.store").open(".agent", {create = true}))
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
  '^model,runs,input,input_runs,cached_input,cached_input_runs,output,output_runs,reasoning_output,reasoning_output_runs,total,total_runs,cost_usd,cost_usd_runs,first_at,last_at,source\r\ngpt-5,3,2000,2,200,1,400,2,50,1,2400,2,,0,2026-11-01T10:00:00Z,2026-11-02T11:00:00Z,store\r\nsonnet,1,10,1,5,1,20,1,,0,35,1,0\.125000,1,.*\r\ntotal,4,2010,3,205,2,420,3,50,1,2435,3,0\.125000,1,[^,]*,[^,]*,total\r\n$' \
  '^$' -- "$S" usage --by model --csv
expect_run "usage: --json envelope, null for a figure nobody reported" 0 \
  '"command": "usage".*"by": "none".*"total": \{.*"cost_usd": 0\.125.*"usage": \{\s*"cached_input": 205,\s*"input": 2010,\s*"output": 420,\s*"reasoning_output": 50,\s*"total": 2435.*"ok": true' \
  '^$' -- "$S" usage --by none --json
expect_run "usage: --by runner_day, each runner's days" 0 \
  'RUNNER_DAY +RUNS.*\nclaude 2026-11-03 +1 +10 .*\ncodex 2026-11-01 +1 +1,200 .*\ncodex 2026-11-02 +2 +800\* ' '^$' -- "$S" usage --by runner_day
expect_run "usage: --until before every run" 0 'No runs \(all time, until 2026-10-01T00:00:00Z\)' '^$' \
  -- "$S" usage --until 2026-10-01
expect_run "usage: a bad --since says what is accepted" 2 '^$' \
  "usage: --since 'last week' is not a time: give a date \(2026-11-01\).*\(90m, 24h, 7d, 2w\)" \
  -- "$S" usage --since "last week"
expect_run "usage: --json and --csv together (the parser's error, as an envelope)" 2 \
  '"command": "usage",.*"code": "usage",\s*"message": "--json excludes --csv' '^$' -- "$S" usage --json --csv
expect_run "usage: an unknown --by, as a JSON error" 2 '"errors": \[\s*\{\s*"code": "usage",\s*"message": "--by colour: expected runner, model' '^$' \
  -- "$S" usage --by colour --json
expect_run "usage: --jsonl, one object per group then the total" 0 \
  '^\{"by":"runner",[^\n]*"group":"claude"[^\n]*"source":"store"[^\n]*\}\n\{[^\n]*"group":"codex"[^\n]*\}\n\{[^\n]*"group":"total"[^\n]*"runs":4,"source":"total"[^\n]*\}\n$' \
  '^$' -- "$S" usage --jsonl
expect_run "usage: --jsonl and --csv together" 2 '^$' 'give one of --json, --jsonl and --csv' -- "$S" usage --jsonl --csv

# Prepared folders: one run outside Sidecar with its usage filled in (counted, marked prepared),
# one run by `sidecar run --prepared` (it names its run: already counted as that run), one never
# run (usage null), one with a broken model.json, and a stray file.
mkdir -p .agent/sidecars/outside .agent/sidecars/by-sidecar .agent/sidecars/unrun .agent/sidecars/broken
printf '{"task_id":"outside","created_at":"2026-11-03T12:00:00Z","runner":"codex-cli","model":"gpt-5","command":"codex exec","usage":{"input_tokens":100,"cached_input_tokens":null,"output_tokens":40,"reasoning_output_tokens":null,"total_tokens":140}}\n' >.agent/sidecars/outside/model.json
printf '{"task_id":"by-sidecar","created_at":"2026-11-03T12:00:00Z","runner":"codex-cli","model":"gpt-5","command":"codex exec","run_id":"R-0001","usage":{"input_tokens":9999,"total_tokens":9999}}\n' >.agent/sidecars/by-sidecar/model.json
printf '{"task_id":"unrun","created_at":"2026-11-03T12:00:00Z","runner":"codex-cli","model":"gpt-5","command":"codex exec","usage":{"input_tokens":null,"total_tokens":null}}\n' >.agent/sidecars/unrun/model.json
printf '{"task_id": broken' >.agent/sidecars/broken/model.json
: >.agent/sidecars/stray.txt
expect_run "usage: a prepared folder run outside Sidecar is counted and marked" 0 \
  'Token usage, all time, 5 runs:\n.*\ncodex-cli \(prepared\) +1 +100 +- +40 +- +140 +-\ntotal +5 +2,110\* .*\n1 prepared folder \(\.agent/sidecars\) run outside Sidecar.*\n1 prepared folder could not be read: broken \(model\.json is not JSON\)' \
  '^$' -- "$S" usage
expect_run "usage: --json marks its source" 0 \
  '"group": "codex-cli",.*"runs": 1,\s*"source": "prepared".*"group": "total".*"runs": 5' '^$' -- "$S" usage --json
expect_run "usage: --by day puts the prepared folder on its day" 0 '2026-11-03 \(prepared\) +1 +100' '^$' \
  -- "$S" usage --by day
expect_run "usage: --since after the prepared folder leaves it out" 0 'No runs' '^$' -- "$S" usage --since 2026-11-04
rm -r .agent/sidecars

expect_run "store: a subcommand is needed" 2 '^$' 'store needs a subcommand: sidecar store check \| sidecar store rebuild' \
  -- "$S" store

# The stale copy: R-0002 finishes with its result (revision 2), and its copy goes back to revision
# 1, as a crash of an older Sidecar between the store's write and the copy's left it.
cp .agent/runs/R-0002/run.json "$work/r2-rev1.json"
"$S" -e 'local s = assert(require("sidecar.core.store").open(".agent")); local r = s:get_run("R-0002")
r.summary = "the final answer"; assert(s:update_run(r)); s:close()' || { echo "FAIL: could not update R-0002"; exit 1; }
cp "$work/r2-rev1.json" .agent/runs/R-0002/run.json
# And: R-0001's copy edited at its own revision (a conflict), R-0003's lost, a copy of R-0007 the
# store lacks (ahead: the store lost it), and R-0008's broken.
sed -i 's/"completed"/"failed"/' .agent/runs/R-0001/run.json
rm .agent/runs/R-0003/run.json
mkdir -p .agent/runs/R-0007 .agent/runs/R-0008
printf '{"run_id":"R-0007","status":"review","runner_type":"codex","created_at":"2026-11-04T00:00:00Z","revision":2}' >.agent/runs/R-0007/run.json
printf '{"run_id": ' >.agent/runs/R-0008/run.json

expect_run "store check --dry-run: each kind of disagreement, one a line, what check would do" 1 \
  'ID +PROBLEM +WHERE AND WHAT +DONE\nR-0001 +conflict +runs/R-0001/run\.json: revision 1 in both, but they differ on: status +needs you\nR-0002 +stale_copy +runs/R-0002/run\.json: revision 1, older than the store.s 2 +repairable\nR-0003 +missing_copy +runs/R-0003/run\.json: in the store \(revision 1\), but its copy is missing +repairable\nR-0007 +copy_ahead +runs/R-0007/run\.json: revision 2, not in the store +repairable\nR-0008 +conflict +runs/R-0008/run\.json: the copy is not a usable record: not valid JSON.* +needs you\n5 problems; `sidecar store check` \(without --dry-run\) repairs 3 of them\.\n2 copies in conflict \(R-0001, R-0008\): to keep the store.s record, remove the copy; to keep the copy, set its "revision" above' \
  '^$' -- "$S" store check --dry-run
expect_run "store check --json --dry-run: the kinds and their counts" 1 \
  '"counts": \{\s*"conflict": 2,\s*"copy_ahead": 1,\s*"leftover_temp": 0,\s*"missing_copy": 1,\s*"stale_copy": 1,\s*"unfinished_decision": 0\s*\}.*"needs_user": 2.*"problem": "stale_copy",\s*"repair": "write_copy",\s*"repair_failed": null,\s*"repaired": false,\s*"store_revision": 2.*"repaired": 0.*"ok": false' \
  '^$' -- "$S" store check --json --dry-run
expect_run "store rebuild: the stale copy is not used, the newer copy is, conflicts are reported" 1 \
  'Rebuilt \./\.agent/sidecar\.db: 1 task, 5 runs, 0 events\.\nKept the store.s record where its copy was older \(1 record\): R-0002\nWrote the copies of 2 records from the store: R-0002, R-0003\n.*R-0001 +conflict .*R-0008 +conflict .*2 files left as they were: the store kept its own record' \
  'store rebuild: reading tasks/\*\.json' -- "$S" store rebuild
expect_run "store rebuild: the finished run kept its result, and its copy is the store's again" 0 \
  '^completed\tthe final answer\t2\ttrue\n$' '^$' -- "$S" -e 'local s = require("sidecar.core.store").open(".agent")
  local r = s:get_run("R-0002")
  local c = require("sidecar.core.json").decode(io.open(".agent/runs/R-0002/run.json"):read("a"))
  print(r.status, r.summary, r.revision, c.summary == r.summary and c.revision == 2)'

# The user settles the conflicts: R-0001 keeps the store's record (copy removed), R-0008 goes; a
# copy ahead of the store comes in.
rm .agent/runs/R-0001/run.json
rm -r .agent/runs/R-0008
sed -i 's/"revision": 1/"revision": 5/; s/"completed"/"blocked"/' .agent/runs/R-0004/run.json
expect_run "store check: repairs what it can, says what it did, and exits 0 when all agree" 0 \
  'R-0001 +missing_copy .* +written from the store\nR-0004 +copy_ahead +runs/R-0004/run\.json: revision 5, newer than the store.s 1 +imported into the store\nRepaired 2 of 2 problems; the store and the copies agree now\.' \
  '^$' -- "$S" store check
expect_run "store check: consistent after the repair, the newer copy in the store" 0 'agree' '^$' -- "$S" store check
expect_run "store check: the store took the copy that was ahead" 0 '^blocked\t5\n$' '' \
  -- "$S" -e 'local r = require("sidecar.core.store").open(".agent"):get_run("R-0004"); print(r.status, r.revision)'

# A crash between the store's write and its copy's (only the lower layer ran, then the process
# died): the next command writes the copy, and store check is clean.
crash_write() {
  "$S" -e 'local json = require("sidecar.core.json"); local s = assert(require("sidecar.core.store").open(".agent"))
  local r = s:get_run("'"$1"'"); r.status = "'"$2"'"; r.revision = r.revision + 1
  assert(s.db:update_run(r.run_id, {status = r.status, task_id = r.task_id}, json.encode(r))); os.exit(0, false)'
}
crash_write R-0004 failed
grep -q '"blocked"' .agent/runs/R-0004/run.json || { failed=$((failed + 1)); echo "FAIL: the crash was not simulated"; }
expect_run "after a crash: the next command (run list) finishes the copy" 0 'R-0004 .*failed' '' -- "$S" run list
expect_run "after a crash: store check is clean" 0 'The store and the copies agree\.' '^$' -- "$S" store check
grep -q '"failed"' .agent/runs/R-0004/run.json && passed=$((passed + 1)) || { failed=$((failed + 1)); echo "FAIL: R-0004's copy was not written"; }
crash_write R-0004 review
expect_run "after a crash: store check, when first, writes the copy and says so" 0 \
  'Wrote 1 copy a crash had left behind: R-0004\nThe store and the copies agree\.' '^$' -- "$S" store check

# A store that is not a database: check says how to recover, rebuild moves it aside.
rm -f .agent/sidecar.db-wal .agent/sidecar.db-shm
printf 'this is not a database, just text that is long enough to look like a header' >.agent/sidecar.db
expect_run "store check: a broken database names the way out" 1 '^$' \
  'store check: cannot open the store \./\.agent/sidecar\.db: it is not an SQLite database \(`sidecar store rebuild` moves it aside' \
  -- "$S" store check
expect_run "store rebuild --json: moves it aside and rebuilds from the copies" 0 \
  '"command": "store rebuild".*"moved_aside": "\./\.agent/sidecar\.db\.broken-[0-9-]+".*"runs": 5.*"ok": true' '^$' \
  -- "$S" store rebuild --json
expect_run "store check: outside any store" 1 '^$' \
  'store check: no Sidecar store at /nonexistent/\.agent: the folder does not exist' \
  -- "$S" store check --root /nonexistent/.agent
# A symbolic link planted where the next run's folder goes (in a cloned .agent): the link is moved
# aside whole (runs-aside/), the run made in a new folder of its own, nothing written through it.
git_repo planted
add_runners '    noop = { command = { "sh", "-c", "cat >/dev/null; echo done" } },'
"$S" task create --title "Planted" >/dev/null
mkdir -p .agent/runs "$work/elsewhere" && ln -s "$work/elsewhere" .agent/runs/R-0001
expect_run "run: a planted run folder is moved aside, the run made in a new one" 0 'R-0001 review' '' \
  -- "$S" run T-0001 --runner noop
eq "the planted link, kept aside as it was; the run's folder a real one" "link folder" \
  "$(test -L .agent/runs-aside/R-0001-* && echo link) $(test -d .agent/runs/R-0001 && ! test -L .agent/runs/R-0001 && echo folder)"
eq "nothing went through the link" "" "$(ls -A "$work/elsewhere")"
expect_run "run: the next run works" 0 'R-0002' '' -- "$S" run T-0001 --runner noop
finish
