// The artifact folder: confinement (every escape attempt refused, with a clear error), atomic
// writes that survive SIGKILL, whole-line appends, listing.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "store/artifact_store.hpp"

using sidecar::host::ArtifactDir;
using sidecar::host::FsError;

namespace {

struct Sandbox {
  std::string base, inside, outside;
  Sandbox() {
    char tmpl[] = "/tmp/sidecar-artifact-XXXXXX";
    base = mkdtemp(tmpl);
    inside = base + "/inside";
    outside = base + "/outside";
    mkdir(inside.c_str(), 0755);
    mkdir(outside.c_str(), 0755);
    put(outside + "/secret.txt", "TOP SECRET\n");
  }
  ~Sandbox() { std::system(("rm -rf '" + base + "'").c_str()); }
  static void put(const std::string& path, const std::string& text) { std::ofstream(path) << text; }
  static std::string get(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  // Everything under outside/, with contents: must not change whatever is tried inside.
  std::string outside_state() const {
    std::string out;
    FILE* p = popen(("cd '" + outside + "' && find . -printf '%p %s\\n' | sort && cat secret.txt").c_str(), "r");
    char buf[4096];
    while (std::fgets(buf, sizeof buf, p)) out += buf;
    pclose(p);
    return out;
  }
};

ArtifactDir open_dir(const std::string& root) {
  FsError error;
  auto dir = ArtifactDir::open(root, true, error);
  REQUIRE(dir);
  return std::move(*dir);
}

}  // namespace

TEST_CASE("artifact: write, read, append, exists, list", "[artifact]") {
  Sandbox box;
  ArtifactDir dir = open_dir(box.inside);
  FsError error;
  REQUIRE(dir.write("a/b/c.md", "hello\n", error));
  CHECK(Sandbox::get(box.inside + "/a/b/c.md") == "hello\n");
  auto text = dir.read("a/b/c.md", error);
  REQUIRE(text);
  CHECK(*text == "hello\n");
  REQUIRE(dir.write("a/b/c.md", "replaced", error));
  CHECK(*dir.read("a/b/c.md", error) == "replaced");
  REQUIRE(dir.append("log.jsonl", "{\"n\":1}\n", false, error));
  REQUIRE(dir.append("log.jsonl", "{\"n\":2}\n", true, error));
  CHECK(*dir.read("log.jsonl", error) == "{\"n\":1}\n{\"n\":2}\n");
  CHECK(dir.exists("a/b/c.md"));
  CHECK_FALSE(dir.exists("a/b/none.md"));
  REQUIRE(dir.write_all({{"x/1.json", "1"}, {"x/2.json", "2"}, {"y.md", "y"}}, error));
  auto all = dir.list("**", error);
  REQUIRE(all);
  CHECK(*all == std::vector<std::string>{"a/b/c.md", "log.jsonl", "x/1.json", "x/2.json", "y.md"});
  CHECK(*dir.list("x/*.json", error) == std::vector<std::string>{"x/1.json", "x/2.json"});
  CHECK(*dir.list("**/*.md", error) == std::vector<std::string>{"a/b/c.md", "y.md"});
  CHECK(dir.list("*.none", error)->empty());
  // Without "**", only the pattern's depth: a folder is never a match, nor a file above or below.
  CHECK(*dir.list("*", error) == std::vector<std::string>{"log.jsonl", "y.md"});
  CHECK(*dir.list("*/*", error) == std::vector<std::string>{"x/1.json", "x/2.json"});
  CHECK(*dir.list("a/*/c.md", error) == std::vector<std::string>{"a/b/c.md"});
  CHECK(dir.list("a/b", error)->empty());
  REQUIRE(dir.write("x/.hidden.json", "h", error));
  CHECK(*dir.list("x/*", error) == std::vector<std::string>{"x/1.json", "x/2.json"});  // a dot only by name
  CHECK(*dir.list("x/.hidden.json", error) == std::vector<std::string>{"x/.hidden.json"});
  REQUIRE(::unlink((box.inside + "/x/.hidden.json").c_str()) == 0);
  REQUIRE(dir.create_dir("task-1", error));
  CHECK_FALSE(dir.create_dir("task-1", error));
  CHECK(error.code == "EEXIST");
  CHECK(dir.make_dirs("p/q/r", error));
  CHECK(dir.make_dirs("p/q/r", error));
  auto missing = dir.read("nope.txt", error);
  CHECK_FALSE(missing);
  CHECK(error.code == "ENOENT");
  CHECK(error.message.find("nope.txt") != std::string::npos);
}

namespace {

std::size_t open_descriptors() {
  std::size_t n = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (readdir(d)) ++n;
    closedir(d);
  }
  return n;
}

}  // namespace

TEST_CASE("artifact: whole and atomic writes are seen at once; sync() holds one descriptor per folder", "[artifact]") {
  using sidecar::host::Durability;
  Sandbox box;
  ArtifactDir dir = open_dir(box.inside);
  FsError error;
  const std::size_t before = open_descriptors();
  for (int i = 0; i < 50; ++i) {
    REQUIRE(dir.write_all({{"runs/R-1/run.json", std::to_string(i)}, {"runs/R-1/prompt.md", "p"}, {"tasks/T.json", "t"}},
                          error, Durability::Whole));
  }
  REQUIRE(dir.write("runs/R-1/agent_process.json", "{}", error, Durability::Atomic));
  CHECK(Sandbox::get(box.inside + "/runs/R-1/run.json") == "49");
  CHECK(Sandbox::get(box.inside + "/runs/R-1/agent_process.json") == "{}");
  // runs/R-1, tasks and the folders created on the way (runs, the root): each held once.
  CHECK(open_descriptors() - before <= 4);
  REQUIRE(dir.sync(error));
  CHECK(open_descriptors() == before);
  REQUIRE(dir.sync(error));  // nothing left: still fine
  auto all = dir.list("**", error);
  REQUIRE(all);
  CHECK(*all == std::vector<std::string>{"runs/R-1/agent_process.json", "runs/R-1/prompt.md", "runs/R-1/run.json",
                                         "tasks/T.json"});
}

TEST_CASE("artifact: glob_match", "[artifact]") {
  using sidecar::host::glob_match;
  CHECK(glob_match("*.md", "a.md"));
  CHECK_FALSE(glob_match("*.md", "x/a.md"));
  CHECK(glob_match("**/*.md", "x/y/a.md"));
  CHECK(glob_match("**/*.md", "a.md"));
  CHECK(glob_match("runs/**", "runs/a/b"));
  CHECK_FALSE(glob_match("*", ".hidden"));
  CHECK_FALSE(glob_match("**", "runs/.R-1.json.tmp-42-0"));
  CHECK(glob_match("**/.*", "runs/.R-1.json.tmp-42-0"));
  CHECK(glob_match(".*", ".hidden"));
  CHECK(glob_match("R-00[0-9][0-9].json", "R-0042.json"));
}

TEST_CASE("artifact: an incomplete last line is dropped before the next append", "[artifact]") {
  Sandbox box;
  ArtifactDir dir = open_dir(box.inside);
  Sandbox::put(box.inside + "/events.jsonl", "{\"a\":1}\n{\"b\":");  // a crash mid-line
  FsError error;
  REQUIRE(dir.append("events.jsonl", "{\"c\":3}\n", false, error));
  CHECK(Sandbox::get(box.inside + "/events.jsonl") == "{\"a\":1}\n{\"c\":3}\n");
  Sandbox::put(box.inside + "/only.jsonl", "partial");
  REQUIRE(dir.append("only.jsonl", "{}\n", false, error));
  CHECK(Sandbox::get(box.inside + "/only.jsonl") == "{}\n");
}

TEST_CASE("artifact: two processes appending to one file side by side leave only whole lines", "[artifact]") {
  // A run's recorder and a Claude Code hook both append to events.jsonl. Lines longer than a page
  // are written in more than one step by the kernel: without the append's lock, one writer could
  // take the other's line in flight for a crash's leftover and cut it.
  Sandbox box;
  constexpr int kLines = 400;
  pid_t pids[2];
  for (int w = 0; w < 2; ++w) {
    pids[w] = fork();
    if (pids[w] == 0) {
      FsError error;
      auto dir = ArtifactDir::open(box.inside, false, error);
      if (!dir) _exit(2);
      for (int i = 0; i < kLines; ++i) {
        std::string line = "{\"w\":" + std::to_string(w) + ",\"pad\":\"" + std::string(6000 + i, 'a' + w) + "\"}\n";
        if (!dir->append("events.jsonl", line, false, error)) _exit(3);
      }
      _exit(0);
    }
  }
  for (pid_t pid : pids) {
    int status = 0;
    waitpid(pid, &status, 0);
    REQUIRE((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  }
  std::ifstream in(box.inside + "/events.jsonl");
  int whole[2] = {0, 0}, broken = 0;
  for (std::string line; std::getline(in, line);) {
    bool ok = line.size() > 20 && line.compare(0, 5, "{\"w\":") == 0 && line.compare(line.size() - 2, 2, "\"}") == 0;
    int w = ok ? line[5] - '0' : -1;
    if (ok && (w == 0 || w == 1) && line.find(w ? 'a' : 'b', 17) == std::string::npos) {
      ++whole[w];
    } else {
      ++broken;
    }
  }
  CHECK(broken == 0);
  CHECK(whole[0] == kLines);
  CHECK(whole[1] == kLines);
}

TEST_CASE("artifact: keep_last_lines keeps a log's last lines and leaves a short one as it is", "[artifact]") {
  Sandbox box;
  ArtifactDir dir = open_dir(box.inside);
  FsError error;
  Sandbox::put(box.inside + "/log.jsonl", "1\n2\n3\n4\n");
  REQUIRE(dir.keep_last_lines("log.jsonl", 2, error));
  CHECK(Sandbox::get(box.inside + "/log.jsonl") == "3\n4\n");
  struct stat before {}, after {};
  stat((box.inside + "/log.jsonl").c_str(), &before);
  REQUIRE(dir.keep_last_lines("log.jsonl", 5, error));
  stat((box.inside + "/log.jsonl").c_str(), &after);
  CHECK(before.st_ino == after.st_ino);  // not rewritten
  Sandbox::put(box.inside + "/cut.jsonl", "a\nb\nc");  // a crash mid-line: kept for the next append to drop
  REQUIRE(dir.keep_last_lines("cut.jsonl", 1, error));
  CHECK(Sandbox::get(box.inside + "/cut.jsonl") == "b\nc");
  CHECK(dir.keep_last_lines("missing.jsonl", 1, error));
  CHECK(dir.keep_last_lines("no/such/folder.jsonl", 1, error));
  symlink((box.outside + "/secret.txt").c_str(), (box.inside + "/link.jsonl").c_str());
  CHECK_FALSE(dir.keep_last_lines("link.jsonl", 0, error));
  CHECK(error.code == "ESYMLINK");
  CHECK(Sandbox::get(box.outside + "/secret.txt") == "TOP SECRET\n");
}

TEST_CASE("artifact: a line appended while another process trims the log is never lost", "[artifact]") {
  // A sender trims its folder's log while other senders append to it: the trim's rewrite is
  // renamed over the file under the appends' lock, and an appender that waited for the lock
  // writes to the new file, not to the one that lost its name.
  Sandbox box;
  constexpr int kOld = 5000, kNew = 2000, kKeep = 1500;
  std::string old;
  for (int i = 0; i < kOld; ++i) old += "old\n";
  Sandbox::put(box.inside + "/log.jsonl", old);
  int go[2];
  REQUIRE(pipe(go) == 0);
  pid_t pid = fork();
  if (pid == 0) {
    FsError error;
    auto dir = ArtifactDir::open(box.inside, false, error);
    char byte = 0;
    close(go[1]);
    if (read(go[0], &byte, 1) != 1) _exit(4);  // from when the trims start
    for (int i = 0; dir && i < kNew; ++i) {
      if (!dir->append("log.jsonl", "n" + std::to_string(i) + "\n", false, error)) _exit(3);
    }
    _exit(dir ? 0 : 2);
  }
  ArtifactDir dir = open_dir(box.inside);
  FsError error;
  int status = 0, rewrites = 0;
  close(go[0]);
  REQUIRE(write(go[1], "g", 1) == 1);
  close(go[1]);
  do {  // the first trim rewrites the file whatever the appender has done (kOld > kKeep)
    struct stat before {}, after {};
    stat((box.inside + "/log.jsonl").c_str(), &before);
    REQUIRE(dir.keep_last_lines("log.jsonl", kKeep, error));
    stat((box.inside + "/log.jsonl").c_str(), &after);
    rewrites += before.st_ino != after.st_ino;
  } while (waitpid(pid, &status, WNOHANG) == 0);
  REQUIRE((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  REQUIRE(dir.keep_last_lines("log.jsonl", kKeep, error));
  std::string expected;
  for (int i = kNew - kKeep; i < kNew; ++i) expected += "n" + std::to_string(i) + "\n";
  CHECK(Sandbox::get(box.inside + "/log.jsonl") == expected);
  CHECK(rewrites >= 1);
}

TEST_CASE("artifact: keep_last_lines leaves a log whose lock another holds, and reads a huge one's tail whole",
          "[artifact]") {
  Sandbox box;
  ArtifactDir dir = open_dir(box.inside);
  FsError error;
  Sandbox::put(box.inside + "/log.jsonl", "1\n2\n3\n");
  int held = open((box.inside + "/log.jsonl").c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(flock(held, LOCK_EX) == 0);  // another open file's lock: an appender stopped, say
  CHECK(dir.keep_last_lines("log.jsonl", 1, error));  // not waited for
  CHECK(Sandbox::get(box.inside + "/log.jsonl") == "1\n2\n3\n");
  close(held);
  // past kKeepReadMax: its last bytes are read, and the line they start with is kept when they
  // start one
  const std::size_t half = ArtifactDir::kKeepReadMax / 2;
  const std::string a = std::string(half - 1, 'a') + "\n", z = std::string(half - 1, 'z') + "\n";
  Sandbox::put(box.inside + "/big.jsonl", "first\n" + a + z);
  REQUIRE(dir.keep_last_lines("big.jsonl", 5, error));
  CHECK(Sandbox::get(box.inside + "/big.jsonl") == a + z);
  Sandbox::put(box.inside + "/big.jsonl", "first\n" + a + "b" + z);  // the window starts inside a line
  REQUIRE(dir.keep_last_lines("big.jsonl", 5, error));
  CHECK(Sandbox::get(box.inside + "/big.jsonl") == "b" + z);
}

TEST_CASE("artifact: 40+ escape attempts, 0 escapes, each a clear error", "[artifact]") {
  Sandbox box;
  const std::string in = box.inside;
  symlink("../outside", (in + "/link_dir").c_str());
  symlink("../outside/secret.txt", (in + "/link_file").c_str());
  symlink("/etc", (in + "/abs_link").c_str());
  symlink("loop", (in + "/loop").c_str());
  symlink("/dev/null", (in + "/null_link").c_str());
  mkdir((in + "/sub").c_str(), 0755);
  symlink("../../outside", (in + "/sub/link_up").c_str());
  REQUIRE(link((box.outside + "/secret.txt").c_str(), (in + "/hard").c_str()) == 0);
  mkfifo((in + "/fifo").c_str(), 0644);
  const std::string before = box.outside_state();
  ArtifactDir dir = open_dir(in);

  enum Op { Read, Write, Append, CreateDir, MakeDirs };
  struct Attempt {
    Op op;
    std::string path;
    const char* code;  // the error expected
  };
  const std::string nul("a\0b", 3), long_part(300, 'x');
  std::string long_path;
  while (long_path.size() <= 4096) long_path += "abcdefgh/";
  long_path += "f";
  const std::vector<Attempt> attempts = {
      {Read, "../outside/secret.txt", "ESCAPE"},       {Write, "../outside/new.txt", "ESCAPE"},
      {Read, "../../etc/passwd", "ESCAPE"},            {Append, "../outside/log.jsonl", "ESCAPE"},
      {Read, "a/../../outside/secret.txt", "ESCAPE"},  {Write, "a/b/../../../outside/x", "ESCAPE"},
      {Write, "a/b/c/../../../../outside/y", "ESCAPE"}, {Read, "/etc/passwd", "ESCAPE"},
      {Write, "/tmp/sidecar-escape.txt", "ESCAPE"},    {Append, "/tmp/sidecar-escape.jsonl", "ESCAPE"},
      {Read, "link_dir/secret.txt", "ESYMLINK"},       {Write, "link_dir/new.txt", "ESYMLINK"},
      {Append, "link_dir/x.jsonl", "ESYMLINK"},        {CreateDir, "link_dir/newdir", "ESYMLINK"},
      {MakeDirs, "link_dir/a/b", "ESYMLINK"},          {Read, "link_file", "ESYMLINK"},
      {Append, "link_file", "ESYMLINK"},               {Read, "abs_link/passwd", "ESYMLINK"},
      {Write, "abs_link/sidecar-escape", "ESYMLINK"},  {Read, "sub/link_up/secret.txt", "ESYMLINK"},
      {Write, "sub/link_up/new.txt", "ESYMLINK"},      {Read, "loop", "ESYMLINK"},
      {Write, "loop/x", "ESYMLINK"},                   {Read, "null_link", "ESYMLINK"},
      {Read, "hard", "EHARDLINK"},                     {Append, "hard", "EHARDLINK"},
      {Read, "fifo", "EINVAL"},                        {Read, "", "EINVAL"},
      {Write, nul, "EINVAL"},                          {Read, "a/" + long_part, "EINVAL"},
      {Write, long_path, "EINVAL"},                    {Read, "./x", "EINVAL"},
      {Write, "a//b", "EINVAL"},                       {Write, "a/./b", "EINVAL"},
      {Write, "x/", "EINVAL"},                         {Read, "..", "ESCAPE"},
      {Write, "..", "ESCAPE"},                         {CreateDir, "../outside/d", "ESCAPE"},
      {MakeDirs, "a/../../outside/d", "ESCAPE"},       {Read, "sub/link_up", "ESYMLINK"},
  };
  int tried = 0;
  for (const Attempt& a : attempts) {
    FsError error;
    bool ok = false;
    switch (a.op) {
      case Read: ok = dir.read(a.path, error).has_value(); break;
      case Write: ok = dir.write(a.path, "ESCAPED", error); break;
      case Append: ok = dir.append(a.path, "ESCAPED\n", false, error); break;
      case CreateDir: ok = dir.create_dir(a.path, error); break;
      case MakeDirs: ok = dir.make_dirs(a.path, error); break;
    }
    INFO("attempt " << tried << ": op " << a.op << " on '" << a.path.substr(0, 80) << "' -> " << error.message);
    CHECK_FALSE(ok);
    CHECK(error.code == a.code);
    CHECK_FALSE(error.message.empty());
    ++tried;
  }
  // Look-alikes are ordinary names: they stay inside.
  const std::vector<std::string> lookalikes = {
      "\xEF\xBC\x8E\xEF\xBC\x8E/outside/secret.txt",  // fullwidth full stops "．．"
      "..\xE2\x88\x95outside",                        // ".." + division slash
      "\xE2\x80\xA5/secret.txt",                      // two dot leader "‥"
      "...",                                          // three dots is a name
      "..\\outside\\secret.txt",                      // backslashes are not separators here
      "%2e%2e/outside/secret.txt",                    // URL-encoding is not decoded
  };
  for (const std::string& path : lookalikes) {
    FsError error;
    INFO(path);
    CHECK(dir.write(path, "inside", error));
    CHECK(*dir.read(path, error) == "inside");
    ++tried;
  }
  // Writing over a symlink or a hard link replaces the link itself, never its target.
  FsError error;
  CHECK(dir.write("link_file", "replaced the link", error));
  CHECK(dir.write("hard", "replaced the link", error));
  tried += 2;
  struct stat st {};
  REQUIRE(lstat((in + "/link_file").c_str(), &st) == 0);
  CHECK(S_ISREG(st.st_mode));
  CHECK(box.outside_state() == before);
  CHECK(Sandbox::get(box.outside + "/secret.txt") == "TOP SECRET\n");
  // Listing neither shows nor follows links.
  auto all = dir.list("**", error);
  REQUIRE(all);
  for (const std::string& p : *all) {
    INFO(p);
    CHECK((p.rfind("link_dir/", 0) != 0 && p.rfind("abs_link/", 0) != 0 && p.rfind("sub/link_up/", 0) != 0));
  }
  CHECK(std::find(all->begin(), all->end(), "sub/link_up/secret.txt") == all->end());
  // Nor does a pattern that names the link's way (no "**": the walk looks only where it matches).
  CHECK(dir.list("link_dir/*", error)->empty());
  CHECK(dir.list("sub/link_up/*", error)->empty());
  CHECK_FALSE(dir.list("../*", error));
  CHECK_FALSE(dir.list("/etc/*", error));
  tried += 3;
  CHECK_FALSE(dir.exists("../outside/secret.txt"));
  CHECK_FALSE(dir.exists("link_dir/secret.txt"));
  tried += 2;
  CHECK(tried >= 40);
}

TEST_CASE("artifact: the root moved away and replaced by a symlink keeps writes inside", "[artifact]") {
  Sandbox box;
  ArtifactDir dir = open_dir(box.inside);
  REQUIRE(rename(box.inside.c_str(), (box.base + "/moved").c_str()) == 0);
  REQUIRE(symlink("outside", box.inside.c_str()) == 0);
  FsError error;
  REQUIRE(dir.write("z.txt", "z", error));
  CHECK(Sandbox::get(box.base + "/moved/z.txt") == "z");
  struct stat st {};
  CHECK(stat((box.outside + "/z.txt").c_str(), &st) != 0);
}

TEST_CASE("artifact: a folder swapped for a symlink by a racing thread never leaks a write", "[artifact]") {
  Sandbox box;
  ArtifactDir dir = open_dir(box.inside);
  const std::string race = box.inside + "/race", parked = box.inside + "/parked";
  mkdir(race.c_str(), 0755);
  std::atomic<bool> stop{false};
  std::thread swapper([&] {
    while (!stop) {
      rename(race.c_str(), parked.c_str());           // the real folder steps aside
      symlink("../outside", race.c_str());             // a link to outside takes its name
      unlink(race.c_str());
      rename(parked.c_str(), race.c_str());
    }
  });
  int written = 0, refused = 0;
  for (int i = 0; i < 1000; ++i) {
    FsError error;
    if (dir.write("race/f" + std::to_string(i % 10), "x", error)) {
      ++written;
    } else {
      ++refused;
      CHECK((error.code == "ESYMLINK" || error.code == "ENOENT" || error.code == "ENOTDIR" || error.code == "EEXIST"));
    }
    if (dir.read("race/f0", error)) ++written;
  }
  stop = true;
  swapper.join();
  INFO(written << " writes landed, " << refused << " refused");
  CHECK(written > 0);
  // Nothing ever appeared outside.
  for (int i = 0; i < 10; ++i) {
    struct stat st {};
    CHECK(stat((box.outside + "/f" + std::to_string(i)).c_str(), &st) != 0);
  }
}

TEST_CASE("artifact: a file swapped for a symlink while being read never yields the target", "[artifact]") {
  Sandbox box;
  ArtifactDir dir = open_dir(box.inside);
  const std::string file = box.inside + "/file";
  Sandbox::put(file, "inside");
  std::atomic<bool> stop{false};
  std::thread swapper([&] {
    while (!stop) {
      unlink(file.c_str());
      symlink("../outside/secret.txt", file.c_str());
      unlink(file.c_str());
      Sandbox::put(file, "inside");
    }
  });
  int leaks = 0;
  for (int i = 0; i < 5000; ++i) {
    FsError error;
    auto text = dir.read("file", error);
    if (text && text->find("SECRET") != std::string::npos) ++leaks;
  }
  stop = true;
  swapper.join();
  CHECK(leaks == 0);
}

// A child writes 1000 artifacts and jsonl lines, reporting each committed one on a pipe; it is
// SIGKILLed midway. Every reported artifact must be whole; no partial file is ever visible under
// its real name; the log holds only whole lines.
TEST_CASE("artifact: SIGKILL in the middle of 1000 writes leaves no partial file", "[artifact]") {
  Sandbox box;
  auto content = [](int i) { return std::string(4096 + i * 37 % 20000, static_cast<char>('a' + i % 26)) + "\n"; };
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    close(fds[0]);
    FsError error;
    auto dir = ArtifactDir::open(box.inside, true, error);
    if (!dir) _exit(2);
    for (int i = 0; i < 1000; ++i) {
      std::string name = "runs/" + std::to_string(i % 50) + "/R-" + std::to_string(i) + ".json";
      std::string line = "{\"run\":" + std::to_string(i) + ",\"pad\":\"" + std::string(i % 300, 'p') + "\"}\n";
      if (!dir->write(name, content(i), error) || !dir->append("events.jsonl", line, false, error)) _exit(3);
      if (::write(fds[1], &i, sizeof i) != sizeof i) _exit(4);
    }
    _exit(0);
  }
  close(fds[1]);
  std::vector<int> committed;
  int i = 0;
  // Meanwhile, readers only ever see whole files.
  ArtifactDir reader = open_dir(box.inside);
  int partial_seen = 0;
  while (read(fds[0], &i, sizeof i) == sizeof i) {
    committed.push_back(i);
    FsError error;
    int probe = (i * 7) % (i + 1);
    auto text = reader.read("runs/" + std::to_string(probe % 50) + "/R-" + std::to_string(probe) + ".json", error);
    if (text && *text != content(probe)) ++partial_seen;
    if (committed.size() == 300) kill(child, SIGKILL);
  }
  close(fds[0]);
  int status = 0;
  waitpid(child, &status, 0);
  REQUIRE(committed.size() >= 300);
  CHECK(partial_seen == 0);
  ArtifactDir dir = open_dir(box.inside);
  FsError error;
  for (int n : committed) {
    auto text = dir.read("runs/" + std::to_string(n % 50) + "/R-" + std::to_string(n) + ".json", error);
    REQUIRE(text);
    CHECK(*text == content(n));
  }
  // Every file under its real name is whole, committed or caught between rename and report.
  auto files = dir.list("runs/**", error);
  REQUIRE(files);
  for (const std::string& f : *files) {
    int n = std::atoi(f.substr(f.rfind("R-") + 2).c_str());
    CHECK(*dir.read(f, error) == content(n));
  }
  CHECK(files->size() >= committed.size());
  CHECK(files->size() <= committed.size() + 1);
  // The log: whole lines only (an incomplete one would be cut at the next append).
  std::string log = *dir.read("events.jsonl", error);
  REQUIRE(dir.append("events.jsonl", "{\"after\":true}\n", false, error));
  log = *dir.read("events.jsonl", error);
  std::istringstream lines(log);
  std::string line;
  int count = 0;
  while (std::getline(lines, line)) {
    CHECK(line.front() == '{');
    CHECK(line.back() == '}');
    ++count;
  }
  CHECK(count >= static_cast<int>(committed.size()) + 1);
}
