// libgit2, loaded on first use. Sidecar links no libgit2: the library and the eight it pulls in
// (TLS, SSH, Kerberos, PCRE, zlib, ...) would cost every start about 2 ms, while most commands
// (`sidecar -e`, `task list`, the REPL) never read a repository. The first caller that needs
// git pays for loading it once (dlopen), then every call goes through the table below.
#pragma once
#include <git2.h>
#include <git2/sys/filter.h>
#include <git2/sys/index.h>
#include <git2/sys/repository.h>

#include <memory>
#include <string>

namespace sidecar::host::git {

// The libgit2 functions Sidecar calls. Only their types come from <git2.h>: decltype does not
// reference the symbol, so nothing links against libgit2.
#define SIDECAR_GIT_FUNCTIONS(X)                                                                       \
  X(git_libgit2_init) X(git_error_last) X(git_repository_open_ext) X(git_repository_free)              \
  X(git_repository_workdir) X(git_repository_path) X(git_repository_commondir)                         \
  X(git_repository_head_unborn) X(git_repository_index) X(git_repository_hashfile)                     \
  X(git_reference_lookup) X(git_reference_free) X(git_reference_type) X(git_reference_symbolic_target) \
  X(git_reference_target) X(git_reference_resolve) X(git_reference_iterator_new)                      \
  X(git_reference_next) X(git_reference_name) X(git_reference_iterator_free) X(git_index_read)         \
  X(git_index_entrycount) X(git_index_get_byindex) X(git_index_free) X(git_index_reuc_entrycount)      \
  X(git_index_reuc_get_byindex)                                                                       \
  X(git_diff_num_deltas) X(git_diff_get_delta) X(git_diff_free) X(git_odb_hash) X(git_oid_fmt)         \
  X(git_oid_fromstr) X(git_oid_is_zero) X(git_status_list_new) X(git_status_list_entrycount)           \
  X(git_status_byindex) X(git_status_list_free) X(git_branch_upstream_name) X(git_buf_dispose)         \
  X(git_graph_ahead_behind) X(git_revwalk_new) X(git_revwalk_free) X(git_revwalk_push)                 \
  X(git_revwalk_hide) X(git_revwalk_next) X(git_revwalk_sorting) X(git_commit_lookup)                  \
  X(git_commit_summary) X(git_commit_free) X(git_reference_name_to_id) X(git_revparse_single)       \
  X(git_object_peel) X(git_object_free) X(git_merge_base) X(git_object_id)                          \
  X(git_diff_tree_to_workdir_with_index) X(git_diff_tree_to_index) X(git_diff_to_buf)               \
  X(git_diff_get_stats) X(git_diff_stats_to_buf) X(git_diff_stats_free) X(git_tree_lookup)          \
  X(git_tree_free) X(git_diff_tree_to_tree) X(git_diff_print) X(git_repository_config_snapshot)     \
  X(git_config_free) X(git_config_iterator_glob_new) X(git_config_next) X(git_config_iterator_free) \
  X(git_commit_create) X(git_signature_now) X(git_signature_free) X(git_reference_create)           \
  X(git_reference_create_matching) X(git_reference_delete) X(git_merge_trees)                       \
  X(git_index_has_conflicts) X(git_index_conflict_iterator_new) X(git_index_conflict_next)          \
  X(git_index_conflict_iterator_free) X(git_index_write_tree_to) X(git_index_write_tree)            \
  X(git_index_open) X(git_index_add_all) X(git_index_write) X(git_repository_set_index)             \
  X(git_worktree_add) X(git_worktree_free) X(git_branch_create) X(git_checkout_tree)                \
  X(git_index_read_tree) X(git_reference_symbolic_create) X(git_index_new) X(git_tree_walk)          \
  X(git_tree_entry_name) X(git_tree_entry_id) X(git_tree_entry_filemode_raw) X(git_repository_odb)   \
  X(git_odb_free) X(git_odb_read) X(git_odb_object_data) X(git_odb_object_size) X(git_odb_object_free) \
  X(git_index_add) X(git_odb_object_type) X(git_ignore_path_is_ignored) X(git_index_find)                 \
  X(git_odb_new) X(git_odb_backend_loose) X(git_odb_backend_pack) X(git_odb_add_backend) X(git_odb_exists) \
  X(git_odb_read_header) X(git_odb_write) X(git_index_remove) X(git_filter_list_load)                 \
  X(git_filter_list_length) X(git_filter_list_contains) X(git_filter_list_free) X(git_odb_open_wstream)  \
  X(git_odb_stream_write) X(git_odb_stream_finalize_write) X(git_odb_stream_free) X(git_index_get_bypath) \
  X(git_attr_get_many) X(git_attr_value)

struct Api {
#define SIDECAR_GIT_POINTER(name) decltype(&::name) name = nullptr;
  SIDECAR_GIT_FUNCTIONS(SIDECAR_GIT_POINTER)
#undef SIDECAR_GIT_POINTER
};

// The loaded library, or nullptr with `why` set (libgit2 is not installed, or lacks a function).
// Loads once per process; later calls return the same table.
const Api* api(std::string& why);

// Starts loading libgit2 on a thread of its own and returns at once: a caller that will need git
// soon (a run, a prepare) overlaps the load (about 2 ms: the library and its dependencies; in the
// sidecar executable libgit2 no longer parses the CA bundle as it starts, see
// cli/git_tls_certificates.cpp) with its other work. api() then waits for it. The load is a
// background job (background_jobs.hpp): the process's end waits for it.
void preload();

// libgit2's message for the last failure on this thread, or `fallback`.
std::string last_error(const Api& g, const char* fallback);

// Owners for libgit2 objects: each frees through the loaded table.
struct RepoFree {
  void operator()(git_repository* r) const;
};
struct IndexFree {
  void operator()(git_index* i) const;
};
struct DiffFree {
  void operator()(git_diff* d) const;
};
struct ReferenceFree {
  void operator()(git_reference* r) const;
};
struct ObjectFree {
  void operator()(git_object* o) const;
};
struct TreeFree {
  void operator()(git_tree* t) const;
};
using RepoPtr = std::unique_ptr<git_repository, RepoFree>;
using IndexPtr = std::unique_ptr<git_index, IndexFree>;
using DiffPtr = std::unique_ptr<git_diff, DiffFree>;
using ReferencePtr = std::unique_ptr<git_reference, ReferenceFree>;
using ObjectPtr = std::unique_ptr<git_object, ObjectFree>;
using TreePtr = std::unique_ptr<git_tree, TreeFree>;

// An object id as 40 lowercase hex digits.
std::string hex(const Api& g, const git_oid& id);

}  // namespace sidecar::host::git
