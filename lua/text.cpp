// host.text: untrusted text (an agent's answer, a task's title) made safe for where it goes:
// valid UTF-8 for records, visible bytes for the terminal (host/util/utf8.hpp). Pure functions: each
// returns the text unchanged (the same string value) when nothing needed rewriting.
#include <string>

#include "boundary.hpp"
#include "lua_args.hpp"
#include "modules.hpp"
#include "util/utf8.hpp"

namespace sidecar::lua {
namespace {

// Pushes `out` (or the original argument 1 when `count` is 0, saving a copy) and `count`.
int push_rewritten(lua_State* L, const std::string& out, std::size_t count) {
  if (count == 0) lua_pushvalue(L, 1);
  else lua_pushlstring(L, out.data(), out.size());
  lua_pushinteger(L, static_cast<lua_Integer>(count));
  return 2;
}

// text.valid_utf8(s) -> true | false, offset   (offset: 1-based, of the first invalid byte)
int text_valid_utf8(lua_State* L) {
  std::string_view s = check_text(L, 1);
  std::size_t bad = utf8_invalid_offset(s);
  lua_pushboolean(L, bad == std::string_view::npos);
  if (bad == std::string_view::npos) return 1;
  lua_pushinteger(L, static_cast<lua_Integer>(bad + 1));
  return 2;
}

// text.repair_utf8(s) -> s', replaced   (each invalid byte becomes U+FFFD)
int text_repair_utf8(lua_State* L) {
  std::string_view s = check_text(L, 1);
  if (utf8_valid(s)) return push_rewritten(L, {}, 0);  // the common case: no copy at all
  std::size_t replaced = 0;
  std::string out = utf8_repair(s, &replaced);
  return push_rewritten(L, out, replaced);
}

// text.visible(s) -> s', changed   (controls and non-UTF-8 bytes shown, never obeyed)
int text_visible(lua_State* L) {
  std::string_view s = check_text(L, 1);
  std::size_t changed = 0;
  std::string out = terminal_visible(s, &changed);
  return push_rewritten(L, out, changed);
}

// text.char_start(s, i) -> j   (the largest j <= i where a UTF-8 character may start; i in 1..#s+1)
// Cutting a string at j never splits a character of valid text.
int text_char_start(lua_State* L) {
  std::string_view s = check_text(L, 1);
  lua_Integer i = luaL_checkinteger(L, 2);
  if (i < 1) i = 1;
  if (i > static_cast<lua_Integer>(s.size()) + 1) i = static_cast<lua_Integer>(s.size()) + 1;
  lua_Integer j = i;
  // At most 3 continuation bytes precede a lead byte in valid text; a longer run is not text.
  while (j > 1 && j <= static_cast<lua_Integer>(s.size()) && i - j < 3 &&
         (static_cast<unsigned char>(s[static_cast<std::size_t>(j - 1)]) & 0xC0) == 0x80)
    --j;
  if (j <= static_cast<lua_Integer>(s.size()) &&
      (static_cast<unsigned char>(s[static_cast<std::size_t>(j - 1)]) & 0xC0) == 0x80)
    j = i;  // not text after all: cut where asked
  lua_pushinteger(L, j);
  return 1;
}

}  // namespace

int open_host_text(lua_State* L) {
  static const luaL_Reg functions[] = {
      {"valid_utf8", guarded<text_valid_utf8>},
      {"repair_utf8", guarded<text_repair_utf8>},
      {"visible", guarded<text_visible>},
      {"char_start", guarded<text_char_start>},
      {nullptr, nullptr},
  };
  luaL_newlib(L, functions);
  return 1;
}

}  // namespace sidecar::lua
