# `cpack -G DEB` (or `cmake --build build --target package`): two Debian packages.
# - sidecar: the one binary (and the first process of its sandboxes, sidecar-sandbox-init), its
#   bash and fish completions and its documentation. Everything else is compiled into the binary (the stdlib, presets, the ui page); libgit2 is loaded at run time by its
#   SONAME, so the package depends on the Debian package that ships that SONAME (found here, on the
#   build machine).
# - libsidecar-dev: the embedding library (install component "library", cmake/library.cmake): the
#   shared library, its headers, the CMake package and sidecar.pc. It depends on sidecar, whose
#   binary runs the agents a Host starts.

# The shell completions, written by the binary itself from its command declarations.
set(COMPLETIONS_DIR ${PROJECT_BINARY_DIR}/completions)
add_custom_command(
  OUTPUT ${COMPLETIONS_DIR}/sidecar ${COMPLETIONS_DIR}/_sidecar ${COMPLETIONS_DIR}/sidecar.fish
  COMMAND ${CMAKE_COMMAND} -DSIDECAR=$<TARGET_FILE:sidecar> -DDIR=${COMPLETIONS_DIR}
          -P ${PROJECT_SOURCE_DIR}/cmake/write_completions.cmake
  DEPENDS sidecar ${PROJECT_SOURCE_DIR}/cmake/write_completions.cmake
  COMMENT "Writing the shell completions (sidecar completion bash|zsh|fish)")
add_custom_target(completions ALL DEPENDS ${COMPLETIONS_DIR}/sidecar)

# sidecar-sandbox-init beside it: the binary looks for it in its own folder.
install(TARGETS sidecar sidecar-sandbox-init RUNTIME DESTINATION bin)
install(FILES ${COMPLETIONS_DIR}/sidecar DESTINATION share/bash-completion/completions)
# zsh's is a script to source (it runs on bashcompinit), not an autoloaded #compdef function,
# so it is not put on zsh's fpath: `source <(sidecar completion zsh)` (README).
install(FILES ${COMPLETIONS_DIR}/sidecar.fish DESTINATION share/fish/vendor_completions.d)
install(FILES README.md docs/api.md docs/formats.md docs/lua-api.md DESTINATION share/doc/sidecar)

# The package that ships libgit2's SONAME (libgit2-1.5 on Debian 12), asked of dpkg.
get_filename_component(LIBGIT2_REAL_DIR ${LIBGIT2_LIBRARY} DIRECTORY)
execute_process(COMMAND dpkg-query -S ${LIBGIT2_REAL_DIR}/${LIBGIT2_SONAME} OUTPUT_VARIABLE LIBGIT2_OWNER ERROR_QUIET)
if(LIBGIT2_OWNER MATCHES "^([^:, ]+)")
  set(LIBGIT2_PACKAGE ${CMAKE_MATCH_1})
else()
  set(LIBGIT2_PACKAGE libgit2-1.5)
endif()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME sidecar)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "Sidecar developers <sidecar@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Runs bounded tasks on AI coding-agent CLIs, scripted in Lua")
set(CPACK_PACKAGE_DESCRIPTION "Sidecar compiles a task's prompt, runs an agent CLI (codex exec, claude -p or any
command) under a watchdog, records everything as artifacts and a run record, runs validation
commands and leaves the decision to the caller. One binary with Lua 5.4 embedded.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)  # libc6, from the binary's own dynamic links
set(CPACK_DEBIAN_PACKAGE_DEPENDS ${LIBGIT2_PACKAGE})
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "git")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "nodejs, npm, chromium")
# One package per install component: the binary's (the default component) and the library's.
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL Unspecified library)
set(CPACK_DEBIAN_UNSPECIFIED_PACKAGE_NAME sidecar)
set(CPACK_DEBIAN_UNSPECIFIED_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_LIBRARY_PACKAGE_NAME libsidecar-dev)
set(CPACK_DEBIAN_LIBRARY_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_LIBRARY_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_LIBRARY_PACKAGE_DEPENDS "sidecar (= ${PROJECT_VERSION}), ${LIBGIT2_PACKAGE}")
set(CPACK_DEBIAN_LIBRARY_DESCRIPTION "Sidecar as a library, to embed in a C, C++ or other program
libsidecar runs Sidecar's Lua, its presets and its agents inside another program, through a C++
API (sidecar/sidecar.hpp) and a C ABI (sidecar/sidecar.h): run events streamed to the program,
native functions, an interrupt from any thread. With a CMake package (find_package(Sidecar)) and
sidecar.pc. The agents it starts run under the sidecar binary, of the package sidecar.")
include(CPack)
