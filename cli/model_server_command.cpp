#include "model_server_command.hpp"

#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>

#include "http_server.hpp"
#include "model_server.hpp"
#include "secrets/secrets.hpp"
#include "signals.hpp"

namespace sidecar::cli {
namespace {

constexpr int kExitOk = 0, kExitFailure = 1, kExitUsage = 2;

// What reaches the terminal is redacted, as the rest of Sidecar's output is, though no Lua runs
// here: the host's default policy is secret_rules.lua read as text. A message may quote a path
// or a request that holds a key.
std::string redacted(const std::string& text) {
  static const host::Redactor redactor = host::Redactor::from_environ();
  return redactor.redact(text);
}

int fail(int status, const std::string& message) {
  std::fprintf(stderr, "sidecar model-server: %s\n", redacted(message).c_str());
  return status;
}

}  // namespace

void add_model_server_command(CLI::App& app, ModelServerCommand& c) {
  c.app = app.add_subcommand("model-server",
                             "Serve a scripted model (OpenAI Responses and Anthropic Messages APIs) on 127.0.0.1, "
                             "for running codex and claude offline; see docs/model-server.md");
  c.app->add_option("--scenario", c.scenario, "The scenario: the replies to give, in order (JSON)")
      ->required()
      ->type_name("FILE");
  c.app->add_option("--port", c.port, "The port to listen on (default 0: any free port; the ready line says which)")
      ->type_name("N")
      ->check(CLI::Range(0, 65535));
  c.app->add_option("--log", c.log, "Append one JSON line per request to FILE (method, path, step, status, body)")
      ->type_name("FILE");
  c.app->add_flag("--json", c.json, "Print the ready line as {\"base_url\": ..., \"port\": ...}");
}

int run_model_server(const ModelServerCommand& c) {
  std::string error;
  std::unique_ptr<model_server::ModelServer> model = model_server::ModelServer::load_file(c.scenario, error);
  if (!model) return fail(kExitUsage, error);

  std::unique_ptr<std::FILE, int (*)(std::FILE*)> log(nullptr, std::fclose);
  if (!c.log.empty()) {
    log.reset(std::fopen(c.log.c_str(), "a"));
    if (!log) return fail(kExitUsage, "cannot open the log " + c.log + ": " + std::strerror(errno));
  }
  // Each line is flushed at once: a test reads the log while the server still runs.
  unsigned long long requests = 0;
  auto record = [&](const model_server::ModelAnswer& a) {
    ++requests;
    std::fprintf(stderr, "model-server: %s\n", redacted(a.summary).c_str());
    if (log) {
      std::fprintf(log.get(), "%s\n", a.log_line.c_str());
      std::fflush(log.get());
    }
  };

  model_server::HttpServer server(
      [&](const model_server::HttpRequest& request) {
        model_server::ModelAnswer a = model->answer(request);
        record(a);
        return std::move(a.reply);
      },
      [&](int status, const std::string& why) { record(model->bad_request(status, why)); });
  if (!server.listen("127.0.0.1", c.port, error)) return fail(kExitFailure, error);
  // The loop's own signal watchers stop it, in place of the CLI's handler (back after run()).
  server.stop_on_signals({SIGINT, SIGTERM});
  if (terminated()) return kExitOk;  // SIGTERM arrived before the watchers

  const std::string base_url = "http://127.0.0.1:" + std::to_string(server.port());
  if (c.json) {
    nlohmann::ordered_json ready = {{"base_url", base_url}, {"port", server.port()}};
    std::printf("%s\n", ready.dump().c_str());
  } else {
    std::printf("listening on %s\n", base_url.c_str());
  }
  std::fflush(stdout);
  std::fprintf(stderr, "model-server: %s: %zu steps; codex: -c model_providers.NAME.base_url=%s/v1, claude: ANTHROPIC_BASE_URL=%s\n",
               c.scenario.c_str(), model->steps(), base_url.c_str(), base_url.c_str());

  int signal = server.run();
  std::fprintf(stderr, "model-server: stopped%s after %llu requests\n",
               signal == SIGTERM ? " (SIGTERM)" : signal == SIGINT ? " (SIGINT)" : "", requests);
  return kExitOk;
}

}  // namespace sidecar::cli
