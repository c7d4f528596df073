// The embedding API (include/sidecar/sidecar.hpp) on top of Engine. Results are encoded with
// the stdlib's own json module, so an embedder sees exactly what a script would write.
#include <sidecar/sidecar.hpp>

#include <atomic>
#include <filesystem>
#include <stdexcept>

#include <lua.hpp>

#include "engine.hpp"
#include "sidecar_binary.hpp"
#include "util/background_jobs.hpp"
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

// What a failed call's error is, from what the engine saw during it (see Result::kind).
const char* kind_of(lua::Engine& engine, const std::string& code, bool interrupted) {
  if (interrupted) return "interrupted";
  if (engine.take_memory_refused()) return "memory";
  if (code == "untrusted" || code == "not_trusted") return "not_trusted";
  if (code == "bad_argument" || code == "bad_option" || code == "usage") return "usage";
  return "lua";
}

// One call into the Host's Lua: watches for interrupts from its start, and gives a failure its
// parts (message, traceback, kind, code) from r.error and what the engine saw.
class Call {
 public:
  explicit Call(lua::Engine& engine) : engine_(engine) {
    engine_.watch_interrupts();
    engine_.take_memory_refused();
    asked_ = engine_.interrupts_asked();
  }

  Result& failed(Result& r, const char* kind = nullptr) {
    static const std::string kTraceback = "\nstack traceback:\n";
    std::string::size_type at = r.error.find(kTraceback);
    r.message = r.error.substr(0, at);
    r.traceback = at == std::string::npos ? std::string() : r.error.substr(at + 1);
    r.code = engine_.take_error_code();
    r.kind = kind ? kind : kind_of(engine_, r.code, engine_.interrupts_asked() != asked_);
    return r;
  }

  // Runs the function below `nargs` arguments and encodes its first result.
  Result finish(int nargs) {
    Result r;
    lua_State* L = engine_.state();
    if (!engine_.pcall(nargs, 1)) {
      r.error = lua_tostring(L, -1);
      lua_pop(L, 1);
      return failed(r);
    }
    r.ok = encode_top(engine_, r);
    if (!r.ok) failed(r, "result");
    return r;
  }

 private:
  lua::Engine& engine_;
  unsigned asked_ = 0;
};

// Runs `body` (a call into the Host), turning a C++ exception inside it into a Result of kind
// "internal" with the Lua stack as it was.
template <class Body>
Result guarded_call(lua::Engine& engine, const char* what, Body body) {
  lua_State* L = engine.state();
  const int top = lua_gettop(L);
  try {
    return body();
  } catch (const std::exception& e) {
    lua_settop(L, top);
    Result r;
    r.kind = "internal";
    r.message = r.error = std::string(what) + ": " + e.what();
    return r;
  }
}

const char* trust_policy(const std::string& trust) {
  if (trust == "environment") return "nil";
  if (trust == "granted") return "'none'";
  if (trust == "all") return "'all'";
  throw std::invalid_argument("HostOptions::trust must be \"environment\", \"granted\" or \"all\", not \"" + trust +
                              "\"");
}

// Makes `root` (a folder, made absolute) the repository of the Host's functions that name none
// (stdlib/sidecar/core/default_repo.lua); throws std::invalid_argument when it is no folder.
void set_root(lua::Engine& engine, const std::string& root) {
  std::error_code ec;
  const std::filesystem::path real = std::filesystem::canonical(root, ec);
  if (ec || !std::filesystem::is_directory(real, ec)) {
    throw std::invalid_argument("HostOptions::root is " + root + ", which is not a folder" +
                                (ec ? " (" + ec.message() + ")" : std::string()));
  }
  std::string error;
  lua_State* L = engine.state();
  if (!engine.require("sidecar.core.default_repo", error)) throw std::runtime_error("cannot set the Host's root: " + error);
  lua_getfield(L, -1, "set");
  lua_remove(L, -2);
  lua_pushstring(L, real.c_str());
  if (!engine.pcall(1, 0)) {
    error = lua_tostring(L, -1);
    lua_pop(L, 1);
    throw std::runtime_error("cannot set the Host's root: " + error);
  }
}

// The glue of Host::call, compiled once per Host and kept in the registry under this key.
constexpr const char* kCallGlueKey = "sidecar.host_call_glue";

// The glue is Lua so argument decoding and error reporting follow the stdlib's rules.
constexpr const char kCallGlue[] =
    "local module, fn, args_json = ...\n"
    "local errors = require('sidecar.core.errors')\n"
    "local json = require('sidecar.core.json')\n"
    "local ok, args = pcall(json.decode, args_json)\n"
    "if not ok or not json.is_array(args) then\n"
    "  errors.raise('usage', 'the arguments must be a JSON array' .. (ok and '' or ': ' .. tostring(args)), nil, 0)\n"
    "end\n"
    "local m = require(module)\n"
    "local f = type(m) == 'table' and m[fn]\n"
    "if type(f) ~= 'function' then\n"
    "  errors.raise('usage', ('module %s has no function %s'):format(module, fn), nil, 0)\n"
    "end\n"
    "return f(table.unpack(args, 1, #args))\n";

// Hosts alive in this process (each with its engine). Sidecar's background threads (libgit2 loading,
// a snapshot) are the process's: the last Host freed joins them, so that a program exiting right
// after never has exit's handlers (OpenSSL's, registered as libgit2 loads) tear down what such a
// thread still uses, as the CLI's main does before it returns (host/util/background_jobs.hpp).
std::atomic<int> g_live_hosts{0};

void release(std::unique_ptr<lua::Engine>& engine) {
  if (!engine) return;  // moved from
  engine.reset();
  if (--g_live_hosts == 0) host::wait_for_background_jobs();
}

}  // namespace

Host::Host(const HostOptions& options) : engine_(std::make_unique<lua::Engine>(options.stdlib_dir)) {
  const std::string policy = trust_policy(options.trust);
  std::string why;
  std::string binary = lua::find_sidecar_binary(options.sidecar_binary, why);
  engine_->set_sidecar_binary(binary, why);
  std::string error;
  if (options.redact_output &&
      !engine_->run_string("require('sidecar.core.terminal').install()", "=(sidecar::Host)", error)) {
    throw std::runtime_error("cannot install the redaction of the Host's output: " + error);
  }
  if (!engine_->run_string("require('sidecar.core.trust').set_policy(" + policy + ")", "=(sidecar::Host)", error)) {
    throw std::runtime_error("cannot set the Host's trust policy: " + error);
  }
  if (!engine_->load_string(kCallGlue, "=(sidecar::Host::call)", error)) {
    throw std::runtime_error("cannot compile the glue of Host::call: " + error);
  }
  lua_setfield(engine_->state(), LUA_REGISTRYINDEX, kCallGlueKey);
  if (!options.root.empty()) set_root(*engine_, options.root);
  if (options.memory_limit) engine_->limit_memory(options.memory_limit);
  ++g_live_hosts;  // last: a constructor that throws leaves no Host to count
}

Host::~Host() { release(engine_); }
Host::Host(Host&&) noexcept = default;
Host& Host::operator=(Host&& other) noexcept {
  if (this != &other) {
    release(engine_);
    engine_ = std::move(other.engine_);
  }
  return *this;
}

const char* Host::version() { return SIDECAR_VERSION; }

void Host::interrupt() { engine_->interrupt_from_any_thread(); }

Result Host::run_string(const std::string& code, const std::string& chunk_name) {
  return guarded_call(*engine_, "Host::run_string", [&] {
    Call call(*engine_);
    Result r;
    if (!engine_->load_string(code, chunk_name, r.error)) return call.failed(r);
    return call.finish(0);
  });
}

Result Host::run_file(const std::string& path, const std::vector<std::string>& args) {
  return guarded_call(*engine_, "Host::run_file", [&] {
    Call call(*engine_);
    Result r;
    if (!engine_->load_file(path, args, r.error)) return call.failed(r);
    return call.finish(static_cast<int>(args.size()));
  });
}

Result Host::call(const std::string& module, const std::string& function, const std::string& args_json) {
  return guarded_call(*engine_, "Host::call", [&] {
    Call call(*engine_);
    lua_State* L = engine_->state();
    lua_getfield(L, LUA_REGISTRYINDEX, kCallGlueKey);
    lua_pushlstring(L, module.data(), module.size());
    lua_pushlstring(L, function.data(), function.size());
    lua_pushlstring(L, args_json.data(), args_json.size());
    return call.finish(3);
  });
}

}  // namespace sidecar
