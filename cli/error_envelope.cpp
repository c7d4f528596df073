#include "error_envelope.hpp"

#include <cstdio>

#include <nlohmann/json.hpp>

#include "util/version.hpp"

namespace sidecar::cli {

void print_error_envelope(const std::string& command, const std::string& code, const std::string& message) {
  nlohmann::ordered_json error = {{"code", code}, {"message", message}};
  nlohmann::ordered_json e = {{"command", command}, {"data", nullptr}};
  e["errors"] = nlohmann::ordered_json::array({error});
  e["ok"] = false;
  e["version"] = SIDECAR_VERSION;
  const std::string text = e.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
  std::fflush(stdout);
  std::fprintf(stdout, "%s\n", text.c_str());
  std::fflush(stdout);
}

}  // namespace sidecar::cli
