// The HTTP server under `sidecar ui`: static assets compiled into the binary, a JSON API answered
// by one handler (called one request at a time), and a stream of Server-Sent Events that says
// when the store's files changed. It enforces the page's security rules itself, before any handler
// runs: the Host must be the server's own (DNS rebinding), a present Origin too (cross-site
// requests), and every /api/ call carries the access token (a cookie set from `/?token=`, or the
// X-Sidecar-Token header). No Lua here: the API handler is whatever the caller gives. Built on the
// project's own HTTP server (model_server/http_server.hpp): one libuv loop, so requests are
// answered one at a time, which the single Lua state behind the API needs.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sidecar::ui {

struct UiRequest {
  std::string method;  // "GET" or "POST"
  std::string path;    // "/api/runs/R-0001"
  std::vector<std::pair<std::string, std::string>> params;  // the query, decoded, in order
  std::string body;
};

struct UiReply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::string allow;  // a 405's Allow header ("POST"), else empty
};

struct UiAsset {
  std::string path;  // "/" or "/app.js"
  std::string content_type;
  std::string_view body;
};

struct UiServerOptions {
  std::string host = "127.0.0.1";
  int port = 4310;  // 0: any free port
  std::string token;
  std::string version;  // in the envelope of the refusals this server answers itself
  std::vector<UiAsset> assets;
  // /api/... except /api/events. Called on the server's one thread: never two at once.
  std::function<UiReply(const UiRequest&)> api;
  // Files whose (mtime, size) are compared every `watch_interval_ms`: a change is an event.
  std::vector<std::string> watched_files;
  int watch_interval_ms = 250;
};

class UiServer {
 public:
  explicit UiServer(UiServerOptions options);
  ~UiServer();
  UiServer(const UiServer&) = delete;
  UiServer& operator=(const UiServer&) = delete;

  // Binds the port (IPv4); false with `error` when it cannot.
  bool bind(std::string& error);
  int port() const;
  // Serves until SIGINT or SIGTERM (or stop()); returns the signal, or 0.
  int run();
  // Makes run() return soon (from any thread).
  void stop();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// A fresh access token: 32 random bytes from the kernel, in hex. Empty when none could be read.
std::string ui_new_token();

// Whether a Host header names this server: 127.0.0.1:PORT, localhost:PORT, or `extra_host`:PORT
// (the --host given, if any).
bool ui_host_allowed(std::string_view host_header, int port, std::string_view extra_host);

// Whether an Origin header is this server's own (http://<an allowed host>:PORT).
bool ui_origin_allowed(std::string_view origin, int port, std::string_view extra_host);

// The value of cookie `name` in a Cookie header, or empty.
std::string ui_cookie_value(std::string_view cookie_header, std::string_view name);

// Compares in time independent of where the texts differ.
bool ui_token_equal(std::string_view a, std::string_view b);

// The fields of a query string ("a=1&b=x%20y"), decoded ('+' is a space).
std::vector<std::pair<std::string, std::string>> ui_query_params(std::string_view query);

}  // namespace sidecar::ui
