// What the embedding tests share: a fresh git repository for an agent to work in, and the options of
// a Host that runs agents under the sidecar binary of this build.
#pragma once
#include <cstdlib>
#include <string>

#include <catch2/catch.hpp>
#include <sidecar/sidecar.hpp>

#include "temp_dir.hpp"

namespace sidecar::test {

inline bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// `dir`/repo, a new git repository.
inline std::string git_repo(const TempDir& dir) {
  std::string repo = dir.path + "/repo";
  REQUIRE(std::system(("git init -q '" + repo + "'").c_str()) == 0);
  return repo;
}

// A Host's options that name this build's sidecar binary.
inline sidecar::HostOptions agent_options() {
  sidecar::HostOptions options;
  options.sidecar_binary = SIDECAR_TEST_BINARY;
  return options;
}

}  // namespace sidecar::test
