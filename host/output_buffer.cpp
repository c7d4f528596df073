#include "output_buffer.hpp"

namespace sidecar::host {

void TailBuffer::append(std::string_view data) {
  if (limit_ == 0) {
    data_.append(data);
    return;
  }
  if (data.size() >= limit_) {
    // The chunk alone fills the limit: nothing kept so far survives.
    truncated_ = truncated_ || !data_.empty() || data.size() > limit_;
    data_.assign(data.substr(data.size() - limit_));
    return;
  }
  data_.append(data);
  if (data_.size() >= 2 * limit_) {
    data_.erase(0, data_.size() - limit_);
    truncated_ = true;
  }
}

std::string TailBuffer::take() {
  if (limit_ > 0 && data_.size() > limit_) {
    data_.erase(0, data_.size() - limit_);
    truncated_ = true;
  }
  return std::move(data_);
}

void LineSplitter::feed(std::string_view chunk, std::vector<std::string>& lines) {
  std::size_t start = 0;
  for (std::size_t nl; (nl = chunk.find('\n', start)) != std::string_view::npos; start = nl + 1) {
    if (partial_.empty()) {
      lines.emplace_back(chunk.substr(start, nl - start));
    } else {
      partial_.append(chunk.substr(start, nl - start));
      lines.push_back(std::move(partial_));
      partial_.clear();
    }
  }
  partial_.append(chunk.substr(start));
}

bool LineSplitter::finish(std::string& last) {
  if (partial_.empty()) return false;
  last = std::move(partial_);
  partial_.clear();
  return true;
}

}  // namespace sidecar::host
