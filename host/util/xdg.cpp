#include "util/xdg.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sys/stat.h>

namespace sidecar::xdg {

std::string state_dir() {
  const char* state = std::getenv("XDG_STATE_HOME");
  // The spec says a relative value is invalid and must be ignored.
  if (state && state[0] == '/') return std::string(state) + "/sidecar";
  const char* home = std::getenv("HOME");
  if (home && home[0] == '/') return std::string(home) + "/.local/state/sidecar";
  return "";
}

bool make_dirs(const std::string& dir, std::string& error) {
  for (std::size_t pos = 1; pos <= dir.size(); ++pos) {
    if (pos != dir.size() && dir[pos] != '/') continue;
    std::string prefix = dir.substr(0, pos);
    if (::mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST) {
      error = "cannot create " + prefix + ": " + std::strerror(errno);
      return false;
    }
  }
  return true;
}

}  // namespace sidecar::xdg
