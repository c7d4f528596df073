#!/usr/bin/env bash
# End-to-end: tasks and runs as a user drives them, with the fake agent (replaying recorded codex
# and claude streams) and plain commands as runners: init, task create/import/export, run with
# validation and auto-approve, a failing validation, a pipeline codex,claude, replays, review,
# the queue and start-ready -j 4 on 12 tasks with dependencies, background runs (waited, tailed,
# killed), a continued session, and bad input that leaves the store untouched.
set -u
. "$(dirname "$0")/lib.sh" # S (absolute), here, root, $work; the shared helpers
F=$root/tests/fixtures
cd "$work"

# new_repo NAME [CONFIG_LINES]: a git repository with `sidecar init` done, the fake agent as
# codex and claude, and CONFIG_LINES added to the config's `runners` table.
# (What the fake agents leave for the test, and read from it, is in $work/copies: their OS sandbox
# lets them write there.)
mkdir -p "$work/copies"
new_repo() {
  git_repo "$1"
  sandbox_allow write "$work/copies"
  sandbox_allow env "FAKE_*" BG_GATE BG_SLEEP # the agents' orders, given by name
  add_runners "    codex = { program = $(fake_agent "${REPLAY_CODEX:-$F/captures/codex_exec_json_text_turn.jsonl}") },
    claude = { program = $(fake_agent "${REPLAY_CLAUDE:-$F/captures/claude_stream_json_text_turn.jsonl}") },
${2:-}"
  sed -i "s/auto_approve_on_all_green = false/auto_approve_on_all_green = ${AUTO:-true}/" .agent/config.lua
}

# --- init and capabilities ------------------------------------------------------------------
mkdir fresh && cd fresh && git init -q
expect_run "init" 0 "initialised \./\.agent: wrote \./\.agent/config\.lua" "^$" -- "$S" init
expect_run "init again keeps the config" 0 "config\.lua kept" "" -- "$S" init
eq "init: .agent ignores itself" "*" "$(cat .agent/.gitignore)"
eq "init: git sees nothing" "" "$(git status --short)"
expect_run "the config runs" 0 "^codex\t30m\ttrue\n$" "" -- "$S" -e \
  'local c = assert(require("sidecar.core.config").load(".agent")); print(c.runner, c.timeout, c.pipeline.stop_on_failure)'
"$S" capabilities --json >caps.json
eq "capabilities: envelope ok" "true" "$(field caps.json .ok)"
eq "capabilities: contract" "1.0" "$(field caps.json .data.contract_version)"
expect_run "capabilities lists features" 0 "pipelines.*replay.*background-runs.*sessions" "" -- "$S" capabilities
cd "$work"

# --- create, run, validate, auto-approve -------------------------------------------------------
new_repo green
expect_run "task create" 0 "^created T-0001: Fix the parser \(ready\)\n$" "" -- "$S" task create \
  --title "Fix the parser" --goal "CRLF accepted" --status ready --validate-cmds "typecheck:true,test@30s:echo tests pass"
expect_run "run: validated and auto-approved" 0 \
  "^R-\d+ completed: Hello from the mock model\.\nauto-approved: all 2 validation steps passed\n$" \
  "validation 1/2 typecheck: true.*validation 2/2 test: echo tests pass" -- "$S" run T-0001
run=$(run_id)
R=.agent/runs/$run/run.json
eq "auto: review_state" "approved" "$(field $R .review_state)"
eq "auto: reviewed_by" "sidecar:auto" "$(field $R .reviewed_by)"
eq "auto: note" "auto-approved: all 2 validation steps passed" "$(field $R .review_note)"
eq "auto: task done" "done" "$(field .agent/tasks/T-0001.json .status)"
eq "validation: kind" "typecheck" "$(field $R .validation.1.kind)"
eq "validation: test timeout from kind@30s" "30000" "$(field $R .validation.2.timeout_ms)"
eq "validation: default typecheck timeout" "180000" "$(field $R .validation.1.timeout_ms)"
eq "validation: snippet" "tests pass" "$(field $R .validation.2.output_snippet | tr -d '\n')"
eq "validation: result fields" "command duration_ms exit_code kind name ok output_snippet timed_out timeout_ms" \
  "$("$S" -e 'local r = require("sidecar.core.json").decode(io.read("a")).validation[1]; local k = {}
    for n in pairs(r) do k[#k + 1] = n end table.sort(k) print(table.concat(k, " "))' <$R)"
eq "decision.md by sidecar:auto" "Decider: sidecar:auto" "$(grep Decider .agent/runs/$run/decision.md)"
eq "task result records the run" "Hello from the mock model." "$(field .agent/tasks/T-0001.json .result.summary)"
expect_run "run list" 0 "RUN +TASK +RUNNER.*\n$run +T-0001 +codex +- +completed +approved" "" -- "$S" run list
"$S" run show $run --json >show.json
eq "run show --json: envelope" "run show true" "$(field show.json .command) $(field show.json .ok)"
eq "run show --json: usage" "120" "$(field show.json .data.usage.total)"
expect_run "run show" 0 "Status: +completed.*Validation:.*ok +typecheck +true.*2 steps: 2 passed" "" -- \
  "$S" run show $run

# --- a failing validation blocks the task ------------------------------------------------------
AUTO=false new_repo red
"$S" task create --title "Red" --validate-cmds "lint:true,test:echo 3 failures; exit 1" >/dev/null
expect_run "failing validation: exit 1" 1 "^R-\d+ blocked" "FAILED \(exit 1\)" -- "$S" run T-0001
red=$(run_id)
eq "failing validation: task blocked" "blocked" "$(field .agent/tasks/T-0001.json .status)"
eq "failing validation: blocker names the kind" "validation failed: test step 'echo 3 failures; exit 1' exited with code 1" \
  "$(field .agent/tasks/T-0001.json .blockers.1)"
eq "failing validation: the blocker once" "nil" "$(field .agent/tasks/T-0001.json .blockers.2)"
expect_run "run review lists the blocked run" 0 "$red +T-0001 +Red" "" -- "$S" run review
expect_run "run approve overrides" 0 "$red approved by" "" -- "$S" run approve $red --note "flaky test"
expect_run "approve twice: refused" 1 "^$" "already approved" -- "$S" run approve $red
eq "approve: task done" "done" "$(field .agent/tasks/T-0001.json .status)"
"$S" task create --title "No checks" >/dev/null
expect_run "no validation: waits for a person" 0 "waiting for review" "" -- "$S" run T-0002
waiting=$(run_id)
expect_run "run block" 0 "$waiting blocked" "" -- "$S" run block $waiting --reason "wrong approach" --decision escalate
eq "block: decision.md" "Decision: escalate" "$(grep ^Decision: .agent/runs/$waiting/decision.md)"
eq "block: task blocked" "blocked" "$(field .agent/tasks/T-0002.json .status)"

# --- pipeline and replay -------------------------------------------------------------------------
new_repo pipe
"$S" task create --title "Pipe" --goal "Two views" >/dev/null
expect_run "pipeline codex,claude" 0 \
  "^step 1/2 +codex +builder +R-\d+ +review .*\nstep 2/2 +claude +builder +R-\d+ +review " "" -- \
  "$S" run T-0001 --runner codex,claude --agent-role builder
step1=$(run_id 1) step2=$(run_id 2)
eq "pipeline: step 2's parent" "$step1" "$(field .agent/runs/$step2/run.json .parent_run_id)"
eq "pipeline: shared id" "$step1 $step1" \
  "$(field .agent/runs/$step1/run.json .pipeline_id) $(field .agent/runs/$step2/run.json .pipeline_id)"
eq "pipeline: step numbers" "1/2 2/2" "$(field .agent/runs/$step1/run.json .pipeline_step)/$(field .agent/runs/$step1/run.json .pipeline_total) $(field .agent/runs/$step2/run.json .pipeline_step)/$(field .agent/runs/$step2/run.json .pipeline_total)"
expect_run "pipeline: previous runner context" 0 "## Previous runner context\n\nRun $step1 by codex as builder ended review\." \
  "" -- cat .agent/runs/$step2/prompt.md
expect_run "pipeline: show links the steps" 0 "Pipeline: +$step1 step 2 of 2.*Previous step: +step 1/2" "" -- \
  "$S" run show $step2
"$S" run T-0001 --runner codex,claude --json >pipe.json 2>/dev/null
eq "pipeline --json: two new steps, one pipeline" "2 $(field pipe.json .data.steps.1.run_id)" \
  "$(run_ids pipe.json | grep -cvx -e "$step1" -e "$step2") $(field pipe.json .data.pipeline_id)"
expect_run "replay --same-prompt" 0 "^R-\d+ review" "" -- "$S" run replay $step2 --same-prompt --reason "again"
replay=$(run_id)
expect_run "replay --same-prompt: the prompt byte for byte" 0 "" "" -- cmp .agent/runs/$step2/prompt.md .agent/runs/$replay/prompt.md
eq "replay: reason" "again" "$(field .agent/runs/$replay/run.json .replay_reason)"
eq "replay: parent" "$step2" "$(field .agent/runs/$replay/run.json .parent_run_id)"
eq "replay: parent's runner" "claude" "$(field .agent/runs/$replay/run.json .runner_type)"
expect_run "replay recompiles" 0 "^R-\d+ dry_run" "" -- "$S" run replay $step2 --agent-role reviewer --dry-run
recompiled=$(run_id)
expect_run "replay recompiled: a different prompt" 1 "" "" -- cmp -s .agent/runs/$step2/prompt.md .agent/runs/$recompiled/prompt.md
expect_run "replay recompiled: the new role" 0 "Act as: reviewer\." "" -- cat .agent/runs/$recompiled/prompt.md
expect_run "show: replayed as" 0 "Replayed as: +$replay, $recompiled" "" -- "$S" run show $step2
expect_run "show: replay of" 0 "Replay of: +$step2 \(reason: again\)" "" -- "$S" run show $replay
cat >"$work/editor.sh" <<'ED'
#!/bin/sh
printf 'Edited by hand.\n' >"$1"
ED
chmod +x "$work/editor.sh"
expect_run "replay --edit-prompt" 0 "^R-\d+ " "" -- env VISUAL="$work/editor.sh" "$S" run replay $step1 --edit-prompt
eq "replay --edit-prompt: the edited text ran" "Edited by hand." "$(cat .agent/runs/$(run_id)/prompt.md)"
expect_run "replay --background: the id at once" 0 "^R-\d+\n$" "runs in the background" -- \
  "$S" run replay $step2 --background --same-prompt --reason "later"
bg=$(run_id)
"$S" run wait $bg --timeout 60s >/dev/null
# The store's answer, as run wait's: the run's copy is written just after the store, so under load it
# may still show the held run for a moment.
eq "replay --background: it ran" review "$("$S" run show $bg --json | jv .data.status)"
eq "replay --background: reason and parent" "later $step2" \
  "$(field .agent/runs/$bg/run.json .replay_reason) $(field .agent/runs/$bg/run.json .parent_run_id)"
expect_run "replay --background: the stored prompt" 0 "" "" -- cmp .agent/runs/$step2/prompt.md .agent/runs/$bg/prompt.md
expect_run "replay --background: linked" 0 "Replayed as: +$replay, $recompiled, $bg" "" -- "$S" run show $step2
expect_run "run --dry-run executes nothing" 0 "^(R-\d+) dry_run: prompt in \.agent/runs/\1/prompt\.md" "" -- \
  "$S" run T-0001 --dry-run
dry=$(run_id)
reads=(); for i in $(seq 1 400); do reads+=(--read "src/some/longer/path/file$i.c"); done
"$S" task create --title "Huge" --goal "Many files" "${reads[@]}" >/dev/null
expect_run "--explain: the budget and what was cut" 0 \
  "^(R-\d+) prompt tokens: [0-9]+ estimated \(untrimmed [0-9]+; target 1200, max 1500\), pass: trimmed\n  Read these first: kept 12 of 400 files \(trimmed pass\)\n  agent: codex, effort and search: the CLI.s defaults\n  lint: no non-goals: .*\n\1 dry_run" "" -- \
  "$S" run T-0002 --dry-run --explain
expect_run "trimmed list ends with + N more" 0 "- src/some/longer/path/file12\.c\n\+ 388 more files\n" "" -- cat .agent/runs/$(run_id)/prompt.md
eq "dry run: no agent output" "no" "$([ -e .agent/runs/$dry/agent.jsonl ] && echo yes || echo no)"

# --- bad input: clear errors, the right exit status, the store untouched -----------------------
cd "$work/green"
snapshot() { (cd .agent && find tasks runs -type f | sort | xargs sha256sum; "$S" run list --json --limit 0 | sed 's/"version": "[^"]*"//'); }
snapshot >before.txt
expect_run "unknown task" 1 "^$" "sidecar: run: no task T-0042 \(see sidecar task list\)" -- "$S" run T-0042
expect_run "not a task id" 2 "^$" "not a task id" -- "$S" run "../x"
expect_run "malformed --validate-cmds" 2 "^$" "entry 2 'tset@30s:npm test': unknown kind 'tset'" -- \
  "$S" task create --title x --validate-cmds "lint:true,tset@30s:npm test"
printf '{"title": "T", "priority": 3, "scope": {"in_scop": []}}' >bad.json
expect_run "packet with a wrong field type" 1 "^$" "bad\.json: not a valid task packet \(2 problems\).*priority: .*scope\.in_scop: unknown field" -- \
  "$S" task import bad.json
expect_run "replay of a run that does not exist" 1 "^$" "no run R-0099" -- "$S" run replay R-0099
expect_run "--json error envelope" 1 '"command": "run",.*"errors": \[\s*\{\s*"code": "[a-z_]+",\s*"message": "no task T-0042.*"ok": false' "" -- "$S" run T-0042 --json
expect_run "unknown runner" 2 "^$" "unknown runner 'gpt' \(known: codex, claude, gemini, opencode, qwen, goose, copilot, claude-acp, codex-acp, command" -- "$S" run T-0001 --runner gpt
expect_run "bad --timeout" 2 "^$" "--timeout: 'soon' is not a duration" -- "$S" run T-0001 --timeout soon
expect_run "bad status" 2 "^$" "unknown status 'finished'" -- "$S" task set-status T-0001 finished
expect_run "full access needs the flag" 2 "^$" "needs --allow-full-auto" -- "$S" run T-0001 --sandbox danger-full-access
snapshot >after.txt
expect_run "the store is untouched by refused commands" 0 "" "" -- cmp before.txt after.txt

# --- import and export ---------------------------------------------------------------------------
cat >packet.json <<'JSON'
{"version": "1.0", "task_id": "T-001", "title": "Add import flow", "type": "feature", "status": "ready",
 "summary": "Users import CSV", "goal": "CSV import works",
 "scope": {"in_scope": ["parser"], "out_of_scope": ["UI"]},
 "execution": {"commands": {"validation": [{"kind": "typecheck", "command": "true"},
   {"kind": "test", "command": "true", "timeout_ms": 900000}, "bash scripts/smoke.sh"]}},
 "dependencies": [], "tags": ["import"]}
JSON
expect_run "task import" 0 "^imported T-001 as T-0002: Add import flow \(ready\)" "" -- "$S" task import packet.json
"$S" task export T-0002 >exported.json
eq "export: the string entry became custom" "custom" "$(field exported.json .execution.commands.validation.3.kind)"
eq "export: source id kept" "T-001" "$(field exported.json .source_task_id)"
expect_run "export -o" 0 "^$" "exported T-0002 to out\.json" -- "$S" task export T-0002 -o out.json
expect_run "export round-trips" 0 "" "" -- cmp exported.json out.json
"$S" task export T-0002 --json >export-env.json
eq "task export --json: the packet in the envelope" "Add import flow" "$(field export-env.json .data.title)"
expect_run "task show" 0 "T-0002  Add import flow.*Validation:\n  - typecheck: true\n  - test: true\n  - custom: bash scripts/smoke\.sh" "" -- \
  "$S" task show T-0002
expect_run "task list --status" 0 "T-0002 +ready" "" -- "$S" task list --status ready

# --- the queue, and start-ready -j 4 on 12 tasks with dependencies ------------------------------
# The agent is a command that logs when it starts and ends (the task id is on the prompt's first
# line), so the order and the parallelism can be checked afterwards.
new_repo queue "    command = { command = { \"sh\", \"-c\", \"p=\$(cat); t=\$(printf '%s' \\\"\$p\\\" | head -n 1 | cut -d' ' -f3 | tr -d :); echo start \$t \$(date +%s%N) >>$work/copies/queue.log; sleep 0.3; echo end \$t \$(date +%s%N) >>$work/copies/queue.log; echo done \$t\" } },"
deps=("" "" "" "" "1" "1 2" "3" "4" "5 6" "7" "9 10" "8")
for i in $(seq 1 12); do
  args=()
  for d in ${deps[$((i - 1))]}; do args+=(--depends-on "$(printf 'T-%04d' "$d")"); done
  "$S" task create --title "Task $i" --status ready --validate-cmds "test:true" "${args[@]}" >/dev/null
done
expect_run "queue: ready and waiting" 0 "T-0001 +ready.*T-0004 +ready.*T-0005 +blocked: waits for T-0001 \(ready\).*T-0011 +blocked: waits for T-0009 \(ready\); waits for T-0010 \(ready\)" "" -- \
  "$S" run queue
"$S" run queue --json >queue.json
eq "queue --json: 4 ready" "T-0004" "$(field queue.json .data.ready.4.task_id)"
expect_run "start-ready -j 4" 0 "T-0001 +R-\\d+ +completed.*12 runs in" "" -- "$S" run start-ready -j 4 --runner command
LOG=$work/copies/queue.log expect_run "start-ready: all done, dependencies first, at most 4 at a time" 0 "^12 done, order ok, max 4\n$" "" -- \
  "$S" -e '
  local ev, done = {}, 0
  for line in io.lines(os.getenv("LOG")) do
    local what, t, ns = line:match("^(%a+) (T%-%d+) (%d+)$")
    ev[#ev + 1] = { what = what, t = t, ns = tonumber(ns) }
  end
  table.sort(ev, function(a, b) return a.ns < b.ns end)
  local ended, running, max, ok = {}, 0, 0, true
  local deps = { ["T-0005"] = { "T-0001" }, ["T-0006"] = { "T-0001", "T-0002" }, ["T-0007"] = { "T-0003" },
    ["T-0008"] = { "T-0004" }, ["T-0009"] = { "T-0005", "T-0006" }, ["T-0010"] = { "T-0007" },
    ["T-0011"] = { "T-0009", "T-0010" }, ["T-0012"] = { "T-0008" } }
  for _, e in ipairs(ev) do
    if e.what == "start" then
      running = running + 1
      max = math.max(max, running)
      for _, d in ipairs(deps[e.t] or {}) do ok = ok and ended[d] ~= nil end
    else
      running = running - 1
      ended[e.t] = true
      done = done + 1
    end
  end
  print(("%d done, order %s, max %d"):format(done, ok and "ok" or "WRONG", max))'
eq "start-ready: every task done" "12" "$("$S" task list --status done --json | "$S" -e 'print(#require("sidecar.core.json").decode(io.read("a")).data)')"
expect_run "start-ready: nothing left" 0 "no tasks are ready" "" -- "$S" run start-ready -j 2
expect_run "start-ready: bad -j" 2 "^$" "-j '0': expected a whole number" -- "$S" run start-ready -j 0
expect_run "start-ready: -j not a number" 2 "^$" "--jobs: 'two' is not a whole number" -- "$S" run start-ready -j two
expect_run "run list: --limit 2, two runs" 0 "^[^\n]*\nR-\\d+[^\n]*\nR-\\d+[^\n]*\n$" "" -- "$S" run list --limit 2

# --- sessions: --keep-session, then --continue records this run's own usage -------------------
cat >"$work/codex-sessions.sh" <<SH
#!/bin/sh
# The fake codex: a resumed session replays the second turn (usage cumulative, as codex reports it).
case " \$* " in
  *" resume "*) exec "$S" script "$F/fake_agent.lua" "$F/captures/codex_resume_turn2_cumulative_usage.jsonl" --argv-copy "$work/copies/resume-argv" "\$@" ;;
  *) exec "$S" script "$F/fake_agent.lua" "$F/captures/codex_resume_turn1.jsonl" "\$@" ;;
esac
SH
chmod +x "$work/codex-sessions.sh"
new_repo sessions
sed -i "s|^    codex = { program = .*|    codex = { program = { \"$work/codex-sessions.sh\" } },|" .agent/config.lua
"$S" task create --title "Session" >/dev/null
expect_run "continue without a kept session" 1 "^$" "no run with a kept session to continue.*--keep-session" -- \
  "$S" run T-0001 --continue
expect_run "first-pass run with --keep-session" 0 "^R-\d+ review" "" -- "$S" run T-0001 --keep-session
kept=$(run_id)
eq "kept session: not ephemeral" "false 01a1fdec-2918-7691-a5c8-bcf16cde129d" \
  "$(field .agent/runs/$kept/run.json .ephemeral) $(field .agent/runs/$kept/run.json .session_id)"
expect_run "--continue" 0 "^R-\d+ review" "" -- "$S" run T-0001 --continue
continued=$(run_id)
eq "continue: codex exec resume <thread>" "yes" "$(grep -qx 'resume' "$work/copies/resume-argv" && grep -qx '01a1fdec-2918-7691-a5c8-bcf16cde129d' "$work/copies/resume-argv" && echo yes)"
eq "continue: this run's own usage" "7 3 10" "$(field .agent/runs/$continued/run.json .usage.input) $(field .agent/runs/$continued/run.json .usage.output) $(field .agent/runs/$continued/run.json .usage.total)"
eq "continue: what codex reported" "1007" "$(field .agent/runs/$continued/run.json .usage_reported.input)"
eq "continue: linked to the run it continues" "$kept" "$(field .agent/runs/$continued/run.json .resumed_run)"
expect_run "continue cannot switch runner" 2 "^$" "cannot change the runner to claude" -- "$S" run T-0001 --continue --runner claude

# --- answering a run that ended with [QUESTION]: in its session, else in a new one -------------
question_capture() { # FILE: codex's first turn, ending with a question
  printf '%s\n' '{"type":"thread.started","thread_id":"01a1fdec-2918-7691-a5c8-bcf16cde129d"}' '{"type":"turn.started"}' \
    '{"type":"item.completed","item":{"id":"item_0","type":"agent_message","text":"I looked at the parser.\n\n[QUESTION] Which API version should it use?\nOptions:\n1. v1\n2. v2"}}' \
    '{"type":"turn.completed","usage":{"input_tokens":1000,"cached_input_tokens":0,"cache_write_input_tokens":0,"output_tokens":10,"reasoning_output_tokens":0}}' >"$1"
}
question_capture "$work/copies/question.jsonl"
cat >"$work/codex-answer.sh" <<SH
#!/bin/sh
# The fake codex: a first turn that asks; a resumed one that answers (usage cumulative, as codex's).
case " \$* " in
  *" resume "*) exec "$S" script "$F/fake_agent.lua" "$F/captures/codex_resume_turn2_cumulative_usage.jsonl" --argv-copy "$work/copies/answer-argv" --prompt-copy "$work/copies/answer-prompt" "\$@" ;;
  *) exec "$S" script "$F/fake_agent.lua" "$work/copies/question.jsonl" --argv-copy "$work/copies/ask-argv" --prompt-copy "$work/copies/ask-prompt" "\$@" ;;
esac
SH
chmod +x "$work/codex-answer.sh"
new_repo answers
sed -i "s|^    codex = { program = .*|    codex = { program = { \"$work/codex-answer.sh\" } },|" .agent/config.lua
"$S" task create --title "Ask first" >/dev/null
expect_run "a run that asks" 1 "^R-\d+ blocked" "" -- "$S" run T-0001 --keep-session
asked=$(run_id)
expect_run "answer: not a run that asked" 2 "^$" "did not end with \[QUESTION\] or \[BLOCKED\]" -- "$S" run answer $kept "yes" --root "$work/sessions/.agent"
expect_run "answer: empty" 2 "^$" "the answer is empty" -- "$S" run answer $asked "  "
expect_run "answer: no such run" 1 "^$" "no run R-0099" -- "$S" run answer R-0099 "v2"
expect_run "answer: in the same session" 0 "^R-\d+ review" "" -- "$S" run answer $asked "Use v2."
answered=$(run_id)
eq "answer: codex exec resume <thread>" "yes" "$(grep -qx 'resume' "$work/copies/answer-argv" && grep -qx '01a1fdec-2918-7691-a5c8-bcf16cde129d' "$work/copies/answer-argv" && echo yes)"
eq "answer: the prompt is the answer" "Use v2." "$(cat "$work/copies/answer-prompt")"
eq "answer: linked to the run it answers" "answer $asked" "$("$S" -e "local s = assert(require('sidecar.core.store').open('.agent'))
  local l = assert(s:lineage('$answered')) print(l.parents[1].kind .. ' ' .. l.parents[1].parent_run_id)")"
eq "answer: this run's own usage" "7 3" "$(field .agent/runs/$answered/run.json .usage.input) $(field .agent/runs/$answered/run.json .usage.output)"
eq "answer: the answer is recorded" "Use v2." "$(field .agent/runs/$answered/run.json .answer)"
expect_run "answer: run show names the answer" 0 "answers $asked" "" -- "$S" run show $answered
expect_run "answer: and the run answered names it" 0 "answered by $answered" "" -- "$S" run show $asked
# A first-pass run keeps no session: the answer goes to a new one, given what it was told and said.
expect_run "an ephemeral run that asks" 1 "^R-\d+ blocked" "" -- "$S" run T-0001
ephemeral=$(run_id)
# (this fake codex asks again in every new session: the answering run ends blocked too)
stdin_text="Use v1." expect_run "answer from stdin, in a new session" 1 "^R-\d+ blocked" "kept no agent session" -- "$S" run answer $ephemeral -
eq "answer: a new session (no resume)" "no" "$(grep -qx 'resume' "$work/copies/ask-argv" && echo yes || echo no)"
eq "answer: the new session is told the answer, what it said and the task" "yes" \
  "$(grep -q '^Use v1\.$' "$work/copies/ask-prompt" && grep -q 'Which API version should it use' "$work/copies/ask-prompt" && grep -q '^## The task you were given' "$work/copies/ask-prompt" && echo yes)"

# --- run show: what the agent did (commands run, permission denials, the stream) ----------------
cd "$work"
REPLAY_CODEX=$F/captures/codex_exec_json_reasoning_command_filechange.jsonl \
  REPLAY_CLAUDE=$F/captures/claude_stream_json_permission_denied.jsonl AUTO=false new_repo shown
"$S" task create --title "Show me" --status ready >/dev/null
expect_run "a codex run that ran a command" 0 '' '' -- "$S" run T-0001 --runner codex
expect_run "run show: the commands the agent ran, with their exit" 0 \
  "Commands run \(1\):\n  \[exit 0\] /bin/bash -c 'echo hi > out\.txt && ls'.*Stream: +\d+ events" "" -- "$S" run show "$(run_id)"
codex_run=$(run_id)
expect_run "run tail: the agent's messages and commands as text" 0 \
  'agent\.message +agent: Let me look around\.\n.*agent\.command +\$ /bin/bash -c .echo hi > out\.txt && ls. \[exit 0\].*agent: Done: created out\.txt' \
  "" -- "$S" run tail "$codex_run"
expect_run "a claude run denied a command" 0 '' '' -- "$S" run T-0001 --runner claude
expect_run "run show: the permissions the agent was denied, and its session" 0 \
  "Session: +[0-9a-f-]{36}.*Permission denials \(1\):\n  Bash echo hi > out\.txt && ls \(by claude\)" "" \
  -- "$S" run show "$(run_id)"
expect_run "run show with an empty id is a usage error, not a crash" 2 '' 'id: an empty value; give R-ID' -- "$S" run show ""

# --- background runs: returns at once, outlives its terminal, waited, tailed, killed ------------
# The agent waits for the file $BG_GATE to appear, when one is named, then sleeps $BG_SLEEP.
new_repo background "    command = { command = { \"sh\", \"-c\", \"cat >/dev/null; echo working; until [ -z \${BG_GATE:-} ] || [ -e \${BG_GATE:-} ]; do sleep 0.05; done; sleep \${BG_SLEEP:-0.5}; echo finished\" } },"
"$S" task create --title "Background" >/dev/null
# "At once": the command has returned while its agent still waits for its gate; an order, not a
# time bound, so a loaded machine or a sanitizer build cannot break it.
BG_GATE=$work/copies/bg-gate expect_run "--background returns the run id" 0 "^R-\d+\n$" "runs in the background \(pid [0-9]+\)" -- \
  "$S" run T-0001 --runner command --background
bg=$(run_id)
eq "--background returns at once (the run is still active)" "yes" \
  "$(case "$(field .agent/runs/$bg/run.json .status)" in queued|running) echo yes ;; *) echo no ;; esac)"
pid=$(field .agent/runs/$bg/run.json .worker_pid)
eq "the worker is in a session of its own" "$pid" "$(ps -o sid= -p "$pid" | tr -d ' ')"
touch "$work/copies/bg-gate"
expect_run "run wait" 0 "^$bg review\n$" "" -- "$S" run wait $bg
expect_run "run tail: the events" 0 "run\.started .*agent\.exit|run\.started .*run\.finished" "" -- "$S" run tail $bg
"$S" run tail $bg --json >tail.json
eq "run tail --json: the events" "run.started" "$(field tail.json .data.events.1.kind)"
eq "the worker left its log" "yes" "$([ -f .agent/runs/$bg/worker.log ] && echo yes)"
eq "background output recorded" "working finished" "$(tr '\n' ' ' <.agent/runs/$bg/output.md | sed 's/ $//')"
# --notify: the command runs once when the run ends, with the run in its environment; a failing
# one changes nothing of the run; without --background it is a usage error.
BG_SLEEP=0 expect_run "--background --notify" 0 "^R-\d+\n$" "" -- "$S" run T-0001 --runner command --background \
  --notify 'printf "%s %s %s\n" "$SIDECAR_RUN" "$SIDECAR_EVENT" "$SIDECAR_STATUS" >>"'"$work"'/notified"'
notified=$(run_id)
"$S" run wait "$notified" >/dev/null
wait_until "the notice of $notified" 60 grep -qs "$notified" "$work/notified"
"$S" run wait "$notified" >/dev/null
eq "the notice ran once, with the run, the event and the status" "$notified ended review" "$(cat "$work/notified")"
eq "the notice is recorded" "ended true" "$(field .agent/runs/$notified/notices.jsonl .event) $(field .agent/runs/$notified/notices.jsonl .ok)"
BG_SLEEP=0 expect_run "a failing notice" 0 "^R-\d+\n$" "" -- "$S" run T-0001 --runner command --background --notify 'exit 3'
failing=$(run_id)
"$S" run wait "$failing" >/dev/null
wait_until "the failed notice of $failing is recorded" 60 test -s .agent/runs/$failing/notices.jsonl
eq "a failing notice leaves the run as it ended" "review false exit 3" \
  "$(field .agent/runs/$failing/run.json .status) $(field .agent/runs/$failing/notices.jsonl .ok) $(field .agent/runs/$failing/notices.jsonl .why | grep -o 'exit 3')"
expect_run "--notify without --background" 2 "" "give --background too" -- "$S" run T-0001 --runner command --notify x
# --notify auto with no command and no notify-send: the bell, rung on the terminal the run was
# started from (script(1) gives it one and keeps what reaches it) once the run has ended.
mkdir -p "$work/nobin" && for p in sh printf test sleep grep; do ln -sf "$(command -v $p)" "$work/nobin/$p"; done
printf '%s\n' "id=\$(BG_SLEEP=0 '$S' run T-0001 --runner command --background --notify auto 2>/dev/null)" \
  'echo "run $id"' 'n=0; until grep -qs ended ".agent/runs/$id/notices.jsonl" || [ $n -ge 600 ]; do sleep 0.1; n=$((n + 1)); done' >"$work/bell.sh"
PATH="$work/nobin" "$(command -v script)" -qec "sh $work/bell.sh" /dev/null >"$work/bell.out"
belled=$(grep -oP 'run \KR-\d+' "$work/bell.out")
eq "the bell rang on the starting terminal, recorded as such" "yes bell true" \
  "$(grep -q "$(printf '\a')" "$work/bell.out" && echo yes) $(field .agent/runs/$belled/notices.jsonl .how) $(field .agent/runs/$belled/notices.jsonl .ok)"
eq "the run names its terminal" "yes" "$(field .agent/runs/$belled/run.json .launch.tty | grep -q '^/dev/' && echo yes)"
# A silent agent is flagged stuck at stuck_after, with the evidence, and told once; it is not
# stopped (the idle timeout would do that later): it ends by itself once it speaks again.
(
  git_repo stuck
  sandbox_allow write "$work/copies"
  sandbox_allow env "FAKE_*" BG_GATE BG_SLEEP # the agents' orders, given by name
  add_runners "    quiet = { command = { \"sh\", \"-c\", \"cat >/dev/null; echo started; until [ -e '$work/copies/speak' ]; do sleep 0.05; done; echo resumed\" } },"
  sed -i 's/^  stuck_after = "5m"/  stuck_after = "1s"/' .agent/config.lua
  "$S" task create --title "Quiet" --status ready >/dev/null
  expect_run "a quiet agent in the background" 0 "^R-\d+\n$" "" -- "$S" run T-0001 --runner quiet --background \
    --notify 'echo "$SIDECAR_EVENT: $SIDECAR_MESSAGE" >>"'"$work"'/stuck-told"'
  quiet=$(run_id)
  wait_until "run list marks $quiet stuck" 60 sh -c "'$S' run list | grep -q '$quiet .*running (stuck)'"
  expect_run "run show: the evidence" 0 "Attention: +stuck: no output for \d+ s" "" -- "$S" run show "$quiet"
  eq "--json: attention" "stuck running" \
    "$("$S" run show "$quiet" --json | jv .data.attention.state) $("$S" run show "$quiet" --json | jv .data.status)"
  wait_until "the stuck notice" 60 grep -qs '^stuck: no output for' "$work/stuck-told"
  # run watch: the live list shows the active run and why it needs attention; --until-idle
  # follows it to its end (one JSON line per change) and then ends by itself.
  expect_run "run watch --once" 0 "$quiet +T-0001 +quiet +running +[\d.]+s +stuck: no output for \d+ s.*\n\n1 active" "" \
    -- "$S" run watch --once
  # On a terminal (script(1) gives it one) the list is redrawn in place: home and clear first.
  script -qec "'$S' run watch --once" /dev/null >"$work/watch.tty"
  eq "run watch on a terminal: redrawn in place" "yes" "$(grep -q "$(printf '\033\\[H\033\\[2J')RUN" "$work/watch.tty" && echo yes)"
  expect_run "run watch: a bad interval" 2 "" "--interval '10ms': at least 100ms" -- "$S" run watch --interval 10ms
  "$S" run watch --until-idle --json --interval 200ms >"$work/watch.jsonl" 2>"$work/watch.err" &
  watcher=$!
  wait_until "run watch has listed $quiet" 60 grep -qs "$quiet" "$work/watch.jsonl"
  touch "$work/copies/speak"
  status=0; wait "$watcher" || status=$?
  eq "run watch --until-idle ends by itself once idle" "0" "$status"
  first=$(head -1 "$work/watch.jsonl"); last=$(tail -1 "$work/watch.jsonl")
  eq "run watch --json: first the active run, at last its end" "$quiet running stuck | $quiet review" \
    "$(echo "$first" | jv .data.active.1.run_id) $(echo "$first" | jv .data.active.1.status) $(echo "$first" | jv .data.active.1.attention.state) | $(echo "$last" | jv .data.ended.1.run_id) $(echo "$last" | jv .data.ended.1.status)"
  eq "run watch --json: nothing active at the end" "nil true" "$(echo "$last" | jv .data.active.1) $(echo "$last" | jv .ok)"
  "$S" run wait "$quiet" >/dev/null
  wait_until "the end notice" 60 grep -qs '^ended: ' "$work/stuck-told"
  eq "flagged, then ended by itself (not stopped), each notice once" "review 1 1" \
    "$(field .agent/runs/$quiet/run.json .status) $(grep -c '^stuck:' "$work/stuck-told") $(grep -c '^ended:' "$work/stuck-told")"
  expect_run "run show of the ended run: no attention line" 0 "" "" -- sh -c "! '$S' run show $quiet | grep -q Attention"
  eq "the mark its speaking again cleared stays in its history" "stuck" \
    "$("$S" run show "$quiet" --json | jv .data.attention_history.1.state)"
  # One that never speaks again: flagged stuck first, stopped only by its idle timeout later.
  rm -f "$work/copies/speak" "$work/stuck-told"
  expect_run "a silent agent with an idle timeout" 0 "^R-\d+\n$" "" -- "$S" run T-0001 --runner quiet --background \
    --idle-timeout 4s --notify 'echo "$SIDECAR_EVENT: $SIDECAR_STATUS $SIDECAR_MESSAGE" >>"'"$work"'/stuck-told"'
  silent=$(run_id)
  "$S" run wait "$silent" >/dev/null
  wait_until "the end notice of $silent" 60 grep -qs '^ended: ' "$work/stuck-told"
  eq "flagged stuck, then killed at the idle timeout (in that order, each told once)" "stuck ended failed" \
    "$(cut -d: -f1 "$work/stuck-told" | tr '\n' ' ')$(field .agent/runs/$silent/run.json .status)"
  expect_run "the idle timeout is the reason" 0 "idle timeout: no output for 4000 ms" "" -- \
    "$S" run show "$silent"
  # Attention ends with the run (issue 40): --json has none, its history keeps the mark.
  eq "the failed run is no longer stuck; its history says it was" "null stuck" \
    "$("$S" run show "$silent" --json | jv .data.attention) $("$S" run show "$silent" --json | jv .data.attention_history.1.state)"
  finish >/dev/null
) || failed=$((failed + 1))
# The terminal of a foreground run closes (SIGHUP): the run is recorded interrupted, its agent
# stopped, as for SIGTERM; not left to be found dead (outcome_unknown).
BG_SLEEP=437.75 "$S" run T-0001 --runner command >hup.out 2>hup.err &
hup_pid=$!
wait_until "a foreground run's agent has started" 60 grep -qs "command started" hup.err
wait_until "it catches SIGHUP" 60 sh -c "m=\$(awk '/^SigCgt/{print \$2}' /proc/$hup_pid/status) && [ \$((0x\$m & 1)) -ne 0 ]"
kill -HUP "$hup_pid"
status=0; wait "$hup_pid" || status=$?
hup_run=$(ls -t .agent/runs | head -1) # the newest run (the message names it only when the agent was being waited for)
eq "SIGHUP (the terminal closed): exit 129, the run recorded interrupted" "129 interrupted" \
  "$status $(field .agent/runs/$hup_run/run.json .status)"
# It sleeps far longer than the checks below take on the busiest machine: only `run kill` ends it.
killed=$(BG_SLEEP=437.75 "$S" run T-0001 --runner command --background 2>/dev/null \
  --notify 'printf "%s %s %s\n" "$SIDECAR_RUN" "$SIDECAR_EVENT" "$SIDECAR_STATUS" >>"'"$work"'/killed_notice"')
expect_run "run wait --timeout" 1 "^$" "still running after 300 ms" -- "$S" run wait $killed --timeout 300ms
# Ctrl-C while waiting or following: a plain message and 130, never an internal path.
for follow in "run wait $killed" "run tail -f $killed"; do
  # shellcheck disable=SC2086
  "$S" $follow >interrupt.out 2>interrupt.err &
  follower=$!
  # Ready when it catches SIGINT (its handler is installed: SigCgt has bit 2), not after a delay.
  wait_until "$follow catches SIGINT" 60 sh -c "m=\$(awk '/^SigCgt/{print \$2}' /proc/$follower/status) && [ \$((0x\$m & 2)) -ne 0 ]"
  kill -INT "$follower"
  status=0; wait "$follower" || status=$?
  eq "Ctrl-C on $follow: exit 130 and a plain message" "130 sidecar: interrupted!" "$status $(cat interrupt.err)"
done
# The kill comes while `run tail -f` follows the run (it has shown the start).
timeout 60 "$S" run tail -f $killed >tail.out 2>&1 &
tail_pid=$!
wait_until "run tail -f follows $killed" 60 grep -qs 'run\.started' tail.out
"$S" run kill $killed >/dev/null
wait "$tail_pid"
expect_run "tail -f saw the end" 0 "run\.finished.*interrupted" "" -- cat tail.out
eq "killed: recorded interrupted" "interrupted" "$(field .agent/runs/$killed/run.json .status)"
eq "killed: the task can run again" "ready" "$(field .agent/tasks/T-0001.json .status)"
gone=yes; pgrep -f 'sleep 437.75' >/dev/null && gone=no
eq "killed: no orphans" "yes" "$gone"
wait_until "killed: the ended notice came" 60 grep -qs "$killed" "$work/killed_notice"
eq "killed: the notice says it ended interrupted, once" "$killed ended interrupted" "$(cat "$work/killed_notice")"
expect_run "kill an ended run" 1 "^$" "run $killed already ended: interrupted" -- "$S" run kill $killed
expect_run "kill an unknown run" 1 "^$" "no run R-0042" -- "$S" run kill R-0042

# --- the real codex and claude CLIs: a pipeline against the scripted model server --------------
need_codex_and_claude
cd "$work"
start_server real "$F/scenarios/text_turn.json" || exit 1
mkdir -p "$work/real-home/codex" "$work/real-home/claude" "$work/real-tmp"
base=http://127.0.0.1:$port
new_repo real "    codex = { args = { \"-m\", \"gpt-5.5\", \"-c\", \"model_provider=mock\", \"-c\", \"model_providers.mock.name=mock\", \"-c\", \"model_providers.mock.base_url=$base/v1\", \"-c\", \"model_providers.mock.wire_api=responses\", \"-c\", \"model_providers.mock.env_key=MOCK_API_KEY\", \"-c\", \"model_providers.mock.request_max_retries=0\", \"-c\", \"model_providers.mock.stream_max_retries=0\", \"--disable\", \"plugins\", \"-c\", \"analytics.enabled=false\", \"--disable\", \"unbounded_connection_retries\" }, env = { CODEX_HOME = \"$work/real-home/codex\", MOCK_API_KEY = \"sk-mock\", TMPDIR = \"$work/real-tmp\" } },
    claude = { env = { ANTHROPIC_BASE_URL = \"$base\", ANTHROPIC_API_KEY = \"sk-ant-mock\", CLAUDE_CONFIG_DIR = \"$work/real-home/claude\", TMPDIR = \"$work/real-tmp\", CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC = \"1\", DISABLE_TELEMETRY = \"1\", DISABLE_AUTOUPDATER = \"1\", DISABLE_ERROR_REPORTING = \"1\", CLAUDE_CODE_MAX_RETRIES = \"0\" } },"
# new_repo's fake-agent lines come first; drop them so the real CLIs run.
sed -i '/fake_agent\.lua/d' .agent/config.lua
"$S" task create --title "Real pipeline" --goal "Say hello" --validate-cmds "test:true" >/dev/null
expect_run "real CLIs: pipeline codex,claude" 0 \
  "^step 1/2 +codex +- +R-\d+ +completed .*\nstep 2/2 +claude +- +R-\d+ +completed " "" -- \
  "$S" run T-0001 --runner codex,claude --timeout 2m --idle-timeout 60s
step1=$(run_id 1) step2=$(run_id 2)
eq "real codex: output.md" "Hello from the scripted model." "$(cat .agent/runs/$step1/output.md)"
eq "real claude: output.md" "Hello from the scripted model." "$(cat .agent/runs/$step2/output.md)"
eq "real codex: exact usage" "1234 200 56 1290" "$(field .agent/runs/$step1/run.json .usage.input) $(field .agent/runs/$step1/run.json .usage.cached_input) $(field .agent/runs/$step1/run.json .usage.output) $(field .agent/runs/$step1/run.json .usage.total)"
eq "real claude: lineage" "$step1 $step1" "$(field .agent/runs/$step2/run.json .parent_run_id) $(field .agent/runs/$step2/run.json .pipeline_id)"
eq "real claude: got the previous runner context" "yes" \
  "$(grep -q "Run $step1 by codex ended completed" .agent/runs/$step2/prompt.md && echo yes)"
stop_server

# Reasoning effort and web search reach each CLI's request as its own setting: codex sends
# reasoning.effort and drops its web_search tool, claude sends output_config.effort.
old_base=$base
start_server effort "$F/scenarios/text_turn.json" || exit 1
base=http://127.0.0.1:$port
sed -i "s|$old_base|$base|g" .agent/config.lua
expect_run "real CLIs: --effort high --no-search, both runners" 0 \
  "agent: codex, effort high, search off.*agent: claude, model [^,]+, effort high, search off.*\nstep 1/2 +codex +- +R-\d+ +completed .*\nstep 2/2 +claude +- +R-\d+ +completed " "" -- \
  "$S" run T-0001 --runner codex,claude --timeout 2m --idle-timeout 60s --effort high --no-search --explain
stop_server
cat >requests.lua <<'LUA'
local json = require("sidecar.core.json")
local seen = {}
for line in io.lines(arg[1]) do
  local r = json.decode(line)
  local body = type(r.body) == "string" and json.decode(r.body) or r.body
  if type(body) == "table" and r.path:find("/responses", 1, true) then
    local web = "no-web-search"
    for _, t in ipairs(body.tools or {}) do
      if t.type == "web_search" then web = "web-search" end
    end
    seen[#seen + 1] = "codex:" .. tostring(body.reasoning and body.reasoning.effort) .. ":" .. web
  elseif type(body) == "table" and r.path:find("/messages", 1, true) then
    seen[#seen + 1] = "claude:" .. tostring(body.output_config and body.output_config.effort)
  end
end
print(table.concat(seen, " "))
LUA
eq "real CLIs: each request carries the effort, codex without web search" "claude:high codex:high:no-web-search" \
  "$("$S" script requests.lua "$work/effort.log" | tr ' ' '\n' | sort -u | tr '\n' ' ' | sed 's/ $//')"
eq "the runs record effort and search" "high false high false" \
  "$(for r in $(run_id 1) $(run_id 2); do echo "$(field .agent/runs/$r/run.json .effort) $(field .agent/runs/$r/run.json .search)"; done | xargs)"

finish
