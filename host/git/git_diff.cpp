// `git diff` through libgit2: the files that differ between a revision and the work tree, the
// index or another revision, with the patch text and the `--stat` summary a review prompt shows.
// Nothing is written: no objects, no index.
#include <cstring>

#include "git/git_repo.hpp"

namespace sidecar::host::git {
namespace {

struct Tree {
  const Api& g;
  git_tree* tree = nullptr;  // null: the empty tree (an unborn HEAD)
  ~Tree() {
    if (tree) g.git_tree_free(tree);
  }
};

// The commit a revision names, or false with `why`.
bool commit_id(const Api& g, git_repository* repo, const std::string& rev, git_oid& out, std::string& why) {
  git_object* obj = nullptr;
  if (g.git_revparse_single(&obj, repo, (rev + "^{commit}").c_str()) < 0) {
    why = "unknown revision " + rev + " (" + last_error(g, "not a commit") + ")";
    return false;
  }
  out = *g.git_object_id(obj);
  g.git_object_free(obj);
  return true;
}

// The tree `rev` names into `t.tree`: a revision, or "A...B" for the merge base of A and B (an
// empty side is HEAD). An unborn HEAD is the empty tree. False with `why` when there is none.
bool resolve_tree(const Api& g, git_repository* repo, std::string rev, Tree& t, std::string& why) {
  std::size_t dots = rev.find("...");
  if (dots != std::string::npos) {
    std::string a = rev.substr(0, dots), b = rev.substr(dots + 3);
    git_oid ia, ib, base;
    if (!commit_id(g, repo, a.empty() ? "HEAD" : a, ia, why) || !commit_id(g, repo, b.empty() ? "HEAD" : b, ib, why)) {
      return false;
    }
    if (g.git_merge_base(&base, repo, &ia, &ib) < 0) {
      why = "no merge base of " + (a.empty() ? "HEAD" : a) + " and " + (b.empty() ? "HEAD" : b);
      return false;
    }
    rev = hex(g, base);
  } else if (rev == "HEAD" && g.git_repository_head_unborn(repo) == 1) {
    return true;
  }
  git_object* obj = nullptr;
  if (g.git_revparse_single(&obj, repo, (rev + "^{tree}").c_str()) < 0) {
    why = "unknown revision " + rev + " (" + last_error(g, "not a tree") + ")";
    return false;
  }
  t.tree = reinterpret_cast<git_tree*>(obj);
  return true;
}

bool excluded(const std::vector<std::string>& exclude, const char* path) {
  for (const auto& e : exclude) {
    std::size_t n = e.size();
    if (std::strncmp(path, e.c_str(), n) == 0 && (path[n] == '\0' || path[n] == '/' || (n && e[n - 1] == '/'))) {
      return true;
    }
  }
  return false;
}

// libgit2 asks before it adds each file to the diff: a positive answer leaves it out.
int skip_excluded(const git_diff*, const git_diff_delta* delta, const char*, void* payload) {
  const auto& exclude = *static_cast<const std::vector<std::string>*>(payload);
  return excluded(exclude, delta->new_file.path) || excluded(exclude, delta->old_file.path) ? 1 : 0;
}

const char* change_name(git_delta_t status) {
  switch (status) {
    case GIT_DELTA_ADDED: return "added";
    case GIT_DELTA_DELETED: return "deleted";
    case GIT_DELTA_TYPECHANGE: return "type_changed";
    default: return "modified";
  }
}

struct PatchText {
  std::string text;
  std::size_t max;
  bool cut = false;
};

// Appends one line of the patch; stops the walk once the text is as long as allowed.
int add_line(const git_diff_delta*, const git_diff_hunk*, const git_diff_line* line, void* payload) {
  auto& p = *static_cast<PatchText*>(payload);
  std::string piece;
  if (line->origin == GIT_DIFF_LINE_CONTEXT || line->origin == GIT_DIFF_LINE_ADDITION ||
      line->origin == GIT_DIFF_LINE_DELETION) {
    piece += line->origin;
  }
  piece.append(line->content, line->content_len);
  if (p.text.size() + piece.size() > p.max) {
    p.text.append(piece, 0, p.max - p.text.size());
    p.cut = true;
    return 1;
  }
  p.text += piece;
  return 0;
}

std::string stat_text(const Api& g, git_diff* diff) {
  git_diff_stats* stats = nullptr;
  std::string out;
  if (g.git_diff_get_stats(&stats, diff) == 0) {
    git_buf buf = {nullptr, 0, 0};
    if (g.git_diff_stats_to_buf(&buf, stats, GIT_DIFF_STATS_FULL, 80) == 0 && buf.ptr) {
      out.assign(buf.ptr, buf.size);
    }
    g.git_buf_dispose(&buf);
    g.git_diff_stats_free(stats);
  }
  while (!out.empty() && out.back() == '\n') {
    out.pop_back();
  }
  return out;
}

}  // namespace

std::optional<DiffResult> Repo::diff(const DiffRequest& r, std::string& why) const {
  const Api& g = *g_;
  Tree from{g}, to{g};
  bool to_tree = !r.to.empty() && r.to != ":index";
  if (!resolve_tree(g, raw(), r.from, from, why) || (to_tree && !resolve_tree(g, raw(), r.to, to, why))) {
    return std::nullopt;
  }
  git_diff_options opts = GIT_DIFF_OPTIONS_INIT;
  opts.notify_cb = skip_excluded;
  opts.payload = const_cast<std::vector<std::string>*>(&r.exclude);
  git_diff* raw_diff = nullptr;
  int rc;
  if (to_tree) {
    rc = g.git_diff_tree_to_tree(&raw_diff, raw(), from.tree, to.tree, &opts);
  } else if (r.to == ":index") {
    rc = g.git_diff_tree_to_index(&raw_diff, raw(), from.tree, nullptr, &opts);
  } else {
    rc = g.git_diff_tree_to_workdir_with_index(&raw_diff, raw(), from.tree, &opts);
  }
  if (rc < 0) {
    why = last_error(g, "the diff could not be read");
    return std::nullopt;
  }
  DiffPtr diff(raw_diff);
  DiffResult out;
  for (std::size_t i = 0, n = g.git_diff_num_deltas(raw_diff); i < n; ++i) {
    const git_diff_delta* d = g.git_diff_get_delta(raw_diff, i);
    const char* path = d->status == GIT_DELTA_DELETED ? d->old_file.path : d->new_file.path;
    out.files.push_back({path, change_name(d->status), false});
  }
  if (r.patch) {
    PatchText p{"", r.max_patch_bytes};
    rc = g.git_diff_print(raw_diff, GIT_DIFF_FORMAT_PATCH, add_line, &p);
    if (rc < 0 && !p.cut) {
      why = last_error(g, "the patch could not be made");
      return std::nullopt;
    }
    out.patch = std::move(p.text);
    out.patch_cut = p.cut;
  }
  if (r.stat) {
    out.stat = stat_text(g, raw_diff);
  }
  return out;
}

}  // namespace sidecar::host::git
