// host.json: JSON text <-> Lua values. Decoding is nlohmann/json's SAX parser building Lua tables
// directly (no intermediate document); encoding walks Lua tables with host/util/json_text.
//
// Lua shape of JSON (the rules stdlib/sidecar/core/json.lua documents):
//   null            <-> json.null, a unique userdata
//   array / object  <-> tables carrying json.array_mt / json.object_mt, so {} and [] round-trip
//   integer / float <-> Lua integer / float (2.0 stays 2.0)
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "boundary.hpp"
#include "modules.hpp"
#include "util/json_text.hpp"
#include "util/utf8.hpp"

namespace sidecar::lua {
namespace {

constexpr int kMaxDepth = 1000;  // deeper documents are errors, never a C stack overflow

// Registry keys (addresses of these statics are unique light userdata keys).
char kNullKey, kArrayMtKey, kObjectMtKey;

void push_registry(lua_State* L, const char* key) { lua_rawgetp(L, LUA_REGISTRYINDEX, key); }

// ---------------------------------------------------------------------------------------------
// Encoding

struct EncodeOptions {
  int indent = 0;  // 0: compact
};

class Encoder {
 public:
  Encoder(lua_State* L, EncodeOptions opts) : L_(L), opts_(opts) {
    push_registry(L, &kNullKey);
    null_ = lua_topointer(L, -1);
    push_registry(L, &kArrayMtKey);
    array_mt_ = lua_topointer(L, -1);
    push_registry(L, &kObjectMtKey);
    object_mt_ = lua_topointer(L, -1);
    lua_pop(L, 3);
  }

  std::string encode(int idx) {
    value(lua_absindex(L_, idx));
    return std::move(out_);
  }

 private:
  struct Segment {
    std::string_view key;  // object member (when !is_index)
    lua_Integer index = 0;
    bool is_index = false;
  };

  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error("json.encode: " + what + " at " + path());
  }

  // "$.a[3].b": Lua's 1-based indices, so the path names the element as the Lua table holds it.
  std::string path() const {
    std::string p = "$";
    for (const Segment& s : path_) {
      if (s.is_index) {
        p += "[" + std::to_string(s.index) + "]";
      } else if (is_identifier(s.key)) {
        p += ".";
        p += s.key;
      } else {
        p += "[";
        if (!json_text::append_string(p, s.key)) p += "<invalid UTF-8 key>";
        p += "]";
      }
    }
    return p;
  }

  static bool is_identifier(std::string_view k) {
    if (k.empty() || std::isdigit(static_cast<unsigned char>(k[0]))) return false;
    return std::all_of(k.begin(), k.end(),
                       [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
  }

  void newline(int depth) {
    if (opts_.indent <= 0) return;
    out_.push_back('\n');
    out_.append(static_cast<std::size_t>(depth * opts_.indent), ' ');
  }

  void string(std::string_view s) {
    std::size_t bad = 0;
    if (!json_text::append_string(out_, s, &bad))
      fail("invalid UTF-8 in string (byte " + std::to_string(bad + 1) + ")");
  }

  void value(int idx) {
    switch (lua_type(L_, idx)) {
      case LUA_TNIL: out_ += "null"; return;
      case LUA_TBOOLEAN: out_ += lua_toboolean(L_, idx) ? "true" : "false"; return;
      case LUA_TNUMBER:
        if (lua_isinteger(L_, idx)) {
          json_text::append_integer(out_, lua_tointeger(L_, idx));
        } else if (!json_text::append_float(out_, lua_tonumber(L_, idx))) {
          fail("cannot encode " + std::string(lua_tonumber(L_, idx) != lua_tonumber(L_, idx) ? "NaN" : "infinity"));
        }
        return;
      case LUA_TSTRING: {
        std::size_t len;
        const char* s = lua_tolstring(L_, idx, &len);
        string({s, len});
        return;
      }
      case LUA_TTABLE: table(idx); return;
      case LUA_TUSERDATA:
        if (lua_topointer(L_, idx) == null_) {
          out_ += "null";
          return;
        }
        break;
      default: break;
    }
    fail(std::string("cannot encode a ") + luaL_typename(L_, idx) + " value");
  }

  enum class Shape { Array, Object };

  void table(int idx) {
    if (static_cast<int>(open_.size()) >= kMaxDepth) fail("nesting deeper than " + std::to_string(kMaxDepth));
    const void* self = lua_topointer(L_, idx);
    if (std::find(open_.begin(), open_.end(), self) != open_.end())
      fail("cycle: the table contains itself");
    luaL_checkstack(L_, 4, "json.encode");

    const void* mt = nullptr;
    if (lua_getmetatable(L_, idx)) {
      mt = lua_topointer(L_, -1);
      lua_pop(L_, 1);
    }

    // One pass over the keys: classify them and keep the string keys for sorting.
    std::vector<std::string_view> keys;
    lua_Integer count = 0, max_index = 0;
    bool has_int = false, has_str = false;
    lua_pushnil(L_);
    while (lua_next(L_, idx)) {
      lua_pop(L_, 1);
      ++count;
      int kt = lua_type(L_, -1);
      if (kt == LUA_TSTRING) {
        has_str = true;
        std::size_t len;
        const char* k = lua_tolstring(L_, -1, &len);  // stays valid: the table holds the key
        keys.emplace_back(k, len);
      } else if (kt == LUA_TNUMBER && lua_isinteger(L_, -1) && lua_tointeger(L_, -1) >= 1) {
        has_int = true;
        max_index = std::max(max_index, lua_tointeger(L_, -1));
      } else {
        fail(std::string("cannot encode a table key of type ") +
             (kt == LUA_TNUMBER ? (lua_isinteger(L_, -1) ? "integer (below 1)" : "float") : lua_typename(L_, kt)));
      }
    }

    Shape shape;
    if (mt == array_mt_) {
      if (has_str) fail("array (json.array) has string key \"" + std::string(keys.front()) + "\"");
      shape = Shape::Array;
    } else if (mt == object_mt_) {
      if (has_int) fail("object (json.object) has integer keys; JSON object keys are strings");
      shape = Shape::Object;
    } else if (has_int && has_str) {
      fail("mixed table: both array indices and string keys");
    } else {
      shape = has_int ? Shape::Array : Shape::Object;  // an empty plain table is an object
    }
    if (shape == Shape::Array && max_index != count)
      fail("sparse array: highest index " + std::to_string(max_index) + " but " + std::to_string(count) +
           " elements (use json.null for holes)");

    open_.push_back(self);
    const int depth = static_cast<int>(open_.size());
    if (shape == Shape::Array) {
      out_.push_back('[');
      for (lua_Integer i = 1; i <= count; ++i) {
        if (i > 1) out_.push_back(',');
        newline(depth);
        path_.push_back({{}, i, true});
        lua_rawgeti(L_, idx, i);
        value(lua_gettop(L_));
        lua_pop(L_, 1);
        path_.pop_back();
      }
      if (count > 0) newline(depth - 1);
      out_.push_back(']');
    } else {
      std::sort(keys.begin(), keys.end());  // byte order: artifacts diff cleanly
      out_.push_back('{');
      bool first = true;
      for (std::string_view k : keys) {
        if (!first) out_.push_back(',');
        first = false;
        newline(depth);
        path_.push_back({k, 0, false});
        string(k);
        out_.push_back(':');
        if (opts_.indent > 0) out_.push_back(' ');
        lua_pushlstring(L_, k.data(), k.size());
        lua_rawget(L_, idx);
        value(lua_gettop(L_));
        lua_pop(L_, 1);
        path_.pop_back();
      }
      if (!keys.empty()) newline(depth - 1);
      out_.push_back('}');
    }
    open_.pop_back();
  }

  lua_State* L_;
  EncodeOptions opts_;
  const void* null_;
  const void* array_mt_;
  const void* object_mt_;
  std::string out_;
  std::vector<Segment> path_;
  std::vector<const void*> open_;  // tables being encoded, outermost first
};

// json.encode(value, opts?) -> string        opts: {indent = n}
int json_encode(lua_State* L) {
  EncodeOptions opts;
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    if (lua_getfield(L, 2, "indent") != LUA_TNIL) {
      lua_Integer n = luaL_checkinteger(L, -1);
      luaL_argcheck(L, n >= 0 && n <= 16, 2, "indent must be 0..16");
      opts.indent = static_cast<int>(n);
    }
    lua_pop(L, 1);
  }
  lua_settop(L, 1);
  std::string text = Encoder(L, opts).encode(1);
  lua_pushlstring(L, text.data(), text.size());
  return 1;
}

// ---------------------------------------------------------------------------------------------
// Decoding

using Json = nlohmann::json;

// Builds Lua values on the stack as the parser reports them. The containers being filled sit on
// the Lua stack (with a pending key above each object), so memory stays proportional to depth.
class LuaBuilder final : public nlohmann::json_sax<Json> {
 public:
  explicit LuaBuilder(lua_State* L) : L_(L) {
    push_registry(L, &kNullKey);
    null_idx_ = lua_gettop(L);
    push_registry(L, &kArrayMtKey);
    push_registry(L, &kObjectMtKey);
  }

  bool null() override {
    lua_pushvalue(L_, null_idx_);
    return add();
  }
  bool boolean(bool v) override {
    lua_pushboolean(L_, v);
    return add();
  }
  bool number_integer(number_integer_t v) override {
    lua_pushinteger(L_, static_cast<lua_Integer>(v));
    return add();
  }
  bool number_unsigned(number_unsigned_t v) override {
    // Above INT64_MAX a Lua integer cannot hold it: it becomes the nearest float.
    if (v <= static_cast<number_unsigned_t>(INT64_MAX)) lua_pushinteger(L_, static_cast<lua_Integer>(v));
    else lua_pushnumber(L_, static_cast<lua_Number>(v));
    return add();
  }
  bool number_float(number_float_t v, const string_t&) override {
    lua_pushnumber(L_, v);
    return add();
  }
  bool string(string_t& v) override {
    lua_pushlstring(L_, v.data(), v.size());
    return add();
  }
  bool binary(binary_t&) override { return false; }  // not produced by the JSON text parser
  bool key(string_t& v) override {
    lua_pushlstring(L_, v.data(), v.size());
    return true;
  }
  bool start_object(std::size_t) override { return open(null_idx_ + 2); }
  bool end_object() override { return close(); }
  bool start_array(std::size_t) override { return open(null_idx_ + 1); }
  bool end_array() override { return close(); }

  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& ex) override {
    error_offset = position > 0 ? position - 1 : 0;
    // nlohmann says "[json.exception.parse_error.101] parse error at line 1, column 5: <reason>"
    // (or "[json.exception.out_of_range.406] <reason>"): keep only the reason, the caller adds
    // its own position.
    std::string_view what = ex.what();
    if (!what.empty() && what[0] == '[') {
      std::size_t close = what.find("] ");
      if (close != std::string_view::npos) what.remove_prefix(close + 2);
    }
    if (what.rfind("parse error", 0) == 0) {
      std::size_t colon = what.find(": ");
      if (colon != std::string_view::npos) what.remove_prefix(colon + 2);
    }
    // The "last read" excerpt may hold the very bytes that are not UTF-8: escape them.
    error = utf8_escape_invalid(what);
    return false;
  }

  bool too_deep = false;
  std::string error;
  std::size_t error_offset = 0;

 private:
  bool open(int mt_idx) {
    if (static_cast<int>(next_index_.size()) >= kMaxDepth) {
      too_deep = true;
      return false;
    }
    luaL_checkstack(L_, 3, "json.decode");
    lua_newtable(L_);
    lua_pushvalue(L_, mt_idx);
    lua_setmetatable(L_, -2);
    next_index_.push_back(mt_idx == null_idx_ + 1 ? 1 : 0);  // 0 marks an object
    return true;
  }

  bool close() {
    next_index_.pop_back();
    return add();
  }

  // Moves the value on top into the container below it (or leaves it: the document's root).
  bool add() {
    if (next_index_.empty()) return true;
    lua_Integer& next = next_index_.back();
    if (next == 0) lua_rawset(L_, -3);  // object: key at -2, value at -1
    else lua_rawseti(L_, -2, next++);
    return true;
  }

  lua_State* L_;
  int null_idx_;  // then array_mt at +1, object_mt at +2
  std::vector<lua_Integer> next_index_;
};

// json.decode(text) -> value | nil, message, line, column
int json_decode(lua_State* L) {
  std::size_t len;
  const char* s = luaL_checklstring(L, 1, &len);
  std::string_view text(s, len);
  lua_settop(L, 1);
  // nlohmann's lexer takes a NUL byte for the end of input and would ignore what follows; JSON
  // text never holds a raw NUL (inside strings it must be escaped), so it is an error here.
  const void* nul = std::memchr(s, '\0', len);
  LuaBuilder builder(L);
  const int base = lua_gettop(L);
  if (!nul && Json::sax_parse(s, s + len, &builder)) {
    return 1;  // the root value is on top
  }
  lua_settop(L, base);
  std::string reason = builder.error;
  std::size_t offset = builder.error_offset;
  if (nul) {
    reason = "NUL byte (JSON text cannot contain one; write \\u0000 inside a string)";
    offset = static_cast<std::size_t>(static_cast<const char*>(nul) - s);
  } else if (builder.too_deep) {
    reason = "nesting deeper than " + std::to_string(kMaxDepth) + " levels";
    offset = json_text::nesting_offset(text, kMaxDepth);
  }
  json_text::Position pos = json_text::position_of(text, offset);
  std::string message = "invalid JSON at line " + std::to_string(pos.line) + ", column " +
                        std::to_string(pos.column) + ": " + reason;
  lua_pushnil(L);
  lua_pushlstring(L, message.data(), message.size());
  lua_pushinteger(L, static_cast<lua_Integer>(pos.line));
  lua_pushinteger(L, static_cast<lua_Integer>(pos.column));
  return 4;
}

// json.repair(text) -> text', replaced, numbers   (for a lenient reader: bytes that are not UTF-8
// and lone surrogate escapes become U+FFFD, numbers too large for a double null; host/util/json_text.hpp)
int json_repair(lua_State* L) {
  std::size_t len;
  const char* s = luaL_checklstring(L, 1, &len);
  std::size_t replaced = 0, numbers = 0;
  const std::string out = json_text::repair(std::string_view(s, len), &replaced, &numbers);
  if (replaced == 0 && numbers == 0) lua_pushvalue(L, 1);
  else lua_pushlstring(L, out.data(), out.size());
  lua_pushinteger(L, static_cast<lua_Integer>(replaced));
  lua_pushinteger(L, static_cast<lua_Integer>(numbers));
  return 3;
}

int null_tostring(lua_State* L) {
  lua_pushliteral(L, "json.null");
  return 1;
}

void make_marker_metatable(lua_State* L, const char* key, const char* name) {
  lua_newtable(L);
  lua_pushstring(L, name);
  lua_setfield(L, -2, "__name");
  lua_pushvalue(L, -1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, key);
}

}  // namespace

int open_host_json(lua_State* L) {
  static const luaL_Reg functions[] = {
      {"encode", guarded<json_encode>},
      {"decode", guarded<json_decode>},
      {"repair", guarded<json_repair>},
      {nullptr, nullptr},
  };
  luaL_newlib(L, functions);

  // The sentinels live in the registry so every require of host.json shares them.
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &kNullKey) == LUA_TNIL) {
    lua_pop(L, 1);
    lua_newuserdatauv(L, 0, 0);
    lua_newtable(L);
    lua_pushliteral(L, "json.null");
    lua_setfield(L, -2, "__name");
    lua_pushcfunction(L, guarded<null_tostring>);
    lua_setfield(L, -2, "__tostring");
    lua_pushliteral(L, "json.null is read-only");
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &kNullKey);
    make_marker_metatable(L, &kArrayMtKey, "json.array");
    make_marker_metatable(L, &kObjectMtKey, "json.object");
  } else {
    push_registry(L, &kArrayMtKey);
    push_registry(L, &kObjectMtKey);
  }
  lua_setfield(L, -4, "object_mt");
  lua_setfield(L, -3, "array_mt");
  lua_setfield(L, -2, "null");
  lua_pushinteger(L, kMaxDepth);
  lua_setfield(L, -2, "max_depth");
  return 1;
}

}  // namespace sidecar::lua
