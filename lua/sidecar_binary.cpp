#include "sidecar_binary.hpp"

#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <vector>

namespace sidecar::lua {
namespace {

// The canonical path of `path` (links resolved), or an empty string when it does not resolve.
std::string real(const std::string& path) {
  std::unique_ptr<char, decltype(&std::free)> r(realpath(path.c_str(), nullptr), &std::free);
  return r ? std::string(r.get()) : std::string();
}

bool executable_file(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(path.c_str(), X_OK) == 0;
}

std::string parent(const std::string& path) {
  std::string::size_type slash = path.rfind('/');
  return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

std::string joined(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : ", ") + p;
  return out;
}

// The shared library this function is in, or empty when it is linked into the program itself.
std::string this_library(const std::string& self) {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&this_library), &info) == 0 || info.dli_fname == nullptr) return {};
  std::string lib = real(info.dli_fname);
  return lib == self ? std::string() : lib;
}

}  // namespace

std::string find_sidecar_binary(const std::string& named, std::string& why) {
  if (!named.empty()) {
    if (executable_file(named)) return real(named);  // absolute: workers start in other folders
    why = "HostOptions::sidecar_binary is " + named + ", which is not an executable file: name the sidecar binary";
    return {};
  }
  const std::string self = real("/proc/self/exe");
  std::vector<std::string> tried;
  auto usable = [&](const std::string& candidate) {
    tried.push_back(candidate);
    return executable_file(candidate) && real(candidate) != self;
  };
  const std::string lib = this_library(self);
  if (lib.empty()) {
    tried.push_back("none beside the library (it is linked into this program)");
  } else {
    const std::string dir = parent(lib);
    for (const std::string& candidate : {dir + "/sidecar", parent(dir) + "/bin/sidecar",
                                         parent(parent(dir)) + "/bin/sidecar"}) {
      if (usable(candidate)) return real(candidate);
    }
  }
  const char* path = std::getenv("PATH");
  std::string list = path ? path : "";
  std::string::size_type start = 0;
  while (path && start <= list.size()) {
    std::string::size_type end = list.find(':', start);
    if (end == std::string::npos) end = list.size();
    std::string dir = list.substr(start, end - start);
    // Only absolute entries: an empty or relative one is the current folder (a cloned repository,
    // say), whose `sidecar` would run outside every sandbox.
    std::string candidate = dir + "/sidecar";
    if (!dir.empty() && dir[0] == '/' && executable_file(candidate) && real(candidate) != self) return real(candidate);
    start = end + 1;
  }
  tried.push_back(std::string("sidecar in PATH's absolute folders (") + (path ? path : "PATH is not set") + ")");
  why = "no sidecar binary for this program's Host: tried " + joined(tried) +
        ". Install sidecar, put it on PATH, or name it in HostOptions::sidecar_binary";
  return {};
}

}  // namespace sidecar::lua
