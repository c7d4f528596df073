// The embedding API (include/sidecar/sidecar.hpp) on top of Engine. Results are encoded with
// the stdlib's own json module, so an embedder sees exactly what a script would write.
#include <sidecar/sidecar.hpp>

#include <stdexcept>

#include <lua.hpp>

#include "engine.hpp"
#include "sidecar_binary.hpp"
#include "util/version.hpp"

namespace sidecar {
namespace {

// Encodes the value on top of the stack (popping it) into r.json; false with r.error on failure.
bool encode_top(lua::Engine& engine, Result& r) {
  lua_State* L = engine.state();
  if (!engine.require("sidecar.core.json", r.error)) {
    lua_pop(L, 1);
    return false;
  }
  lua_getfield(L, -1, "encode");
  lua_remove(L, -2);   // json module
  lua_insert(L, -2);   // encode below the value
  if (!engine.pcall(1, 1)) {
    r.error = std::string("cannot return the result as JSON: ") + lua_tostring(L, -1);
    lua_pop(L, 1);
    return false;
  }
  r.json = lua_tostring(L, -1);
  lua_pop(L, 1);
  return true;
}

// Fills the parts of a failed result from r.error: the message, the traceback after it, the kind.
Result& with_parts(Result& r, const char* kind = nullptr) {
  static const std::string kTraceback = "\nstack traceback:\n";
  std::string::size_type at = r.error.find(kTraceback);
  r.message = r.error.substr(0, at);
  r.traceback = at == std::string::npos ? std::string() : r.error.substr(at + 1);
  r.kind = kind ? kind : r.message.find("interrupted!") != std::string::npos ? "interrupted" : "lua";
  return r;
}

// Runs the function below `nargs` arguments and encodes its first result.
Result finish_call(lua::Engine& engine, int nargs) {
  Result r;
  lua_State* L = engine.state();
  if (!engine.pcall(nargs, 1)) {
    r.error = lua_tostring(L, -1);
    lua_pop(L, 1);
    return with_parts(r);
  }
  r.ok = encode_top(engine, r);
  if (!r.ok) with_parts(r, "result");
  return r;
}

}  // namespace

Host::Host(const HostOptions& options) : engine_(std::make_unique<lua::Engine>(options.stdlib_dir)) {
  std::string why;
  std::string binary = lua::find_sidecar_binary(options.sidecar_binary, why);
  engine_->set_sidecar_binary(binary, why);
  std::string error;
  if (options.redact_output &&
      !engine_->run_string("require('sidecar.core.terminal').install()", "=(sidecar::Host)", error)) {
    throw std::runtime_error("cannot install the redaction of the Host's output: " + error);
  }
}
Host::~Host() = default;
Host::Host(Host&&) noexcept = default;
Host& Host::operator=(Host&&) noexcept = default;

const char* Host::version() { return SIDECAR_VERSION; }

void Host::interrupt() { engine_->interrupt_from_any_thread(); }

Result Host::run_string(const std::string& code, const std::string& chunk_name) {
  Result r;
  engine_->watch_interrupts();
  if (!engine_->load_string(code, chunk_name, r.error)) return with_parts(r);
  return finish_call(*engine_, 0);
}

Result Host::run_file(const std::string& path, const std::vector<std::string>& args) {
  Result r;
  engine_->watch_interrupts();
  if (!engine_->load_file(path, args, r.error)) return with_parts(r);
  return finish_call(*engine_, static_cast<int>(args.size()));
}

Result Host::call(const std::string& module, const std::string& function, const std::string& args_json) {
  // The glue is Lua so argument decoding and error reporting follow the stdlib's rules.
  static const char glue[] =
      "local module, fn, args_json = ...\n"
      "local json = require('sidecar.core.json')\n"
      "local args = json.decode(args_json)\n"
      "if not json.is_array(args) then error('arguments must be a JSON array', 0) end\n"
      "local m = require(module)\n"
      "local f = type(m) == 'table' and m[fn]\n"
      "if type(f) ~= 'function' then error(('module %s has no function %s'):format(module, fn), 0) end\n"
      "return f(table.unpack(args, 1, #args))\n";
  Result r;
  engine_->watch_interrupts();
  if (!engine_->load_string(glue, "=(sidecar::Host::call)", r.error)) return with_parts(r);
  lua_State* L = engine_->state();
  lua_pushlstring(L, module.data(), module.size());
  lua_pushlstring(L, function.data(), function.size());
  lua_pushlstring(L, args_json.data(), args_json.size());
  return finish_call(*engine_, 3);
}

}  // namespace sidecar
