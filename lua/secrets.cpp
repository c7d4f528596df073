// host.secrets: the secret-file denylist, the redactor and the streaming redactor
// (host/secrets/secrets.hpp, host/secrets/stream_redactor.hpp) for Lua, the policy they match (handed over by
// stdlib/sidecar/core/secrets.lua from secret_rules.lua) and the rules a project adds to it, and
// the rewriting of a file an agent wrote (host/secrets/agent_file.hpp).
//
// A stream is a full userdata ("sidecar.secret_stream") made closed and then opened, as liolib
// does with files; __gc and __close share one idempotent close.
#include <new>
#include <optional>
#include <stdexcept>
#include <string>

#include "boundary.hpp"
#include "lua_args.hpp"
#include "modules.hpp"
#include "secrets/agent_file.hpp"
#include "secrets/secret_data.hpp"
#include "secrets/secrets.hpp"
#include "secrets/stream_redactor.hpp"
#include "userdata_box.hpp"

namespace sidecar::lua {
namespace {

constexpr const char* kRedactorType = "sidecar.redactor";
constexpr char kStreamType[] = "sidecar.secret_stream";
using StreamHolder = std::optional<host::StreamRedactor>;

struct Box {
  std::optional<host::Redactor> redactor;  // built from the environment on first use
  std::uint64_t generation = 0;            // of the rules it was built with
};

// The redactor of this process's environment (as it was on first use) and its current rules.
const host::Redactor& redactor(lua_State* L) {
  auto* box = static_cast<Box*>(luaL_checkudata(L, lua_upvalueindex(1), kRedactorType));
  const std::uint64_t generation = host::secret_rules_generation();
  if (!box->redactor || box->generation != generation) {
    box->redactor = host::Redactor::from_environ();
    box->generation = generation;
  }
  return *box->redactor;
}

// secrets.is_secret_file(path) -> false | true, why
int secrets_is_secret_file(lua_State* L) {
  std::string why;
  bool denied = host::is_secret_file(check_text(L, 1), why);
  lua_pushboolean(L, denied);
  if (!denied) return 1;
  lua_pushstring(L, why.c_str());
  return 2;
}

// secrets.redact(text) -> text, count
// Uses this process's environment as it was on the first call.
int secrets_redact(lua_State* L) {
  std::string_view text = check_text(L, 1);
  std::size_t count = 0;
  std::string out = redactor(L).redact(text, &count);
  lua_pushlstring(L, out.data(), out.size());
  lua_pushinteger(L, static_cast<lua_Integer>(count));
  return 2;
}

// secrets.kinds() -> {"age-secret-key", "anthropic-key", ...}   (the matcher's and the policy's labels)
int secrets_kinds(lua_State* L) {
  const std::vector<std::string> kinds = host::builtin_secret_kinds();
  lua_createtable(L, static_cast<int>(kinds.size()), 0);
  for (std::size_t i = 0; i < kinds.size(); ++i) {
    lua_pushlstring(L, kinds[i].data(), kinds[i].size());
    lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
  }
  return 1;
}

// ---- the policy --------------------------------------------------------------------------------

[[noreturn]] void bad(const std::string& path, const std::string& what) {
  throw std::invalid_argument(path + ": " + what);
}

// The value at `index` as a data tree: strings, integers, and tables of a sequence and string
// keys, no deeper than a data file may be.
host::DataValue to_data(lua_State* L, int index, const std::string& path, int depth) {
  host::DataValue v;
  index = lua_absindex(L, index);
  if (lua_type(L, index) == LUA_TSTRING) {
    v.type = host::DataValue::Type::String;
    v.text = std::string(check_text(L, index));
    return v;
  }
  if (lua_isinteger(L, index)) {
    v.type = host::DataValue::Type::Integer;
    v.integer = lua_tointeger(L, index);
    return v;
  }
  if (!lua_istable(L, index)) bad(path, std::string("expected a string, an integer or a table, got ") + luaL_typename(L, index));
  if (depth > 16) bad(path, "tables nested too deep");
  const lua_Integer n = static_cast<lua_Integer>(lua_rawlen(L, index));
  for (lua_Integer i = 1; i <= n; ++i) {
    lua_rawgeti(L, index, i);
    v.items.push_back(to_data(L, -1, path + "[" + std::to_string(i) + "]", depth + 1));
    lua_pop(L, 1);
  }
  luaL_checkstack(L, 3, "secret rules");
  lua_pushnil(L);
  while (lua_next(L, index)) {
    if (lua_type(L, -2) == LUA_TSTRING) {
      std::string key = lua_tostring(L, -2);
      v.fields.emplace_back(key, to_data(L, -1, path.empty() ? key : path + "." + key, depth + 1));
    } else if (!lua_isinteger(L, -2) || lua_tointeger(L, -2) < 1 || lua_tointeger(L, -2) > n) {
      bad(path, "expected a list or string keys");
    }
    lua_pop(L, 1);
  }
  return v;
}

void push_data(lua_State* L, const host::DataValue& v) {
  luaL_checkstack(L, 3, "secret rules");
  switch (v.type) {
    case host::DataValue::Type::String: lua_pushlstring(L, v.text.data(), v.text.size()); return;
    case host::DataValue::Type::Integer: lua_pushinteger(L, static_cast<lua_Integer>(v.integer)); return;
    case host::DataValue::Type::Table: break;
  }
  lua_createtable(L, static_cast<int>(v.items.size()), static_cast<int>(v.fields.size()));
  for (std::size_t i = 0; i < v.items.size(); ++i) {
    push_data(L, v.items[i]);
    lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
  }
  for (const auto& [key, value] : v.fields) {
    push_data(L, value);
    lua_setfield(L, -2, key.c_str());
  }
}

// secrets.set_policy(rules?, where?) -> true
// The policy (stdlib/sidecar/core/secret_rules.lua's table) the matcher uses from now on; nil
// goes back to the one built in. A bad entry raises naming its path under `where` (default
// "secret_rules"). The project's rules (configure) stay.
int secrets_set_policy(lua_State* L) {
  const std::string where = luaL_optstring(L, 2, "secret_rules");
  host::SecretPolicy policy = host::default_secret_policy();
  if (!lua_isnoneornil(L, 1)) {
    if (!lua_istable(L, 1)) bad(where, std::string("expected a table, got ") + luaL_typename(L, 1));
    const std::string why = host::secret_policy_from_data(to_data(L, 1, where, 0), policy);
    if (!why.empty()) bad(where, why);
  }
  host::set_secret_policy(policy);
  lua_pushboolean(L, 1);
  return 1;
}

// secrets.default_policy() -> table, error?
// The policy built in, as the host reads secret_rules.lua's text without Lua (for the spec that
// holds it equal to what `require` gives); the error when that text did not read.
int secrets_default_policy(lua_State* L) {
  push_data(L, host::default_secret_data());
  const std::string& error = host::default_secret_policy_error();
  if (error.empty()) return 1;
  lua_pushlstring(L, error.data(), error.size());
  return 2;
}

// ---- configure ---------------------------------------------------------------------------------

std::string join(const std::string& where, const std::string& field) {
  return where.empty() ? field : where + "." + field;
}

// The strings of the list at the top of the stack (a Lua sequence), as `path`.
std::vector<std::string> string_list(lua_State* L, const std::string& path) {
  std::vector<std::string> out;
  if (!lua_istable(L, -1)) bad(path, std::string("expected a list of strings, got ") + luaL_typename(L, -1));
  const lua_Integer n = static_cast<lua_Integer>(lua_rawlen(L, -1));
  for (lua_Integer i = 1; i <= n; ++i) {
    lua_rawgeti(L, -1, i);
    std::size_t len = 0;
    const char* s = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : nullptr;
    if (!s) bad(path + "[" + std::to_string(i) + "]", std::string("expected a string, got ") + luaL_typename(L, -1));
    out.emplace_back(s, len);
    lua_pop(L, 1);
  }
  return out;
}

std::size_t count_field(lua_State* L, const std::string& path) {
  if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1 || lua_tointeger(L, -1) > 4096) {
    bad(path, "expected a whole number from 1 to 4096");
  }
  return static_cast<std::size_t>(lua_tointeger(L, -1));
}

// One entry of `patterns` (at the top of the stack): "prefix[class]{n}" or a table.
host::TokenPattern pattern_entry(lua_State* L, const std::string& path) {
  host::TokenPattern p;
  if (lua_type(L, -1) == LUA_TSTRING) {
    std::string why = host::parse_token_pattern(check_text(L, -1), p);
    if (!why.empty()) bad(path, why);
    return p;
  }
  if (!lua_istable(L, -1)) {
    bad(path, std::string("expected a string such as acme_live_[0-9a-f]{32} or a table {kind =, prefix =, "
                          "charset =, min =, max =}, got ") + luaL_typename(L, -1));
  }
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    const std::string key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
    const std::string at = path + "." + key;
    const bool text = lua_type(L, -1) == LUA_TSTRING;
    if (key == "pattern") {
      if (!text) bad(at, "expected a string such as acme_live_[0-9a-f]{32}");
      const std::string kind = p.kind;
      std::string why = host::parse_token_pattern(check_text(L, -1), p);
      if (!why.empty()) bad(at, why);
      if (!kind.empty()) p.kind = kind;
    } else if (key == "kind" || key == "prefix" || key == "charset") {
      if (!text) bad(at, key == "prefix" ? "expected a string of at least 3 bytes" : "expected a string");
      (key == "kind" ? p.kind : key == "prefix" ? p.prefix : p.charset) = lua_tostring(L, -1);
    } else if (key == "min" || key == "max") {
      (key == "min" ? p.min : p.max) = count_field(L, at);
    } else {
      bad(at, "unknown field (expected charset, kind, max, min, pattern, prefix)");
    }
    lua_pop(L, 1);
  }
  return p;
}

// secrets.configure(rules?, where?) -> true
// rules = {patterns =, names =, allow_names =, files =, allow_files =}; nil leaves the policy
// alone in force. Replaces the process's rules; a bad entry raises naming its path under `where`
// (default "secrets": "secrets.patterns[2].prefix: expected a string of at least 3 bytes").
int secrets_configure(lua_State* L) {
  const std::string where = luaL_optstring(L, 2, "secrets");
  host::SecretRules rules;
  if (!lua_isnoneornil(L, 1)) {
    if (!lua_istable(L, 1)) {
      bad(where.empty() ? "secrets" : where, std::string("expected a table of rules, got ") + luaL_typename(L, 1));
    }
    lua_settop(L, 1);
    lua_pushnil(L);
    while (lua_next(L, 1)) {
      const std::string key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
      const std::string path = join(where, key);
      if (key == "patterns") {
        if (!lua_istable(L, -1)) bad(path, std::string("expected a list, got ") + luaL_typename(L, -1));
        const lua_Integer n = static_cast<lua_Integer>(lua_rawlen(L, -1));
        for (lua_Integer i = 1; i <= n; ++i) {
          lua_rawgeti(L, -1, i);
          rules.patterns.push_back(pattern_entry(L, path + "[" + std::to_string(i) + "]"));
          lua_pop(L, 1);
        }
      } else if (key == "names" || key == "allow_names" || key == "files" || key == "allow_files") {
        (key == "names" ? rules.names : key == "allow_names" ? rules.allow_names
         : key == "files" ? rules.files : rules.allow_files) = string_list(L, path);
      } else {
        bad(path, "unknown field (expected allow_files, allow_names, files, names, patterns)");
      }
      lua_pop(L, 1);
    }
  }
  const std::string why = host::check_secret_rules(rules);
  if (!why.empty()) throw std::invalid_argument(where.empty() ? why : where + "." + why);
  host::set_secret_rules(rules);
  lua_pushboolean(L, 1);
  return 1;
}

// secrets.redact_file(path, max_bytes?) -> true, {size, dropped, redacted} | true (no file) | nil, message, code
// A file an agent wrote into its run folder, rewritten redacted and bounded (host/secrets/agent_file.hpp).
int secrets_redact_file(lua_State* L) {
  const char* path = luaL_checkstring(L, 1);
  const lua_Integer max = luaL_optinteger(L, 2, 0);
  luaL_argcheck(L, max >= 0, 2, "expected a size in bytes (0: no bound)");
  host::AgentFileResult result;
  std::string error;
  if (!host::redact_agent_file(redactor(L), path, static_cast<std::uint64_t>(max), result, error)) {
    lua_pushnil(L);
    lua_pushstring(L, error.c_str());
    lua_pushstring(L, result.error_code.empty() ? "EIO" : result.error_code.c_str());
    return 3;
  }
  lua_pushboolean(L, 1);
  if (!result.present) return 1;
  lua_createtable(L, 0, 3);
  lua_pushinteger(L, static_cast<lua_Integer>(result.size));
  lua_setfield(L, -2, "size");
  lua_pushinteger(L, static_cast<lua_Integer>(result.dropped));
  lua_setfield(L, -2, "dropped");
  lua_pushinteger(L, static_cast<lua_Integer>(result.redacted));
  lua_setfield(L, -2, "redacted");
  return 2;
}

// ---- streams -----------------------------------------------------------------------------------

host::StreamRedactor& check_stream(lua_State* L) {
  return check_open<StreamHolder>(L, kStreamType, "secret stream");
}

// secrets.stream() -> stream   (this process's environment and the current rules)
int secrets_stream(lua_State* L) {
  const host::Redactor& r = redactor(L);
  auto* box = new_box<StreamHolder>(L, kStreamType);
  box->value.emplace(r);
  return 1;
}

// stream:feed(chunk) -> text   (what the chunk completes, redacted; often "")
int stream_feed(lua_State* L) {
  std::string out = check_stream(L).feed(check_text(L, 2));
  lua_pushlstring(L, out.data(), out.size());
  return 1;
}

// stream:finish() -> text, count   (the rest, redacted; the stream is closed)
int stream_finish(lua_State* L) {
  host::StreamRedactor& stream = check_stream(L);
  std::string out = stream.finish();
  const auto count = static_cast<lua_Integer>(stream.replacements());
  to_box<StreamHolder>(L, kStreamType)->value.reset();
  lua_pushlstring(L, out.data(), out.size());
  lua_pushinteger(L, count);
  return 2;
}

int stream_tostring(lua_State* L) {
  auto* box = to_box<StreamHolder>(L, kStreamType);
  if (box->value) {
    lua_pushfstring(L, "secret stream (%d bytes held)", static_cast<int>(box->value->held()));
  } else {
    lua_pushliteral(L, "secret stream (closed)");
  }
  return 1;
}

int redactor_gc(lua_State* L) {
  static_cast<Box*>(luaL_checkudata(L, 1, kRedactorType))->~Box();
  return 0;
}

}  // namespace

int open_host_secrets(lua_State* L) {
  static const luaL_Reg methods[] = {
      {"feed", guarded<stream_feed>},
      {"finish", guarded<stream_finish>},
      {"close", guarded<box_close<StreamHolder, kStreamType>>},
      {nullptr, nullptr},
  };
  static const luaL_Reg meta[] = {
      {"__close", guarded<box_close<StreamHolder, kStreamType>>},
      {"__gc", guarded<box_gc<StreamHolder, kStreamType>>},
      {"__tostring", guarded<stream_tostring>},
      {nullptr, nullptr},
  };
  static const luaL_Reg functions[] = {
      {"is_secret_file", guarded<secrets_is_secret_file>},
      {"redact", guarded<secrets_redact>},
      {"configure", guarded<secrets_configure>},
      {"kinds", guarded<secrets_kinds>},
      {"set_policy", guarded<secrets_set_policy>},
      {"default_policy", guarded<secrets_default_policy>},
      {"stream", guarded<secrets_stream>},
      {"redact_file", guarded<secrets_redact_file>},
      {nullptr, nullptr},
  };
  register_type(L, kStreamType, meta, methods);
  luaL_newlibtable(L, functions);
  new (lua_newuserdatauv(L, sizeof(Box), 0)) Box();
  if (luaL_newmetatable(L, kRedactorType)) {
    lua_pushcfunction(L, guarded<redactor_gc>);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  luaL_setfuncs(L, functions, 1);
  return 1;
}

}  // namespace sidecar::lua
