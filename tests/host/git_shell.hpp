// Shell helpers for the tests that check host/git/git_* against the git program on the same trees.
#pragma once
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace sidecar::test {

// Runs a shell script in `dir` with a fixed identity; the test fails if it fails.
inline void sh(const std::string& dir, const std::string& script) {
  std::string cmd = "cd '" + dir + "' && export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@t GIT_COMMITTER_NAME=t "
                    "GIT_COMMITTER_EMAIL=t@t && { " + script + "; } >/dev/null 2>&1";
  INFO(script);
  REQUIRE(std::system(cmd.c_str()) == 0);
}

// What a shell script in `dir` prints on stdout (its stderr dropped).
inline std::string shell_out(const std::string& dir, const std::string& script) {
  std::string cmd = "cd '" + dir + "' && { " + script + "; } 2>/dev/null";
  std::string out;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[4096];
    std::size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    pclose(p);
  }
  return out;
}

inline std::string git_out(const std::string& dir, const std::string& args) {
  return shell_out(dir, "git " + args);
}

inline std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

}  // namespace sidecar::test
