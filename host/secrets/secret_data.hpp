// The secrets policy as data (stdlib/sidecar/core/secret_rules.lua) on the host's side: a value
// tree that the Lua binding builds from a Lua table and that read_lua_data builds from the file's
// text without a Lua state, and the one conversion of such a tree into a SecretPolicy. The
// host's default policy is that file, embedded as text at build time, so what C++ prints before
// any Lua runs is redacted by the same rules Lua loads.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "secrets/secrets.hpp"

namespace sidecar::host {

// A Lua value of the kinds a data file holds: a string, an integer, or a table (its sequence
// part and its string keys, in the order written).
struct DataValue {
  enum class Type { String, Integer, Table };
  Type type = Type::Table;
  std::string text;
  std::int64_t integer = 0;
  std::vector<DataValue> items;
  std::vector<std::pair<std::string, DataValue>> fields;

  const DataValue* field(std::string_view key) const;
  bool operator==(const DataValue& other) const;
  bool operator!=(const DataValue& other) const { return !(*this == other); }
};

// Reads `return <table>` whose values are tables, quoted strings and integers, with `--`
// comments: the subset of Lua a data file is written in. False, with "line N: what", otherwise.
bool read_lua_data(std::string_view text, DataValue& out, std::string& error);

// The policy a tree describes ({patterns =, names =, allow_names =, files =, allow_files =,
// folders =, folder_files =}, as secret_rules.lua documents); empty when it is valid, else what
// is wrong, as "patterns[3].kind: expected a string".
std::string secret_policy_from_data(const DataValue& data, SecretPolicy& out);

// The text of secret_rules.lua as it was built in (generated/embedded_secret_rules.cpp).
std::string_view embedded_secret_rules() noexcept;

// The embedded file as a tree and as a policy, read once. A file that does not read (a build
// defect the host tests catch) gives an empty policy, and the error says why.
const DataValue& default_secret_data();
const SecretPolicy& default_secret_policy();
const std::string& default_secret_policy_error();

}  // namespace sidecar::host
