// What a commit, a tree or a tag names (see git_object_names.hpp).
#include "git/git_object_names.hpp"

#include <cstring>
#include <string>

namespace sidecar::host::git {
namespace {

bool parse_hex(const Api& g, const char* at, std::size_t left, git_oid& out) {
  if (left < GIT_OID_HEXSZ) return false;
  std::string text(at, GIT_OID_HEXSZ);
  return text.find_first_not_of("0123456789abcdef") == std::string::npos && g.git_oid_fromstr(&out, text.c_str()) == 0;
}

}  // namespace

bool commit_names(const Api& g, const char* data, std::size_t size, std::vector<Named>& out) {
  std::size_t at = 0;
  bool tree = false;
  while (true) {
    const char* key = tree ? "parent " : "tree ";
    std::size_t n = std::strlen(key);
    if (size - at < n || std::memcmp(data + at, key, n) != 0) break;
    Named named{{}, tree ? GIT_OBJECT_COMMIT : GIT_OBJECT_TREE};
    if (!parse_hex(g, data + at + n, size - at - n, named.id) || size - at - n - GIT_OID_HEXSZ < 1 ||
        data[at + n + GIT_OID_HEXSZ] != '\n') {
      return false;
    }
    out.push_back(named);
    at += n + GIT_OID_HEXSZ + 1;
    tree = true;
  }
  return tree;
}

bool tree_names(const char* data, std::size_t size, std::vector<Named>& out) {
  std::size_t at = 0;
  while (at < size) {
    const char* space = static_cast<const char*>(std::memchr(data + at, ' ', size - at));
    const char* nul = space ? static_cast<const char*>(std::memchr(space, '\0', size - (space - data))) : nullptr;
    if (!nul || space == data + at || std::size_t(data + size - (nul + 1)) < GIT_OID_RAWSZ) return false;
    unsigned mode = 0;
    for (const char* c = data + at; c < space; ++c) {
      if (*c < '0' || *c > '7' || mode > 0777777) return false;
      mode = mode * 8 + unsigned(*c - '0');
    }
    Named named{{}, GIT_OBJECT_BLOB};
    std::memcpy(named.id.id, nul + 1, GIT_OID_RAWSZ);
    at = std::size_t(nul + 1 - data) + GIT_OID_RAWSZ;
    switch (mode & 0170000) {
      case 0040000: named.type = GIT_OBJECT_TREE; break;
      case 0100000:
      case 0120000: break;
      case 0160000: continue;
      default: return false;
    }
    out.push_back(named);
  }
  return true;
}

bool tag_names(const Api& g, const char* data, std::size_t size, std::vector<Named>& out) {
  static const char kObject[] = "object ";
  const std::size_t n = sizeof kObject - 1;
  Named named{{}, GIT_OBJECT_INVALID};
  if (size < n || std::memcmp(data, kObject, n) != 0 || !parse_hex(g, data + n, size - n, named.id)) return false;
  std::size_t at = n + GIT_OID_HEXSZ + 1;
  static const struct {
    const char* line;
    git_object_t type;
  } kinds[] = {{"type commit\n", GIT_OBJECT_COMMIT}, {"type tree\n", GIT_OBJECT_TREE},
               {"type blob\n", GIT_OBJECT_BLOB}, {"type tag\n", GIT_OBJECT_TAG}};
  for (const auto& k : kinds) {
    const std::size_t len = std::strlen(k.line);
    if (size >= at + len && std::memcmp(data + at, k.line, len) == 0) named.type = k.type;
  }
  if (named.type == GIT_OBJECT_INVALID) return false;
  out.push_back(named);
  return true;
}

}  // namespace sidecar::host::git
