// Redacting a byte stream read in chunks of any size (a child's stdout, a file copied piece by
// piece): a secret cut in two by a read is still caught, and the output is byte for byte what
// Redactor::redact would make of the whole stream at once, while memory stays bounded.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

#include "secrets/secrets.hpp"

namespace sidecar::host {

// Holds back what a later chunk could still change: the unfinished last line, a PEM block still
// arriving (from its BEGIN line), and lines of base64 that an END line further on could claim.
// The rest is redacted and returned at once.
//
// Bounds: an unfinished line is held up to kMaxHold bytes, a PEM block up to kPemMax more. Past
// them (a flood without line breaks) all but the last kOverlap bytes go out, cut after a byte no
// token contains when there is one; only a secret longer than kOverlap that straddles such a cut,
// inside a line longer than kMaxHold, can then differ from the one-shot result.
class StreamRedactor {
 public:
  explicit StreamRedactor(Redactor redactor) : redactor_(std::move(redactor)) {}

  static constexpr std::size_t kMaxHold = 64 * 1024;
  static constexpr std::size_t kOverlap = 4 * 1024;

  // The redacted text that `chunk` completes (often empty: a line still unfinished).
  std::string feed(std::string_view chunk);
  // The rest, redacted; the stream then starts over (the redactor may be fed again).
  std::string finish();

  std::size_t held() const { return pending_.size(); }
  std::size_t replacements() const { return count_; }

 private:
  enum class Hold { Nothing, Line, Lines };
  std::string drain();
  void emit(std::size_t cut, std::string& out);

  Redactor redactor_;
  Redactor::Carry carry_;
  std::string pending_;
  Hold hold_ = Hold::Nothing;
  std::size_t count_ = 0;
};

}  // namespace sidecar::host
