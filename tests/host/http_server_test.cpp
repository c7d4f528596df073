// The model server's HTTP side: the request parser fed in pieces, and the server over real
// sockets (keep-alive, pipelining, streams cut short or left hanging, bad requests, stop()).
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "http_server.hpp"

using sidecar::model_server::HttpReply;
using sidecar::model_server::HttpRequest;
using sidecar::model_server::HttpRequestParser;
using sidecar::model_server::HttpServer;
using Json = nlohmann::json;
using Status = HttpRequestParser::Status;

namespace {

// --- A server on a thread, and a blocking client ---------------------------------------------

struct ServerThread {
  HttpServer server;
  std::thread thread;
  int port = 0;
  std::vector<std::string> bad;  // bad-request reasons, read after join

  explicit ServerThread(HttpServer::Handler handler)
      : server(std::move(handler), [this](int status, const std::string& why) { bad.push_back(std::to_string(status) + " " + why); }) {
    std::string error;
    REQUIRE(server.listen("127.0.0.1", 0, error));
    port = server.port();
    REQUIRE(port > 0);
    thread = std::thread([this] { server.run(); });
  }
  ~ServerThread() { join(); }
  void join() {
    if (!thread.joinable()) return;
    server.stop();
    thread.join();
  }
};

struct Client {
  int fd = -1;
  explicit Client(int port) {
    fd = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    timeval tv{5, 0};  // no test waits forever
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  }
  ~Client() { close(fd); }
  void send(const std::string& data) { REQUIRE(::send(fd, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size())); }
  // Reads until `until` is found in what arrived (returns true), the peer closes or 5 s pass.
  bool read_until(std::string& got, const std::string& until) {
    char buf[4096];
    while (until.empty() || got.find(until) == std::string::npos) {
      ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return false;
      got.append(buf, static_cast<std::size_t>(n));
    }
    return true;
  }
  bool closed_by_peer(int wait_ms) {
    timeval tv{0, wait_ms * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char c;
    return recv(fd, &c, 1, 0) == 0;
  }
};

// A stream of three events, chunked, and whatever end the request's path names.
HttpReply scripted(const HttpRequest& request) {
  HttpReply r;
  if (request.path == "/whole") {
    r.headers = {{"Content-Type", "text/plain"}};
    r.body = "body of " + request.body;
    return r;
  }
  r.stream = true;
  r.headers = {{"Content-Type", "text/event-stream"}};
  for (const char* n : {"one", "two", "three"}) r.events.push_back(sidecar::model_server::sse_event(n, "{}"));
  if (request.path == "/cut") {
    r.events.resize(1);
    r.end = HttpReply::End::Close;
  } else if (request.path == "/hang") {
    r.events.resize(1);
    r.end = HttpReply::End::Hang;
  } else if (request.path == "/slow") {
    r.event_delay_ms = 30;
  }
  return r;
}

std::string request_text(const std::string& path, const std::string& body = "", const std::string& extra = "") {
  return "POST " + path + " HTTP/1.1\r\nHost: x\r\n" + extra + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

}  // namespace

TEST_CASE("http parser: a request arriving one byte at a time", "[model_server]") {
  const std::string text = "POST /v1/messages?beta=true HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Thing:  a b \r\n"
                           "Content-Length: 11\r\n\r\n{\"a\": true}";
  HttpRequestParser p;
  for (std::size_t i = 0; i + 1 < text.size(); ++i) REQUIRE(p.feed(text.substr(i, 1)) == Status::NeedMore);
  REQUIRE(p.feed(text.substr(text.size() - 1)) == Status::Complete);
  HttpRequest r = p.take();
  CHECK(r.method == "POST");
  CHECK(r.target == "/v1/messages?beta=true");
  CHECK(r.path == "/v1/messages");
  CHECK(r.query == "beta=true");
  CHECK(r.body == "{\"a\": true}");
  REQUIRE(r.header("x-thing"));
  CHECK(*r.header("x-thing") == "a b");  // names lower case, values trimmed
  CHECK(r.header("missing") == nullptr);
  CHECK(r.keep_alive);
  CHECK(p.buffered() == 0);
}

TEST_CASE("http parser: chunked bodies, with extensions, trailers and split reads", "[model_server]") {
  const std::string text = "POST /v1/responses HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "5;name=value\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\n";
  for (std::size_t piece : {std::size_t{1}, std::size_t{3}, std::size_t{7}, text.size()}) {
    HttpRequestParser p;
    Status s = Status::NeedMore;
    for (std::size_t i = 0; i < text.size(); i += piece) {
      REQUIRE(s == Status::NeedMore);
      s = p.feed(text.substr(i, piece));
    }
    REQUIRE(s == Status::Complete);
    CHECK(p.take().body == "hello 0123456789");
  }
}

TEST_CASE("http parser: pipelined requests and keep-alive rules", "[model_server]") {
  HttpRequestParser p;
  std::string two = request_text("/a", "first") + "\r\n" +  // an empty line between requests is allowed
                    "GET /b HTTP/1.1\r\nConnection: Keep-Alive, close\r\n\r\n";
  REQUIRE(p.feed(two) == Status::Complete);
  HttpRequest a = p.take();
  CHECK(a.path == "/a");
  CHECK(a.body == "first");
  CHECK(a.keep_alive);
  REQUIRE(p.parse() == Status::Complete);
  HttpRequest b = p.take();
  CHECK(b.method == "GET");
  CHECK(b.body.empty());
  CHECK_FALSE(b.keep_alive);
  CHECK(p.parse() == Status::NeedMore);

  REQUIRE(p.feed("GET / HTTP/1.0\r\n\r\n") == Status::Complete);
  CHECK_FALSE(p.take().keep_alive);
  REQUIRE(p.feed("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n") == Status::Complete);
  CHECK(p.take().keep_alive);
  REQUIRE(p.feed("GET http://127.0.0.1:80/x?y HTTP/1.1\r\n\r\n") == Status::Complete);
  HttpRequest absolute = p.take();
  CHECK(absolute.path == "/x");
  CHECK(absolute.query == "y");
  CHECK(absolute.authority == "127.0.0.1:80");
}

TEST_CASE("http parser: an absolute-form target keeps its host for the server to judge", "[model_server]") {
  struct Case {
    std::string target, authority, path, query;
  };
  for (const Case& c : std::vector<Case>{
           {"/api/tasks?x=1", "", "/api/tasks", "x=1"},  // origin form: no host of its own
           {"http://evil.example/api/tasks", "evil.example", "/api/tasks", ""},
           {"http://127.0.0.1:4310/api/a@b?t=1", "127.0.0.1:4310", "/api/a@b", "t=1"},
           {"HTTP://Localhost:1", "Localhost:1", "/", ""},
           {"http://127.0.0.1:1?x=/y", "127.0.0.1:1", "/", "x=/y"},
       }) {
    INFO(c.target);
    HttpRequestParser p;
    REQUIRE(p.feed("GET " + c.target + " HTTP/1.1\r\nHost: 127.0.0.1:1\r\n\r\n") == Status::Complete);
    HttpRequest r = p.take();
    CHECK(r.target == c.target);
    CHECK(r.authority == c.authority);
    CHECK(r.path == c.path);
    CHECK(r.query == c.query);
  }
}

TEST_CASE("http parser: Expect: 100-continue", "[model_server]") {
  HttpRequestParser p;
  REQUIRE(p.feed("POST /v1/responses HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n") == Status::NeedMore);
  CHECK(p.wants_continue());
  p.continue_answered();
  CHECK_FALSE(p.wants_continue());
  REQUIRE(p.feed("{}") == Status::Complete);
  CHECK(p.take().body == "{}");
}

TEST_CASE("http parser: bad requests are refused with a status and a reason", "[model_server]") {
  struct Case {
    std::string text;
    int status;
    std::string why;
  };
  const std::vector<Case> cases = {
      {"NOT-HTTP\r\n\r\n", 400, "malformed request line"},
      {"GET /\r\n\r\n", 400, "malformed request line"},
      {"GET / HTTP/1.1 extra\r\n\r\n", 400, "malformed request line"},
      {"G(T / HTTP/1.1\r\n\r\n", 400, "malformed method"},
      {"GET / HTTP/x.y\r\n\r\n", 400, "malformed HTTP version"},
      {"GET / HTTP/2.0\r\n\r\n", 505, "only HTTP/1.0 and HTTP/1.1"},
      {"GET nowhere HTTP/1.1\r\n\r\n", 400, "malformed request target"},
      // An absolute-form target without a host, with user information, or with a fragment.
      {"GET http:///api HTTP/1.1\r\n\r\n", 400, "malformed request target"},
      {"GET http://?x HTTP/1.1\r\n\r\n", 400, "malformed request target"},
      {"GET http://127.0.0.1:1@evil.example/api HTTP/1.1\r\n\r\n", 400, "malformed request target"},
      {"GET http://evil.example@127.0.0.1:1/api HTTP/1.1\r\n\r\n", 400, "malformed request target"},
      {"GET http://127.0.0.1:1/api#x HTTP/1.1\r\n\r\n", 400, "malformed request target"},
      // More than one Host, whatever they say and however they are spelled (RFC 9112 §3.2).
      {"GET / HTTP/1.1\r\nHost: 127.0.0.1:1\r\nHost: evil.example\r\n\r\n", 400, "more than one Host header"},
      {"GET / HTTP/1.1\r\nHost: evil.example\r\nX: y\r\nhost: 127.0.0.1:1\r\n\r\n", 400, "more than one Host"},
      {"GET / HTTP/1.1\r\nHost: 127.0.0.1:1\r\nHOST: 127.0.0.1:1\r\n\r\n", 400, "more than one Host"},
      {"GET / HTTP/1.1\r\nHost:\r\nHost: 127.0.0.1:1\r\n\r\n", 400, "more than one Host"},
      {"GET / HTTP/1.1\r\nno colon\r\n\r\n", 400, "malformed header line 'no colon'"},
      {"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", 400, "malformed header line"},
      {"GET / HTTP/1.1\r\nA: b\r\n  folded\r\n\r\n", 400, "obsolete header line folding"},
      {"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400, "malformed Content-Length '-1'"},
      {"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400, "two different Content-Length"},
      {"POST / HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n", 413, "larger than 64 MiB"},
      {"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "both Content-Length and Transfer-Encoding"},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501, "unsupported Transfer-Encoding"},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400, "bad chunk size 'zz'"},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY", 400, "no CRLF after a chunk"},
      {"POST / HTTP/1.1\r\nExpect: magic\r\n\r\n", 417, "unsupported Expect"},
      {std::string("GET / HTTP/1.1\r\nA: \0\r\n\r\n", 25), 400, "a NUL byte"},
      {"GET / HTTP/1.1\r\nA: " + std::string(70000, 'x'), 431, "longer than 64 KiB"},
  };
  for (const Case& c : cases) {
    INFO(c.text.substr(0, 80));
    HttpRequestParser p;
    REQUIRE(p.feed(c.text) == Status::Error);
    CHECK(p.error_status() == c.status);
    CHECK_THAT(p.error(), Catch::Contains(c.why));
    CHECK(p.feed("more") == Status::Error);  // stays refused
  }
}

TEST_CASE("sse_event frames one event, a data line per line", "[model_server]") {
  CHECK(sidecar::model_server::sse_event("ping", "{\"type\":\"ping\"}") == "event: ping\ndata: {\"type\":\"ping\"}\n\n");
  CHECK(sidecar::model_server::sse_event("", "a\nb") == "data: a\ndata: b\n\n");
}

TEST_CASE("http server: keep-alive, whole and streamed replies, pipelining, bad requests", "[model_server]") {
  ServerThread s(scripted);
  Client c(s.port);
  std::string got;
  // Two requests on one connection: a whole reply, then a chunked stream.
  c.send(request_text("/whole", "one"));
  REQUIRE(c.read_until(got, "body of one"));
  CHECK_THAT(got, Catch::StartsWith("HTTP/1.1 200 OK\r\n"));
  CHECK_THAT(got, Catch::Contains("Content-Length: 11\r\n"));
  CHECK_THAT(got, Catch::Contains("Connection: keep-alive\r\n"));
  got.clear();
  c.send(request_text("/stream"));
  REQUIRE(c.read_until(got, "\r\n0\r\n\r\n"));
  CHECK_THAT(got, Catch::Contains("Transfer-Encoding: chunked\r\n"));
  CHECK_THAT(got, Catch::Contains("\r\n15\r\nevent: one\ndata: {}\n\n\r\n"));  // 0x15 = 21 bytes
  CHECK_THAT(got, Catch::Contains("event: three"));
  // Two pipelined requests in one write, answered in order.
  got.clear();
  c.send(request_text("/whole", "A") + request_text("/whole", "B"));
  REQUIRE(c.read_until(got, "body of B"));
  CHECK(got.find("body of A") < got.find("body of B"));
  // Many at once: answered in a loop, not one nested call per request.
  got.clear();
  std::string many;
  for (int i = 0; i < 3000; ++i) many += request_text("/whole", std::to_string(i));
  c.send(many);
  REQUIRE(c.read_until(got, "body of 2999"));
  CHECK(got.find("body of 2998") < got.find("body of 2999"));
  // A request that cannot be read: 400 with a JSON reason, then the connection closes.
  got.clear();
  c.send("BROKEN\r\n\r\n");
  CHECK_FALSE(c.read_until(got, "never"));
  CHECK_THAT(got, Catch::StartsWith("HTTP/1.1 400 Bad Request\r\n"));
  CHECK_THAT(got, Catch::Contains("Connection: close"));
  CHECK_THAT(got, Catch::Contains("{\"error\":{\"message\":\"bad request: malformed request line"));
  s.join();
  REQUIRE(s.bad.size() == 1);
  CHECK_THAT(s.bad[0], Catch::StartsWith("400 malformed request line"));
}

TEST_CASE("http server: two Host headers are a 400, and no handler sees the request", "[model_server]") {
  int handled = 0;
  ServerThread s([&handled](const HttpRequest& r) {
    ++handled;
    return scripted(r);
  });
  Client c(s.port);
  std::string got;
  c.send("GET /whole HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\nContent-Length: 0\r\n\r\n");
  CHECK_FALSE(c.read_until(got, "never"));
  CHECK_THAT(got, Catch::StartsWith("HTTP/1.1 400 Bad Request\r\n"));
  CHECK_THAT(got, Catch::Contains("more than one Host header"));
  // One Host and an absolute-form target: answered as its origin form would be.
  Client again(s.port);
  got.clear();
  again.send("POST http://127.0.0.1/whole HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\nok");
  REQUIRE(again.read_until(got, "body of ok"));
  CHECK_THAT(got, Catch::StartsWith("HTTP/1.1 200 OK\r\n"));
  s.join();
  CHECK(handled == 1);
  REQUIRE(s.bad.size() == 1);
  CHECK(s.bad[0] == "400 more than one Host header");
}

TEST_CASE("http server: a bad request quoting bytes that are not UTF-8 still gets a JSON body", "[model_server]") {
  ServerThread s(scripted);
  Client c(s.port);
  std::string got;
  c.send("GET / HTTP/1.1\r\nBad\xff\xfe\x01 line\r\n\r\n");
  CHECK_FALSE(c.read_until(got, "never"));
  CHECK_THAT(got, Catch::StartsWith("HTTP/1.1 400 Bad Request\r\n"));
  std::size_t body = got.find("\r\n\r\n");
  REQUIRE(body != std::string::npos);
  Json reply = Json::parse(got.substr(body + 4));  // throws if the quoted bytes broke it
  CHECK(reply["error"]["message"] == "bad request: malformed header line 'Bad\xef\xbf\xbd\xef\xbf\xbd\x01 line'");
  CHECK(reply["error"]["type"] == "invalid_request_error");
}

TEST_CASE("http server: a cut stream, a hanging one, delays, and stop() with clients connected", "[model_server]") {
  ServerThread s(scripted);
  {
    Client c(s.port);
    std::string got;
    c.send(request_text("/cut"));
    CHECK_FALSE(c.read_until(got, "\r\n0\r\n\r\n"));  // closed before the final chunk
    CHECK_THAT(got, Catch::Contains("event: one"));
    CHECK_THAT(got, !Catch::Contains("event: two"));
  }
  {
    Client c(s.port);
    std::string got;
    auto start = std::chrono::steady_clock::now();
    c.send(request_text("/slow"));
    REQUIRE(c.read_until(got, "\r\n0\r\n\r\n"));
    CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(90));  // 3 x 30 ms
  }
  Client hanging(s.port);
  std::string got;
  hanging.send(request_text("/hang"));
  REQUIRE(hanging.read_until(got, "event: one"));
  CHECK_FALSE(hanging.closed_by_peer(200));  // nothing more, and still open
  // A client that leaves a hanging reply frees its connection.
  {
    Client c(s.port);
    std::string ignored;
    c.send(request_text("/hang"));
    REQUIRE(c.read_until(ignored, "event: one"));
  }
  for (int i = 0; i < 100 && s.server.connections() > 1; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(s.server.connections() == 1);
  s.join();  // stop() closes the hanging connection too
  CHECK(hanging.closed_by_peer(2000));
}

TEST_CASE("http parser: with stop_at_head, the head comes first, then a body within the route's limit", "[model_server]") {
  HttpRequestParser p;
  p.stop_at_head(true);
  const std::string body(100, 'x');
  REQUIRE(p.feed("POST /api/x HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n") == HttpRequestParser::Status::Head);
  CHECK(p.head().path == "/api/x");
  CHECK(p.head().body.empty());
  p.limit_body(100);
  CHECK(p.feed(body) == HttpRequestParser::Status::Complete);
  CHECK(p.take().body == body);
  // The next request's head is reported again; a body over the limit is refused before it is read.
  REQUIRE(p.feed("POST /api/x HTTP/1.1\r\nHost: h\r\nContent-Length: 65537\r\n\r\n") == HttpRequestParser::Status::Head);
  p.limit_body(64 * 1024);
  CHECK(p.parse() == HttpRequestParser::Status::Error);
  CHECK(p.error_status() == 413);
  CHECK(p.error() == "the body is larger than 64 KiB");
}

TEST_CASE("http parser: a chunked body over the route's limit, and a route that takes none", "[model_server]") {
  HttpRequestParser p;
  p.stop_at_head(true);
  REQUIRE(p.feed("POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n") == HttpRequestParser::Status::Head);
  p.limit_body(8);
  CHECK(p.feed("5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n") == HttpRequestParser::Status::Error);
  CHECK(p.error_status() == 413);
  HttpRequestParser q;
  q.stop_at_head(true);
  REQUIRE(q.feed("GET /x HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\n") == HttpRequestParser::Status::Head);
  q.limit_body(0);
  CHECK(q.parse() == HttpRequestParser::Status::Error);
  CHECK(q.error() == "this request takes no body");
}
