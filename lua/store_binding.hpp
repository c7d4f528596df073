// Internal to host.store's binding (lua/store.cpp, lua/store_repair.cpp): the store handle type
// and the helpers both files push results with.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <lua.hpp>

#include "store/run_store.hpp"
#include "userdata_box.hpp"

namespace sidecar::lua::store_binding {

using host::RecordKind;
using host::RunStore;
using host::StoreError;

inline constexpr char kStoreType[] = "sidecar.store";
using StoreHolder = std::optional<RunStore>;

inline RunStore& check_store(lua_State* L) {
  return check_open<StoreHolder>(L, kStoreType, "store");
}

inline int push_failure(lua_State* L, const StoreError& error) {
  lua_pushnil(L);
  lua_pushstring(L, error.message.c_str());
  lua_pushstring(L, error.code.c_str());
  return 3;
}

inline int push_ok(lua_State* L, bool ok, const StoreError& error) {
  if (!ok) return push_failure(L, error);
  lua_pushboolean(L, 1);
  return 1;
}

inline int push_int_or_failure(lua_State* L, const std::optional<std::int64_t>& value, const StoreError& error) {
  if (!value) return push_failure(L, error);
  lua_pushinteger(L, static_cast<lua_Integer>(*value));
  return 1;
}

inline void push_text(lua_State* L, const std::string& s) { lua_pushlstring(L, s.data(), s.size()); }

// Sets t[key] = value on the table at the top, leaving out empty text (not set).
inline void set_text(lua_State* L, const char* key, const std::string& value) {
  if (value.empty()) return;
  push_text(L, value);
  lua_setfield(L, -2, key);
}

inline void set_int(lua_State* L, const char* key, std::int64_t value) {
  lua_pushinteger(L, static_cast<lua_Integer>(value));
  lua_setfield(L, -2, key);
}

inline RecordKind check_kind(lua_State* L, int index) {
  std::optional<RecordKind> kind = host::parse_record_kind(luaL_checkstring(L, index));
  if (!kind) luaL_argerror(L, index, "expected \"task\" or \"run\"");
  return *kind;
}

template <typename T, typename Push>
int push_list(lua_State* L, const std::vector<T>& items, Push push) {
  lua_createtable(L, static_cast<int>(items.size()), 0);
  for (std::size_t i = 0; i < items.size(); ++i) {
    push(L, items[i]);
    lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
  }
  return 1;
}

// Adds `methods` to the store type's methods (after register_type): the files beyond lua/store.cpp.
inline void add_store_methods(lua_State* L, const luaL_Reg* methods) {
  luaL_getmetatable(L, kStoreType);
  lua_getfield(L, -1, "__index");
  luaL_setfuncs(L, methods, 0);
  lua_pop(L, 2);
}

// Fields of the options table at `index` (absent: "", nullopt, false); a wrong type raises.
std::string opt_field(lua_State* L, int index, const char* key);
std::optional<std::int64_t> opt_int_field(lua_State* L, int index, const char* key);
bool opt_bool_field(lua_State* L, int index, const char* key);

// A task or run as a table of its columns and its record's JSON text (`record`).
void push_task(lua_State* L, const host::Task& t);
void push_run(lua_State* L, const host::Run& r);

// Adds the methods of lua/store_query.cpp (list_tasks, count_tasks, list_runs, count_runs).
void add_query_methods(lua_State* L);

// Adds the methods of lua/store_repair.cpp (import, import_if_newer, check, ids, clear, pending,
// copy_written, counter, integrity) to the store type's methods; after register_type.
void add_repair_methods(lua_State* L);

}  // namespace sidecar::lua::store_binding
