// host.store: the run and task store (host/store/run_store.hpp) for Lua.
//
// A store is a full userdata ("sidecar.store") made closed and then opened, as liolib does with
// files; __gc and __close share one idempotent close. Records cross the boundary as JSON text:
// stdlib/sidecar/core/store.lua encodes and decodes them. Operational failures (a missing record, a locked or
// foreign database) come back as nil, message, code; wrong argument types raise.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "boundary.hpp"
#include "lua_args.hpp"
#include "modules.hpp"
#include "store/run_store.hpp"
#include "store_binding.hpp"
#include "userdata_box.hpp"

namespace sidecar::lua {

namespace store_binding {

// A text field of the options table at `index` ("" when absent); a non-string raises.
std::string opt_field(lua_State* L, int index, const char* key) {
  if (lua_isnoneornil(L, index)) return {};
  lua_getfield(L, index, key);
  std::string out;
  if (!lua_isnil(L, -1)) {
    if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "field '%s' must be a string, got %s", key, luaL_typename(L, -1));
    std::size_t len;
    const char* s = lua_tolstring(L, -1, &len);
    out.assign(s, len);
  }
  lua_pop(L, 1);
  return out;
}

std::optional<std::int64_t> opt_int_field(lua_State* L, int index, const char* key) {
  if (lua_isnoneornil(L, index)) return std::nullopt;
  lua_getfield(L, index, key);
  std::optional<std::int64_t> out;
  if (!lua_isnil(L, -1)) {
    int is_int = 0;
    lua_Integer v = lua_tointegerx(L, -1, &is_int);
    if (!is_int) luaL_error(L, "field '%s' must be an integer, got %s", key, luaL_typename(L, -1));
    out = v;
  }
  lua_pop(L, 1);
  return out;
}

bool opt_bool_field(lua_State* L, int index, const char* key) {
  if (lua_isnoneornil(L, index)) return false;
  lua_getfield(L, index, key);
  bool out = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return out;
}

void push_task(lua_State* L, const host::Task& t) {
  lua_createtable(L, 0, 7);
  set_text(L, "task_id", t.task_id);
  set_text(L, "title", t.fields.title);
  set_text(L, "status", t.fields.status);
  set_text(L, "created_at", t.fields.created_at);
  set_text(L, "updated_at", t.fields.updated_at);
  set_text(L, "record", t.record_json);
  set_int(L, "revision", t.revision);
}

void push_run(lua_State* L, const host::Run& r) {
  lua_createtable(L, 0, 10);
  set_text(L, "run_id", r.run_id);
  set_text(L, "task_id", r.fields.task_id);
  set_text(L, "status", r.fields.status);
  set_text(L, "runner_type", r.fields.runner_type);
  set_text(L, "created_at", r.fields.created_at);
  set_text(L, "completed_at", r.fields.completed_at);
  set_text(L, "parent_run_id", r.fields.parent_run_id);
  set_text(L, "pipeline_id", r.fields.pipeline_id);
  set_text(L, "record", r.record_json);
  set_int(L, "revision", r.revision);
}

}  // namespace store_binding

namespace {

using namespace store_binding;

// The record maker: a Lua function(id) -> JSON text, called inside the transaction that allocates
// the id. A Lua error in it unwinds through the store as a C++ exception and rolls that back.
RunStore::RecordMaker maker_at(lua_State* L, int index) {
  luaL_checktype(L, index, LUA_TFUNCTION);
  return [L, index](const std::string& id) {
    lua_pushvalue(L, index);
    push_text(L, id);
    lua_call(L, 1, 1);
    std::size_t len;
    const char* s = lua_tolstring(L, -1, &len);
    if (!s) luaL_error(L, "the record maker must return JSON text, got %s", luaL_typename(L, -1));
    std::string out(s, len);
    lua_pop(L, 1);
    return out;
  };
}

host::TaskFields task_fields(lua_State* L, int index) {
  luaL_checktype(L, index, LUA_TTABLE);
  host::TaskFields f;
  f.title = opt_field(L, index, "title");
  f.status = opt_field(L, index, "status");
  f.created_at = opt_field(L, index, "created_at");
  f.updated_at = opt_field(L, index, "updated_at");
  return f;
}

host::RunFields run_fields(lua_State* L, int index) {
  luaL_checktype(L, index, LUA_TTABLE);
  host::RunFields f;
  f.task_id = opt_field(L, index, "task_id");
  f.status = opt_field(L, index, "status");
  f.runner_type = opt_field(L, index, "runner_type");
  f.created_at = opt_field(L, index, "created_at");
  f.completed_at = opt_field(L, index, "completed_at");
  f.parent_run_id = opt_field(L, index, "parent_run_id");
  f.pipeline_id = opt_field(L, index, "pipeline_id");
  f.link_kind = opt_field(L, index, "link_kind");
  return f;
}

// store.open(path, {durable_fsync?, busy_timeout_ms?}) -> store | nil, message, code
int store_open(lua_State* L) {
  std::string path = std::string(check_text(L, 1));
  host::StoreOptions options;
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    options.durable_fsync = opt_bool_field(L, 2, "durable_fsync");
    if (auto ms = opt_int_field(L, 2, "busy_timeout_ms")) options.busy_timeout_ms = static_cast<int>(*ms);
  }
  auto* box = new_box<StoreHolder>(L, kStoreType);
  StoreError error;
  RunStore store;
  if (!store.open(path, error, options)) return push_failure(L, error);
  box->value = std::move(store);
  return 1;
}

int s_path(lua_State* L) {
  push_text(L, check_store(L).path());
  return 1;
}

int s_schema_version(lua_State* L) {
  lua_pushinteger(L, check_store(L).schema_version());
  return 1;
}

int s_begin_batch(lua_State* L) {
  StoreError error;
  bool ok = check_store(L).begin_batch(error);
  return push_ok(L, ok, error);
}

int s_commit_batch(lua_State* L) {
  StoreError error;
  bool ok = check_store(L).commit_batch(error);
  return push_ok(L, ok, error);
}

int s_rollback_batch(lua_State* L) {
  check_store(L).rollback_batch();
  return 0;
}

// s:create_task(fields, maker) -> id | nil, message, code
int s_create_task(lua_State* L) {
  RunStore& s = check_store(L);
  host::TaskFields fields = task_fields(L, 2);
  StoreError error;
  std::optional<std::string> id = s.create_task(fields, maker_at(L, 3), error);
  if (!id) return push_failure(L, error);
  push_text(L, *id);
  return 1;
}

// s:update_task(id, fields, record_json) -> revision | nil, message, code
int s_update_task(lua_State* L) {
  RunStore& s = check_store(L);
  std::string id = std::string(check_text(L, 2));
  host::TaskFields fields = task_fields(L, 3);
  StoreError error;
  return push_int_or_failure(L, s.update_task(id, fields, std::string(check_text(L, 4)), error), error);
}

int s_get_task(lua_State* L) {
  RunStore& s = check_store(L);
  StoreError error;
  std::optional<host::Task> t = s.get_task(std::string(check_text(L, 2)), error);
  if (!t) return push_failure(L, error);
  push_task(L, *t);
  return 1;
}

int s_create_run(lua_State* L) {
  RunStore& s = check_store(L);
  host::RunFields fields = run_fields(L, 2);
  StoreError error;
  std::optional<std::string> id = s.create_run(fields, maker_at(L, 3), error);
  if (!id) return push_failure(L, error);
  push_text(L, *id);
  return 1;
}

// s:update_run(id, fields, record_json) -> revision | nil, message, code
int s_update_run(lua_State* L) {
  RunStore& s = check_store(L);
  std::string id = std::string(check_text(L, 2));
  host::RunFields fields = run_fields(L, 3);
  StoreError error;
  return push_int_or_failure(L, s.update_run(id, fields, std::string(check_text(L, 4)), error), error);
}

int s_get_run(lua_State* L) {
  RunStore& s = check_store(L);
  StoreError error;
  std::optional<host::Run> r = s.get_run(std::string(check_text(L, 2)), error);
  if (!r) return push_failure(L, error);
  push_run(L, *r);
  return 1;
}

int s_add_lineage(lua_State* L) {
  RunStore& s = check_store(L);
  StoreError error;
  bool ok = s.add_lineage(std::string(check_text(L, 2)), std::string(check_text(L, 3)), std::string(check_text(L, 4)), error);
  return push_ok(L, ok, error);
}

void push_link(lua_State* L, const host::LineageLink& link) {
  lua_createtable(L, 0, 3);
  set_text(L, "parent_run_id", link.parent_run_id);
  set_text(L, "child_run_id", link.child_run_id);
  set_text(L, "kind", link.kind);
}

// s:lineage(run_id) -> {parents = {link...}, children = {link...}}
int s_lineage(lua_State* L) {
  RunStore& s = check_store(L);
  StoreError error;
  auto lineage = s.lineage_of(std::string(check_text(L, 2)), error);
  if (!lineage) return push_failure(L, error);
  lua_createtable(L, 0, 2);
  push_list(L, lineage->parents, push_link);
  lua_setfield(L, -2, "parents");
  push_list(L, lineage->children, push_link);
  lua_setfield(L, -2, "children");
  return 1;
}

// s:add_validation(run_id, {kind, command, name?, exit_code?, ok, timed_out, duration_ms,
// timeout_ms?, output_snippet?}) -> seq
int s_add_validation(lua_State* L) {
  RunStore& s = check_store(L);
  std::string run_id = std::string(check_text(L, 2));
  luaL_checktype(L, 3, LUA_TTABLE);
  host::ValidationResult v;
  v.kind = opt_field(L, 3, "kind");
  v.command = opt_field(L, 3, "command");
  v.name = opt_field(L, 3, "name");
  v.exit_code = opt_int_field(L, 3, "exit_code");
  v.ok = opt_bool_field(L, 3, "ok");
  v.timed_out = opt_bool_field(L, 3, "timed_out");
  v.duration_ms = opt_int_field(L, 3, "duration_ms").value_or(0);
  v.timeout_ms = opt_int_field(L, 3, "timeout_ms");
  v.output_snippet = opt_field(L, 3, "output_snippet");
  StoreError error;
  auto seq = s.add_validation_result(run_id, v, error);
  if (!seq) return push_failure(L, error);
  lua_pushinteger(L, static_cast<lua_Integer>(*seq));
  return 1;
}

void push_validation(lua_State* L, const host::ValidationResult& v) {
  lua_createtable(L, 0, 10);
  set_int(L, "seq", v.seq);
  set_text(L, "kind", v.kind);
  push_text(L, v.command);
  lua_setfield(L, -2, "command");
  set_text(L, "name", v.name);
  if (v.exit_code) set_int(L, "exit_code", *v.exit_code);
  lua_pushboolean(L, v.ok);
  lua_setfield(L, -2, "ok");
  lua_pushboolean(L, v.timed_out);
  lua_setfield(L, -2, "timed_out");
  set_int(L, "duration_ms", v.duration_ms);
  if (v.timeout_ms) set_int(L, "timeout_ms", *v.timeout_ms);
  push_text(L, v.output_snippet);
  lua_setfield(L, -2, "output_snippet");
}

int s_validation(lua_State* L) {
  RunStore& s = check_store(L);
  StoreError error;
  auto results = s.validation_results(std::string(check_text(L, 2)), error);
  if (!results) return push_failure(L, error);
  return push_list(L, *results, push_validation);
}

// s:append_event(run_id, ts?, kind, fields_json?) -> seq
int s_append_event(lua_State* L) {
  RunStore& s = check_store(L);
  std::string run_id = std::string(check_text(L, 2));
  std::string ts = luaL_optstring(L, 3, "");
  std::string kind = std::string(check_text(L, 4));
  std::string fields = luaL_optstring(L, 5, "");
  StoreError error;
  auto seq = s.append_event(run_id, ts, kind, fields, error);
  if (!seq) return push_failure(L, error);
  lua_pushinteger(L, static_cast<lua_Integer>(*seq));
  return 1;
}

void push_event(lua_State* L, const host::Event& e) {
  lua_createtable(L, 0, 4);
  set_int(L, "seq", e.seq);
  set_text(L, "ts", e.ts);
  set_text(L, "kind", e.kind);
  set_text(L, "fields", e.fields_json);
}

// s:events(run_id, after_seq?, limit?) -> {{seq, ts, kind, fields = json text}...}
int s_events(lua_State* L) {
  RunStore& s = check_store(L);
  std::string run_id = std::string(check_text(L, 2));
  StoreError error;
  auto events = s.events(run_id, error, luaL_optinteger(L, 3, 0), static_cast<int>(luaL_optinteger(L, 4, 0)));
  if (!events) return push_failure(L, error);
  return push_list(L, *events, push_event);
}

// s:usage({since?, until?, group_by?, task_id?, budget_group?}) -> {{group, runs, input = {sum, reported}, ...,
// cost_usd = {sum, reported}, first_at, last_at}...}
int s_usage(lua_State* L) {
  RunStore& s = check_store(L);
  host::UsageQuery q;
  q.since = opt_field(L, 2, "since");
  q.until = opt_field(L, 2, "until");
  q.group_by = opt_field(L, 2, "group_by");
  q.task_id = opt_field(L, 2, "task_id");
  q.budget_group = opt_field(L, 2, "budget_group");
  StoreError error;
  auto rows = s.usage(q, error);
  if (!rows) return push_failure(L, error);
  return push_list(L, *rows, [](lua_State* L, const host::UsageRow& row) {
    lua_createtable(L, 0, 10);
    push_text(L, row.group);
    lua_setfield(L, -2, "group");
    set_int(L, "runs", row.runs);
    for (std::size_t i = 0; i < host::kUsageFields; ++i) {
      lua_createtable(L, 0, 2);
      set_int(L, "sum", row.sums[i]);
      set_int(L, "reported", row.reported[i]);
      lua_setfield(L, -2, host::kUsageFieldNames[i]);
    }
    lua_createtable(L, 0, 2);
    lua_pushnumber(L, row.cost_usd);
    lua_setfield(L, -2, "sum");
    set_int(L, "reported", row.cost_reported);
    lua_setfield(L, -2, "cost_usd");
    set_text(L, "first_at", row.first_at);
    set_text(L, "last_at", row.last_at);
  });
}

int s_tostring(lua_State* L) {
  auto* box = to_box<StoreHolder>(L, kStoreType);
  if (box->value) {
    lua_pushfstring(L, "sidecar.store (%s)", box->value->path().c_str());
  } else {
    lua_pushliteral(L, "sidecar.store (closed)");
  }
  return 1;
}

// "T-0001" / "R-0001" for a kind and number; module-level helpers the stdlib uses for file names.
int store_format_id(lua_State* L) {
  RecordKind kind = check_kind(L, 1);
  push_text(L, host::format_id(kind, luaL_checkinteger(L, 2)));
  return 1;
}

// store.parse_id(kind, id) -> number | nil
int store_parse_id(lua_State* L) {
  RecordKind kind = check_kind(L, 1);
  auto n = host::parse_id(kind, luaL_checkstring(L, 2));
  if (!n) return 0;
  lua_pushinteger(L, static_cast<lua_Integer>(*n));
  return 1;
}

}  // namespace

int open_host_store(lua_State* L) {
  static const luaL_Reg methods[] = {
      {"path", guarded<s_path>},
      {"schema_version", guarded<s_schema_version>},
      {"begin_batch", guarded<s_begin_batch>},
      {"commit_batch", guarded<s_commit_batch>},
      {"rollback_batch", guarded<s_rollback_batch>},
      {"create_task", guarded<s_create_task>},
      {"update_task", guarded<s_update_task>},
      {"get_task", guarded<s_get_task>},
      {"create_run", guarded<s_create_run>},
      {"update_run", guarded<s_update_run>},
      {"get_run", guarded<s_get_run>},
      {"add_lineage", guarded<s_add_lineage>},
      {"lineage", guarded<s_lineage>},
      {"add_validation", guarded<s_add_validation>},
      {"validation", guarded<s_validation>},
      {"append_event", guarded<s_append_event>},
      {"events", guarded<s_events>},
      {"usage", guarded<s_usage>},
      {"close", guarded<box_close<StoreHolder, kStoreType>>},
      {nullptr, nullptr},
  };
  static const luaL_Reg meta[] = {
      {"__close", guarded<box_close<StoreHolder, kStoreType>>},
      {"__gc", guarded<box_gc<StoreHolder, kStoreType>>},
      {"__tostring", guarded<s_tostring>},
      {nullptr, nullptr},
  };
  static const luaL_Reg functions[] = {
      {"open", guarded<store_open>},
      {"format_id", guarded<store_format_id>},
      {"parse_id", guarded<store_parse_id>},
      {nullptr, nullptr},
  };
  register_type(L, kStoreType, meta, methods);
  add_repair_methods(L);
  add_query_methods(L);
  luaL_newlib(L, functions);
  lua_pushinteger(L, RunStore::kSchemaVersion);
  lua_setfield(L, -2, "SCHEMA_VERSION");
  return 1;
}

}  // namespace sidecar::lua
