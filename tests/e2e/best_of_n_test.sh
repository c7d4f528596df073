#!/usr/bin/env bash
# End-to-end: the best-of-n preset with command runners as fake agents. Three candidates, each in a
# worktree of its own, two passing validation; a fake judge picks the one whose change it prefers
# (it reads the changes in its prompt); the user's tree stays untouched until `run apply`; the
# losers' branches go and every record stays. Then no candidate passing, a judge that never answers
# in JSON, repeats of one runner, and --dry-run.
set -u
. "$(dirname "$0")/lib.sh" # S (absolute), here, root, $work; the shared helpers
mkdir -p "$work/agents"

# agent NAME BODY: a fake agent script (the prompt on stdin; its cwd is where it works).
agent() { printf '#!/bin/sh\n%s\n' "$2" >"$work/agents/$1.sh"; }
agent plain 'cat >/dev/null; echo ok > answer.txt; echo "plain done"'
agent broken 'cat >/dev/null; echo wrong > answer.txt; echo "broken done"'
agent elegant 'cat >/dev/null; printf "ok\nelegant\n" > answer.txt; echo "elegant done"'
# The judge prefers the candidate whose change has "elegant" in it, by the number its prompt gives.
agent judge 'n=$(awk "/^#+ Candidate [0-9]+/{n=\$NF} /elegant/ && n {print n; exit}")
printf "\`\`\`json\n{\"winner\": %s, \"reasons\": \"candidate %s is the elegant one\"}\n\`\`\`\n" "$n" "$n"'
agent mute 'cat >/dev/null; echo "I like them all"'
# Passes validation only the first time it runs (its count is kept outside the repository).
agent once 'cat >/dev/null; n=$(($(cat "$COUNT" 2>/dev/null || echo 0) + 1)); echo $n > "$COUNT"
if [ $n = 1 ]; then echo ok; else echo "no $n"; fi > answer.txt; echo done'

git_repo best
entries=""
for a in plain broken elegant judge mute once; do
  entries+="    $a = { command = { \"sh\", \"$work/agents/$a.sh\" } },"$'\n'
done
add_runners "$entries"
mkdir -p "$work/counts" && sandbox_allow write "$work/counts" # the once agent's count (its OS sandbox lets it)
sandbox_allow env COUNT
echo base >keep.txt && git add keep.txt && git -c user.email=t@e -c user.name=t commit -qm keep
tree_state() { git status --porcelain=v1 --untracked-files=all; ls; git rev-parse HEAD; }
before=$(tree_state)
BEST=("$S" preset run best-of-n --param "task=Write answer.txt" --param "validate=grep -qx ok answer.txt")

expect_run "best-of-n: listed" 0 "best-of-n +built-in" "" -- "$S" preset list
expect_run "best-of-n: 3 candidates, 2 pass, the judged one wins" 0 \
  "^Best of 3: Write answer\.txt\n  1  plain +R-\d+  passed .*\n  2  broken +R-\d+  did not pass .*\n  3  elegant +R-\d+  winner .*\nWinner: candidate 3 \(R-\d+\)\nWhy: candidate 3 is the elegant one\n" \
  "candidate 1 of 3 on plain.*candidate 3 of 3 on elegant.*review on judge" -- \
  "${BEST[@]}" --param runners=plain,broken,elegant --param judge=judge
c1=$(run_id 1) c2=$(run_id 2) c3=$(run_id 3)
eq "best-of-n: the main tree untouched" "$before" "$(tree_state)"
eq "best-of-n: only the main worktree left" "1" "$(git worktree list | wc -l)"
eq "best-of-n: only the winner's branch left" "sidecar/$c3" "$(git branch --format='%(refname:short)' | grep sidecar/)"
eq "best-of-n: the losers discarded, the winner ready" "discarded discarded ready" \
  "$(jv .worktree.state <.agent/runs/$c1/run.json) $(jv .worktree.state <.agent/runs/$c2/run.json) $(jv .worktree.state <.agent/runs/$c3/run.json)"
eq "best-of-n: every record stays, marked" "1 false 2 false 3 true" \
  "$(for c in $c1 $c2 $c3; do printf '%s %s ' "$(jv .candidate.n <.agent/runs/$c/run.json)" "$(jv .candidate.winner <.agent/runs/$c/run.json)"; done | sed 's/ $//')"
eq "best-of-n: the failing candidate's validation kept" "false" "$(jv .validation.1.ok <.agent/runs/$c2/run.json)"
judge_run=$(runs_where agent_role judge | head -n 1)
expect_run "best-of-n: the judge saw only the passing candidates" 1 "" "" -- grep -q "^## Candidate 2" .agent/runs/$judge_run/prompt.md
expect_run "best-of-n: the judge saw the changes" 0 "elegant" "" -- cat .agent/runs/$judge_run/prompt.md
expect_run "best-of-n: approve, then apply the winner" 0 "$c3 approved" "" -- "$S" run approve "$c3"
expect_run "best-of-n: apply" 0 "" "" -- "$S" run apply "$c3"
eq "best-of-n: the winner's change in the tree" "ok elegant" "$(tr '\n' ' ' <answer.txt | sed 's/ $//')"
rm answer.txt

"${BEST[@]}" --param runners=plain,broken,elegant --param judge=judge --json >"$work/r.json" 2>/dev/null
eq "best-of-n --json: winner and reasons" "true winner candidate 3 is the elegant one" \
  "$(jv .ok <"$work/r.json") $(jv .data.result.outcome <"$work/r.json") $(jv .data.result.reasons <"$work/r.json")"
eq "best-of-n --json: two discarded, the winner not" "true true nil" \
  "$(jv .data.result.discarded.1 <"$work/r.json" | grep -q R- && echo true) $(jv .data.result.discarded.2 <"$work/r.json" | grep -q R- && echo true) $(jv .data.result.discarded.3 <"$work/r.json")"
branches=$(git branch --format='%(refname:short)' | grep -c sidecar/)

# --- no winner -----------------------------------------------------------------------------
expect_run "best-of-n: none passes -> exit 1, all discarded" 1 "No winner: no candidate passed validation\." "" -- \
  "${BEST[@]}" --param runners=broken --param n=2
eq "best-of-n: no new branch after no winner" "$branches" "$(git branch --format='%(refname:short)' | grep -c sidecar/)"
expect_run "best-of-n: a judge without a verdict -> exit 1" 1 "No winner: the judge could not decide" "" -- \
  "${BEST[@]}" --param runners=plain,elegant --param judge=mute
eq "best-of-n: the main tree still untouched" "0" "$(git status --porcelain | grep -c answer.txt)"

# --- repeats of one runner, one passing candidate wins without a judge ------------------------------
export COUNT=$work/counts/count
judges=$(runs_where agent_role judge | wc -l)
expect_run "best-of-n: repeats; one passing candidate wins without a judge" 0 \
  "  1  once +R-\d+  winner .*\n  2  once +R-\d+  did not pass .*\n  3  once +R-\d+  did not pass .*Why: the only candidate that passed validation" \
  "" -- "${BEST[@]}" --param runners=once --param n=3
eq "best-of-n: no judge ran" "$judges" "$(runs_where agent_role judge | wc -l)"
expect_run "best-of-n: n out of range" 1 "n must be 0 to 10" "" -- "${BEST[@]}" --param n=11

# --- dry run ------------------------------------------------------------------------------------
expect_run "best-of-n: --dry-run runs nothing" 0 "3 candidates, one after another" "" -- \
  "${BEST[@]}" --param runners=plain,broken,elegant --dry-run
eq "best-of-n: --dry-run left the tree alone" "0" "$(git status --porcelain | grep -c answer.txt)"

finish
