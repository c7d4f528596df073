# Generates a C++ file defining `std::string_view ${FUNC}() noexcept` in ${NAMESPACE}: the text of
# ${IN}, as it is (not compiled). Run by add_custom_command (cmake -P), so it reruns when IN
# changes. Used for stdlib/sidecar/core/secret_rules.lua, which host/ reads without a Lua state.
file(READ "${IN}" text)
set(delim "SIDECAR_TEXT")
string(FIND "${text}" ")${delim}\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${IN} contains the raw-string delimiter )${delim}\"")
endif()
set(content "// Generated from ${REL} by cmake/embed_text.cmake. Do not edit.
#include <string_view>

namespace ${NAMESPACE} {

std::string_view ${FUNC}() noexcept {
  static constexpr char kText[] = R\"${delim}(${text})${delim}\";
  return {kText, sizeof kText - 1};
}

}  // namespace ${NAMESPACE}
")
include("${CMAKE_CURRENT_LIST_DIR}/write_if_changed.cmake")
write_if_changed("${OUT}" "${content}")
