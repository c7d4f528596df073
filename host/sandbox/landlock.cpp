#include "sandbox/landlock.hpp"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

namespace sidecar::host {
namespace {

// The kernel's interface (include/uapi/linux/landlock.h), written out: the build machine's
// headers may be older than the kernel the binary meets.
struct RulesetAttr {
  std::uint64_t handled_access_fs;
  std::uint64_t handled_access_net;
  std::uint64_t scoped;
};
struct PathBeneathAttr {
  std::uint64_t allowed_access;
  std::int32_t parent_fd;
} __attribute__((packed));
struct NetPortAttr {
  std::uint64_t allowed_access;
  std::uint64_t port;
};
constexpr unsigned kCreateRulesetVersion = 1U << 0;
constexpr int kRulePathBeneath = 1;
constexpr int kRuleNetPort = 2;

constexpr std::uint64_t kExecute = 1ULL << 0, kWriteFile = 1ULL << 1, kReadFile = 1ULL << 2, kReadDir = 1ULL << 3;
constexpr std::uint64_t kTruncate = 1ULL << 14, kIoctlDev = 1ULL << 15;
constexpr std::uint64_t kBindTcp = 1ULL << 0, kConnectTcp = 1ULL << 1;
constexpr std::uint64_t kScopeAbstractUnix = 1ULL << 0, kScopeSignal = 1ULL << 1;
// What a rule beneath a file (not a folder) may hold.
constexpr std::uint64_t kFileRights = kExecute | kWriteFile | kReadFile | kTruncate | kIoctlDev;

// Every file right the ABI handles: 13 rights in ABI 1, refer in 2, truncate in 3, device ioctls in 5.
std::uint64_t handled_fs(int abi) {
  std::uint64_t all = (1ULL << 13) - 1;
  if (abi >= 2) all |= 1ULL << 13;
  if (abi >= 3) all |= kTruncate;
  if (abi >= 5) all |= kIoctlDev;
  return all;
}

std::string failed(const char* what, const std::string& path = "") {
  return std::string(what) + (path.empty() ? "" : " " + path) + ": " + std::strerror(errno);
}

// Adds the rule for `path` (its rights cut to a file's when it is one); a path that does not exist,
// or leads to no file of a file system, adds nothing.
bool add_path(int ruleset, const std::string& path, std::uint64_t rights, std::string& why) {
  int fd = ::open(path.c_str(), O_PATH | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return true;
    why = failed("cannot open", path);
    return false;
  }
  struct stat st {};
  if (::fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode)) rights &= kFileRights;
  PathBeneathAttr attr{rights, fd};
  // EBADFD: not a file of a file system (a link to a pipe: /dev/stderr); nothing beneath it to reach.
  const bool ok = ::syscall(SYS_landlock_add_rule, ruleset, kRulePathBeneath, &attr, 0) == 0 || errno == EBADFD;
  if (!ok) why = failed("cannot add a Landlock rule for", path);
  ::close(fd);
  return ok;
}

}  // namespace

int landlock_abi() {
  long abi = ::syscall(SYS_landlock_create_ruleset, nullptr, 0, kCreateRulesetVersion);
  return abi > 0 ? static_cast<int>(abi) : 0;
}

int landlock_ruleset(const LandlockPlan& plan, std::string& why) {
  const int abi = landlock_abi();
  if (abi == 0) {
    why = "the kernel offers no Landlock (it needs Linux 5.13 or later, with landlock in its lsm= list)";
    return -1;
  }
  if (plan.tcp && abi < 4) {
    why = "limiting TCP needs Landlock ABI 4 (Linux 6.7 or later); this kernel offers ABI " + std::to_string(abi);
    return -1;
  }
  const std::uint64_t fs = handled_fs(abi);
  // From ABI 6, signals and abstract Unix sockets reach only processes of the same domain.
  RulesetAttr attr{fs, plan.tcp ? (kBindTcp | kConnectTcp) : 0, abi >= 6 ? (kScopeAbstractUnix | kScopeSignal) : 0};
  const std::size_t size = abi >= 6 ? sizeof attr : abi >= 4 ? 2 * sizeof(std::uint64_t) : sizeof(std::uint64_t);
  int ruleset = static_cast<int>(::syscall(SYS_landlock_create_ruleset, &attr, size, 0));
  if (ruleset < 0) {
    why = failed("cannot create a Landlock ruleset");
    return -1;
  }
  bool ok = true;
  for (const std::string& p : plan.list) ok = ok && add_path(ruleset, p, kReadDir, why);
  for (const std::string& p : plan.read) ok = ok && add_path(ruleset, p, (kExecute | kReadFile | kReadDir) & fs, why);
  for (const std::string& p : plan.write) ok = ok && add_path(ruleset, p, fs, why);
  for (int port : plan.tcp ? plan.connect_ports : std::vector<int>{}) {
    NetPortAttr net{kConnectTcp, static_cast<std::uint64_t>(port)};
    if (ok && ::syscall(SYS_landlock_add_rule, ruleset, kRuleNetPort, &net, 0) != 0) {
      why = failed(("cannot allow TCP port " + std::to_string(port)).c_str());
      ok = false;
    }
  }
  if (!ok) {
    ::close(ruleset);
    return -1;
  }
  return ruleset;
}

const char* landlock_enforce(int ruleset) {
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return "cannot set no_new_privs";
  if (::syscall(SYS_landlock_restrict_self, ruleset, 0) != 0) return "cannot restrict this process with Landlock";
  return nullptr;
}

}  // namespace sidecar::host
