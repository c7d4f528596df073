#include "process/output_buffer.hpp"

#include <algorithm>
#include <cstring>

namespace sidecar::host {

void TailBuffer::append(std::string_view data) {
  if (limit_ == 0) {
    data_.append(data);
    return;
  }
  if (data.size() >= limit_) {
    // The chunk alone fills the limit: nothing kept so far survives. assign() reuses the buffer.
    truncated_ = truncated_ || !data_.empty() || data.size() > limit_;
    data_.assign(data.substr(data.size() - limit_));
    start_ = 0;
    return;
  }
  if (data_.size() < limit_) {
    // Still filling: grow, but never past the limit (std::string's doubling could reach twice it).
    const std::size_t fill = std::min(limit_ - data_.size(), data.size());
    if (data_.size() + fill > data_.capacity()) {
      // A fresh string: reserve() on this one may round up to twice its capacity (libstdc++).
      std::string grown;
      grown.reserve(std::min(limit_, std::max(2 * data_.capacity(), data_.size() + fill)));
      grown.append(data_);
      data_.swap(grown);
    }
    data_.append(data.substr(0, fill));
    data.remove_prefix(fill);
    if (data.empty()) return;
  }
  // A full ring: the oldest bytes are overwritten in place, in at most two pieces.
  truncated_ = true;
  const std::size_t first = std::min(data.size(), limit_ - start_);
  std::memcpy(&data_[start_], data.data(), first);
  std::memcpy(&data_[0], data.data() + first, data.size() - first);
  start_ = (start_ + data.size()) % limit_;
}

std::string TailBuffer::take() {
  if (start_ != 0) std::rotate(data_.begin(), data_.begin() + static_cast<std::ptrdiff_t>(start_), data_.end());
  start_ = 0;
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
  chunk.remove_prefix(start);
  // What has no newline yet waits, up to max_line_ bytes; a longer line goes on in pieces.
  while (partial_.size() + chunk.size() > max_line_) {
    const std::size_t take = max_line_ - partial_.size();
    partial_.append(chunk.substr(0, take));
    chunk.remove_prefix(take);
    lines.push_back(std::move(partial_));
    partial_.clear();
  }
  partial_.append(chunk);
}

bool LineSplitter::finish(std::string& last) {
  if (partial_.empty()) return false;
  last = std::move(partial_);
  partial_.clear();
  return true;
}

}  // namespace sidecar::host
