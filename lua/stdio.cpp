// host.stdio: the standard streams for a program that speaks a protocol on them (`sidecar mcp`):
// a line reader on stdin that waits with a timeout, so the program can poll its work between
// messages and still see a cancellation at once, and a way to keep stdout for the protocol alone.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>

#include "boundary.hpp"
#include "modules.hpp"
#include "userdata_box.hpp"
#include "util/line_reader.hpp"

namespace sidecar::lua {
namespace {

constexpr char kReaderType[] = "sidecar.line_reader";
using ReaderHolder = std::optional<host::LineReader>;

// stdio.lines(fd, max_bytes) -> reader    (fd 0: standard input)
int stdio_lines(lua_State* L) {
  lua_Integer fd = luaL_checkinteger(L, 1);
  lua_Integer max = luaL_checkinteger(L, 2);
  luaL_argcheck(L, fd >= 0 && fd <= 1024, 1, "expected a file descriptor");
  luaL_argcheck(L, max > 0, 2, "expected a positive number of bytes");
  auto* box = new_box<ReaderHolder>(L, kReaderType);
  box->value.emplace(static_cast<int>(fd), static_cast<std::size_t>(max));
  return 1;
}

// reader:read(ms?) -> line | nil, "timeout" | nil, "too_long" | nil, "eof" | nil, "error", message
// ms: at most this long (default: until a line or the end); a line past max_bytes is skipped
// whole and reported as "too_long" once its end has arrived.
int reader_read(lua_State* L) {
  host::LineReader& reader = check_open<ReaderHolder>(L, kReaderType, "line reader");
  lua_Integer ms = luaL_optinteger(L, 2, -1);
  luaL_argcheck(L, ms <= 86400000, 2, "expected at most a day of milliseconds");
  std::string line;
  switch (reader.next(static_cast<int>(ms < 0 ? -1 : ms), line)) {
    case host::LineReader::Status::Line:
      lua_pushlstring(L, line.data(), line.size());
      return 1;
    case host::LineReader::Status::Timeout:
      lua_pushnil(L);
      lua_pushliteral(L, "timeout");
      return 2;
    case host::LineReader::Status::TooLong:
      lua_pushnil(L);
      lua_pushliteral(L, "too_long");
      return 2;
    case host::LineReader::Status::End:
      lua_pushnil(L);
      lua_pushliteral(L, "eof");
      return 2;
    case host::LineReader::Status::Error:
      break;
  }
  lua_pushnil(L);
  lua_pushliteral(L, "error");
  lua_pushlstring(L, line.data(), line.size());
  return 3;
}

// The close function of a Lua file made here (liolib calls it through luaL_Stream.closef).
int claimed_close(lua_State* L) {
  auto* p = static_cast<luaL_Stream*>(luaL_checkudata(L, 1, LUA_FILEHANDLE));
  int ok = std::fclose(p->f) == 0;
  return luaL_fileresult(L, ok, nullptr);
}

// stdio.claim_stdout() -> file | nil, message
// A Lua file on a copy of stdout, for the protocol alone; stdout itself (fd 1, and so print,
// io.write and every child process) goes to stderr from then on, so nothing else can ever
// write a byte into the protocol stream.
int stdio_claim_stdout(lua_State* L) {
  std::fflush(stdout);
  int copy = ::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
  if (copy < 0 || ::dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
    if (copy >= 0) ::close(copy);
    lua_pushnil(L);
    lua_pushfstring(L, "cannot keep stdout for the protocol: %s", std::strerror(errno));
    return 2;
  }
  auto* p = static_cast<luaL_Stream*>(lua_newuserdatauv(L, sizeof(luaL_Stream), 0));
  p->closef = nullptr;  // closed (for __gc) until the FILE exists
  luaL_setmetatable(L, LUA_FILEHANDLE);
  p->f = ::fdopen(copy, "w");
  if (!p->f) {
    ::close(copy);
    lua_pushnil(L);
    lua_pushfstring(L, "cannot keep stdout for the protocol: %s", std::strerror(errno));
    return 2;
  }
  p->closef = claimed_close;
  return 1;
}

}  // namespace

int open_host_stdio(lua_State* L) {
  static const luaL_Reg reader_methods[] = {
      {"read", guarded<reader_read>},
      {"close", box_close<ReaderHolder, kReaderType>},
      {nullptr, nullptr},
  };
  static const luaL_Reg reader_meta[] = {
      {"__close", box_close<ReaderHolder, kReaderType>},
      {"__gc", box_gc<ReaderHolder, kReaderType>},
      {nullptr, nullptr},
  };
  register_type(L, kReaderType, reader_meta, reader_methods);
  static const luaL_Reg functions[] = {
      {"lines", guarded<stdio_lines>},
      {"claim_stdout", guarded<stdio_claim_stdout>},
      {nullptr, nullptr},
  };
  luaL_newlib(L, functions);
  return 1;
}

}  // namespace sidecar::lua
