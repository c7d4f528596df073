// A fresh folder under /tmp for one test, removed with everything in it at the end.
#pragma once
#include <stdlib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>

namespace sidecar::test {

struct TempDir {
  std::string path;
  explicit TempDir(const std::string& label = "test") {
    std::string pattern = "/tmp/sidecar-" + label + "-XXXXXX";
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string db() const { return path + "/sidecar.db"; }
};

}  // namespace sidecar::test
