// The bounds of a run's OS sandbox (issue 45, item 8): what the run's cgroup is given and what it
// counted (host/process/run_cgroup.hpp), read from folders made like the kernel's; how sandbox-init's
// watch samples a namespace's /proc and takes its options (host/sandbox/sandbox_watch.hpp, host/sandbox/sandbox_init.hpp). The bounds at
// work, a fork bomb and a memory hog in a real sandbox, are tests/e2e/hostile_limits_test.sh.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "process/run_cgroup.hpp"
#include "sandbox/sandbox_init.hpp"
#include "sandbox/sandbox_watch.hpp"
#include "temp_dir.hpp"

namespace host = sidecar::host;
using sidecar::test::TempDir;

namespace {

void put(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

std::string got(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A folder made like a run's cgroup v2, with the files of the controllers named.
std::string fake_cgroup(const TempDir& dir, bool pids, bool memory) {
  const std::string path = dir.path + "/sidecar-test";
  REQUIRE(mkdir(path.c_str(), 0755) == 0);
  put(path + "/cgroup.procs", "");
  if (pids) {
    put(path + "/pids.max", "");
    put(path + "/pids.events", "max 3\n");
  }
  if (memory) {
    put(path + "/memory.max", "");
    put(path + "/memory.swap.max", "");
    put(path + "/memory.events", "low 0\nhigh 0\nmax 12\noom 2\noom_kill 1\noom_group_kill 0\n");
    put(path + "/memory.peak", "268435456\n");
  }
  return path;
}

// A process of a fake /proc: its status (and smaps_rollup when pss_anon_kib >= 0).
void fake_process(const std::string& proc, int pid, int threads, long rss_anon_kib, long pss_anon_kib = -1) {
  const std::string dir = proc + "/" + std::to_string(pid);
  REQUIRE(mkdir(dir.c_str(), 0755) == 0);
  put(dir + "/status", "Name:\tx\nState:\tS (sleeping)\nVmRSS:\t 99999 kB\nRssAnon:\t" + std::to_string(rss_anon_kib) +
                           " kB\nRssFile:\t 5000 kB\nThreads:\t" + std::to_string(threads) + "\n");
  if (pss_anon_kib >= 0) put(dir + "/smaps_rollup", "Rss: 1 kB\nPss: 2 kB\nPss_Anon: " + std::to_string(pss_anon_kib) + " kB\n");
}

}  // namespace

TEST_CASE("a run's cgroup takes the bounds its controllers have, and says which", "[limits][cgroup]") {
  TempDir dir("limits");
  const std::string both = fake_cgroup(dir, true, true);
  host::CgroupApplied applied = host::cgroup_limit(both, {4097, 8LL << 30});
  CHECK(applied.pids);
  CHECK(applied.memory);
  CHECK(applied.swap);
  CHECK(got(both + "/pids.max") == "4097");
  CHECK(got(both + "/memory.max") == std::to_string(8LL << 30));
  CHECK(got(both + "/memory.swap.max") == "0");  // bounded memory never goes to swap instead

  host::CgroupEvents e = host::cgroup_events(both);
  CHECK(e.oom_kill == 1);
  CHECK(e.memory_max == 12);
  CHECK(e.pids_max == 3);
  CHECK(e.memory_peak == 268435456);

  TempDir bare("limits");
  const std::string none = fake_cgroup(bare, false, false);  // cgroup v2 without the controllers
  applied = host::cgroup_limit(none, {4097, 8LL << 30});
  CHECK_FALSE(applied.pids);
  CHECK_FALSE(applied.memory);
  e = host::cgroup_events(none);
  CHECK(e.oom_kill == 0);
  CHECK(e.pids_max == 0);
  CHECK(e.memory_peak == -1);

  // Nothing but a run's cgroup is written: a folder not named sidecar-… is left alone.
  TempDir other("limits");
  const std::string user = other.path + "/user.slice";
  REQUIRE(mkdir(user.c_str(), 0755) == 0);
  put(user + "/cgroup.procs", "");
  put(user + "/pids.max", "max");
  CHECK_FALSE(host::cgroup_limit(user, {10, 0}).pids);
  CHECK(got(user + "/pids.max") == "max");
}

TEST_CASE("the watch counts tasks and anonymous memory, and never picks pid 1", "[limits][sandbox_init]") {
  TempDir proc("proc");
  fake_process(proc.path, 1, 1, 900000, 900000);  // sandbox-init itself: counted, never killed
  fake_process(proc.path, 7, 12, 1000, 400);       // node with its threads
  fake_process(proc.path, 9, 1, 300000, 100000);   // a fork sharing most of its pages
  fake_process(proc.path, 11, 1, 200000);          // no smaps_rollup to read: its RssAnon stands
  REQUIRE(mkdir((proc.path + "/self").c_str(), 0755) == 0);
  put(proc.path + "/uptime", "1.0 1.0\n");

  host::NamespaceUse u = host::sample_namespace(proc.path);
  CHECK(u.tasks == 15);
  CHECK(u.rss == (900000LL + 1000 + 300000 + 200000) * 1024);
  CHECK(u.largest_pid == 9);
  CHECK(u.largest_rss == 300000LL * 1024);

  u = host::sample_namespace(proc.path, true);  // shares counted once
  CHECK(u.tasks == 15);
  CHECK(u.rss == (900000LL + 400 + 100000 + 200000) * 1024);
  CHECK(u.largest_pid == 11);

  u = host::sample_namespace(proc.path + "/missing");
  CHECK(u.tasks == 0);
  CHECK(u.largest_pid == 0);
}

TEST_CASE("the watch reads a real /proc", "[limits][sandbox_init]") {
  host::NamespaceUse u = host::sample_namespace();
  CHECK(u.tasks >= 2);  // this process and the first one
  CHECK(u.rss > 0);
  CHECK(u.largest_pid != 1);
}

TEST_CASE("sandbox-init takes its bounds as options", "[limits][sandbox_init]") {
  host::SandboxInitOptions o;
  std::string why;
  REQUIRE(host::parse_sandbox_init({"--pids", "4096", "--memory", "8589934592", "--shared-max", "2048",
                                    "--shared-file", "/dev/shm/s/a", "--shared-file", "/dev/shm/s/b", "--", "true"},
                                   o, why));
  CHECK(o.pids == 4096);
  CHECK(o.memory == 8589934592LL);
  CHECK(o.shared_max == 2048);
  CHECK(o.shared_files == std::vector<std::string>{"/dev/shm/s/a", "/dev/shm/s/b"});
  CHECK(o.argv == std::vector<std::string>{"true"});

  host::SandboxInitOptions none;
  REQUIRE(host::parse_sandbox_init({"--", "true"}, none, why));
  CHECK(none.pids == 0);
  CHECK(none.memory == 0);
  CHECK(none.shared_max == 0);
  CHECK(none.shared_files.empty());

  host::SandboxInitOptions bad;
  CHECK_FALSE(host::parse_sandbox_init({"--pids", "-1", "--", "true"}, bad, why));
  CHECK(why.find("--pids") != std::string::npos);
  CHECK_FALSE(host::parse_sandbox_init({"--memory", "lots", "--", "true"}, bad, why));
  CHECK_FALSE(host::parse_sandbox_init({"--pids"}, bad, why));
  CHECK_FALSE(host::parse_sandbox_init({"--shared-max", "-5", "--", "true"}, bad, why));
  CHECK_FALSE(host::parse_sandbox_init({"--shared-file"}, bad, why));
}
