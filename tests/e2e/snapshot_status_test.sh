#!/usr/bin/env bash
# End-to-end: what sidecar.core.worktree reports a run changed (snapshot before, changes after)
# equals what `git status --porcelain -uall --no-renames` reports on the same tree, case by case
# (issue 16, point 2): new, modified, racy same-second same-size, deleted, renamed, chmod +x,
# file -> symlink, symlink retargeted, nested new folder, ignored file, Sidecar's .agent folder
# (ignored by .gitignore or not), a submodule moved to another commit, a touch without a change,
# and a tree already dirty before the snapshot. Each case also checks that neither the snapshot
# nor the reading of the change wrote anything into .git (every file's path, size and mtime).
set -u
. "$(dirname "$0")/lib.sh" # S (absolute), here, root, $work; the shared helpers
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@e GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@e

# The script each case runs in one sidecar process, so that the change happens between the
# snapshot and the reading of it: list .git, snapshot, list .git, the change (a shell snippet),
# list .git, changes, list .git; then print each changed file as "path change", sorted.
cat >"$work/snap.lua" <<'EOF'
local worktree = require("sidecar.core.worktree")
local repo, change, out = arg[1], arg[2], arg[3]
local function list(name)
  assert(os.execute("cd '" .. repo .. "' && find .git -type f -printf '%P %s %T@\\n' | sort > '" .. out .. "/" .. name .. "'"))
end
list("git.0")
local before = assert(worktree.snapshot(repo, { ".agent" }))
list("git.1")
assert(os.execute("cd '" .. repo .. "' && " .. change))
list("git.2")
local result = assert(worktree.changes(repo, before))
list("git.3")
local lines = {}
for _, f in ipairs(result.files) do lines[#lines + 1] = f.path .. " " .. f.change end
table.sort(lines)
io.write(table.concat(lines, "\n"), #lines > 0 and "\n" or "")
EOF

# repo NAME: a new repository $work/NAME/repo, the current folder from then on.
repo() { mkdir -p "$work/$1/repo" && cd "$work/$1/repo" && git init -q -b main; }

# commit: everything in the tree committed (the clean start each case needs).
commit() { git add -A && git commit -q --allow-empty -m base; }

# expected: git status here, in Sidecar's words, sorted; Sidecar's own .agent left out.
expected() {
  git status --porcelain -uall --no-renames | grep -v '^.. \.agent/' | while IFS= read -r line; do
    local path=${line:3}
    case "${line:0:2}" in
      " M" | "M ") echo "$path modified" ;;
      " D" | "D ") echo "$path deleted" ;;
      "??") echo "$path added" ;;
      " T" | "T ") echo "$path type_changed" ;;
      *) echo "$path unmapped-status:${line:0:2}" ;;
    esac
  done | LC_ALL=C sort
}

# verdict NAME OK DETAIL...: a pass or a failure.
verdict() {
  local name=$1 ok=$2
  shift 2
  if [ "$ok" = 1 ]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL $name: $*"
  fi
}

# check NAME CHANGE [EXPECTED_DIR]: in the current repository, CHANGE (shell, run in it) made
# between a snapshot and its changes; what Sidecar reports is compared with git status in
# EXPECTED_DIR (default here) after CHANGE is made there too (when it is another folder).
check() {
  local name=$1 change=$2 want_dir=${3:-.} out=$work/$1
  if ! "$S" script "$work/snap.lua" "$PWD" "$change" "$out" >"$out/got" 2>"$out/err"; then
    verdict "$name" 0 "the script failed: $(head -c 600 "$out/err")"
    return
  fi
  [ "$want_dir" = . ] || (cd "$want_dir" && sh -c "$change")
  (cd "$want_dir" && expected) >"$out/want"
  if diff "$out/want" "$out/got" >"$out/diff"; then
    verdict "$name" 1
  else
    verdict "$name" 0 "sidecar (>) and git status (<) differ: $(tr '\n' ';' <"$out/diff")"
  fi
  # The snapshot (git.0 -> git.1) and the reading of the change (git.2 -> git.3) write nothing.
  diff "$out/git.0" "$out/git.1" >"$out/gitdiff"
  diff "$out/git.2" "$out/git.3" >>"$out/gitdiff"
  if ! grep -q '^[<>]' "$out/gitdiff"; then
    verdict "$name/.git" 1
  else
    # "< path size mtime" before, "> path size mtime" after: new files and re-dated ones.
    verdict "$name/.git" 0 "$(awk '/^</ { seen[$2] = 1 } /^>/ { if (seen[$2]) changed++; else added++ }
      END { printf "%d files added, %d rewritten or re-dated", added, changed }' "$out/gitdiff") in .git," \
      "e.g. $(grep -m 2 '^>' "$out/gitdiff" | tr '\n' ';')"
  fi
}

repo new && echo a >a && commit
check new 'echo b > b'

repo modified && echo a >a && commit
check modified 'echo more >> a'

# Racy git: the same size and the same second as the commit, so stat data alone cannot tell.
repo racy && printf 'x = 1' >a && commit
check racy "printf 'x = 2' > a"

repo deleted && echo a >a && echo b >b && commit
check deleted 'rm a'

repo renamed && echo a >a && commit
check renamed 'mv a b'

repo chmod && echo a >a && commit
check chmod 'chmod +x a'

repo symlink && echo a >a && echo b >b && commit
check symlink 'rm a && ln -s b a'

repo retarget && echo b >b && echo c >c && ln -s b link && commit
check retarget 'ln -sfn c link'

repo nested && echo a >a && commit
check nested 'mkdir -p n/e/s && echo t > n/e/s/t.txt'

repo ignored && echo '*.log' >.gitignore && echo a >a && commit
check ignored 'echo noise > debug.log && mkdir -p logs && echo more > logs/x.log'

# Sidecar's own folder changes beside a real change; it is never reported, ignored or not.
repo .agent-ignored && echo '.agent/' >.gitignore && echo a >a && commit && mkdir .agent && echo 1 >.agent/config.lua
check .agent-ignored 'echo 2 >> .agent/config.lua && mkdir -p .agent/runs/R-0001 && echo x > .agent/runs/R-0001/out && echo b >> a'

repo .agent-unignored && echo a >a && commit && mkdir .agent && echo 1 >.agent/config.lua
check .agent-unignored 'echo 2 >> .agent/config.lua && mkdir -p .agent/runs/R-0001 && echo x > .agent/runs/R-0001/out && echo b >> a'

# A submodule whose checked-out commit moves: reported as modified, never entered.
mkdir -p "$work/submodule/src" && cd "$work/submodule/src" && git init -q -b main && echo 1 >s &&
  git add s && git commit -qm one && echo 2 >s && git commit -qam two
repo submodule && echo a >a && git -c protocol.file.allow=always submodule add -q ../src sub >/dev/null && commit
check submodule 'git -C sub checkout -q HEAD~1'

# Touched, not changed: the stat data moves, the content does not.
repo touched && echo a >a && commit
check touched 'touch -d "+2 seconds" a'

# Dirty before the snapshot: the answer is git status on a copy of that dirty state committed.
repo dirty && echo a >a && echo b >b && echo c >c && commit && echo a2 >>a && rm b && echo u >u && ln -s c l
cp -a . "$work/dirty/answer" && (cd "$work/dirty/answer" && commit)
check dirty 'echo a3 >> a && echo u2 >> u && echo b > b && rm c && echo v > v && ln -sfn a l' "$work/dirty/answer"

# Racy again, against the snapshot's own stat data: a change of the same size made just after
# the snapshot, in the same second (and most often the same clock tick) as the dirty state it
# saw; only the content tells them apart.
repo racy-dirty && printf 'x = 1' >a && commit && touch -d '-1 minute' a && printf 'x = 2' >a
cp -a . "$work/racy-dirty/answer" && (cd "$work/racy-dirty/answer" && commit)
check racy-dirty "printf 'x = 3' > a" "$work/racy-dirty/answer"

# libgit2 as Debian builds it parses no CA bundle (mbedTLS) and starts no libssh2 (nor OpenSSL under
# it) as it loads: those calls bind to the executable's no-ops (cli/git_tls_certificates.cpp,
# cli/git_ssh_start.cpp), as the dynamic linker reports. Skipped for a libgit2 built without the
# library (`needs`).
libgit2=$(ldconfig -p | sed -n 's/^\s*libgit2\.so\.[0-9.]* .* => //p' | head -n 1)
bound_to_sidecar() { # what needs symbols expected
  local what=$1 needs=$2 symbols=$3 expected=$4 bound
  if [ -z "$libgit2" ] || ! ldd "$libgit2" | grep -q "$needs"; then
    echo "skipped: the $what check (libgit2 here is not built with $needs)"
    return
  fi
  bound=$(cd "$work/touched/repo" &&
    LD_DEBUG=bindings "$S" -e "assert(require('sidecar.core.worktree').snapshot('.', {}))" 2>&1 >/dev/null |
    grep -c "file [^ ]*/libgit2[^ ]* .* to $S .*\($symbols\)'")
  eq "libgit2's $what binds to the executable's no-ops" "$expected" "$bound"
}
bound_to_sidecar "CA-bundle parsing" mbedx509 'mbedtls_x509_crt_parse_file\|mbedtls_x509_crt_parse_path' 2
bound_to_sidecar "start of libssh2" libssh2 'libssh2_init' 1

finish
