// A full userdata holding one C++ object (in a std::optional or std::unique_ptr), made closed and
// then opened as liolib does with files: new_box pushes a closed box that already has its
// metatable, so __gc cleans up whatever happens next; the binding then fills `value`. close,
// __close and __gc share one idempotent reset.
#pragma once
#include <new>

#include <lua.hpp>

namespace sidecar::lua {

template <typename Holder>
struct UserdataBox {
  Holder value;  // empty until opened, and once closed
};

template <typename Holder>
UserdataBox<Holder>* new_box(lua_State* L, const char* type) {
  auto* box = static_cast<UserdataBox<Holder>*>(lua_newuserdatauv(L, sizeof(UserdataBox<Holder>), 0));
  new (box) UserdataBox<Holder>();
  luaL_setmetatable(L, type);
  return box;
}

template <typename Holder>
UserdataBox<Holder>* to_box(lua_State* L, const char* type) {
  return static_cast<UserdataBox<Holder>*>(luaL_checkudata(L, 1, type));
}

// The object of argument 1; raises "attempt to use a closed <what>" once it is closed.
template <typename Holder>
auto& check_open(lua_State* L, const char* type, const char* what) {
  auto* box = to_box<Holder>(L, type);
  if (!box->value) luaL_error(L, "attempt to use a closed %s", what);
  return *box->value;
}

// obj:close(), also __close (closing twice is harmless).
template <typename Holder, const char* Type>
int box_close(lua_State* L) {
  to_box<Holder>(L, Type)->value.reset();
  return 0;
}

// Makes the metatable of a handle type once: `meta` (__close, __gc, __tostring...) and `methods`
// as its __index. Both lists end with {nullptr, nullptr}. Leaves the stack as it was.
inline void register_type(lua_State* L, const char* type, const luaL_Reg* meta, const luaL_Reg* methods) {
  if (luaL_newmetatable(L, type)) {
    luaL_setfuncs(L, meta, 0);
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
}

template <typename Holder, const char* Type>
int box_gc(lua_State* L) {
  to_box<Holder>(L, Type)->~UserdataBox<Holder>();
  return 0;
}

}  // namespace sidecar::lua
