// host.store's methods for checking and rebuilding the store against the JSON copies of its
// records, and for the copies' pending marks (stdlib/sidecar/task/repair.lua, stdlib/sidecar/core/store_copy.lua).
#include <optional>
#include <string>

#include "boundary.hpp"
#include "lua_args.hpp"
#include "store_binding.hpp"

namespace sidecar::lua::store_binding {
namespace {

// s:import(kind, id, record_json) -> true | nil, message, code
int s_import(lua_State* L) {
  RunStore& s = check_store(L);
  RecordKind kind = check_kind(L, 2);
  StoreError error;
  bool ok = s.import_record(kind, std::string(check_text(L, 3)), std::string(check_text(L, 4)), error);
  return push_ok(L, ok, error);
}

// s:import_if_newer(kind, id, record_json) -> true (imported) | false (the store's is as new)
int s_import_if_newer(lua_State* L) {
  RunStore& s = check_store(L);
  RecordKind kind = check_kind(L, 2);
  StoreError error;
  auto imported = s.import_if_newer(kind, std::string(check_text(L, 3)), std::string(check_text(L, 4)), error);
  if (!imported) return push_failure(L, error);
  lua_pushboolean(L, *imported);
  return 1;
}

// s:check(kind, id, record_json) -> "missing" | "same" | "equivalent" | "different"
int s_check(lua_State* L) {
  RunStore& s = check_store(L);
  RecordKind kind = check_kind(L, 2);
  StoreError error;
  auto match = s.check_record(kind, std::string(check_text(L, 3)), std::string(check_text(L, 4)), error);
  if (!match) return push_failure(L, error);
  static const char* const names[] = {"missing", "same", "equivalent", "different"};
  lua_pushstring(L, names[static_cast<int>(*match)]);
  return 1;
}

// s:pending() -> {{kind, id, revision}...}: the records whose copies may be behind
int s_pending(lua_State* L) {
  StoreError error;
  auto pending = check_store(L).pending_copies(error);
  if (!pending) return push_failure(L, error);
  return push_list(L, *pending, [](lua_State* L, const host::PendingCopy& p) {
    lua_createtable(L, 0, 3);
    lua_pushstring(L, p.kind == RecordKind::Task ? "task" : "run");
    lua_setfield(L, -2, "kind");
    set_text(L, "id", p.id);
    set_int(L, "revision", p.revision);
  });
}

// s:copy_written(kind, id, revision, written?) -> the record's revision now (0: not in the store)
int s_copy_written(lua_State* L) {
  RunStore& s = check_store(L);
  RecordKind kind = check_kind(L, 2);
  std::string id = std::string(check_text(L, 3));
  lua_Integer revision = luaL_checkinteger(L, 4);
  lua_Integer written = luaL_optinteger(L, 5, revision);
  StoreError error;
  return push_int_or_failure(L, s.copy_written(kind, id, revision, written, error), error);
}

int s_ids(lua_State* L) {
  RunStore& s = check_store(L);
  RecordKind kind = check_kind(L, 2);
  StoreError error;
  auto ids = s.ids(kind, error);
  if (!ids) return push_failure(L, error);
  return push_list(L, *ids, push_text);
}

int s_clear(lua_State* L) {
  StoreError error;
  bool ok = check_store(L).clear_records(error);
  return push_ok(L, ok, error);
}

int s_counter(lua_State* L) {
  RunStore& s = check_store(L);
  RecordKind kind = check_kind(L, 2);
  StoreError error;
  auto n = s.counter(kind, error);
  if (!n) return push_failure(L, error);
  lua_pushinteger(L, static_cast<lua_Integer>(*n));
  return 1;
}

// s:integrity() -> "ok" | the problems, one a line
int s_integrity(lua_State* L) {
  StoreError error;
  auto text = check_store(L).integrity_check(error);
  if (!text) return push_failure(L, error);
  push_text(L, *text);
  return 1;
}

}  // namespace

void add_repair_methods(lua_State* L) {
  static const luaL_Reg methods[] = {
      {"import", guarded<s_import>},
      {"import_if_newer", guarded<s_import_if_newer>},
      {"check", guarded<s_check>},
      {"ids", guarded<s_ids>},
      {"pending", guarded<s_pending>},
      {"copy_written", guarded<s_copy_written>},
      {"clear", guarded<s_clear>},
      {"counter", guarded<s_counter>},
      {"integrity", guarded<s_integrity>},
      {nullptr, nullptr},
  };
  add_store_methods(L, methods);
}

}  // namespace sidecar::lua::store_binding
