// host.memfile: a file in memory (host/process/memory_file.hpp) that a process writes to as its
// descriptor 3, read once the process has ended; nothing is made on a file system. An OS
// sandbox's report comes through one (stdlib/sidecar/run/sandbox.lua).
//
//   local report = assert(memfile.open("sidecar-sandbox-report"))
//   local h = proc.spawn(argv, {fd3 = report})   -- emptied before each spawn
//   h:wait()
//   local text = report:read()                   -- also report:read(max_bytes)
//   report:close()                               -- also __close and __gc
//
// A memory file is a full userdata ("sidecar.memfile") made closed and then filled, as liolib does
// with files; close, __close and __gc share one idempotent close.
#include "memory_file.hpp"

#include <cerrno>
#include <memory>
#include <optional>
#include <string>

#include "boundary.hpp"
#include "lua_args.hpp"
#include "modules.hpp"
#include "process/memory_file.hpp"
#include "userdata_box.hpp"
#include "util/unique_fd.hpp"

namespace sidecar::lua {
namespace {

constexpr char kMemoryFileType[] = "sidecar.memfile";
constexpr lua_Integer kDefaultMax = 16 * 1024 * 1024;  // read()'s bound when none is given
using MemoryFileHolder = std::unique_ptr<host::UniqueFd>;

// memfile.open(name?) -> file | nil, message, code
int memfile_open(lua_State* L) {
  const char* name = luaL_optstring(L, 1, "sidecar");
  auto* box = new_box<MemoryFileHolder>(L, kMemoryFileType);
  auto fd = std::make_unique<host::UniqueFd>(host::open_memory_file(name));
  if (fd->fd < 0) return push_errno(L, errno, "cannot make a memory file");
  box->value = std::move(fd);
  return 1;
}

// file:read(max_bytes?) -> text | nil, message, code: what was written, from the start.
int memfile_read(lua_State* L) {
  const host::UniqueFd& fd = check_open<MemoryFileHolder>(L, kMemoryFileType, "memory file");
  const lua_Integer max = luaL_optinteger(L, 2, kDefaultMax);
  luaL_argcheck(L, max >= 0, 2, "max_bytes must be 0 or more");
  int error = 0;
  std::optional<std::string> text = host::read_memory_file(fd.fd, static_cast<std::size_t>(max), error);
  if (!text) return push_errno(L, error, "cannot read the memory file");
  lua_pushlstring(L, text->data(), text->size());
  return 1;
}

int memfile_tostring(lua_State* L) {
  auto* box = to_box<MemoryFileHolder>(L, kMemoryFileType);
  if (box->value) lua_pushfstring(L, "memory file (descriptor %d)", box->value->fd);
  else lua_pushliteral(L, "memory file (closed)");
  return 1;
}

}  // namespace

int memory_file_fd(lua_State* L, int index) {
  auto* box = static_cast<UserdataBox<MemoryFileHolder>*>(luaL_testudata(L, index, kMemoryFileType));
  if (!box) return -1;
  if (!box->value) luaL_error(L, "attempt to use a closed memory file");
  return box->value->fd;
}

int open_host_memfile(lua_State* L) {
  static const luaL_Reg methods[] = {
      {"read", guarded<memfile_read>},
      {"close", guarded<box_close<MemoryFileHolder, kMemoryFileType>>},
      {nullptr, nullptr},
  };
  static const luaL_Reg meta[] = {
      {"__close", guarded<box_close<MemoryFileHolder, kMemoryFileType>>},
      {"__gc", guarded<box_gc<MemoryFileHolder, kMemoryFileType>>},
      {"__tostring", guarded<memfile_tostring>},
      {nullptr, nullptr},
  };
  static const luaL_Reg functions[] = {
      {"open", guarded<memfile_open>},
      {nullptr, nullptr},
  };
  register_type(L, kMemoryFileType, meta, methods);
  luaL_newlib(L, functions);
  return 1;
}

}  // namespace sidecar::lua
