// What writing runs ask of git, in-process through libgit2 (no `git` process): trees of a work
// tree, commits, branches moved by compare-and-swap, diffs and patches between trees, three-way
// merges, and the worktrees runs work in. Failures are std::nullopt/false with `why` set.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "git/git_repo.hpp"

namespace sidecar::host::git {

// Where `dir` lies in its repository: the top of the work tree (a real path, as
// `git rev-parse --show-toplevel` prints it) and `dir` below it ("" or "sub/dir/").
struct Top {
  std::string top, prefix;
};
std::optional<Top> top_of(const std::string& dir, std::string& why);

// The id of the object `rev` names, peeled to `type` (GIT_OBJECT_TREE: `rev^{tree}`).
std::optional<std::string> peel(const Repo& r, const std::string& rev, git_object_t type, std::string& why);

// A new commit of `tree` with `parent` (none when empty) by "Sidecar <sidecar@localhost>", as
// `git commit-tree -m` makes it (the message ends with a newline), never signed.
std::optional<std::string> commit(const Repo& r, const std::string& tree, const std::string& parent,
                                  const std::string& message, std::string& why);

// Points the ref `name` at `id`. `old`: nullptr, whatever it points at now; "", only when there
// is no such ref yet; an id, only when it points there now (a compare-and-swap).
bool set_ref(const Repo& r, const std::string& name, const std::string& id, const std::string* old,
             std::string& why);
// Deletes the ref `name` when it points at `old`.
bool delete_ref(const Repo& r, const std::string& name, const std::string& old, std::string& why);

struct NameStatus {
  std::string path;
  char status;  // A, M, D, T as `git diff-tree --name-status` prints them
};
// The files that differ between two trees, sorted by path (no rename detection).
std::optional<std::vector<NameStatus>> diff_files(const Repo& r, const std::string& from, const std::string& to,
                                                  std::string& why);

// `git diff-tree -r -p --binary --full-index --no-renames` from tree `from` to `to`: text that
// `git apply` takes. Longer than max_bytes, or with a file (before or after) larger than that,
// which is then never read to make it: the text is empty and `cut` is set.
struct Patch {
  std::string text;
  bool cut = false;
};
std::optional<Patch> patch(const Repo& r, const std::string& from, const std::string& to, std::size_t max_bytes,
                           std::string& why);

// The symbolic links of tree `tree` (mode 120000, at any depth), each with its target (the
// blob's bytes, as `git cat-file blob` prints them), sorted by path.
struct Link {
  std::string path, target;
};
std::optional<std::vector<Link>> tree_links(const Repo& r, const std::string& tree, std::string& why);

// Three ways: the change from tree `base` to `theirs` onto `ours` (renames followed). Either the
// merged tree (written into the object store) or the conflicting paths, sorted.
struct Merge {
  std::string tree;
  std::vector<std::string> conflicts;
};
std::optional<Merge> merge(const Repo& r, const std::string& base, const std::string& ours, const std::string& theirs,
                           std::string& why);

// An untracked file a tree snapshot left out, as it was then (lstat).
struct LeftOut {
  std::string path;  // relative to the top of the work tree
  std::int64_t size = 0;
  std::int64_t mtime_ns = 0;
  std::string reason;  // "secret": the secret-file rules name it; "" for a large file (or one of leave_out)
};

// A tree object of every file in the work tree of `dir` as it is now (`git add --all` into a
// private copy of the index, then `git write-tree`): files under `exclude` (paths relative to
// the top) and ignored files left out. The repository's own index is never written. With
// `keep_index`, the private index (each file with its stat data) is written to that path. A
// large file is streamed into its blob, never held whole (host/git/git_blob_stream.hpp).
// Untracked files are left out, never hashed nor written into the repository, and listed in
// the result's left_out, when the secret-file rules name them (host/secrets/secrets.hpp: .env, a
// private key, credentials; files and links, reason "secret"; a tracked one is the user's choice
// and stays), when they are regular files larger than `max_untracked_bytes` (0: no limit), or
// when they match an entry of `leave_out` (same path, size and modification time: a file left
// out before and unchanged since).
struct TreeSnapshotOptions {
  std::vector<std::string> exclude;
  std::string keep_index;
  std::int64_t deadline_ns = 0;  // CLOCK_MONOTONIC; 0: none
  std::int64_t max_untracked_bytes = 0;
  std::vector<LeftOut> leave_out;
  bool leave_out_secrets = true;
};
struct TreeSnapshot {
  std::string head, head_tree, tree;  // head and head_tree empty when there are no commits
  std::vector<LeftOut> left_out;      // in the order libgit2 reads the work tree
};
std::optional<TreeSnapshot> tree_snapshot(const std::string& dir, const TreeSnapshotOptions& o, std::string& why);

// Worktrees (git_worktree.cpp) ----------------------------------------------------------------

// `git worktree add --no-checkout PATH BRANCH` (existing) or `-b BRANCH PATH START`. Returns the
// worktree's admin folder (.git/worktrees/NAME). Nothing is left behind on a failure.
struct WorktreeSpec {
  std::string path, branch, start;
  bool existing = false;
};
std::optional<std::string> worktree_add(const Repo& main, const WorktreeSpec& spec, std::string& why);

// Makes the files and index of the work tree at `path` exactly `tree`. kForce: `git read-tree
// --reset -u` (only files whose id or stat differ from the index are written), then with
// `clean` every untracked and ignored file removed. kFromHead: `git read-tree -m -u HEAD tree`
// (refuses, writing nothing, when a file it would change was changed locally).
enum class Checkout { kForce, kFromHead };
bool checkout(const std::string& path, const std::string& tree, Checkout how, bool clean, std::string& why);

// The cold case of kForce (git_checkout.cpp): `tree` written into the work tree of `r`, which
// holds nothing but its .git file and has an empty `index`, by a few threads, then the index
// made from the files' stat data and written. kUnsuitable (nothing written): the folder or index
// is not empty, or git would filter the files (attributes, core.autocrlf), so the caller uses
// libgit2's checkout. kFailed: `why` says what; files may be left (the caller removes them).
// A tree holding a path git refuses (`..`, `.git` in any case, a name twice) is refused.
enum class FreshCheckout { kDone, kUnsuitable, kFailed };
FreshCheckout checkout_fresh(const Repo& r, git_index* index, const git_oid& tree, std::string& why);

// `git clean -ffdx` at the top of the work tree `path`: every file and folder its index does not
// name goes (ignored ones, nested repositories); a tracked submodule's folder is kept whole.
bool clean(const std::string& path, std::string& why);

// Writes tree `to` into the work tree of `dir`, whose files were tree `from` as the private
// index at `index_path` describes them: only the files that differ, after checking every one
// of them is unchanged since (else nothing is written: `why` names them). The repository's
// own index is not touched.
bool write_files(const std::string& dir, const std::string& index_path, const std::string& from,
                 const std::string& to, std::string& why);

// A linked worktree's admin folder, from the "gitdir:" line of PATH/.git ("" when none).
std::string admin_dir(const std::string& path);

// `git worktree remove --force --force`: the linked worktree's folder and its admin folder go.
// Refuses a folder that is not a linked worktree of `main`'s repository.
bool worktree_remove(const Repo& main, const std::string& path, std::string& why);

// `git worktree prune` of one record: the admin folder `admin` (a linked worktree's git folder,
// directly under `main`'s worktrees folder) leaves git's list at once and is deleted; the
// worktree's own folder is left alone. Refuses any other folder.
bool worktree_forget(const Repo& main, const std::string& admin, std::string& why);

// `rm -rf path` (a symlink is removed, never followed). True when nothing is left there.
bool remove_all(const std::string& path);

}  // namespace sidecar::host::git
