#!/usr/bin/env bash
# End-to-end, differential: what a snapshot finds a run changed equals what `git status -uall`
# reports, over random changes to a repository of a few thousand files (the threaded walk of
# host/git/work_tree_walk.cpp); see snapshot_differential.lua. SNAPSHOT_ROUNDS=N runs more rounds
# (a soak), SNAPSHOT_SEEDS="1 2 3" other seeds.
set -u
. "$(dirname "$0")/lib.sh" # S (absolute), here, root, $work; the shared helpers
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@e GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@e

for seed in ${SNAPSHOT_SEEDS:-11 23}; do
  expect_run "seed $seed: the snapshot agrees with git status" 0 "^rounds \d+ mismatches 0\n$" "" -- \
    "$S" script "$here/snapshot_differential.lua" "$work" "$seed" "${SNAPSHOT_ROUNDS:-15}"
done
finish
