// host.lock: a lock held for as long as a process lives (host/store/file_lock.hpp), for Lua.
//
// A lock is a full userdata ("sidecar.file_lock") made closed and then filled, as liolib does
// with files; release, __close and __gc share one idempotent release, so a `<close>` variable or
// the collector drops it, and so does the end of the process, however it ends.
#include <cerrno>
#include <cstring>
#include <optional>
#include <string>

#include "artifact_binding.hpp"
#include "boundary.hpp"
#include "lua_args.hpp"
#include "modules.hpp"
#include "store/file_lock.hpp"
#include "userdata_box.hpp"

namespace sidecar::lua {
namespace {

constexpr char kLockType[] = "sidecar.file_lock";

struct HeldLock {
  host::FileLock lock;
  std::string path;
};
using LockHolder = std::optional<HeldLock>;

std::string errno_name(int e) {
  if (e == EWOULDBLOCK) return "EWOULDBLOCK";  // glibc names it by its twin, EAGAIN
  const char* name = strerrorname_np(e);
  return name ? name : "EIO";
}

// The result of a try: the lock in `box`, or nil, message, code.
int push_try(lua_State* L, UserdataBox<LockHolder>* box, int e, host::FileLock& lock, const std::string& path) {
  if (e != 0) {
    lua_pushnil(L);
    if (e == EWOULDBLOCK) {
      lua_pushfstring(L, "%s is locked by another process", path.c_str());
    } else {
      lua_pushfstring(L, "cannot lock %s: %s", path.c_str(),
                      e == ELOOP ? "it is a symbolic link" : e == EINVAL ? "it is not a regular file" : std::strerror(e));
    }
    lua_pushstring(L, errno_name(e).c_str());
    return 3;
  }
  box->value.emplace(HeldLock{std::move(lock), path});
  return 1;
}

// lock.try(path) -> lock | nil, message, code
// Never waits: code "EWOULDBLOCK" when another open of the file holds the lock (another process,
// or this one through another lock object); "ENOENT" when its folder does not exist.
int lock_try(lua_State* L) {
  std::string path(check_text(L, 1));
  auto* box = new_box<LockHolder>(L, kLockType);
  host::FileLock lock;
  return push_try(L, box, host::FileLock::try_lock(path, lock), lock, path);
}

// lock.try_in(dir, path) -> lock | nil, message, code
// As try, for `path` inside an artifact folder (host.artifact), opened one component at a time
// and never through a link: a lock file in a folder that others can write into (a run's folder
// in a repository) cannot be swapped for a link between a check and the open. Codes as
// dir:read's for a refused path ("ESYMLINK", "EHARDLINK", "ENOENT", ...).
int lock_try_in(lua_State* L) {
  host::ArtifactDir& dir = artifact_binding::check_dir(L, 1);
  std::string path(check_text(L, 2));
  auto* box = new_box<LockHolder>(L, kLockType);
  const std::string shown = dir.root() + "/" + path;  // made first: nothing may throw while fd is bare
  host::FsError error;
  const int fd = dir.open_lock_file(path, error);
  if (fd < 0) {
    lua_pushnil(L);
    lua_pushstring(L, error.message.c_str());
    lua_pushstring(L, error.code.c_str());
    return 3;
  }
  host::FileLock lock;
  const int e = host::FileLock::try_lock_descriptor(fd, lock);
  return push_try(L, box, e, lock, shown);
}

// lock:held() -> boolean
int lock_held(lua_State* L) {
  lua_pushboolean(L, to_box<LockHolder>(L, kLockType)->value.has_value());
  return 1;
}

// lock:write(text) -> true | nil, message, code
// Replaces what the locked file holds with `text` (host::FileLock::write_content): who holds it,
// for whoever looks. Refused once released.
int lock_write(lua_State* L) {
  auto* box = to_box<LockHolder>(L, kLockType);
  const std::string_view text = check_text(L, 2);
  const int e = box->value ? box->value->lock.write_content(text) : EBADF;
  if (e == 0) {
    lua_pushboolean(L, 1);
    return 1;
  }
  lua_pushnil(L);
  lua_pushfstring(L, "cannot write %s: %s", box->value ? box->value->path.c_str() : "a released lock",
                  std::strerror(e));
  lua_pushstring(L, errno_name(e).c_str());
  return 3;
}

// tostring(lock) -> "sidecar.file_lock (PATH)" or "sidecar.file_lock (released)"
int lock_tostring(lua_State* L) {
  auto* box = to_box<LockHolder>(L, kLockType);
  if (box->value) {
    lua_pushfstring(L, "sidecar.file_lock (%s)", box->value->path.c_str());
  } else {
    lua_pushliteral(L, "sidecar.file_lock (released)");
  }
  return 1;
}

}  // namespace

int open_host_lock(lua_State* L) {
  static const luaL_Reg methods[] = {
      {"release", guarded<box_close<LockHolder, kLockType>>},
      {"held", guarded<lock_held>},
      {"write", guarded<lock_write>},
      {nullptr, nullptr},
  };
  static const luaL_Reg meta[] = {
      {"__close", guarded<box_close<LockHolder, kLockType>>},
      {"__gc", guarded<box_gc<LockHolder, kLockType>>},
      {"__tostring", guarded<lock_tostring>},
      {nullptr, nullptr},
  };
  static const luaL_Reg functions[] = {
      {"try", guarded<lock_try>},
      {"try_in", guarded<lock_try_in>},
      {nullptr, nullptr},
  };
  register_type(L, kLockType, meta, methods);
  luaL_newlib(L, functions);
  return 1;
}

}  // namespace sidecar::lua
