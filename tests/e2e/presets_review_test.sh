#!/usr/bin/env bash
# End-to-end: the triangulated-review and personalization-scanner presets run by
# `sidecar preset run` on temporary git repositories, with a fake agent as the `command` runner
# (tests/fixtures/presets/review/fake_answer.lua: a canned answer per lens, per attempt).
# Review: three lenses merged and compared with a golden file, agreement and provenance in
# --json, a worker fixed by its one re-prompt, a worker escalated, two runners, --dry-run, a
# missing agent, other targets, the lens count. Personalization: a golden report, the writeback
# plan, redacted inputs, refused secret files, and nothing written outside .agent/.
# UPDATE_GOLDEN=1 rewrites the golden files from this run.
set -u
. "$(dirname "$0")/lib.sh" # S (absolute), here, root, $work; the shared helpers
F=$root/tests/fixtures/presets/review
golden_dir=$root/tests/golden/presets
cd "$work"

# new_repo NAME ANSWERS_DIR [PROMPT_COPY]: a git repository with `sidecar init` done and the
# fake agent as the runners `command` and `alt` (the same answers), `ghost` a runner whose
# program is not installed.
new_repo() {
  mkdir "$work/$1" && cd "$work/$1" && git init -q
  "$S" init >/dev/null
  local argv
  argv=$(lua_list "$S" script "$F/fake_answer.lua" "$2" ${3:+"$3"})
  add_runners "    command = { command = $argv },
    alt = { command = $argv },
    ghost = { command = { \"/nonexistent/ghost-agent\" } },"
  [ -n "${3:-}" ] && : >"$3" && sandbox_allow write "$3" # the prompt's copy: its OS sandbox lets the agent write it
  return 0
}
commit() { git add -A . && git -c user.email=t@e -c user.name=t commit -qm "$1"; }
runs() { ls .agent/runs | wc -l | tr -d ' '; }
# len PATH: how many items the list at PATH of the JSON on stdin has.
len() {
  "$S" -e "local v = require('sidecar.core.json').decode(io.read('a'))
    for k in ('$1'):gmatch('[^.]+') do v = v[tonumber(k) or k] end print(#v)"
}
# source_lenses N: the lenses of finding N's sources, from preset run --json on stdin.
source_lenses() {
  "$S" -e "local f = require('sidecar.core.json').decode(io.read('a')).data.result.findings[$1]
    local out = {} for i, s in ipairs(f.sources) do out[i] = s.lens end print(table.concat(out, ' '))"
}
# review_repo NAME ANSWERS: a Python file with a change, an untracked note and an untracked secret.
review_repo() {
  new_repo "$1" "$2"
  mkdir src && printf 'import pickle\nimport time\n\nclass Cache:\n    def load(self, path):\n        return pickle.load(open(path, "rb"))\n' >src/cache.py
  echo "# Cache" >README.md
  commit init
  printf '    def get(self, key):\n        return self.items[key]\n' >>src/cache.py
  echo "todo: ttl" >notes.md
  mkdir config && echo "password: hunter2" >config/secrets.yml
}
LENSES="--param lenses=correctness,risks,security"

# --- triangulated-review: three reviewers, overlapping findings, one merged list ----------------
review_repo good "$F/answers/good"
expect_run "review: three lenses merged" 0 "^# Triangulated review\n\n5 findings from 3 workers" \
  "review \[correctness\] on command.*review \[risks\] on command.*review \[security\] on command" -- \
  "$S" preset run triangulated-review --runner command $LENSES
golden triangulated-review.md "$work/out"
eq "review: one run per reviewer" 3 "$(runs)"
eq "review: the reviewers are read-only" "read-only read-only read-only" \
  "$(for r in .agent/runs/*/run.json; do field "$r" .sandbox; done | tr '\n' ' ' | sed 's/ $//')"
expect_run "review: the prompt carries the diff and the lens" 0 \
  "CONTEXT: WORKER.*EDITS: none.*- src/cache\.py\n- notes\.md \(untracked\)\n.*## Change under review\n\n\`\`\`diff\n.*\+        return self\.items\[key\].*Review through the (correctness|risks|security) lens" \
  "" -- cat .agent/runs/R-0001/prompt.md
lint() { "$S" -e 'local pk = require("sidecar.prompt.kit") print(pk.lint_text(pk.lint(io.read("a"))))' <"$1"; }
eq "review: the prompt passes the lint" "prompt lint: no warnings" "$(lint .agent/runs/R-0002/prompt.md)"
expect_run "review: a secret file is never named to a reviewer" 1 "" "" -- grep -rq "secrets.yml\|hunter2" .agent/runs

"$S" preset run triangulated-review --runner command $LENSES --json >"$work/good.json" 2>/dev/null
eq "review --json: ok" "true" "$(field "$work/good.json" .ok)"
eq "review --json: 5 merged findings" 5 "$(len .data.result.findings <"$work/good.json")"
eq "review --json: agreement counts" "3 1 2 1 1" "$(for i in 1 2 3 4 5; do field "$work/good.json" .data.result.findings.$i.agreement; done | tr '\n' ' ' | sed 's/ $//')"
eq "review --json: the top finding" "critical src/cache.py 12" \
  "$(field "$work/good.json" .data.result.findings.1.severity) $(field "$work/good.json" .data.result.findings.1.file) $(field "$work/good.json" .data.result.findings.1.line)"
eq "review --json: provenance of the top finding" "correctness risks security" "$(source_lenses 1 <"$work/good.json")"
eq "review --json: provenance of the agreed medium" "risks security" "$(source_lenses 3 <"$work/good.json")"
eq "review --json: each source's own severity" "high critical high" \
  "$(for i in 1 2 3; do field "$work/good.json" .data.result.findings.1.sources.$i.severity; done | tr '\n' ' ' | sed 's/ $//')"
# A source's run id is a run of that lens by that runner.
src_run=$(field "$work/good.json" .data.result.findings.1.sources.2.run_id)
eq "review --json: the source run is the risks reviewer's" "risks command triangulated-review" \
  "$(field .agent/runs/$src_run/run.json .lens) $(field .agent/runs/$src_run/run.json .runner_type) $(field .agent/runs/$src_run/run.json .preset)"
eq "review --json: workers, one attempt each" "W1 correctness ok 1 W2 risks ok 1 W3 security ok 1" \
  "$(for i in 1 2 3; do for k in worker lens status attempts; do field "$work/good.json" .data.result.workers.$i.$k; done; done | tr '\n' ' ' | sed 's/ $//')"
eq "review --json: the secret file left out" "config/secrets.yml" "$(field "$work/good.json" .data.result.target.secret_files_left_out.1)"
eq "review --json: the target's files" "src/cache.py notes.md" \
  "$(field "$work/good.json" .data.result.target.files.1) $(field "$work/good.json" .data.result.target.files.2)"

# The reviewers' runs were read by the preset and reported: none waits in the review queue, and
# `sidecar context` (what a main agent reads first) says nothing waits for a decision.
eq "review: the reviewers' runs are reported, not waiting" "reported reported reported reported reported reported" \
  "$(for r in .agent/runs/*/run.json; do field "$r" .review_state; done | tr '\n' ' ' | sed 's/ $//')"
expect_run "review: run review lists none of them" 0 "^no runs waiting for a decision" "" -- "$S" run review
expect_run "review: context leads with no decision waiting" 0 \
  "^Runs waiting for a decision \(sidecar run approve\|block\): none\n\nSpend so far: [^\n]*\n" "" -- "$S" context

# --- one re-prompt fixes a worker; a worker wrong twice is escalated, not merged ----------------
review_repo flaky "$F/answers/flaky"
expect_run "review: one worker escalated: exit 1" 1 \
  "4 findings from 2 workers.*W2 risks/command: 2 findings \(2 attempts: R-\d+, R-\d+\)\n- W3 security/command: escalated \(2 attempts: .*## Escalations\n\n- W3 security/command \(R-\d+, R-\d+\): the answer failed the findings format twice:\n  - \(the whole answer\): no JSON found" \
  "" -- "$S" preset run triangulated-review --runner command $LENSES
golden triangulated-review-escalated.md "$work/out"
eq "flaky: five runs (three, then two re-prompts)" 5 "$(runs)"
"$S" preset run triangulated-review --runner command $LENSES --json >"$work/flaky.json" 2>/dev/null
eq "flaky --json: not ok, with the escalation" "false 1 of 3 reviewers escalated" "$(field "$work/flaky.json" .ok) $(field "$work/flaky.json" .errors.1.message)"
eq "flaky --json: the fixed worker ran exactly twice" "ok 2 2" "$(field "$work/flaky.json" .data.result.workers.2.status) \
$(field "$work/flaky.json" .data.result.workers.2.attempts) $(len .data.result.workers.2.run_ids <"$work/flaky.json")"
w2a=$(field "$work/flaky.json" .data.result.workers.2.run_ids.1)
w2b=$(field "$work/flaky.json" .data.result.workers.2.run_ids.2)
eq "flaky: both runs are the risks reviewer's" "risks risks" "$(field .agent/runs/$w2a/run.json .lens) $(field .agent/runs/$w2b/run.json .lens)"
expect_run "flaky: the re-prompt lists the problems" 0 \
  "Your previous answer did not match the required format:\n- findings\[1\]\.line: .*findings\[1\]\.severity: expected one of" "" -- \
  cat .agent/runs/$w2b/prompt.md
eq "flaky --json: the escalated worker" "escalated 2 R-" "$(field "$work/flaky.json" .data.result.workers.3.status) \
$(field "$work/flaky.json" .data.result.workers.3.attempts) $(field "$work/flaky.json" .data.result.workers.3.run_ids.2 | cut -c1-2)"
eq "flaky: the escalated worker is in no finding's sources" "correctness risks" "$("$S" -e '
  local seen, out = {}, {}
  for _, f in ipairs(require("sidecar.core.json").decode(io.read("a")).data.result.findings) do
    for _, src in ipairs(f.sources) do if not seen[src.lens] then seen[src.lens] = true out[#out + 1] = src.lens end end
  end
  table.sort(out) print(table.concat(out, " "))' <"$work/flaky.json")"
eq "flaky --json: the fixed worker's findings are merged" "correctness risks" "$(source_lenses 1 <"$work/flaky.json")"

# --- two runners: every lens on each ----------------------------------------------------------
cd "$work/good"
"$S" preset run triangulated-review --runner command $LENSES --param runners=command,alt --json >"$work/two.json" 2>/dev/null
eq "two runners: six workers" "W6 security alt" \
  "$(field "$work/two.json" .data.result.workers.6.worker) $(field "$work/two.json" .data.result.workers.6.lens) $(field "$work/two.json" .data.result.workers.6.runner)"
eq "two runners: the top finding agreed by six" "6" "$(field "$work/two.json" .data.result.findings.1.agreement)"
eq "two runners: the second source ran on alt" "correctness alt" \
  "$(field "$work/two.json" .data.result.findings.1.sources.2.lens) $(field "$work/two.json" .data.result.findings.1.sources.2.runner)"
expect_run "two runners, one not installed (exit 1: W2 did not run); max_findings" 1 \
  "^# Triangulated review\n\n1 finding from 2 workers: 1 critical\..*- W1 correctness/command: 1 finding, 2 more cut by max_findings=1 \(1 attempt: R-\d+\)\n- W2 correctness/ghost: not run, /nonexistent/ghost-agent is not installed \(put it on PATH\); would run: /nonexistent/ghost-agent < " \
  "2 steps could not run, so the preset did not do its work: reviewer \[correctness\] on ghost \(R-\d+\): /nonexistent/ghost-agent is not installed" \
  -- "$S" preset run triangulated-review --runner command --param lenses=correctness,risks --param runners=command,ghost \
  --param max_findings=1
expect_run "two runners: an unknown runner is a usage error, before any run" 2 "^$" \
  "^sidecar: preset run: --param runners=command,nope: unknown runner 'nope' \(known: " -- \
  "$S" preset run triangulated-review --runner command $LENSES --param runners=command,nope

expect_run "--runner of a config that is not trusted: a usage error that says why" 2 "^$" \
  "unknown runner 'alt' .*\(untrusted: .*config\.lua is not trusted, so it did not run" -- \
  env SIDECAR_TRUST= XDG_STATE_HOME="$work/untrusted-state" "$S" preset run triangulated-review --runner alt $LENSES

# --- dry run, a missing agent, other targets ------------------------------------------------------
review_repo dry "$F/answers/good"
expect_run "review --dry-run: each reviewer's command" 0 \
  "^# Triangulated review: dry run\n.*- W1 correctness on command: would run:\n  .*fake_answer\.lua .* < \./\.agent/runs/R-\d+/prompt\.md\n- W2 risks on command" \
  "^$" -- "$S" preset run triangulated-review --runner command $LENSES --dry-run
golden triangulated-review-dry-run.md "$work/out"
eq "dry run: recorded, not run" "dry_run dry_run dry_run" \
  "$(for r in .agent/runs/*/run.json; do field "$r" .status; done | tr '\n' ' ' | sed 's/ $//')"
expect_run "dry run: two runners" 0 "W1 correctness on command: would run.*W2 correctness on alt: would run.*W4 risks on alt" "" -- \
  "$S" preset run triangulated-review --runner command --param lenses=correctness,risks --param runners=command,alt --dry-run
expect_run "no agent installed: the commands it would run, exit 1" 1 \
  "# Triangulated review: not run\n.*- W1 correctness on ghost: not run, /nonexistent/ghost-agent is not installed .*; would run:\n  /nonexistent/ghost-agent < " \
  "" -- "$S" preset run triangulated-review --runner command $LENSES --param runners=ghost
commit "the change"
expect_run "review base=HEAD~1: the diff of the branch" 0 "" "" -- \
  "$S" preset run triangulated-review --runner command $LENSES --param base=HEAD~1 --dry-run
expect_run "base: the prompt names git diff HEAD~1...HEAD" 0 "\`git diff HEAD~1\.\.\.HEAD\`.*Find what is wrong with the change HEAD~1\.\.\.HEAD.*\+        return self\.items" "" -- \
  cat ".agent/runs/$(run_id)/prompt.md"
expect_run "review paths=: named files, no diff" 0 "Target: the files src/cache\.py; 1 file\." "" -- \
  "$S" preset run triangulated-review --runner command $LENSES --param paths=src/cache.py --dry-run
expect_run "review paths=: a secret file refused" 1 "looks like a secrets file" "" -- \
  "$S" preset run triangulated-review --runner command $LENSES --param paths=config/secrets.yml
expect_run "review: nothing changed, nothing to review" 0 "Nothing to review: the working change against HEAD" "" -- \
  "$S" preset run triangulated-review --runner command $LENSES

# --- the lens count ---------------------------------------------------------------------------------
before=$(runs)
expect_run "one lens: usage error" 2 "^$" "--param lenses=correctness: give 2 to 4 lenses, got 1" -- \
  "$S" preset run triangulated-review --runner command --param lenses=correctness
expect_run "five lenses: usage error" 2 "^$" "give 2 to 4 lenses, got 5" -- \
  "$S" preset run triangulated-review --runner command --param lenses=correctness,risks,clarity,security,style
expect_run "a lens twice: usage error" 2 "^$" "the lens risks is given twice" -- \
  "$S" preset run triangulated-review --runner command --param lenses=risks,risks
eq "bad lenses: nothing ran" "$before" "$(runs)"

# --- personalization-scanner ---------------------------------------------------------------------
# scan_repo NAME ANSWERS_DIR: two session notes (one holding a token), AGENTS.md, and a .env.
scan_repo() {
  new_repo "$1" "$2" "$work/$1.prompt"
  mkdir notes
  printf '# Session 1\nUser: run the Lua specs before you commit, every time.\nUser: it is "colour", not "color".\nMerged feature/x with --squash.\nUser: keep using this review checklist.\n' >notes/session-1.md
  printf '# Session 2\nUser: run the Lua specs before committing again, please.\nUser: I always start commit subjects with the module name.\nGITHUB_TOKEN=ghp_abcdefghijklmnopqrstuvwxyz0123456789\nUser: same review checklist as last time.\n' >notes/session-2.md
  printf '# Agents\n\nBe brief.\n' >AGENTS.md
  echo "API_KEY=not-for-agents" >.env
  commit init
}
# snapshot: every file outside .git and .agent with its checksum, and git's view (ignored too).
snapshot() {
  find . -path ./.git -prune -o -path ./.agent -prune -o -type f -print | sort | xargs sha256sum
  git status --porcelain --ignored
}
scan_repo scan "$F/answers/personalization"
snapshot >"$work/before"
INPUTS="--param inputs=notes/*.md,AGENTS.md"
expect_run "scan: the candidates and the plan" 0 "^# Personalization Candidates\n.*## Writeback plan\n" \
  "scan on command" -- "$S" preset run personalization-scanner --runner command $INPUTS
golden personalization-scanner.md "$work/out"
expect_run "scan: the agent saw the inputs, redacted" 0 \
  "### notes/session-1\.md \(\d+ bytes\)\n\n\`\`\`\n# Session 1\n.*GITHUB_TOKEN=\[REDACTED:github-token\].*### AGENTS\.md" "" -- cat "$work/scan.prompt"
eq "scan: the prompt passes the lint" "prompt lint: no warnings" "$(lint "$work/scan.prompt")"
expect_run "scan: no token reached the agent" 1 "" "" -- grep -q "ghp_abcdef" "$work/scan.prompt"
expect_run "scan: nor any file not listed" 1 "" "" -- grep -q "not-for-agents" "$work/scan.prompt"
"$S" preset run personalization-scanner --runner command $INPUTS --json >"$work/scan.json" 2>/dev/null
eq "scan --json: two writebacks, none written" "2 0" \
  "$(len .data.result.candidates.writes <"$work/scan.json") $(field "$work/scan.json" .data.result.candidates.written)"
eq "scan --json: repeated in two inputs" "AGENTS.md repeated notes/session-1.md notes/session-2.md" \
  "$(field "$work/scan.json" .data.result.candidates.writes.1.target) $(field "$work/scan.json" .data.result.candidates.writes.1.confidence) $(field "$work/scan.json" .data.result.candidates.writes.1.inputs.1) $(field "$work/scan.json" .data.result.candidates.writes.1.inputs.2)"
eq "scan --json: repeated in one input is deferred" "defer" "$(field "$work/scan.json" .data.result.candidates.recommended_writeback.3.action)"
eq "scan --json: inputs and redactions" "notes/session-1.md 0 notes/session-2.md 1 AGENTS.md" \
  "$(for i in 1 2; do field "$work/scan.json" .data.result.inputs.$i.path; field "$work/scan.json" .data.result.inputs.$i.redactions; done | tr '\n' ' ')$(field "$work/scan.json" .data.result.inputs.3.path)"
expect_run "scan target=: every write goes there, only reported" 0 \
  "\| MEMORY\.md \| Run the Lua specs before every commit .*\| MEMORY\.md \| Commit subjects" "" -- \
  "$S" preset run personalization-scanner --runner command $INPUTS --param target=MEMORY.md
expect_run "scan: a secret input refused" 1 "^inputs: refused: '\.env' looks like a secrets file" "^$" -- \
  "$S" preset run personalization-scanner --runner command --param inputs=notes/session-1.md,.env
expect_run "scan: a glob reaching a secret refused" 1 "refused: 'notes/\.env\.local'" "" -- \
  sh -c 'cp .env notes/.env.local && "$0" preset run personalization-scanner --runner command --param "inputs=notes/.env*"; s=$?; rm notes/.env.local; exit $s' "$S"
expect_run "scan: inputs are required" 2 "^$" "--param inputs=\.\.\. is required" -- \
  "$S" preset run personalization-scanner --runner command
expect_run "scan: a missing input" 1 "inputs: cannot read nope\.md" "" -- \
  "$S" preset run personalization-scanner --runner command --param inputs=nope.md
expect_run "scan --dry-run: the inputs and the command" 0 \
  "# Personalization scan: dry run\n\nInputs \(only these are read\):\n- notes/session-1\.md \(\d+ bytes\)\n- notes/session-2\.md.*would run:\n  .*fake_answer\.lua" \
  "" -- "$S" preset run personalization-scanner --runner command $INPUTS --dry-run
snapshot >"$work/after"
expect_run "scan: no file outside .agent/ changed" 0 "" "" -- diff -u "$work/before" "$work/after"

# The one re-prompt, and an answer wrong twice.
mkdir "$work/retry" && cp "$F/answers/personalization/scan.txt" "$work/retry/scan.2.txt" &&
  cp "$F/answers/malformed-personalization.md" "$work/retry/scan.1.txt"
scan_repo retry-scan "$work/retry"
expect_run "scan: fixed by the re-prompt" 0 "## Writeback plan" "" -- \
  "$S" preset run personalization-scanner --runner command $INPUTS
eq "scan: exactly two runs" 2 "$(runs)"
mkdir "$work/bad" && cp "$F/answers/malformed-personalization.md" "$work/bad/scan.txt"
scan_repo bad-scan "$work/bad"
expect_run "scan: wrong twice: escalated" 1 \
  "^Personalization scan escalated \(R-\d+, review\): the answer failed the §3 format twice:\n.*scope: expected one of" "" -- \
  "$S" preset run personalization-scanner --runner command $INPUTS

finish
