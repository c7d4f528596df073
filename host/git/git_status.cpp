// `git status --short --branch` through libgit2: the branch line (with its upstream and how far
// ahead and behind), then the changes sorted by path, then untracked files and folders, each
// path quoted as git quotes it.
#include <cstdio>
#include <cstring>

#include "git/git_repo.hpp"

namespace sidecar::host::git {
namespace {

// A path as git prints it: in double quotes with C escapes when it holds a control character,
// a quote, a backslash, a space or a byte past ASCII (core.quotePath's default).
std::string quoted(const char* path) {
  std::string s = path ? path : "";
  bool plain = true;
  for (unsigned char c : s) {
    if (c < 0x21 || c >= 0x7f || c == '"' || c == '\\') {
      plain = false;
    }
  }
  if (plain) {
    return s;
  }
  static const char* const named = "\a\b\t\n\v\f\r";
  static const char* const letters = "abtnvfr";
  std::string out = "\"";
  for (unsigned char c : s) {
    const char* n = c ? std::strchr(named, c) : nullptr;
    if (n) {
      out += '\\';
      out += letters[n - named];
    } else if (c == '"' || c == '\\') {
      out += '\\';
      out += char(c);
    } else if (c < 0x20 || c >= 0x7f) {
      char oct[5];
      std::snprintf(oct, sizeof oct, "\\%03o", c);
      out += oct;
    } else {
      out += char(c);
    }
  }
  return out + "\"";
}

char index_letter(unsigned s) {
  if (s & GIT_STATUS_INDEX_NEW) return 'A';
  if (s & GIT_STATUS_INDEX_MODIFIED) return 'M';
  if (s & GIT_STATUS_INDEX_DELETED) return 'D';
  if (s & GIT_STATUS_INDEX_RENAMED) return 'R';
  if (s & GIT_STATUS_INDEX_TYPECHANGE) return 'T';
  return ' ';
}

char work_letter(unsigned s) {
  if (s & GIT_STATUS_WT_MODIFIED) return 'M';
  if (s & GIT_STATUS_WT_DELETED) return 'D';
  if (s & GIT_STATUS_WT_TYPECHANGE) return 'T';
  if (s & GIT_STATUS_WT_RENAMED) return 'R';
  return ' ';
}

// A tracked path's change: its XY letters, its path and, for a staged rename, where it came from.
StatusEntry change_entry(const git_status_entry& e) {
  std::string xy = (e.status & GIT_STATUS_CONFLICTED) ? "UU" : std::string{index_letter(e.status), work_letter(e.status)};
  const git_diff_delta* staged = e.head_to_index;
  const git_diff_delta* work = e.index_to_workdir;
  if (staged && (e.status & GIT_STATUS_INDEX_RENAMED)) {
    return {xy, staged->new_file.path, staged->old_file.path};
  }
  const char* path = work ? work->new_file.path : staged ? staged->new_file.path : "";
  return {xy, path, ""};
}

// One line for a tracked path's change: "XY path", or "R  old -> new" for a staged rename.
std::string change_line(const git_status_entry& e) {
  StatusEntry s = change_entry(e);
  if (!s.from.empty()) {
    return s.xy + " " + quoted(s.from.c_str()) + " -> " + quoted(s.path.c_str()) + "\n";
  }
  return s.xy + " " + quoted(s.path.c_str()) + "\n";
}

git_status_options status_options(unsigned extra_flags) {
  git_status_options opts = GIT_STATUS_OPTIONS_INIT;
  opts.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR;
  opts.flags = GIT_STATUS_OPT_INCLUDE_UNTRACKED | GIT_STATUS_OPT_RENAMES_HEAD_TO_INDEX |
               GIT_STATUS_OPT_SORT_CASE_SENSITIVELY | extra_flags;
  return opts;
}

// Walks the status list git would print: tracked changes (each to `change`), then untracked paths.
template <typename Change, typename Untracked>
bool walk_status(const Repo& r, unsigned extra_flags, Change change, Untracked untracked, std::string& why) {
  const Api& g = r.api();
  git_status_options opts = status_options(extra_flags);
  git_status_list* list = nullptr;
  if (g.git_status_list_new(&list, r.raw(), &opts) < 0) {
    why = last_error(g, "git status could not be read");
    return false;
  }
  for (std::size_t i = 0, n = g.git_status_list_entrycount(list); i < n; ++i) {
    const git_status_entry* e = g.git_status_byindex(list, i);
    if (e->status == GIT_STATUS_WT_NEW) {
      untracked(e->index_to_workdir->new_file.path);
    } else if (!(e->status & GIT_STATUS_IGNORED) && e->status != GIT_STATUS_CURRENT) {
      change(*e);
    }
  }
  g.git_status_list_free(list);
  return true;
}

// The first line: "## main...origin/main [ahead 1, behind 2]", "## HEAD (no branch)", or
// "## No commits yet on main".
std::string branch_line(const Repo& r, const Head& h) {
  const Api& g = r.api();
  if (h.detached) {
    return "## HEAD (no branch)\n";
  }
  std::string name = h.ref.rfind("refs/heads/", 0) == 0 ? h.ref.substr(11) : h.ref;
  if (h.id.empty()) {
    return "## No commits yet on " + name + "\n";
  }
  std::string line = "## " + name;
  git_buf upstream = {nullptr, 0, 0};
  if (g.git_branch_upstream_name(&upstream, r.raw(), h.ref.c_str()) == 0) {
    std::string up = upstream.ptr ? upstream.ptr : "";
    g.git_buf_dispose(&upstream);
    git_oid local, remote;
    std::string shown = up.rfind("refs/remotes/", 0) == 0 ? up.substr(13) : up.rfind("refs/heads/", 0) == 0 ? up.substr(11) : up;
    line += "..." + shown;
    if (g.git_reference_name_to_id(&remote, r.raw(), up.c_str()) < 0) {
      line += " [gone]";
    } else if (g.git_oid_fromstr(&local, h.id.c_str()) == 0) {
      std::size_t ahead = 0, behind = 0;
      if (g.git_graph_ahead_behind(&ahead, &behind, r.raw(), &local, &remote) == 0 && (ahead || behind)) {
        line += " [";
        if (ahead) line += "ahead " + std::to_string(ahead);
        if (ahead && behind) line += ", ";
        if (behind) line += "behind " + std::to_string(behind);
        line += "]";
      }
    }
  }
  return line + "\n";
}

}  // namespace

std::optional<std::string> Repo::status_short(std::string& why) const {
  auto h = head(why);
  if (!h) {
    return std::nullopt;
  }
  std::string changes, untracked;
  bool ok = walk_status(
      *this, 0, [&](const git_status_entry& e) { changes += change_line(e); },
      [&](const char* path) { untracked += "?? " + quoted(path) + "\n"; }, why);
  if (!ok) {
    return std::nullopt;
  }
  return branch_line(*this, *h) + changes + untracked;
}

std::optional<std::vector<StatusEntry>> Repo::status_entries(std::string& why) const {
  std::vector<StatusEntry> changes, untracked;
  bool ok = walk_status(
      *this, GIT_STATUS_OPT_RECURSE_UNTRACKED_DIRS, [&](const git_status_entry& e) { changes.push_back(change_entry(e)); },
      [&](const char* path) { untracked.push_back({"??", path, ""}); }, why);
  if (!ok) {
    return std::nullopt;
  }
  changes.insert(changes.end(), untracked.begin(), untracked.end());
  return changes;
}

}  // namespace sidecar::host::git
