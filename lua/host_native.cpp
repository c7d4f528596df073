// The embedding program's own code called from the Host's Lua: its native functions
// (Host::register_function) and its event callback (Host::on_event). Each C++ function lives in a
// Lua userdata (freed by __gc with the state), called through a C closure; what the embedder's
// function throws, of any type, is caught around that call alone and raised as a Lua error.
#include <sidecar/sidecar.hpp>

#include <exception>
#include <new>
#include <string>
#include <utility>

#include <lua.hpp>

#include "boundary.hpp"
#include "engine.hpp"

namespace sidecar {
namespace {

constexpr const char* kFunctionType = "sidecar.native_function";
constexpr const char* kEventsKey = "sidecar.host_events";  // registry: the event subscription

// A std::function in a userdata, destroyed by __gc.
template <typename Fn>
struct Boxed {
  Fn fn;
};

template <typename Fn>
int boxed_gc(lua_State* L) {
  static_cast<Boxed<Fn>*>(lua_touserdata(L, 1))->~Boxed<Fn>();
  return 0;
}

// Pushes a userdata holding `fn`, with a __gc that destroys it.
template <typename Fn>
void push_boxed(lua_State* L, Fn fn, const char* type) {
  auto* box = static_cast<Boxed<Fn>*>(lua_newuserdatauv(L, sizeof(Boxed<Fn>), 0));
  new (box) Boxed<Fn>{std::move(fn)};
  if (luaL_newmetatable(L, type)) {
    lua_pushcfunction(L, boxed_gc<Fn>);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
}

// Runs the embedder's `body`; what it throws becomes `error` (false returned).
template <typename Body>
bool embedder_call(Body&& body, std::string& error) {
  try {
    body();
    return true;
  } catch (const std::exception& e) {
    error = e.what();
  } catch (...) {
    error = "an exception that is not a std::exception";
  }
  return false;
}

// (args_json) -> result_json | nil, message: upvalue 1 is the boxed NativeFunction.
int call_native(lua_State* L) {
  auto* box = static_cast<Boxed<NativeFunction>*>(lua_touserdata(L, lua_upvalueindex(1)));
  std::string args(luaL_checkstring(L, 1)), result, error;
  if (!embedder_call([&] { result = box->fn(args); }, error)) {
    lua_pushnil(L);
    lua_pushlstring(L, error.data(), error.size());
    return 2;
  }
  lua_pushlstring(L, result.data(), result.size());
  return 1;
}

// (event_json): upvalue 1 is the boxed EventCallback. What the callback throws is raised, which
// ends its subscription (sidecar.core.run_events) and never the run.
int deliver_event(lua_State* L) {
  auto* box = static_cast<Boxed<EventCallback>*>(lua_touserdata(L, lua_upvalueindex(1)));
  std::string event(luaL_checkstring(L, 1)), error;
  if (!embedder_call([&] { box->fn(event); }, error)) {
    return luaL_error(L, "the Host's on_event callback threw: %s", error.c_str());
  }
  return 0;
}

// Lua's side of register_function: the module table (made when missing, refused for a module of
// Sidecar's own or a loaded one that is not a table) gets a function that passes its arguments
// as a JSON array and decodes the result.
const char kRegisterGlue[] =
    "local module, name, raw = ...\n"
    "if module:find('^sidecar%.') or module == 'sidecar' then\n"
    "  return nil, ('cannot register %s.%s: %s is Sidecar\\'s own'):format(module, name, module)\n"
    "end\n"
    "local m = package.loaded[module]\n"
    "if m == nil then m = {} package.loaded[module] = m end\n"
    "if type(m) ~= 'table' then\n"
    "  return nil, ('cannot register %s.%s: module %s is a %s'):format(module, name, module, type(m))\n"
    "end\n"
    "local json = require('sidecar.core.json')\n"
    "m[name] = function(...)\n"
    "  local args = table.pack(...)\n"
    "  for i = 1, args.n do if args[i] == nil then args[i] = json.null end end\n"
    "  args.n = nil\n"
    "  local out, why = raw(json.encode(json.array(args)))\n"
    "  if not out then error(('%s.%s: %s'):format(module, name, why), 2) end\n"
    "  return json.decode(out)\n"
    "end\n"
    "return true\n";

const char kEventsGlue[] =
    "local deliver, key = ...\n"
    "local registry = debug.getregistry()\n"
    "if registry[key] then registry[key]:close() registry[key] = nil end\n"
    "if not deliver then return true end\n"
    "local json = require('sidecar.core.json')\n"
    "registry[key] = require('sidecar.core.run_events').subscribe(function(e) deliver(json.encode(e)) end)\n"
    "return true\n";

// Runs `glue` (pushed with its arguments below it: nargs) and reads `true` or nil, message.
bool run_glue(lua::Engine& engine, int nargs, std::string& error) {
  lua_State* L = engine.state();
  if (!engine.pcall(nargs, 2)) {
    error = lua_tostring(L, -1);
    lua_pop(L, 1);
    return false;
  }
  bool ok = lua_toboolean(L, -2);
  if (!ok) error = lua_isstring(L, -1) ? lua_tostring(L, -1) : "failed";
  lua_pop(L, 2);
  return ok;
}

}  // namespace

bool Host::register_function(const std::string& name, NativeFunction fn, std::string* error) {
  std::string why;
  std::string::size_type dot = name.rfind('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == name.size() || !fn) {
    why = "register_function: name a function as \"<module>.<function>\" and give it a callable (got \"" + name + "\")";
  } else {
    lua_State* L = engine_->state();
    if (engine_->load_string(kRegisterGlue, "=(sidecar::Host::register_function)", why)) {
      const std::string module = name.substr(0, dot), function = name.substr(dot + 1);
      lua_pushlstring(L, module.data(), module.size());
      lua_pushlstring(L, function.data(), function.size());
      push_boxed(L, std::move(fn), kFunctionType);
      lua_pushcclosure(L, call_native, 1);
      if (run_glue(*engine_, 3, why)) return true;
    }
  }
  if (error) *error = why;
  return false;
}

void Host::on_event(EventCallback callback) {
  lua_State* L = engine_->state();
  std::string why;
  if (!engine_->load_string(kEventsGlue, "=(sidecar::Host::on_event)", why)) return;
  if (callback) {
    push_boxed(L, std::move(callback), "sidecar.event_callback");
    lua_pushcclosure(L, deliver_event, 1);
  } else {
    lua_pushnil(L);
  }
  lua_pushstring(L, kEventsKey);
  run_glue(*engine_, 2, why);
}

}  // namespace sidecar
