// The C ABI (include/sidecar/sidecar.h) over the C++ embedding API. Every function catches what
// C++ throws and answers with an error instead; strings are malloc'd for sidecar_free.
#include <sidecar/sidecar.h>
#include <sidecar/sidecar.hpp>

#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

struct sidecar_host {
  std::unique_ptr<sidecar::Host> host;
};

struct sidecar_reply {
  std::string value = "null";
  std::string error;
  bool failed = false;
};

namespace {

using nlohmann::json;

char* copy(const std::string& text) {
  char* out = static_cast<char*>(std::malloc(text.size() + 1));
  if (out) std::memcpy(out, text.c_str(), text.size() + 1);
  return out;
}

std::string failure(const std::string& kind, const std::string& message, const std::string& traceback = "",
                    const std::string& code = "") {
  json error{{"kind", kind}, {"message", message}, {"traceback", traceback}};
  if (!code.empty()) error["code"] = code;
  return json{{"ok", false}, {"error", error}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

char* reply_of(const sidecar::Result& r) {
  if (r.ok) return copy("{\"ok\":true,\"value\":" + r.json + "}");
  return copy(failure(r.kind.empty() ? "lua" : r.kind, r.message.empty() ? r.error : r.message, r.traceback, r.code));
}

// Runs `body`, answering a usage error for a null argument and an internal one for what throws.
template <typename Body>
char* answer(sidecar_host* host, const char* what, Body&& body) {
  if (!host) return copy(failure("usage", std::string(what) + ": the host is NULL"));
  try {
    return body();
  } catch (const std::exception& e) {
    return copy(failure("internal", std::string(what) + ": " + e.what()));
  } catch (...) {
    return copy(failure("internal", std::string(what) + ": an unknown exception"));
  }
}

sidecar::HostOptions options_of(const char* options_json) {
  sidecar::HostOptions o;
  if (!options_json || !*options_json) return o;
  json j = json::parse(options_json);  // throws json::parse_error with the place
  if (!j.is_object()) throw std::invalid_argument("the options must be a JSON object");
  const char* known = "stdlib_dir, sidecar_binary, redact_output, trust, memory_limit, root";
  for (auto& [key, value] : j.items()) {
    if (key == "stdlib_dir" && value.is_string()) o.stdlib_dir = value.get<std::string>();
    else if (key == "sidecar_binary" && value.is_string()) o.sidecar_binary = value.get<std::string>();
    else if (key == "redact_output" && value.is_boolean()) o.redact_output = value.get<bool>();
    else if (key == "trust" && value.is_string()) o.trust = value.get<std::string>();
    else if (key == "root" && value.is_string()) o.root = value.get<std::string>();
    else if (key == "memory_limit" && value.is_number_unsigned()) o.memory_limit = value.get<size_t>();
    else if (key == "stdlib_dir" || key == "sidecar_binary" || key == "redact_output" || key == "trust" ||
             key == "memory_limit" || key == "root")
      throw std::invalid_argument("option " + key + " has the wrong type");
    else
      throw std::invalid_argument("unknown option " + key + " (known: " + known + ")");
  }
  return o;
}

}  // namespace

extern "C" {

int sidecar_api_level(void) { return SIDECAR_API_LEVEL; }

sidecar_host* sidecar_host_new(const char* options_json, char** error) {
  try {
    auto* h = new sidecar_host{std::make_unique<sidecar::Host>(options_of(options_json))};
    return h;
  } catch (const std::exception& e) {
    if (error) *error = copy(std::string("sidecar_host_new: ") + e.what());
  } catch (...) {
    if (error) *error = copy("sidecar_host_new: an unknown exception");
  }
  return nullptr;
}

void sidecar_host_free(sidecar_host* host) { delete host; }

char* sidecar_eval(sidecar_host* host, const char* lua_code) {
  return answer(host, "sidecar_eval", [&] {
    if (!lua_code) return copy(failure("usage", "sidecar_eval: the code is NULL"));
    return reply_of(host->host->run_string(lua_code));
  });
}

char* sidecar_call(sidecar_host* host, const char* module, const char* function, const char* args_json) {
  return answer(host, "sidecar_call", [&] {
    if (!module || !function) return copy(failure("usage", "sidecar_call: the module or function is NULL"));
    return reply_of(host->host->call(module, function, args_json ? args_json : "[]"));
  });
}

void sidecar_on_event(sidecar_host* host, sidecar_event_fn fn, void* userdata) {
  if (!host) return;
  try {
    if (!fn) {
      host->host->on_event(nullptr);
      return;
    }
    host->host->on_event([fn, userdata](const std::string& event) { fn(userdata, event.c_str()); });
  } catch (...) {
  }
}

int sidecar_register_function(sidecar_host* host, const char* name, sidecar_native_fn fn, void* userdata) {
  if (!host || !name || !fn) return -1;
  try {
    bool ok = host->host->register_function(name, [fn, userdata](const std::string& args) {
      sidecar_reply reply;
      int rc = fn(userdata, args.c_str(), &reply);
      if (reply.failed) throw std::runtime_error(reply.error);
      if (rc != 0) throw std::runtime_error("failed (returned " + std::to_string(rc) + ")");
      return reply.value;
    });
    return ok ? 0 : -1;
  } catch (...) {
    return -1;
  }
}

void sidecar_reply_value(sidecar_reply* reply, const char* value_json) {
  if (reply) reply->value = value_json ? value_json : "null";
}

void sidecar_reply_error(sidecar_reply* reply, const char* message) {
  if (!reply) return;
  reply->failed = true;
  reply->error = message ? message : "failed";
}

void sidecar_interrupt(sidecar_host* host) {
  if (host) host->host->interrupt();
}

void sidecar_free(char* text) { std::free(text); }

}  // extern "C"
