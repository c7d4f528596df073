// StreamRedactor (host/secrets/stream_redactor.hpp): where a stream can be cut so that each part redacts
// exactly as it would inside the whole.
//
// Every shape the redactor knows lies within one line, with three exceptions, each held back
// here: a PEM block (from its BEGIN line, while its base64 runs into the end of what arrived),
// the lines of base64 an END line may claim (up to detail::kOrphanMax bytes above it), and an
// AWS secret key a few lines after its key id (carried over as Redactor::Carry). So a part ends
// after a line break, before any of those.
#include "secrets/stream_redactor.hpp"

#include <cstring>

#include "secrets/secret_scan.hpp"

namespace sidecar::host {

using detail::npos;

namespace {

// Bytes that, arriving while base64 is held, cannot end the hold: more base64, blanks, breaks.
bool only_base64(std::string_view chunk) {
  for (char c : chunk) {
    if (!detail::is(c, detail::kBase64) && c != ' ' && c != '\t' && c != '\r' && c != '\n') return false;
  }
  return true;
}

std::size_t line_start(std::string_view text, std::size_t pos) {
  const std::size_t nl = pos == 0 ? npos : text.rfind('\n', pos - 1);
  return nl == npos ? 0 : nl + 1;
}

// The start of the lines of base64 that end at `cut` (a line start), which an END line at or
// after `cut` could claim: the same rule as the scan's (secret_shapes.cpp, orphan_end). None when
// the line at `cut` is a BEGIN line: an END later on it cannot climb past its dashes.
std::size_t before_base64_lines(std::string_view text, std::size_t cut) {
  std::size_t first = cut;
  while (first < text.size() && (text[first] == ' ' || text[first] == '\t')) ++first;
  if (text.substr(first, 6) == "-----B") return cut;
  std::size_t start = cut;
  while (start > 0) {
    const std::size_t nl = start - 1;
    std::size_t ls = nl;
    while (ls > 0 && text[ls - 1] != '\n' && cut - ls <= detail::kOrphanMax) --ls;
    if (cut - ls > detail::kOrphanMax || !detail::base64_line(text.substr(ls, nl - ls))) break;
    start = ls;
  }
  return start;
}

// A byte no token contains: a cut after it splits no secret shape.
bool boundary_byte(char c) {
  return !detail::is(c, detail::kToken68 | detail::kName | detail::kAwsBody) && c != '\\' && c != ':' && c != '@';
}

}  // namespace

std::string StreamRedactor::feed(std::string_view chunk) {
  if (chunk.empty()) return {};
  pending_.append(chunk);
  // Nothing in these bytes can release what is held: wait for more without scanning again.
  if (hold_ == Hold::Line && pending_.size() <= kMaxHold && !std::memchr(chunk.data(), '\n', chunk.size())) {
    return {};
  }
  if (hold_ == Hold::Lines && pending_.size() <= kMaxHold + detail::kPemMax && only_base64(chunk)) return {};
  return drain();
}

std::string StreamRedactor::finish() {
  std::string out;
  emit(pending_.size(), out);
  carry_ = {};
  hold_ = Hold::Nothing;
  return out;
}

void StreamRedactor::emit(std::size_t cut, std::string& out) {
  std::size_t n = 0;
  out += redactor_.redact_scan(std::string_view(pending_).substr(0, cut), carry_, &n, nullptr);
  count_ += n;
  pending_.erase(0, cut);
}

std::string StreamRedactor::drain() {
  std::string out;
  const std::string_view text = pending_;
  const std::size_t nl = text.rfind('\n');
  std::size_t cut = nl == npos ? 0 : nl + 1;
  bool lines = false;
  std::string part;
  Redactor::Carry carry;
  std::size_t n = 0;
  // The cut moves back until nothing before it waits for more: the lines of base64 an END line
  // at the cut could claim, and a PEM block still arriving (from its BEGIN line on). Each step
  // moves it back, so this ends.
  while (cut > 0) {
    const std::size_t before = before_base64_lines(text, cut);
    lines = lines || before < cut;
    cut = before;
    if (cut == 0) break;
    carry = carry_;
    std::size_t open = npos;
    part = redactor_.redact_scan(text.substr(0, cut), carry, &n, &open);
    if (open == npos) break;
    lines = true;
    cut = line_start(text, open);
  }
  if (cut > 0) {
    out = std::move(part);
    carry_ = carry;
    count_ += n;
    pending_.erase(0, cut);
  }
  hold_ = pending_.empty() ? Hold::Nothing : lines ? Hold::Lines : Hold::Line;

  // A flood without line breaks (or a block that never ends): all but the last kOverlap bytes
  // go, cut after a byte no token contains when the overlap window has one.
  const std::size_t bound = hold_ == Hold::Lines ? kMaxHold + detail::kPemMax : kMaxHold;
  if (pending_.size() > bound) {
    std::size_t c = pending_.size() - kOverlap;
    for (std::size_t k = c; k + kOverlap > c && k > 0; --k) {
      if (boundary_byte(pending_[k - 1])) {
        c = k;
        break;
      }
    }
    emit(c, out);
    hold_ = Hold::Line;
  }
  return out;
}

}  // namespace sidecar::host
