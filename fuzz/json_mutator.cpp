// A structure-aware mutation for the targets whose inputs are JSON or JSON Lines (linked into
// them by fuzz/CMakeLists.txt): one value in one JSON line is replaced by another shape. Byte
// mutations rarely turn {"type":"text","text":"x"} into 1 or [] without breaking the line, and
// an unexpected shape is exactly what a reader of agent output must take as data. Half the time,
// and whenever no line is JSON, libFuzzer's own mutations run instead.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

extern "C" std::size_t LLVMFuzzerMutate(std::uint8_t* data, std::size_t size, std::size_t max_size);

namespace {

using Json = nlohmann::json;
constexpr int kMaxDepth = 64;  // values nested deeper are left alone (the walk recurses)

void collect(Json& j, std::vector<Json*>& out, int depth) {
  out.push_back(&j);
  if (depth >= kMaxDepth || !j.is_structured()) return;
  for (auto& child : j) collect(child, out, depth + 1);
}

Json scalar(std::minstd_rand& rng) {
  switch (rng() % 12) {
    case 0: return nullptr;
    case 1: return true;
    case 2: return 0;
    case 3: return -1;
    case 4: return 1.5;
    case 5: return INT64_MAX;
    case 6: return 1e300;
    case 7: return "";
    case 8: return "x";
    case 9: return std::string(300, 'a');
    case 10: return Json::array();
    default: return Json::object();
  }
}

// Replaces, wraps, copies over or removes the value `target` of `doc`.
void mutate_value(Json& doc, std::minstd_rand& rng) {
  std::vector<Json*> nodes;
  collect(doc, nodes, 0);
  Json& target = *nodes[rng() % nodes.size()];
  switch (rng() % 6) {
    case 0:
    case 1: target = scalar(rng); break;
    case 2: target = Json::array({target}); break;
    case 3: target = Json{{"type", target}}; break;
    case 4: target = *nodes[rng() % nodes.size()]; break;  // a copy, made before the assignment
    default:
      if (target.is_array() && !target.empty()) target.erase(rng() % target.size());
      else if (target.is_object() && !target.empty()) target.erase(target.begin());
      else target = scalar(rng);
  }
}

}  // namespace

extern "C" std::size_t LLVMFuzzerCustomMutator(std::uint8_t* data, std::size_t size, std::size_t max_size,
                                               unsigned int seed) {
  std::minstd_rand rng(seed);
  if (rng() % 2 == 0) return LLVMFuzzerMutate(data, size, max_size);
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> lines;
  std::vector<std::size_t> json_lines;
  for (std::size_t from = 0; from <= text.size();) {
    std::size_t nl = text.find('\n', from);
    if (nl == std::string_view::npos) nl = text.size();
    lines.push_back(text.substr(from, nl - from));
    const std::string_view line = lines.back();
    if (!line.empty() && (line.front() == '{' || line.front() == '[')) json_lines.push_back(lines.size() - 1);
    from = nl + 1;
  }
  // A whole document on several lines (a task packet) is one value; else one of the lines.
  Json doc = Json::parse(text.begin(), text.end(), nullptr, false);
  std::size_t replaced = lines.size();
  if (doc.is_discarded() || !doc.is_structured()) {
    if (json_lines.empty()) return LLVMFuzzerMutate(data, size, max_size);
    replaced = json_lines[rng() % json_lines.size()];
    doc = Json::parse(lines[replaced].begin(), lines[replaced].end(), nullptr, false);
    if (doc.is_discarded()) return LLVMFuzzerMutate(data, size, max_size);
  }
  mutate_value(doc, rng);
  const std::string value = doc.dump(-1, ' ', false, Json::error_handler_t::replace);
  std::string out;
  if (replaced == lines.size()) {
    out = value;
  } else {
    for (std::size_t i = 0; i < lines.size(); ++i) {
      if (i > 0) out.push_back('\n');
      out.append(i == replaced ? std::string_view(value) : lines[i]);
    }
  }
  if (out.size() > max_size) return LLVMFuzzerMutate(data, size, max_size);
  std::memcpy(data, out.data(), out.size());
  return out.size();
}
