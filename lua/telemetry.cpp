// host.telemetry: the run recorder (host/store/telemetry.hpp) for Lua. JSON travels as text both ways;
// the stdlib facade (stdlib/sidecar/core/telemetry.lua) encodes, redacts and decodes.
//
// A recorder is a full userdata ("sidecar.telemetry") made closed and then opened, as liolib does
// with files; __gc and __close share one idempotent close. Operational failures (a bad kind, a
// malformed usage, a file that cannot be written) come back as nil, message, code; wrong argument
// types raise.
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "boundary.hpp"
#include "lua_args.hpp"
#include "modules.hpp"
#include "store/telemetry.hpp"
#include "userdata_box.hpp"

namespace sidecar::lua {
namespace {

using host::RunTelemetry;
using host::TelemetryError;
using host::TokenUsage;

constexpr char kRecorderType[] = "sidecar.telemetry";
using RecorderHolder = std::unique_ptr<RunTelemetry>;

RunTelemetry& check_recorder(lua_State* L) {
  return check_open<RecorderHolder>(L, kRecorderType, "telemetry recorder");
}

std::string_view opt_text(lua_State* L, int index, const char* fallback) {
  std::size_t len;
  const char* s = luaL_optlstring(L, index, fallback, &len);
  return {s, len};
}

int push_failure(lua_State* L, const TelemetryError& error) {
  lua_pushnil(L);
  lua_pushstring(L, error.message.c_str());
  lua_pushstring(L, error.code.c_str());
  return 3;
}

int push_integer(lua_State* L, const std::optional<std::int64_t>& value, const TelemetryError& error) {
  if (!value) return push_failure(L, error);
  lua_pushinteger(L, static_cast<lua_Integer>(*value));
  return 1;
}

int push_json(lua_State* L, const std::string& text) {
  lua_pushlstring(L, text.data(), text.size());
  return 1;
}

// telemetry.open(root, file?) -> recorder | nil, message, code   (file defaults to "events.jsonl")
int telemetry_open(lua_State* L) {
  std::string root(check_text(L, 1));
  std::string file(opt_text(L, 2, "events.jsonl"));
  auto* box = new_box<RecorderHolder>(L, kRecorderType);  // closed: __gc cleans up whatever happens next
  TelemetryError error;
  box->value = RunTelemetry::open(root, file, error);
  if (!box->value) return push_failure(L, error);
  return 1;
}

// rec:event(kind, fields_json?) -> seq | nil, message, code
int rec_event(lua_State* L) {
  RunTelemetry& rec = check_recorder(L);
  TelemetryError error;
  return push_integer(L, rec.event(check_text(L, 2), opt_text(L, 3, "{}"), error), error);
}

// rec:begin_span(name) -> id | nil, message, code
int rec_begin_span(lua_State* L) {
  RunTelemetry& rec = check_recorder(L);
  TelemetryError error;
  return push_integer(L, rec.begin_span(check_text(L, 2), error), error);
}

// rec:end_span(id, fields_json?) -> duration_ms | nil, message, code
int rec_end_span(lua_State* L) {
  RunTelemetry& rec = check_recorder(L);
  lua_Integer id = luaL_checkinteger(L, 2);
  TelemetryError error;
  std::optional<double> ms = rec.end_span(id, opt_text(L, 3, "{}"), error);
  if (!ms) return push_failure(L, error);
  lua_pushnumber(L, *ms);
  return 1;
}

// rec:add_usage(usage_json, source?) -> seq | nil, message, code
int rec_add_usage(lua_State* L) {
  RunTelemetry& rec = check_recorder(L);
  TelemetryError error;
  std::optional<TokenUsage> usage = host::parse_token_usage(check_text(L, 2), error);
  if (!usage) return push_failure(L, error);
  return push_integer(L, rec.add_usage(*usage, opt_text(L, 3, ""), error), error);
}

// rec:add_cost(usd, source?) -> seq | nil, message, code
int rec_add_cost(lua_State* L) {
  RunTelemetry& rec = check_recorder(L);
  lua_Number usd = luaL_checknumber(L, 2);
  TelemetryError error;
  return push_integer(L, rec.add_cost(usd, opt_text(L, 3, ""), error), error);
}

// rec:summary() -> json text
int rec_summary(lua_State* L) { return push_json(L, check_recorder(L).summary_json()); }

// rec:last_seq() -> integer   (0 before the first event of a new file)
int rec_last_seq(lua_State* L) {
  lua_pushinteger(L, static_cast<lua_Integer>(check_recorder(L).last_seq()));
  return 1;
}

// rec:root() -> string; rec:file() -> string
int rec_root(lua_State* L) {
  lua_pushstring(L, check_recorder(L).root().c_str());
  return 1;
}

int rec_file(lua_State* L) {
  lua_pushstring(L, check_recorder(L).file().c_str());
  return 1;
}

int rec_tostring(lua_State* L) {
  auto* box = to_box<RecorderHolder>(L, kRecorderType);
  if (box->value) {
    lua_pushfstring(L, "sidecar.telemetry (%s/%s)", box->value->root().c_str(), box->value->file().c_str());
  } else {
    lua_pushliteral(L, "sidecar.telemetry (closed)");
  }
  return 1;
}

// Reads two usage texts for the module functions below; false after pushing the failure.
bool two_usages(lua_State* L, TokenUsage& a, TokenUsage& b, int& results) {
  std::string_view first_text = check_text(L, 1), second_text = check_text(L, 2);  // may raise: first
  TelemetryError error;
  std::optional<TokenUsage> first = host::parse_token_usage(first_text, error);
  std::optional<TokenUsage> second = first ? host::parse_token_usage(second_text, error) : std::nullopt;
  if (!first || !second) {
    results = push_failure(L, error);
    return false;
  }
  a = *first;
  b = *second;
  return true;
}

// telemetry.usage_delta(now_json, before_json) -> json text | nil, message, code
int telemetry_usage_delta(lua_State* L) {
  TokenUsage now, before;
  int results = 0;
  if (!two_usages(L, now, before, results)) return results;
  return push_json(L, host::token_usage_json(host::usage_delta(now, before)));
}

// telemetry.usage_add(a_json, b_json) -> json text | nil, message, code
int telemetry_usage_add(lua_State* L) {
  TokenUsage a, b;
  int results = 0;
  if (!two_usages(L, a, b, results)) return results;
  return push_json(L, host::token_usage_json(host::usage_add(a, b)));
}

// telemetry.valid_kind(kind) -> boolean
int telemetry_valid_kind(lua_State* L) {
  lua_pushboolean(L, host::valid_event_kind(check_text(L, 1)));
  return 1;
}

}  // namespace

int open_host_telemetry(lua_State* L) {
  static const luaL_Reg methods[] = {
      {"event", guarded<rec_event>},       {"begin_span", guarded<rec_begin_span>},
      {"end_span", guarded<rec_end_span>}, {"add_usage", guarded<rec_add_usage>},
      {"add_cost", guarded<rec_add_cost>}, {"summary", guarded<rec_summary>},
      {"last_seq", guarded<rec_last_seq>}, {"root", guarded<rec_root>},
      {"file", guarded<rec_file>},         {"close", guarded<box_close<RecorderHolder, kRecorderType>>},
      {nullptr, nullptr},
  };
  static const luaL_Reg meta[] = {
      {"__close", guarded<box_close<RecorderHolder, kRecorderType>>},
      {"__gc", guarded<box_gc<RecorderHolder, kRecorderType>>},
      {"__tostring", guarded<rec_tostring>},
      {nullptr, nullptr},
  };
  static const luaL_Reg functions[] = {
      {"open", guarded<telemetry_open>},
      {"usage_delta", guarded<telemetry_usage_delta>},
      {"usage_add", guarded<telemetry_usage_add>},
      {"valid_kind", guarded<telemetry_valid_kind>},
      {nullptr, nullptr},
  };
  register_type(L, kRecorderType, meta, methods);
  luaL_newlib(L, functions);
  return 1;
}

}  // namespace sidecar::lua
