# Generates a C++ file holding every .lua file under ${ROOT}/${DIR} as an EmbeddedFile.
# Run by add_custom_command (cmake -P) so it reruns whenever a Lua file changes.
# Inputs: ROOT (repository root), DIR (e.g. stdlib), FUNC (accessor name), OUT (file to write),
# optionally PREFIX (put before each module name: "sidecar.presets." makes presets/x.lua "sidecar.presets.x"),
# and optionally COMPILER (cmake/lua_compile.cpp): then each file is embedded as Lua bytecode,
# debug information kept, so starting a module costs no parsing.
file(GLOB_RECURSE files RELATIVE "${ROOT}" "${ROOT}/${DIR}/*.lua")
# In module-name order (bytewise, as strcmp compares): the host finds a module by binary search.
# Each entry is "<module> <path>"; a space sorts before any character of a module name.
set(entries "")
foreach(rel IN LISTS files)
  # stdlib/foo/bar.lua -> foo.bar ; stdlib/foo/init.lua -> foo
  string(REGEX REPLACE "^${DIR}/" "" module "${rel}")
  string(REGEX REPLACE "\\.lua$" "" module "${module}")
  string(REGEX REPLACE "/init$" "" module "${module}")
  string(REPLACE "/" "." module "${module}")
  if(NOT module MATCHES "^[A-Za-z0-9_.-]+$")
    message(FATAL_ERROR "${rel}: a module name may hold only letters, digits, '_', '-' and '.'")
  endif()
  list(APPEND entries "${PREFIX}${module} ${rel}")
endforeach()
list(SORT entries)
# Two files for one module (foo.lua and foo/init.lua) would leave one of them unreachable.
set(previous "")
foreach(entry IN LISTS entries)
  string(REGEX REPLACE " .*$" "" module "${entry}")
  if(module STREQUAL previous)
    message(FATAL_ERROR "two files under ${DIR} are module ${module}: keep one")
  endif()
  set(previous "${module}")
endforeach()
set(delim "SIDECAR_LUA")  # raw-string delimiters are at most 16 chars
set(body "")
set(arrays "")
set(count 0)
foreach(entry IN LISTS entries)
  string(REGEX REPLACE " .*$" "" module "${entry}")
  string(REGEX REPLACE "^[^ ]* " "" rel "${entry}")
  if(COMPILER)
    set(chunk "${OUT}.chunk")
    execute_process(COMMAND "${COMPILER}" "${ROOT}/${rel}" "${rel}" "${chunk}" RESULT_VARIABLE failed)
    if(failed)
      message(FATAL_ERROR "cannot compile ${rel}")
    endif()
    file(READ "${chunk}" hex HEX)
    file(REMOVE "${chunk}")
    string(LENGTH "${hex}" size)
    math(EXPR size "${size} / 2")
    string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," bytes "${hex}")
    string(APPEND arrays "const char kChunk${count}[] = {${bytes}};\n")
    set(text "kChunk${count}")
  else()
    file(READ "${ROOT}/${rel}" text)
    string(FIND "${text}" ")${delim}\"" clash)
    if(NOT clash EQUAL -1)
      message(FATAL_ERROR "${rel} contains the raw-string delimiter )${delim}\"")
    endif()
    string(LENGTH "${text}" size)
    set(text "R\"${delim}(${text})${delim}\"")
  endif()
  string(APPEND body "  {\"${module}\", \"${rel}\", ${text}, ${size}},\n")
  math(EXPR count "${count} + 1")
endforeach()
if(count EQUAL 0)
  message(FATAL_ERROR "no .lua files under ${ROOT}/${DIR}")
endif()
set(content "// Generated from ${DIR}/*.lua by cmake/embed_lua.cmake. Do not edit.
#include \"util/embedded_files.hpp\"

namespace sidecar {
namespace {
${arrays}const EmbeddedFile kFiles[] = {
${body}};
}  // namespace

EmbeddedFiles ${FUNC}() noexcept { return {kFiles, kFiles + ${count}}; }

}  // namespace sidecar
")
include("${CMAKE_CURRENT_LIST_DIR}/write_if_changed.cmake")
write_if_changed("${OUT}" "${content}")
