# Generates a C++ file holding every .lua file under ${ROOT}/${DIR} as an EmbeddedFile.
# Run by add_custom_command (cmake -P) so it reruns whenever a Lua file changes.
# Inputs: ROOT (repository root), DIR (e.g. stdlib), FUNC (accessor name), OUT (file to write).
file(GLOB_RECURSE files RELATIVE "${ROOT}" "${ROOT}/${DIR}/*.lua")
list(SORT files)
set(delim "SIDECAR_LUA")  # raw-string delimiters are at most 16 chars
set(body "")
set(count 0)
foreach(rel IN LISTS files)
  file(READ "${ROOT}/${rel}" text)
  string(FIND "${text}" ")${delim}\"" clash)
  if(NOT clash EQUAL -1)
    message(FATAL_ERROR "${rel} contains the raw-string delimiter )${delim}\"")
  endif()
  # stdlib/foo/bar.lua -> foo.bar ; stdlib/foo/init.lua -> foo
  string(REGEX REPLACE "^${DIR}/" "" module "${rel}")
  string(REGEX REPLACE "\\.lua$" "" module "${module}")
  string(REGEX REPLACE "/init$" "" module "${module}")
  string(REPLACE "/" "." module "${module}")
  string(LENGTH "${text}" size)
  string(APPEND body "  {\"${module}\", \"${rel}\", R\"${delim}(${text})${delim}\", ${size}},\n")
  math(EXPR count "${count} + 1")
endforeach()
if(count EQUAL 0)
  message(FATAL_ERROR "no .lua files under ${ROOT}/${DIR}")
endif()
set(content "// Generated from ${DIR}/*.lua by cmake/embed_lua.cmake. Do not edit.
#include \"embedded_files.hpp\"

namespace sidecar {
namespace {
const EmbeddedFile kFiles[] = {
${body}};
}  // namespace

EmbeddedFiles ${FUNC}() noexcept { return {kFiles, kFiles + ${count}}; }

}  // namespace sidecar
")
# Write only on change so dependents do not rebuild needlessly.
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
  if(old STREQUAL content)
    return()
  endif()
endif()
file(WRITE "${OUT}" "${content}")
