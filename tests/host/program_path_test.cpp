#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "process/program_path.hpp"

using sidecar::host::build_environment;
using sidecar::host::environment_value;
using sidecar::host::resolve_program;
using sidecar::host::SpawnError;

namespace {

using Changes = std::vector<std::pair<std::string, std::optional<std::string>>>;

// How many entries of `env` name `name`.
std::size_t count_named(const std::vector<std::string>& env, const std::string& name) {
  return static_cast<std::size_t>(std::count_if(env.begin(), env.end(), [&](const std::string& e) {
    return e.compare(0, name.size() + 1, name + "=") == 0;
  }));
}

// A variable of this process for the length of a test.
struct ScopedEnv {
  std::string name;
  ScopedEnv(std::string n, const char* value) : name(std::move(n)) { setenv(name.c_str(), value, 1); }
  ~ScopedEnv() { unsetenv(name.c_str()); }
};

// A temporary directory holding: prog (executable), noexec (a plain file), adir/ (a directory),
// and bin/tool (executable), removed with everything in it.
struct ProgramDir {
  std::string path;
  ProgramDir() {
    char pattern[] = "/tmp/sidecar-program-path-XXXXXX";
    REQUIRE(mkdtemp(pattern) != nullptr);
    path = pattern;
    write_file("prog", 0755);
    write_file("noexec", 0644);
    REQUIRE(mkdir((path + "/adir").c_str(), 0755) == 0);
    REQUIRE(mkdir((path + "/bin").c_str(), 0755) == 0);
    write_file("bin/tool", 0755);
  }
  ~ProgramDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  void write_file(const std::string& name, mode_t mode) {
    std::string file = path + "/" + name;
    std::ofstream(file) << "#!/bin/sh\nexit 0\n";
    REQUIRE(chmod(file.c_str(), mode) == 0);
  }
};

}  // namespace

TEST_CASE("program_path: build_environment starts from the parent's environment", "[program_path]") {
  ScopedEnv inherited("SIDECAR_TEST_INHERITED", "from parent");
  std::vector<std::string> env = build_environment({}, false);
  CHECK(environment_value(env, "SIDECAR_TEST_INHERITED") == std::optional<std::string>("from parent"));
  CHECK(count_named(env, "SIDECAR_TEST_INHERITED") == 1);
}

TEST_CASE("program_path: build_environment sets a new variable", "[program_path]") {
  unsetenv("SIDECAR_TEST_NEW");
  std::vector<std::string> env = build_environment({{"SIDECAR_TEST_NEW", "1"}}, false);
  CHECK(std::find(env.begin(), env.end(), "SIDECAR_TEST_NEW=1") != env.end());
  CHECK(environment_value(env, "SIDECAR_TEST_NEW") == std::optional<std::string>("1"));
  // An empty value is set, not removed.
  env = build_environment({{"SIDECAR_TEST_NEW", ""}}, false);
  CHECK(environment_value(env, "SIDECAR_TEST_NEW") == std::optional<std::string>(""));
}

TEST_CASE("program_path: build_environment overrides an inherited variable in place", "[program_path]") {
  ScopedEnv old("SIDECAR_TEST_OVERRIDE", "old");
  std::vector<std::string> env = build_environment({{"SIDECAR_TEST_OVERRIDE", "new=value"}}, false);
  CHECK(environment_value(env, "SIDECAR_TEST_OVERRIDE") == std::optional<std::string>("new=value"));
  CHECK(count_named(env, "SIDECAR_TEST_OVERRIDE") == 1);
  // A name that is a prefix of another is a different variable.
  ScopedEnv longer("SIDECAR_TEST_OVERRIDE_LONGER", "kept");
  env = build_environment({{"SIDECAR_TEST_OVERRIDE", "x"}}, false);
  CHECK(environment_value(env, "SIDECAR_TEST_OVERRIDE_LONGER") == std::optional<std::string>("kept"));
}

TEST_CASE("program_path: build_environment removes a variable with nullopt", "[program_path]") {
  ScopedEnv doomed("SIDECAR_TEST_REMOVE", "here");
  std::vector<std::string> env = build_environment({{"SIDECAR_TEST_REMOVE", std::nullopt}}, false);
  CHECK_FALSE(environment_value(env, "SIDECAR_TEST_REMOVE").has_value());
  CHECK(count_named(env, "SIDECAR_TEST_REMOVE") == 0);
  // Removing what is not there is no error.
  env = build_environment({{"SIDECAR_TEST_NEVER_SET", std::nullopt}}, false);
  CHECK(count_named(env, "SIDECAR_TEST_NEVER_SET") == 0);
}

TEST_CASE("program_path: build_environment applies changes in order", "[program_path]") {
  unsetenv("SIDECAR_TEST_ORDER");
  Changes set_then_remove{{"SIDECAR_TEST_ORDER", "1"}, {"SIDECAR_TEST_ORDER", std::nullopt}};
  CHECK_FALSE(environment_value(build_environment(set_then_remove, false), "SIDECAR_TEST_ORDER").has_value());
  Changes remove_then_set{{"SIDECAR_TEST_ORDER", std::nullopt}, {"SIDECAR_TEST_ORDER", "2"}};
  CHECK(environment_value(build_environment(remove_then_set, false), "SIDECAR_TEST_ORDER") ==
        std::optional<std::string>("2"));
  Changes set_twice{{"SIDECAR_TEST_ORDER", "a"}, {"SIDECAR_TEST_ORDER", "b"}};
  std::vector<std::string> env = build_environment(set_twice, false);
  CHECK(environment_value(env, "SIDECAR_TEST_ORDER") == std::optional<std::string>("b"));
  CHECK(count_named(env, "SIDECAR_TEST_ORDER") == 1);
}

TEST_CASE("program_path: build_environment with clear keeps only the changes", "[program_path]") {
  ScopedEnv inherited("SIDECAR_TEST_CLEARED", "gone");
  CHECK(build_environment({}, true).empty());
  std::vector<std::string> env = build_environment({{"A", "1"}, {"B", "2"}, {"A", std::nullopt}}, true);
  CHECK(env == std::vector<std::string>{"B=2"});
  CHECK_FALSE(environment_value(env, "PATH").has_value());
  CHECK_FALSE(environment_value(env, "SIDECAR_TEST_CLEARED").has_value());
}

TEST_CASE("program_path: resolve_program finds a program in PATH", "[program_path]") {
  ProgramDir dir;
  SpawnError error;
  std::string path = "/nonexistent-sidecar-dir:" + dir.path + ":" + dir.path + "/bin";
  CHECK(resolve_program("prog", path, "", error) == std::optional<std::string>(dir.path + "/prog"));
  CHECK(resolve_program("tool", path, "", error) == std::optional<std::string>(dir.path + "/bin/tool"));
  // The first match wins.
  CHECK(resolve_program("prog", dir.path + "/bin:" + dir.path, "", error) ==
        std::optional<std::string>(dir.path + "/prog"));
  // A directory of the program's name is skipped, like execvp does.
  dir.write_file("bin/adir", 0755);
  CHECK(resolve_program("adir", dir.path + ":" + dir.path + "/bin", "", error) ==
        std::optional<std::string>(dir.path + "/bin/adir"));
}

TEST_CASE("program_path: resolve_program with no PATH searches the default path", "[program_path]") {
  SpawnError error;
  std::optional<std::string> sh = resolve_program("sh", std::nullopt, "", error);
  REQUIRE(sh.has_value());
  CHECK((*sh == "/usr/bin/sh" || *sh == "/bin/sh" || *sh == "/usr/local/bin/sh"));
}

TEST_CASE("program_path: a program not found names itself and the PATH searched", "[program_path]") {
  ProgramDir dir;
  SpawnError error;
  std::string path = "/nonexistent-sidecar-dir:" + dir.path;
  CHECK_FALSE(resolve_program("sidecar-no-such-program", path, "", error).has_value());
  CHECK(error.code == "ENOENT");
  CHECK_THAT(error.message, Catch::Contains("sidecar-no-such-program"));
  CHECK_THAT(error.message, Catch::Contains(path));
}

TEST_CASE("program_path: a program with a '/' is not searched in PATH", "[program_path]") {
  ProgramDir dir;
  SpawnError error;
  // Absolute: as is, whatever PATH and cwd say.
  CHECK(resolve_program(dir.path + "/prog", std::string("/nonexistent-sidecar-dir"), "/", error) ==
        std::optional<std::string>(dir.path + "/prog"));
  CHECK(resolve_program(dir.path + "/bin/tool", std::nullopt, "", error) ==
        std::optional<std::string>(dir.path + "/bin/tool"));
  // "bin/tool" is not looked up in PATH even though PATH holds a bin/ directory's parent.
  CHECK_FALSE(resolve_program("bin/tool", dir.path, "/", error).has_value());
  CHECK(error.code == "ENOENT");
  CHECK_THAT(error.message, Catch::Contains("bin/tool"));
  // Missing absolute path.
  error = {};
  CHECK_FALSE(resolve_program(dir.path + "/missing", std::nullopt, "", error).has_value());
  CHECK(error.code == "ENOENT");
  CHECK_THAT(error.message, Catch::Contains(dir.path + "/missing"));
}

TEST_CASE("program_path: a relative program with a '/' is relative to cwd", "[program_path]") {
  ProgramDir dir;
  SpawnError error;
  CHECK(resolve_program("./prog", std::string("/nonexistent-sidecar-dir"), dir.path, error) ==
        std::optional<std::string>(dir.path + "/./prog"));
  CHECK(resolve_program("bin/tool", std::nullopt, dir.path, error) ==
        std::optional<std::string>(dir.path + "/bin/tool"));
  error = {};
  CHECK_FALSE(resolve_program("./tool", std::nullopt, dir.path, error).has_value());
  CHECK(error.code == "ENOENT");
  CHECK_THAT(error.message, Catch::Contains(dir.path + "/./tool"));
}

TEST_CASE("program_path: a program that is not executable is EACCES", "[program_path]") {
  ProgramDir dir;
  SpawnError error;
  CHECK_FALSE(resolve_program("noexec", dir.path, "", error).has_value());
  CHECK(error.code == "EACCES");
  CHECK_THAT(error.message, Catch::Contains("noexec"));
  CHECK_THAT(error.message, Catch::Contains(dir.path + "/noexec"));

  error = {};
  CHECK_FALSE(resolve_program(dir.path + "/noexec", std::nullopt, "", error).has_value());
  CHECK(error.code == "EACCES");

  // A later executable of the same name wins over an earlier non-executable one.
  dir.write_file("bin/noexec", 0755);
  error = {};
  CHECK(resolve_program("noexec", dir.path + ":" + dir.path + "/bin", "", error) ==
        std::optional<std::string>(dir.path + "/bin/noexec"));
}

TEST_CASE("program_path: a directory is EACCES", "[program_path]") {
  ProgramDir dir;
  SpawnError error;
  CHECK_FALSE(resolve_program(dir.path + "/adir", std::nullopt, "", error).has_value());
  CHECK(error.code == "EACCES");
  CHECK_THAT(error.message, Catch::Contains("directory"));
  error = {};
  CHECK_FALSE(resolve_program("./adir", std::nullopt, dir.path, error).has_value());
  CHECK(error.code == "EACCES");
}

TEST_CASE("program_path: an empty PATH entry means the current directory", "[program_path]") {
  ProgramDir dir;
  SpawnError error;
  // Leading, middle and trailing empty entries; "." is relative to cwd.
  for (std::string path : {std::string(":/nonexistent-sidecar-dir"), std::string("/nonexistent-sidecar-dir::/x"),
                           std::string("/nonexistent-sidecar-dir:"), std::string("")}) {
    INFO("PATH=" << path);
    CHECK(resolve_program("prog", path, dir.path, error) == std::optional<std::string>(dir.path + "/./prog"));
  }
  // Without an empty entry the current directory is not searched.
  error = {};
  CHECK_FALSE(resolve_program("prog", std::string("/nonexistent-sidecar-dir"), dir.path, error).has_value());
  CHECK(error.code == "ENOENT");
  // A relative PATH entry is relative to cwd too.
  CHECK(resolve_program("tool", std::string("bin"), dir.path, error) ==
        std::optional<std::string>(dir.path + "/bin/tool"));
}

TEST_CASE("program_path: an empty program name is EINVAL", "[program_path]") {
  SpawnError error;
  CHECK_FALSE(resolve_program("", std::nullopt, "", error).has_value());
  CHECK(error.code == "EINVAL");
}
