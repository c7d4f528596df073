// host.paths: what Lua's own io cannot say about paths: a folder's real path (symbolic links
// resolved), the names in a folder, the user's XDG state folder (host/util/xdg.hpp), a file of code
// read safely (host/util/code_file.hpp), and the program a name runs (host/process/program_path.hpp).
// stdlib/sidecar/core/trust.lua keys a repository's trust by its real path, so that two spellings of one
// folder share it and a link swapped to another folder does not carry it along.
#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "boundary.hpp"
#include "modules.hpp"
#include "process/program_path.hpp"
#include "util/code_file.hpp"
#include "util/xdg.hpp"

namespace sidecar::lua {
namespace {

// paths.real(path) -> absolute path | nil, message, code ("ENOENT", "EACCES", ...)
int paths_real(lua_State* L) {
  const char* path = luaL_checkstring(L, 1);
  char* resolved = ::realpath(path, nullptr);
  if (!resolved) {
    const int err = errno;
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s", path, std::strerror(err));
    lua_pushstring(L, err == ENOENT ? "ENOENT" : err == EACCES ? "EACCES" : err == ENOTDIR ? "ENOTDIR" : "EIO");
    return 3;
  }
  std::string out(resolved);
  std::free(resolved);
  lua_pushlstring(L, out.data(), out.size());
  return 1;
}

// paths.entries(dir) -> {name...} (sorted, without . and ..) | nil, message
// Every name, symbolic links included: what a folder holds that a reader of it would open
// (host.artifact's list leaves links out, as it never writes through one).
int paths_entries(lua_State* L) {
  const char* dir = luaL_checkstring(L, 1);
  std::vector<std::string> names;
  DIR* d = ::opendir(dir);
  if (!d) {
    const int err = errno;
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s", dir, std::strerror(err));
    return 2;
  }
  while (const dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) names.emplace_back(e->d_name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  lua_createtable(L, static_cast<int>(names.size()), 0);
  for (std::size_t i = 0; i < names.size(); ++i) {
    lua_pushlstring(L, names[i].data(), names[i].size());
    lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
  }
  return 1;
}

// paths.state_dir() -> "$XDG_STATE_HOME/sidecar" (or ~/.local/state/sidecar) | nil, message
// Only the path: paths.make_dirs creates it when something is first written there.
int paths_state_dir(lua_State* L) {
  const std::string dir = xdg::state_dir();
  if (dir.empty()) {
    lua_pushnil(L);
    lua_pushliteral(L, "no state folder: set XDG_STATE_HOME (or HOME) to an absolute path");
    return 2;
  }
  lua_pushlstring(L, dir.data(), dir.size());
  return 1;
}

// paths.make_dirs(dir) -> true | nil, message   (missing parents too, mode 0700: the user's own)
int paths_make_dirs(lua_State* L) {
  std::string error;
  if (!xdg::make_dirs(luaL_checkstring(L, 1), error)) {
    lua_pushnil(L);
    lua_pushstring(L, error.c_str());
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

// paths.symlink(target, at) -> true | nil, message: a symbolic link at `at` to `target` (never
// over an existing path).
int paths_symlink(lua_State* L) {
  if (::symlink(luaL_checkstring(L, 1), luaL_checkstring(L, 2)) != 0) {
    lua_pushnil(L);
    lua_pushfstring(L, "cannot make the link %s: %s", lua_tostring(L, 2), std::strerror(errno));
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

// paths.remove_tree(dir) -> true | nil, message: `dir` and all beneath it; a link is removed,
// never followed.
int paths_remove_tree(lua_State* L) {
  std::error_code ec;
  std::filesystem::remove_all(luaL_checkstring(L, 1), ec);
  if (ec) {
    lua_pushnil(L);
    lua_pushfstring(L, "cannot remove %s: %s", lua_tostring(L, 1), ec.message().c_str());
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

// paths.read_code(path, max_bytes?) -> text | nil, message, code ("ENOENT", "ENOTREG", "EFBIG", ...)
// A regular file only (links followed), at most max_bytes (default 1 MiB): config.lua and
// presets are read this way, so a planted FIFO or /dev/zero is an error, not a hang.
int paths_read_code(lua_State* L) {
  const char* path = luaL_checkstring(L, 1);
  const lua_Integer max = luaL_optinteger(L, 2, 1 << 20);
  luaL_argcheck(L, max >= 0, 2, "expected a size in bytes");
  CodeFileError error;
  std::optional<std::string> text = read_code_file(path, static_cast<std::size_t>(max), error);
  if (!text) {
    lua_pushnil(L);
    lua_pushstring(L, error.message.c_str());
    lua_pushstring(L, error.code.c_str());
    return 3;
  }
  lua_pushlstring(L, text->data(), text->size());
  return 1;
}

// paths.copy_times(from, to) -> true | nil, message
// Gives `to` the access and modification times of `from`. A private copy of a git index must
// keep the index's own mtime: git trusts an entry's stat data only when the file is older than
// the index, and a fresh copy's newer mtime would hide a same-size change made in the second
// the index was written ("racy git").
int paths_copy_times(lua_State* L) {
  const char* from = luaL_checkstring(L, 1);
  const char* to = luaL_checkstring(L, 2);
  struct stat st {};
  if (::stat(from, &st) != 0) {
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s", from, std::strerror(errno));
    return 2;
  }
  const struct timespec times[2] = {st.st_atim, st.st_mtim};
  if (::utimensat(AT_FDCWD, to, times, 0) != 0) {
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s", to, std::strerror(errno));
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

// paths.touch(path) -> true | nil, message
// Sets the access and modification times of `path` (a link itself, not followed) to now: a queued file a sender
// queues again is young again (stdlib/sidecar/run/detached_sender.lua judges one by its age).
int paths_touch(lua_State* L) {
  const char* path = luaL_checkstring(L, 1);
  if (::utimensat(AT_FDCWD, path, nullptr, AT_SYMLINK_NOFOLLOW) != 0) {
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s", path, std::strerror(errno));
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

// paths.readlink(path) -> target | nil, message: the text of a symbolic link, not followed
// (stdlib/sidecar/run/symlinks_out.lua judges where it leads).
int paths_readlink(lua_State* L) {
  const char* path = luaL_checkstring(L, 1);
  std::string target(PATH_MAX, '\0');
  const ssize_t n = ::readlink(path, target.data(), target.size());
  if (n < 0) {
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s", path, std::strerror(errno));
    return 2;
  }
  lua_pushlstring(L, target.data(), static_cast<std::size_t>(n));
  return 1;
}

// paths.in_memory(path) -> boolean | nil, message: whether path (followed) is on a file system held in
// memory (tmpfs, ramfs): what is written there never reaches a disk (stdlib/sidecar/run/sandbox_folder.lua).
int paths_in_memory(lua_State* L) {
  const char* path = luaL_checkstring(L, 1);
  struct statfs fs {};
  if (::statfs(path, &fs) != 0) {
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s", path, std::strerror(errno));
    return 2;
  }
  lua_pushboolean(L, fs.f_type == TMPFS_MAGIC || fs.f_type == RAMFS_MAGIC);
  return 1;
}

// paths.lstat(path) -> {kind, size, mtime_ns, ctime_ns, mode, uid, gid} | nil, message. kind: "file",
// "directory", "symlink" (not followed) or "other".
int paths_lstat(lua_State* L) {
  const char* path = luaL_checkstring(L, 1);
  struct stat st {};
  if (::lstat(path, &st) != 0) {
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s", path, std::strerror(errno));
    return 2;
  }
  const char* kind = "other";
  if (S_ISREG(st.st_mode)) kind = "file";
  else if (S_ISDIR(st.st_mode)) kind = "directory";
  else if (S_ISLNK(st.st_mode)) kind = "symlink";
  lua_createtable(L, 0, 7);
  lua_pushstring(L, kind);
  lua_setfield(L, -2, "kind");
  lua_pushinteger(L, static_cast<lua_Integer>(st.st_size));
  lua_setfield(L, -2, "size");
  lua_pushinteger(L, static_cast<lua_Integer>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec);
  lua_setfield(L, -2, "mtime_ns");
  lua_pushinteger(L, static_cast<lua_Integer>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec);
  lua_setfield(L, -2, "ctime_ns");
  lua_pushinteger(L, static_cast<lua_Integer>(st.st_mode & 07777));
  lua_setfield(L, -2, "mode");
  lua_pushinteger(L, static_cast<lua_Integer>(st.st_uid));
  lua_setfield(L, -2, "uid");
  lua_pushinteger(L, static_cast<lua_Integer>(st.st_gid));
  lua_setfield(L, -2, "gid");
  return 1;
}

// paths.program(name, cwd?) -> path | nil, message, code
// The file that running `name` would execute, found as proc.spawn finds it (execvp's rules over
// this process's PATH; a name with a slash taken relative to `cwd`): only an executable file.
int paths_program(lua_State* L) {
  const std::string name = luaL_checkstring(L, 1);
  const std::string cwd = luaL_optstring(L, 2, "");
  const char* path = std::getenv("PATH");
  host::SpawnError error;
  const std::optional<std::string> file =
      host::resolve_program(name, path ? std::optional<std::string>(path) : std::nullopt, cwd, error);
  if (!file) {
    lua_pushnil(L);
    lua_pushstring(L, error.message.c_str());
    lua_pushstring(L, error.code.c_str());
    return 3;
  }
  lua_pushstring(L, file->c_str());
  return 1;
}

}  // namespace

int open_host_paths(lua_State* L) {
  static const luaL_Reg functions[] = {
      {"real", guarded<paths_real>},
      {"entries", guarded<paths_entries>},
      {"state_dir", guarded<paths_state_dir>},
      {"make_dirs", guarded<paths_make_dirs>},
      {"symlink", guarded<paths_symlink>},
      {"remove_tree", guarded<paths_remove_tree>},
      {"read_code", guarded<paths_read_code>},
      {"copy_times", guarded<paths_copy_times>},
      {"touch", guarded<paths_touch>},
      {"lstat", guarded<paths_lstat>},
      {"in_memory", guarded<paths_in_memory>},
      {"readlink", guarded<paths_readlink>},
      {"program", guarded<paths_program>},
      {nullptr, nullptr},
  };
  luaL_newlib(L, functions);
  return 1;
}

}  // namespace sidecar::lua
