// A small HTTP/1.1 server on a libuv loop, for `sidecar model-server`: an incremental request
// parser (Content-Length and chunked bodies, keep-alive, pipelined requests), replies sent whole
// or as a stream of events (Server-Sent Events) with pauses between them, and the ways a stream
// can go wrong on purpose: cut short, or left hanging. Single-threaded; stop() may be called from
// any thread or a signal handler.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sidecar::model_server {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;   // "POST"
  std::string target;   // as sent: "/v1/messages?beta=true"
  std::string path;     // the target without its query: "/v1/messages"
  std::string query;    // after '?', or empty
  std::string authority;  // an absolute-form target's host[:port] ("http://h:1/x" gives "h:1"), else empty
  int minor_version = 1;  // HTTP/1.<minor_version>
  HttpHeaders headers;  // names in lower case, in the order received
  std::string body;     // de-chunked
  bool keep_alive = true;

  // The first header named `name` (lower case), or nullptr.
  const std::string* header(std::string_view name) const;
};

// Reads requests from a byte stream as it arrives, in pieces of any size. Bytes after a complete
// request stay buffered for the next one (keep-alive and pipelining).
class HttpRequestParser {
 public:
  // Head: the request line and headers are read, none of the body yet (only with stop_at_head):
  // the caller may refuse it (head()) or bound its body (limit_body), then parses on.
  enum class Status { NeedMore, Complete, Error, Head };

  static constexpr std::size_t kMaxHead = 64 * 1024;          // request line and headers
  static constexpr std::size_t kMaxBody = 64 * 1024 * 1024;   // a codex request resends the history

  // Appends `data` and parses as far as it can.
  Status feed(std::string_view data);
  // Appends `data` without parsing it yet.
  void append(std::string_view data) { buffer_.append(data.data(), data.size()); }
  // Parses what is buffered (after take(), for a pipelined request).
  Status parse();
  // The complete request; the parser then starts on the next one.
  HttpRequest take();

  // Once the head is read: the client waits for "100 Continue" before sending its body.
  bool wants_continue() const { return head_done_ && expect_continue_ && !continue_answered_; }
  void continue_answered() { continue_answered_ = true; }

  // Report each request's head once, before reading its body (Status::Head).
  void stop_at_head(bool on) { stop_at_head_ = on; }
  // After Status::Head: the request so far (no body yet).
  const HttpRequest& head() const { return request_; }
  // After Status::Head: refuses a body larger than `max` bytes (413), whether its length is
  // declared or it comes chunked.
  void limit_body(std::size_t max);

  // After Error: the status to answer (400, 413, 431, 501) and why.
  int error_status() const { return error_status_; }
  const std::string& error() const { return error_; }
  std::size_t buffered() const { return buffer_.size() - offset_; }

 private:
  Status fail(int status, std::string why);
  Status parse_head();
  Status parse_chunked();

  std::string buffer_;
  std::size_t offset_ = 0;  // start of the unparsed bytes in buffer_
  HttpRequest request_;
  bool head_done_ = false, chunked_ = false, expect_continue_ = false, continue_answered_ = false;
  bool complete_ = false;
  bool stop_at_head_ = false, head_reported_ = false;
  std::size_t body_max_ = kMaxBody;
  std::size_t content_length_ = 0;
  std::size_t chunk_left_ = 0;    // bytes of the current chunk still to read
  bool chunk_crlf_due_ = false;   // a chunk's data was read; its CRLF comes next
  bool in_trailers_ = false;
  int error_status_ = 0;
  std::string error_;
};

// What to send back for one request.
struct HttpReply {
  enum class End {
    Complete,  // the body (or the stream's final chunk) and the connection stays usable
    Close,     // after the events sent, the connection is closed: a stream cut short
    Hang,      // after the events sent, nothing more; open until the client or the server leaves
  };           // (a whole reply that ends in Close or Hang sends nothing at all)
  int status = 200;
  HttpHeaders headers;              // besides Content-Length / Transfer-Encoding / Connection
  std::string body;                 // a whole reply (stream == false)
  bool stream = false;              // events sent one by one, as chunks
  std::vector<std::string> events;  // stream: each already framed (see sse_event)
  uint64_t delay_ms = 0;            // before the status line
  uint64_t event_delay_ms = 0;      // before each event
  End end = End::Complete;
  bool subscribe = false;           // a stream left hanging that HttpServer::broadcast reaches
};

// One Server-Sent Event: "event: NAME\ndata: DATA\n\n" (a multi-line DATA gets one data: line each).
std::string sse_event(std::string_view name, std::string_view data);

// The status line's reason phrase for `status` ("Not Found"), "Unknown" when not listed.
const char* http_reason(int status);

// What a server open to more than a trusted client bounds (HttpServer::set_limits). Zero: no bound.
struct HttpLimits {
  std::size_t max_connections = 0;  // beyond it, the oldest connection not being answered is closed
  uint64_t request_timeout_ms = 0;  // an idle connection's next request must be read within this
  // Once a request's head is read, before any of its body: a reply to send instead (the connection
  // then closes, its body never read), or nullopt to go on.
  std::function<std::optional<HttpReply>(const HttpRequest& head)> screen;
  // The largest body a request may have (413 beyond it), from its head.
  std::function<std::size_t(const HttpRequest& head)> max_body;
};

class HttpServer {
 public:
  using Handler = std::function<HttpReply(const HttpRequest&)>;
  // A request that could not be read: the status answered (400, 413, ...) and why.
  using BadRequestHook = std::function<void(int status, const std::string& why)>;

  explicit HttpServer(Handler handler, BadRequestHook on_bad_request = nullptr);
  ~HttpServer();  // closes every connection
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens (IPv4); `port` 0 takes any free one. False with `error` when it cannot.
  bool listen(const std::string& host, int port, std::string& error);
  int port() const;  // the bound port, once listening

  // From now on these signals stop run() (the previous handlers come back when run() returns).
  void stop_on_signals(const std::vector<int>& signals);
  // Serves until stop() or a stop signal; then closes every connection and returns. Returns the
  // signal that stopped it, or 0.
  int run();
  // Makes run() return soon. Thread-safe and async-signal-safe; only until run() has returned.
  void stop();

  std::size_t connections() const;  // open now; readable from any thread
  // Before listen(): bounds on connections, time and bodies.
  void set_limits(HttpLimits limits);

  // Calls `tick` every `ms` on the server's loop, from run() on.
  void every(uint64_t ms, std::function<void()> tick);
  // Sends one framed event (see sse_event) to every subscribed stream. On the loop's thread only
  // (from a handler or a tick).
  void broadcast(const std::string& event);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace sidecar::model_server
