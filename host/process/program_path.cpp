#include "process/program_path.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char** environ;

namespace sidecar::host {
namespace {

std::string_view name_of(const std::string& entry) {
  std::size_t eq = entry.find('=');
  return std::string_view(entry).substr(0, eq == std::string::npos ? entry.size() : eq);
}

enum class Usable { Yes, Missing, NotExecutable, Directory };

Usable check(const std::string& file) {
  struct stat st {};
  if (stat(file.c_str(), &st) != 0) return Usable::Missing;
  if (S_ISDIR(st.st_mode)) return Usable::Directory;
  if (access(file.c_str(), X_OK) != 0) return Usable::NotExecutable;
  return Usable::Yes;
}

}  // namespace

bool check_command(const std::vector<std::string>& argv, const std::string& cwd, SpawnError& error) {
  if (argv.empty()) {
    error = {"cannot run an empty command", "EINVAL"};
    return false;
  }
  if (cwd.empty()) return true;
  struct stat st {};
  bool exists = stat(cwd.c_str(), &st) == 0 || errno != ENOENT;
  if (!exists || !S_ISDIR(st.st_mode)) {
    error = {"cannot run '" + argv[0] + "': working directory " + cwd +
                 (exists ? " is not a directory" : " does not exist"),
             "ENOENT"};
    return false;
  }
  return true;
}

std::vector<std::string> build_environment(
    const std::vector<std::pair<std::string, std::optional<std::string>>>& changes, bool clear) {
  std::vector<std::string> env;
  if (!clear) {
    for (char** e = environ; e && *e; ++e) env.emplace_back(*e);
  }
  for (const auto& [name, value] : changes) {
    std::size_t i = 0;
    while (i < env.size() && name_of(env[i]) != name) ++i;
    if (value) {
      std::string entry = name + "=" + *value;
      if (i < env.size()) env[i] = std::move(entry); else env.push_back(std::move(entry));
    } else if (i < env.size()) {
      env.erase(env.begin() + static_cast<std::ptrdiff_t>(i));
    }
  }
  return env;
}

std::optional<std::string> environment_value(const std::vector<std::string>& env, const std::string& name) {
  for (const std::string& entry : env) {
    if (name_of(entry) == name) return entry.substr(name.size() + 1);
  }
  return std::nullopt;
}

std::optional<std::string> resolve_program(const std::string& program, const std::optional<std::string>& path,
                                           const std::string& cwd, SpawnError& error) {
  if (program.empty()) {
    error = {"cannot run an empty program name", "EINVAL"};
    return std::nullopt;
  }
  if (program.find('/') != std::string::npos) {
    std::string file = (program[0] == '/' || cwd.empty()) ? program : cwd + "/" + program;
    switch (check(file)) {
      case Usable::Yes: return file;
      case Usable::Missing: error = {"cannot run '" + program + "': no such file (" + file + ")", "ENOENT"}; break;
      case Usable::Directory: error = {"cannot run '" + program + "': it is a directory", "EACCES"}; break;
      case Usable::NotExecutable:
        error = {"cannot run '" + program + "': permission denied (" + file + " is not executable)", "EACCES"};
        break;
    }
    return std::nullopt;
  }
  // As execvp: an unset PATH means the default search path; an empty entry means ".".
  const std::string search = path ? *path : "/usr/local/bin:/usr/bin:/bin";
  std::string denied;
  std::size_t start = 0;
  while (start <= search.size()) {
    std::size_t end = search.find(':', start);
    if (end == std::string::npos) end = search.size();
    std::string dir = search.substr(start, end - start);
    if (dir.empty()) dir = ".";
    std::string file = dir + "/" + program;
    if (dir[0] != '/' && !cwd.empty()) file = cwd + "/" + file;
    Usable u = check(file);
    if (u == Usable::Yes) return file;
    if (u == Usable::NotExecutable && denied.empty()) denied = file;
    start = end + 1;
  }
  if (!denied.empty()) {
    error = {"cannot run '" + program + "': permission denied (" + denied + " is not executable)", "EACCES"};
  } else {
    error = {"cannot run '" + program + "': not found in PATH (" + search + ")", "ENOENT"};
  }
  return std::nullopt;
}

}  // namespace sidecar::host
