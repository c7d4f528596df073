// host.store's lists and counts of tasks and runs (host/store/run_store_query.cpp); added to the store
// type's methods by lua/store.cpp. Each answers as the store does: a list (or count), or nil,
// message, code; a wrong option type raises.
#include <string>
#include <utility>
#include <vector>

#include "boundary.hpp"
#include "store/run_store.hpp"
#include "store_binding.hpp"

namespace sidecar::lua::store_binding {
namespace {

// A list of strings at options[key] ({} when absent); anything else raises.
std::vector<std::string> opt_text_list(lua_State* L, int index, const char* key) {
  std::vector<std::string> out;
  if (lua_isnoneornil(L, index)) return out;
  lua_getfield(L, index, key);
  if (!lua_isnil(L, -1)) {
    if (!lua_istable(L, -1)) luaL_error(L, "field '%s' must be a list of strings, got %s", key, luaL_typename(L, -1));
    for (lua_Integer i = 1;; ++i) {
      if (lua_rawgeti(L, -1, i) == LUA_TNIL) {
        lua_pop(L, 1);
        break;
      }
      if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "field '%s' must be a list of strings", key);
      out.emplace_back(lua_tostring(L, -1));
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
  return out;
}

host::TaskQuery task_query(lua_State* L) {
  host::TaskQuery q;
  q.status = opt_field(L, 2, "status");
  q.text = opt_field(L, 2, "text");
  if (auto limit = opt_int_field(L, 2, "limit")) q.limit = static_cast<int>(*limit);
  return q;
}

host::RunQuery run_query(lua_State* L) {
  host::RunQuery q;
  q.status = opt_field(L, 2, "status");
  q.statuses = opt_text_list(L, 2, "statuses");
  q.task_id = opt_field(L, 2, "task_id");
  q.before = opt_field(L, 2, "before");
  q.after = opt_field(L, 2, "after");
  q.runner = opt_field(L, 2, "runner");
  q.preset = opt_field(L, 2, "preset");
  q.text = opt_field(L, 2, "text");
  q.review_states = opt_text_list(L, 2, "review_states");
  q.oldest_first = opt_bool_field(L, 2, "oldest_first");
  if (auto limit = opt_int_field(L, 2, "limit")) q.limit = static_cast<int>(*limit);
  return q;
}

// s:list_tasks({status?, text?, limit?}) -> {task...} (newest first)
int s_list_tasks(lua_State* L) {
  RunStore& s = check_store(L);
  StoreError error;
  auto tasks = s.list_tasks(task_query(L), error);
  if (!tasks) return push_failure(L, error);
  return push_list(L, *tasks, push_task);
}

// s:count_tasks({status?, text?}) -> {[status] = count} (statuses with no task left out)
int s_count_tasks(lua_State* L) {
  RunStore& s = check_store(L);
  StoreError error;
  auto counts = s.count_tasks(task_query(L), error);
  if (!counts) return push_failure(L, error);
  lua_createtable(L, 0, static_cast<int>(counts->size()));
  for (const auto& [status, n] : *counts) {
    push_text(L, status);
    lua_pushinteger(L, static_cast<lua_Integer>(n));
    lua_rawset(L, -3);
  }
  return 1;
}

// s:list_runs({status?, statuses?, task_id?, runner?, preset?, text?, before?, after?, review_states?,
// oldest_first?, limit?})
// -> {run...} (newest first unless oldest_first)
int s_list_runs(lua_State* L) {
  RunStore& s = check_store(L);
  StoreError error;
  auto runs = s.list_runs(run_query(L), error);
  if (!runs) return push_failure(L, error);
  return push_list(L, *runs, push_run);
}

// s:count_runs({the same but oldest_first and limit}) -> count
int s_count_runs(lua_State* L) {
  RunStore& s = check_store(L);
  StoreError error;
  return push_int_or_failure(L, s.count_runs(run_query(L), error), error);
}

}  // namespace

void add_query_methods(lua_State* L) {
  static const luaL_Reg methods[] = {
      {"list_tasks", guarded<s_list_tasks>},
      {"count_tasks", guarded<s_count_tasks>},
      {"list_runs", guarded<s_list_runs>},
      {"count_runs", guarded<s_count_runs>},
      {nullptr, nullptr},
  };
  add_store_methods(L, methods);
}

}  // namespace sidecar::lua::store_binding
