#!/usr/bin/env bash
# End-to-end: a writing run whose agent writes one large file (random bytes, in a repository with
# `* text=auto`, where libgit2 alone would read it whole): the run commits it on its branch, byte
# for byte, while Sidecar's own peak memory stays far below the file's size (the file streamed
# into a blob, host/git/git_blob_stream.hpp; its patch never made, host/git/git_tree.cpp). 96 MiB here;
# SIDECAR_LONG_TESTS=1 makes it 1 GiB. The figure is printed: "peak N MiB for a file of M MiB".
set -u
. "$(dirname "$0")/lib.sh" # S (absolute), here, root, $work; the shared helpers
cd "$work"
if [ ! -x /usr/bin/time ]; then
  echo "SKIP: no /usr/bin/time to measure the peak memory with"
  exit 0
fi
mib=96
[ "${SIDECAR_LONG_TESTS:-}" = 1 ] && mib=1024
export HOME=$work/home MIB=$mib PEAK_FILE=$work/peak
mkdir -p "$HOME" && git config --global user.email t@example.com && git config --global user.name T

git init -q -b main repo && cd repo
printf '* text=auto\n' >.gitattributes && printf '.agent/\n' >.gitignore && echo a >a.txt && git add -A &&
  git commit -qm init
"$S" init >/dev/null
printf '#!/bin/sh\ncat >/dev/null\nhead -c $((MIB << 20)) /dev/urandom >model.bin && sha1sum model.bin\n' >"$work/agent.sh"
chmod +x "$work/agent.sh"
add_runners "    big = { command = $(lua_list "$work/agent.sh") },"
sandbox_allow env MIB # the agent's order, given by name
# Every file into the run's commit: the agent's large file is its change (not left out as a
# checkpoint would be).
sed -i 's|max_untracked_bytes = "8MiB",|max_untracked_bytes = false,|' .agent/config.lua
"$S" task create --title "big" --status ready >/dev/null

# Sidecar's own peak (VmHWM of its process, read as the run returns): /usr/bin/time's figure also
# counts every descendant (the agent, its sha1sum), which are not Sidecar's memory; both printed.
/usr/bin/time -f '%M' -o "$work/peak_all" "$S" -e '
  local status = require("sidecar.cli.run").run({ task = "T-0001", runner = "big", sandbox = "workspace-write" })
  for line in io.lines("/proc/self/status") do
    local kib = line:match("^VmHWM:%s*(%d+) kB")
    if kib then io.open(os.getenv("PEAK_FILE"), "w"):write(kib, "\n"):close() end
  end
  os.exit(status)' >"$work/run.out" 2>&1
id=$(run_ids "$work/run.out" | head -n 1)
peak_kib=$(cat "$work/peak" 2>/dev/null || echo 999999999)
echo "peak $((peak_kib / 1024)) MiB for a file of $mib MiB (with the agent's processes: $(($(tail -n 1 "$work/peak_all") / 1024)) MiB)"
eq "the run ended for review" "review" "$(field ".agent/runs/$id/run.json" .status)"
said=$(cut -d' ' -f1 ".agent/runs/$id/stdout.log")
eq "the run's commit holds the agent's file, byte for byte" "$said" \
  "$(git cat-file blob "sidecar/$id:model.bin" | sha1sum | cut -d' ' -f1)"
eq "its size" "$((mib << 20))" "$(git cat-file -s "sidecar/$id:model.bin")"
eq "the patch says it was too large to keep" "true" "$(field ".agent/runs/$id/run.json" .worktree.patch_cut)"
if [ "$peak_kib" -lt $((mib * 1024 / 3)) ]; then
  passed=$((passed + 1))
else
  failed=$((failed + 1))
  echo "FAIL peak memory: $peak_kib KiB for a file of $mib MiB (a third of it at most)"
fi

# Discarded, the agent's bytes leave .git/objects with the run (git would keep them two weeks),
# while the user's blobs stay: a.txt's of the user's commit, and one only the user's index names.
blob=$(git rev-parse "sidecar/$id:model.bin")
objects_kib() { du -sk .git/objects | cut -f1; }
before_kib=$(objects_kib)
echo kept-by-index >kept.txt && git add kept.txt # the user's index names this one
expect_run "discard: the agent's file leaves .git/objects" 0 \
  "^$id discarded: branch sidecar/$id deleted; its change stays in \.agent/runs/$id/changes\.patch; 1 blob \(9[0-9]\.[0-9] MiB\) only it wrote left \.git/objects\n$" \
  "" -- "$S" run discard "$id"
eq "the blob is gone" "gone" "$(git cat-file -e "$blob" 2>/dev/null && echo there || echo gone)"
eq "the user's blobs stay" "there there" \
  "$(git cat-file -e HEAD:a.txt && echo there) $(git cat-file -e "$(git hash-object kept.txt)" && echo there)"
eq "git fsck finds nothing missing" "" "$(git fsck --connectivity-only 2>&1 | grep -i missing)"
after_kib=$(objects_kib)
echo ".git/objects: $before_kib KiB before the discard, $after_kib KiB after"
eq "the recorded figures" "1" "$(field ".agent/runs/$id/run.json" .worktree.pruned.blobs)"
[ "$after_kib" -lt $((before_kib - mib * 1024 / 2)) ] && passed=$((passed + 1)) ||
  { failed=$((failed + 1)); echo "FAIL .git/objects did not shrink by the file: $before_kib -> $after_kib KiB"; }
finish
