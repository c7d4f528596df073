#!/usr/bin/env bash
# End-to-end: `sidecar prepare` writes the seven files of the sidecar artifact layout
# (docs/formats.md §1), compared with golden copies, with no planted secret in any of them.
# UPDATE_GOLDEN=1 rewrites the golden files from this run.
set -u
. "$(dirname "$0")/lib.sh" # S (absolute), here, root, $work; the shared helpers
golden_dir=$here/golden/prepare
# The creation time is the only thing that changes between runs.
golden_sed='s/20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z/<CREATED_AT>/'
cd "$work"

# A repository whose HEAD is the same on every run.
export GIT_AUTHOR_NAME=Sidecar GIT_AUTHOR_EMAIL=sidecar@example.com GIT_COMMITTER_NAME=Sidecar
export GIT_COMMITTER_EMAIL=sidecar@example.com GIT_AUTHOR_DATE="2026-01-01T00:00:00Z" GIT_COMMITTER_DATE="2026-01-01T00:00:00Z"
mkdir repo && cd repo
git init -q -b main
printf '# Demo\n' >README.md
mkdir docs && printf 'notes\n' >docs/notes.md
git add . && git commit -qm init
# The change under review plants a key in the diff; the environment holds a token.
printf '# Demo\nkey: sk-proj-PLANTEDabcdefghijklmnopqrstuvwxyz0123\n' >README.md
printf 'API_KEY=sk-proj-PLANTEDabcdefghijklmnopqrstuvwxyz0123\n' >.env
export SIDECAR_TEST_TOKEN=planted-token-value-123456

expect_run "prepare: the precommit preset with two commands and a file" 0 \
  'Prepared \./\.agent/sidecars/golden .*codex exec --ephemeral -m gpt-5\.3-codex-spark -C \. -s read-only -o \./\.agent/sidecars/golden/output\.md - < \./\.agent/sidecars/golden/prompt\.md' '' \
  -- "$S" prepare --task-id golden --title "Precommit classifier" --phase maintenance --task-type audit \
  --preset precommit-classifier --input "git status --short" --input "git diff" --input docs/notes.md \
  --input 'cmd:echo $SIDECAR_TEST_TOKEN'

dir=.agent/sidecars/golden
for f in prompt.md input-manifest.md output.md findings.md decision.md model.md model.json \
  inputs/01-git-status-short.txt inputs/02-git-diff.txt inputs/04-echo-sidecar-test-token.txt; do
  golden "$(echo "$f" | tr / _)" "$dir/$f"
done

if grep -rq "PLANTED\|planted-token" .agent; then
  failed=$((failed + 1))
  echo "FAIL prepare: a planted secret reached the artifacts:"
  grep -rn "PLANTED\|planted-token" .agent | head
else
  passed=$((passed + 1))
fi

expect_run "prepare: a secret file is refused as input, and nothing is created" 1 '^$' \
  "--input 1: '\.env' looks like a secrets file" -- "$S" prepare --task-id refused --prompt x --input .env
expect_run "prepare: ... no folder was claimed" 1 '' '' -- test -e .agent/sidecars/refused
expect_run "prepare: an existing task id is an error" 1 '' 'task folder .*/golden already exists: choose another --task-id' \
  -- "$S" prepare --task-id golden --prompt x
expect_run "prepare: an invalid task id" 1 '' "task id '\.\./x' is not valid" -- "$S" prepare --task-id ../x --prompt x
expect_run "prepare: no prompt" 1 '' 'give the task: --prompt TEXT, --prompt-file FILE or --preset NAME' \
  -- "$S" prepare --title t
expect_run "prepare: full access is refused" 1 '' '--sandbox danger-full-access is not allowed' \
  -- "$S" prepare --title t --prompt p --sandbox danger-full-access
expect_run "prepare: --json envelope" 0 '"command": "prepare".*"ok": true' '' \
  -- "$S" prepare --title "json run" --prompt p --json
expect_run "prepare: --json envelope on failure" 1 '"errors": \[\s*\{\s*"code": "failed",\s*"message": "task id' '' \
  -- "$S" prepare --task-id ../x --prompt p --json

# The user's prompt is linted as `run --explain` lints it: warnings on stderr, never a refusal.
expect_run "prepare: a bare prompt is linted (warnings, exit 0)" 0 'Prepared ' \
  'prompt lint: goal: no goal.*prompt lint: escalation: no escalation' -- "$S" prepare --title lint1 --prompt "Do the thing."
expect_run "prepare: --json carries the lint warnings with their codes" 0 \
  '"lint": \[\s*\{\s*"code": "goal"' '' -- "$S" prepare --title lint2 --prompt "Do the thing." --json
cat >brief.md <<'BRIEF'
## Goal
Find dead links in docs/ and list them; good means every link checked.
## Non-goals
Leave the code alone.
## Inputs
Read docs/ only.
## Edits
Read-only: change no file.
## Output
Write the result to the final message as a markdown table.
## Escalation
Stop and ask when a link needs a login.
## Privacy
Copy no secrets or raw logs into the output.
BRIEF
expect_run "prepare: a complete brief has no lint warning" 0 'Prepared ' '^$' \
  -- "$S" prepare --title lint3 --prompt-file brief.md
expect_run "prepare: a built-in preset's prompt is not linted" 0 'Prepared ' '^$' \
  -- "$S" prepare --title lint4 --preset personalization-scanner

# Eight processes with the same title in the same second: eight folders, no collision.
for i in 1 2 3 4 5 6 7 8; do "$S" prepare --title "same moment" --prompt p >"$work/race_$i" 2>&1 & done
wait
count=$(ls -d .agent/sidecars/*same-moment* | wc -l)
expect_run "prepare: 8 at once get 8 distinct folders (got $count)" 0 '' '' -- test "$count" = 8

# Outside a git repository it still works and says what it could not record.
mkdir -p "$work/plain"
expect_run "prepare: outside git" 0 'Prepared' 'HEAD not recorded: .*not a git repository' \
  -- "$S" prepare --repo "$work/plain" --title "plain folder" --prompt p
expect_run "prepare: ... the manifest says HEAD is unavailable" 0 '' '' \
  -- grep -q 'HEAD: unavailable (not a git repository' "$work"/plain/.agent/sidecars/*-plain-folder/input-manifest.md

finish
