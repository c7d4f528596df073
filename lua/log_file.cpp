// host.logfile: a log file kept to a bound (host/process/log_cap.hpp), for logs that Lua writes itself
// (a run's terminal: stdlib/sidecar/agent/terminal.lua). The same head, marker and tail as the
// raw logs the process loop bounds, so every capped log of a run reads alike.
//
// A log is a full userdata ("sidecar.logfile"): close() writes the marker and the tail and
// returns what became of the stream; __close and __gc close the file without them (an error
// unwound past the log: what reached the file is there).
#include <fcntl.h>

#include <cerrno>
#include <memory>
#include <string>

#include "boundary.hpp"
#include "lua_args.hpp"
#include "modules.hpp"
#include "proc_options.hpp"
#include "process/log_cap.hpp"
#include "userdata_box.hpp"
#include "util/unique_fd.hpp"

namespace sidecar::lua {
namespace {

constexpr char kLogType[] = "sidecar.logfile";

struct OpenLog {
  host::UniqueFd fd;
  host::LogCap cap;
  std::string path;
};
using LogHolder = std::unique_ptr<OpenLog>;

// "cannot <doing> <path>" as the failure's subject (lua_args.hpp: push_errno).
int log_failure(lua_State* L, const char* doing, const std::string& path, int e) {
  return push_errno(L, e, ("cannot " + std::string(doing) + " " + path).c_str());
}

// logfile.open(path, max_bytes) -> log | nil, message, code
// Creates or truncates `path`; max_bytes 0 keeps every byte.
int log_open(lua_State* L) {
  std::string path(check_text(L, 1));
  const lua_Integer max = luaL_checkinteger(L, 2);
  luaL_argcheck(L, max >= 0, 2, "max_bytes must be 0 or more");
  auto* box = new_box<LogHolder>(L, kLogType);
  auto log = std::make_unique<OpenLog>();
  log->fd.reset(::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (log->fd.fd < 0) return log_failure(L, "open", path, errno);
  log->cap = host::LogCap(static_cast<uint64_t>(max));
  log->cap.attach(log->fd.fd);
  log->path = std::move(path);
  box->value = std::move(log);
  return 1;
}

// log:write(bytes) -> true | nil, message, code
// Written straight through while within the bound (readable as it grows), else kept in the tail.
int log_write(lua_State* L) {
  auto& log = check_open<LogHolder>(L, kLogType, "log");
  std::size_t n = 0;
  const char* data = luaL_checklstring(L, 2, &n);
  if (int e = log.cap.write(log.fd.fd, {data, n})) return log_failure(L, "write", log.path, e);
  lua_pushboolean(L, 1);
  return 1;
}

// log:close() -> {max_bytes, seen, kept, dropped, truncated} | nil, message, code
// The marker and the tail when the bound was passed, then the file closed.
int log_close(lua_State* L) {
  auto* box = to_box<LogHolder>(L, kLogType);
  if (!box->value) return luaL_error(L, "attempt to use a closed log");
  LogHolder log = std::move(box->value);
  if (int e = log->cap.finish(log->fd.fd)) return log_failure(L, "finish", log->path, e);
  proc_options::push_log_stats(L, log->cap.stats());
  return 1;
}

}  // namespace

int open_host_logfile(lua_State* L) {
  static const luaL_Reg methods[] = {
      {"write", guarded<log_write>},
      {"close", guarded<log_close>},
      {nullptr, nullptr},
  };
  static const luaL_Reg meta[] = {
      {"__close", guarded<box_close<LogHolder, kLogType>>},
      {"__gc", guarded<box_gc<LogHolder, kLogType>>},
      {nullptr, nullptr},
  };
  static const luaL_Reg functions[] = {
      {"open", guarded<log_open>},
      {nullptr, nullptr},
  };
  register_type(L, kLogType, meta, methods);
  luaL_newlib(L, functions);
  return 1;
}

}  // namespace sidecar::lua
