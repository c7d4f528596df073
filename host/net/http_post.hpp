// One HTTP POST, through libcurl loaded on first use (dlopen, as libgit2 is: host/git/git_lib.hpp),
// so no start of Sidecar pays for the library and the TLS stack it pulls in. For what Sidecar
// itself sends over the network (notifications, telemetry export), never for an agent.
//
// Bounded and confined to the URL it is given: http or https only, no redirect followed (an
// endpoint cannot send the request elsewhere), a total time limit, the answer's body read up to
// a small bound and kept only as an excerpt. No signal is used for the time limit (threads).
#pragma once
#include <string>
#include <vector>

namespace sidecar::host::net {

struct HttpPost {
  std::string url;
  std::string body;
  std::vector<std::string> headers;  // "Name: value" lines
  long timeout_ms = 10000;
};

struct HttpAnswer {
  long status = 0;           // the HTTP status, 0 when no answer came
  std::string error;         // why there was no answer (empty when one came)
  std::string body_excerpt;  // the first bytes of the answer's body (at most 2 KiB)
  long retry_after_s = 0;    // the answer's Retry-After, in seconds (a date made a delay); 0: none
};

HttpAnswer http_post(const HttpPost& request);

}  // namespace sidecar::host::net
