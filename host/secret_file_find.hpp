// Finding the secret files of a folder tree (the repository a sandboxed run can see), so that the
// sandbox can hide them: each file and folder the secret-file rules name (host/secrets.hpp:
// `.env*`, private keys, `.npmrc`, `.ssh/`...). Folders are read with openat relative to their own
// descriptor; links are never followed; VCS folders and the named folders are not entered.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace sidecar::host {

struct SecretFileSearch {
  std::vector<std::string> files;    // absolute paths of secret files (and links)
  std::vector<std::string> folders;  // absolute paths of folders whose every file is secret (.ssh)
  std::size_t entries = 0;           // entries looked at
  bool capped = false;               // stopped at max_entries or the deadline: the lists are partial
};

// Looks through `top` (absolute). `skip` names folders never entered, by name ("node_modules") or
// by path relative to `top` (".agent/runs"); `.git`, `.hg` and `.svn` are never entered either.
SecretFileSearch find_secret_files(const std::string& top, const std::vector<std::string>& skip,
                                   std::size_t max_entries, int64_t deadline_ns);

}  // namespace sidecar::host
