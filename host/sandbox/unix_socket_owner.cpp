#include "sandbox/unix_socket_owner.hpp"

#include <dirent.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "process/process_info.hpp"
#include "util/unique_fd.hpp"

namespace sidecar::host {
namespace {

// The diagnostics give a device as the kernel keeps it (major in the high 12 bits of 32).
dev_t kernel_dev(uint32_t d) { return makedev(d >> 20, d & 0xfffff); }

bool matches(const UnixSocketQuery& q, const unix_diag_msg* m, std::size_t len) {
  auto* a = reinterpret_cast<const rtattr*>(m + 1);
  auto rest = static_cast<unsigned>(len - NLMSG_ALIGN(sizeof *m));
  for (; RTA_OK(a, rest); a = RTA_NEXT(a, rest)) {
    if (a->rta_type == UNIX_DIAG_VFS && q.name.empty() && RTA_PAYLOAD(a) >= sizeof(unix_diag_vfs)) {
      const auto* v = static_cast<const unix_diag_vfs*>(RTA_DATA(a));
      if (v->udiag_vfs_ino == q.ino && kernel_dev(v->udiag_vfs_dev) == q.dev) return true;
    } else if (a->rta_type == UNIX_DIAG_NAME && !q.name.empty()) {
      const char* n = static_cast<const char*>(RTA_DATA(a));
      const std::size_t size = RTA_PAYLOAD(a);
      if (size == q.name.size() + 1 && n[0] == '\0' && std::memcmp(n + 1, q.name.data(), q.name.size()) == 0) {
        return true;
      }
    }
  }
  return false;
}

// The inodes of the sockets of this network namespace that answer to the query; false when the
// diagnostics could not be read.
bool bound_sockets(const UnixSocketQuery& q, std::vector<uint32_t>& inodes) {
  UniqueFd nl(socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
  if (nl.fd < 0) return false;
  struct {
    nlmsghdr head;
    unix_diag_req req;
  } ask{};
  ask.head.nlmsg_len = sizeof ask;
  ask.head.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  ask.head.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  ask.req.sdiag_family = AF_UNIX;
  ask.req.udiag_states = ~0U;
  ask.req.udiag_show = UDIAG_SHOW_VFS | UDIAG_SHOW_NAME;
  if (send(nl.fd, &ask, sizeof ask, 0) != static_cast<ssize_t>(sizeof ask)) return false;
  std::vector<char> buf(32768);
  for (;;) {
    const ssize_t n = recv(nl.fd, buf.data(), buf.size(), 0);
    if (n <= 0) return false;
    auto len = static_cast<unsigned>(n);
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf.data()); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_type == NLMSG_DONE) return true;
      if (h->nlmsg_type == NLMSG_ERROR) return false;
      const auto* m = static_cast<const unix_diag_msg*>(NLMSG_DATA(h));
      if (matches(q, m, h->nlmsg_len - NLMSG_HDRLEN)) inodes.push_back(m->udiag_ino);
    }
  }
}

// The parent of process `pid` (0 when it cannot be read).
long parent_of(long pid) {
  std::string text;
  if (!read_proc_file(("/proc/" + std::to_string(pid) + "/stat").c_str(), text, 4096)) return 0;
  const std::size_t close = text.rfind(')');  // the command may hold spaces and parentheses
  long ppid = 0;
  if (close != std::string::npos) std::sscanf(text.c_str() + close + 1, " %*c %ld", &ppid);
  return ppid;
}

// Whether `pid` descends from `ancestor`.
bool descends(long pid, long ancestor) {
  for (int depth = 0; pid > 1 && depth < 4096; ++depth) {
    pid = parent_of(pid);
    if (pid == ancestor) return true;
  }
  return false;
}

// True when a process of this pid namespace (but its first, the guard's) holds one of `inodes`;
// with `subreaper`, only a descendant of it.
bool held_inside(const std::vector<uint32_t>& inodes, pid_t subreaper) {
  std::vector<std::string> names;
  for (uint32_t ino : inodes) names.push_back("socket:[" + std::to_string(ino) + "]");
  DIR* proc = opendir("/proc");
  if (!proc) return false;
  bool held = false;
  while (dirent* e = readdir(proc)) {
    char* end = nullptr;
    const long pid = std::strtol(e->d_name, &end, 10);
    if (*end != '\0' || pid <= 1 || (subreaper != 0 && !descends(pid, subreaper))) continue;
    const std::string dir = std::string("/proc/") + e->d_name + "/fd";
    DIR* fds = opendir(dir.c_str());
    for (dirent* f; fds && !held && (f = readdir(fds));) {
      char target[64];
      const ssize_t n = readlinkat(dirfd(fds), f->d_name, target, sizeof target - 1);
      if (n <= 0) continue;
      target[n] = '\0';
      for (const std::string& want : names) held = held || want == target;
    }
    if (fds) closedir(fds);
    if (held) break;
  }
  closedir(proc);
  return held;
}

}  // namespace

bool unix_socket_is_inside(const UnixSocketQuery& query) {
  std::vector<uint32_t> inodes;
  if (!bound_sockets(query, inodes) || inodes.empty()) return false;
  return !query.host_network || held_inside(inodes, query.subreaper);
}

}  // namespace sidecar::host
