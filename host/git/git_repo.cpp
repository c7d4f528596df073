// Repository facts through libgit2: opening, HEAD, refs and the commits new refs bring.
#include "git/git_repo.hpp"

#include <cstdlib>
#include <cstring>

namespace sidecar::host::git {
namespace {

std::string without_slash(const char* dir) {
  std::string s = dir ? dir : "";
  while (s.size() > 1 && s.back() == '/') {
    s.pop_back();
  }
  return s;
}

bool parse_id(const Api& g, const std::string& text, git_oid& out) {
  return text.size() == GIT_OID_HEXSZ && g.git_oid_fromstr(&out, text.c_str()) == 0;
}

}  // namespace

std::unique_ptr<Repo> Repo::open(const std::string& path, std::string& why) {
  const Api* g = git::api(why);
  if (!g) {
    return nullptr;
  }
  git_repository* raw = nullptr;
  // Searching upwards, as git does; GIT_DIR and friends are honoured by libgit2 (FROM_ENV) so a
  // repository chosen by the environment is the one git would use.
  unsigned flags = std::getenv("GIT_DIR") ? GIT_REPOSITORY_OPEN_FROM_ENV : 0;
  int rc = g->git_repository_open_ext(&raw, flags ? nullptr : path.c_str(), flags, nullptr);
  if (rc == GIT_ENOTFOUND) {
    why = "not a git repository (no .git in " + path + " or above it)";
    return nullptr;
  }
  if (rc < 0) {
    why = last_error(*g, "the repository could not be opened");
    return nullptr;
  }
  return std::unique_ptr<Repo>(new Repo(g, RepoPtr(raw)));
}

std::string Repo::workdir() const { return without_slash(g_->git_repository_workdir(raw())); }
std::string Repo::gitdir() const { return without_slash(g_->git_repository_path(raw())); }
std::string Repo::commondir() const { return without_slash(g_->git_repository_commondir(raw())); }

std::optional<Head> Repo::head(std::string& why) const {
  git_reference* raw_head = nullptr;
  if (g_->git_reference_lookup(&raw_head, raw(), "HEAD") < 0) {
    why = last_error(*g_, "HEAD could not be read");
    return std::nullopt;
  }
  ReferencePtr head(raw_head);
  Head h;
  if (g_->git_reference_type(raw_head) == GIT_REFERENCE_SYMBOLIC) {
    h.ref = g_->git_reference_symbolic_target(raw_head);
  } else {
    h.detached = true;
  }
  git_oid id;
  if (g_->git_reference_name_to_id(&id, raw(), "HEAD") == 0) {
    h.id = hex(*g_, id);
  }
  return h;
}

std::optional<std::map<std::string, std::string>> Repo::refs(std::string& why) const {
  git_reference_iterator* it = nullptr;
  if (g_->git_reference_iterator_new(&it, raw()) < 0) {
    why = last_error(*g_, "the refs could not be listed");
    return std::nullopt;
  }
  std::map<std::string, std::string> out;
  git_reference* ref = nullptr;
  int rc;
  while ((rc = g_->git_reference_next(&ref, it)) == 0) {
    ReferencePtr owned(ref);
    const char* name = g_->git_reference_name(ref);
    bool wanted = std::strncmp(name, "refs/", 5) == 0;  // every namespace: heads, tags, notes, stash, custom
    const git_oid* id = g_->git_reference_target(ref);  // null for a symbolic ref
    if (wanted && id) {
      out[name] = hex(*g_, *id);
    }
  }
  g_->git_reference_iterator_free(it);
  if (rc != GIT_ITEROVER) {
    why = last_error(*g_, "the refs could not be read");
    return std::nullopt;
  }
  return out;
}

std::optional<std::set<std::string>> Repo::tracked(const std::vector<std::string>& paths, std::string& why) const {
  git_index* raw_index = nullptr;
  if (g_->git_repository_index(&raw_index, raw()) < 0) {
    why = last_error(*g_, "the index could not be read");
    return std::nullopt;
  }
  IndexPtr index(raw_index);
  const std::set<std::string> wanted(paths.begin(), paths.end());
  std::set<std::string> out;
  const std::size_t n = g_->git_index_entrycount(raw_index);
  for (std::size_t i = 0; i < n && out.size() < wanted.size(); ++i) {
    std::string path = g_->git_index_get_byindex(raw_index, i)->path;
    for (;;) {  // the file, then each folder above it
      if (wanted.count(path)) out.insert(path);
      const std::size_t slash = path.rfind('/');
      if (slash == std::string::npos) break;
      path.resize(slash);
    }
  }
  return out;
}

std::optional<std::vector<Commit>> Repo::new_commits(const std::vector<std::string>& tips,
                                                     const std::vector<std::string>& hidden, std::size_t limit,
                                                     std::string& why) const {
  git_revwalk* raw_walk = nullptr;
  if (g_->git_revwalk_new(&raw_walk, raw()) < 0) {
    why = last_error(*g_, "the history could not be walked");
    return std::nullopt;
  }
  struct Closer {
    const Api* g;
    git_revwalk* w;
    ~Closer() { g->git_revwalk_free(w); }
  } closer{g_, raw_walk};
  g_->git_revwalk_sorting(raw_walk, GIT_SORT_TIME | GIT_SORT_TOPOLOGICAL);
  git_oid id;
  for (const auto& t : tips) {
    if (!parse_id(*g_, t, id) || g_->git_revwalk_push(raw_walk, &id) < 0) {
      why = "not a commit: " + t;
      return std::nullopt;
    }
  }
  for (const auto& h : hidden) {
    // A hidden id that is not a commit (an annotated tag of a tree, a ref since deleted) hides
    // nothing: skipping it is what `git log ^id` would refuse, but there is nothing to hide.
    if (parse_id(*g_, h, id)) {
      g_->git_revwalk_hide(raw_walk, &id);
    }
  }
  std::vector<Commit> out;
  while (out.size() < limit && g_->git_revwalk_next(&id, raw_walk) == 0) {
    git_commit* c = nullptr;
    Commit commit{hex(*g_, id), ""};
    if (g_->git_commit_lookup(&c, raw(), &id) == 0) {
      const char* s = g_->git_commit_summary(c);
      commit.subject = s ? s : "";
      g_->git_commit_free(c);
    }
    out.push_back(std::move(commit));
  }
  return out;
}

std::optional<std::vector<std::pair<std::string, std::string>>> Repo::config_values(const std::string& pattern,
                                                                                     std::string& why) const {
  git_config* cfg = nullptr;
  if (g_->git_repository_config_snapshot(&cfg, raw()) < 0) {
    why = last_error(*g_, "the configuration could not be read");
    return std::nullopt;
  }
  git_config_iterator* it = nullptr;
  if (g_->git_config_iterator_glob_new(&it, cfg, pattern.c_str()) < 0) {
    why = last_error(*g_, "not a regular expression");
    g_->git_config_free(cfg);
    return std::nullopt;
  }
  std::vector<std::pair<std::string, std::string>> out;
  git_config_entry* entry = nullptr;
  while (g_->git_config_next(&entry, it) == 0) {
    out.emplace_back(entry->name, entry->value ? entry->value : "");
  }
  g_->git_config_iterator_free(it);
  g_->git_config_free(cfg);
  return out;
}

}  // namespace sidecar::host::git
