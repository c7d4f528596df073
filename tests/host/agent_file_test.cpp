#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "secrets/agent_file.hpp"
#include "temp_dir.hpp"
#include "util/code_file.hpp"

using sidecar::host::AgentFileResult;
using sidecar::host::redact_agent_file;
using sidecar::host::Redactor;
using sidecar::test::TempDir;

namespace {

void write(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

const Redactor& plain() {
  static const Redactor r(std::vector<std::string>{});
  return r;
}

}  // namespace

TEST_CASE("agent_file: a file an agent wrote is rewritten redacted, whole when small") {
  TempDir dir("agent-file");
  const std::string path = dir.path + "/last-message.txt";
  write(path, "done\nOPENAI_API_KEY=sk-proj-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n");
  AgentFileResult r;
  std::string error;
  REQUIRE(redact_agent_file(plain(), path, 1 << 20, r, error));
  CHECK(r.present);
  CHECK(r.dropped == 0);
  CHECK(r.redacted == 1);
  CHECK(read(path).find("sk-proj-") == std::string::npos);
  CHECK(read(path).rfind("done\nOPENAI_API_KEY=", 0) == 0);
  CHECK(access((path + ".redacting").c_str(), F_OK) != 0);
}

TEST_CASE("agent_file: an empty file is left as it is, its inode and all (no rewrite)") {
  TempDir dir("agent-file");
  const std::string path = dir.path + "/push_attempts.log";
  write(path, "");
  struct stat before {};
  REQUIRE(::stat(path.c_str(), &before) == 0);
  AgentFileResult r;
  std::string error;
  REQUIRE(redact_agent_file(plain(), path, 1 << 20, r, error));
  CHECK(r.present);
  CHECK(r.size == 0);
  struct stat after {};
  REQUIRE(::stat(path.c_str(), &after) == 0);
  CHECK(after.st_ino == before.st_ino);
  CHECK(access((path + ".redacting").c_str(), F_OK) != 0);
}

TEST_CASE("agent_file: a small file with nothing to redact is left as it is, one with a secret is not") {
  TempDir dir("agent-file");
  const std::string path = dir.path + "/push_attempts.log";
  const std::string clean = "# sidecar push log 0x55d0\nrefused: git push origin main\n";
  write(path, clean);
  struct stat before {};
  REQUIRE(::stat(path.c_str(), &before) == 0);
  AgentFileResult r;
  std::string error;
  REQUIRE(redact_agent_file(plain(), path, 1 << 20, r, error));
  CHECK(r.size == clean.size());
  CHECK(r.redacted == 0);
  struct stat after {};
  REQUIRE(::stat(path.c_str(), &after) == 0);
  CHECK(after.st_ino == before.st_ino);  // not rewritten
  CHECK(read(path) == clean);
  write(path, clean + "https://user:ghp_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@github.com/x/y\n");
  REQUIRE(::stat(path.c_str(), &before) == 0);
  REQUIRE(redact_agent_file(plain(), path, 1 << 20, r, error));
  CHECK(r.redacted >= 1);
  CHECK(read(path).find("ghp_") == std::string::npos);
  CHECK(read(path).rfind(clean, 0) == 0);
}

TEST_CASE("agent_file: past its bound only the end is kept, after a marker") {
  TempDir dir("agent-file");
  const std::string path = dir.path + "/push_attempts.log";
  std::string text;
  for (int i = 0; i < 1000; ++i) text += "origin\thttps://example.com/" + std::to_string(i) + "\n";
  write(path, text);
  AgentFileResult r;
  std::string error;
  REQUIRE(redact_agent_file(plain(), path, 1000, r, error));
  CHECK(r.size == text.size());
  // Cut at the first line that starts after the bound's start: never half a line (half a secret).
  const std::size_t from = text.find('\n', text.size() - 1000) + 1;
  CHECK(r.dropped == from);
  const std::string kept = read(path);
  CHECK(kept.rfind("[sidecar: the first " + std::to_string(r.dropped) + " bytes of this file were dropped", 0) == 0);
  CHECK(kept.substr(kept.find('\n') + 1) == text.substr(from));
}

TEST_CASE("agent_file: a secret the bound cuts in two is not kept as a half") {
  TempDir dir("agent-file");
  const std::string path = dir.path + "/last-message.txt";
  const std::string secret = "sk-proj-" + std::string(48, 'q');
  const std::string text = std::string(100, 'x') + "\nkey " + secret + "\nthe end\n";
  write(path, text);
  AgentFileResult r;
  std::string error;
  // The bound starts in the middle of the key: its second half must not survive as plain text.
  REQUIRE(redact_agent_file(plain(), path, text.size() - 101 - 20, r, error));
  const std::string kept = read(path);
  CHECK(kept.find("qqqqqqqqqq") == std::string::npos);
  CHECK(kept.substr(kept.find('\n') + 1) == "the end\n");
}

TEST_CASE("agent_file: a FIFO, a link or a folder is refused, never read; no file is no error") {
  TempDir dir("agent-file");
  AgentFileResult r;
  std::string error;
  REQUIRE(redact_agent_file(plain(), dir.path + "/absent", 100, r, error));
  CHECK_FALSE(r.present);
  REQUIRE(mkfifo((dir.path + "/fifo").c_str(), 0600) == 0);
  CHECK_FALSE(redact_agent_file(plain(), dir.path + "/fifo", 100, r, error));  // no writer: would block
  CHECK(error.find("not a regular file") != std::string::npos);
  REQUIRE(symlink("/dev/zero", (dir.path + "/zero").c_str()) == 0);
  CHECK_FALSE(redact_agent_file(plain(), dir.path + "/zero", 100, r, error));
  CHECK(error.find("symbolic link") != std::string::npos);
  REQUIRE(mkdir((dir.path + "/folder").c_str(), 0700) == 0);
  CHECK_FALSE(redact_agent_file(plain(), dir.path + "/folder", 100, r, error));
}

TEST_CASE("code_file: a regular file of bounded size only, links followed") {
  TempDir dir("code-file");
  sidecar::CodeFileError error;
  write(dir.path + "/config.lua", "return {}\n");
  REQUIRE(symlink((dir.path + "/config.lua").c_str(), (dir.path + "/linked.lua").c_str()) == 0);
  CHECK(sidecar::read_code_file(dir.path + "/linked.lua", 100, error).value_or("") == "return {}\n");
  CHECK_FALSE(sidecar::read_code_file(dir.path + "/config.lua", 4, error));
  CHECK(error.code == "EFBIG");
  CHECK_FALSE(sidecar::read_code_file(dir.path + "/none.lua", 100, error));
  CHECK(error.code == "ENOENT");
  REQUIRE(mkfifo((dir.path + "/fifo.lua").c_str(), 0600) == 0);
  CHECK_FALSE(sidecar::read_code_file(dir.path + "/fifo.lua", 100, error));
  CHECK(error.code == "ENOTREG");
  REQUIRE(symlink("/dev/zero", (dir.path + "/zero.lua").c_str()) == 0);
  CHECK_FALSE(sidecar::read_code_file(dir.path + "/zero.lua", 100, error));
  CHECK(error.code == "ENOTREG");
}
