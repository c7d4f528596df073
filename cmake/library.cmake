# The embedding library as a package: libsidecar.so (the C++ and C interfaces of
# include/sidecar/, and nothing else of its own exported) and libsidecar.a, its headers, a CMake
# package (find_package(Sidecar) gives Sidecar::sidecar and Sidecar::sidecar_static), sidecar.pc and
# sidecar-static.pc: the install component "library" (`cmake --install` puts everything; CPack
# makes it the package libsidecar-dev, cmake/package.cmake).
# The library's own objects define the interfaces; the rest comes from sidecar_host's archive,
# taken as needed (built position-independent), and the shared Lua (its C++ build), libuv, SQLite
# and libcrypto (SIDECAR_SHARED_DEPS).
add_library(sidecar_shared SHARED lua/c_api.cpp lua/host_api.cpp lua/host_native.cpp)
target_include_directories(sidecar_shared PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
                           $<INSTALL_INTERFACE:include> PRIVATE lua)
target_link_libraries(sidecar_shared PRIVATE sidecar_host nlohmann_json::nlohmann_json)
set_target_properties(sidecar_shared PROPERTIES OUTPUT_NAME sidecar VERSION ${PROJECT_VERSION} SOVERSION 0
                      LINK_DEPENDS ${PROJECT_SOURCE_DIR}/cmake/libsidecar.map SIDECAR_SHARED_DEPS ON)
target_link_options(sidecar_shared PRIVATE -Wl,--version-script=${PROJECT_SOURCE_DIR}/cmake/libsidecar.map
                    -Wl,--no-undefined)

# libsidecar.a: the objects of sidecar_host and sidecar_core in one archive. A program linking it
# links what they need itself: the C++ build of Lua, libuv, SQLite, libcrypto and libdl (the CMake
# package's target and sidecar-static.pc say so); libgit2 is loaded at run time, as in the binary.
add_library(sidecar_static STATIC $<TARGET_OBJECTS:sidecar_host> $<TARGET_OBJECTS:sidecar_core>)
target_include_directories(sidecar_static INTERFACE $<INSTALL_INTERFACE:include>)
target_link_libraries(sidecar_static INTERFACE $<INSTALL_INTERFACE:lua5.4-c++;uv;sqlite3;crypto;dl;pthread>)
set_target_properties(sidecar_static PROPERTIES OUTPUT_NAME sidecar LINKER_LANGUAGE CXX EXPORT_NAME sidecar_static
                      ARCHIVE_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/static)

include(GNUInstallDirs)
include(CMakePackageConfigHelpers)
install(TARGETS sidecar_shared sidecar_static EXPORT SidecarTargets LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        COMPONENT library ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT library)
install(FILES include/sidecar/sidecar.hpp include/sidecar/sidecar.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/sidecar
        COMPONENT library)
install(EXPORT SidecarTargets NAMESPACE Sidecar:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Sidecar COMPONENT library)
set_target_properties(sidecar_shared PROPERTIES EXPORT_NAME sidecar)
configure_package_config_file(cmake/SidecarConfig.cmake.in ${PROJECT_BINARY_DIR}/SidecarConfig.cmake
                              INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Sidecar)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/SidecarConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/SidecarConfig.cmake ${PROJECT_BINARY_DIR}/SidecarConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Sidecar COMPONENT library)
# The prefix relative to the .pc file, so `cmake --install --prefix` anywhere gives a true file.
file(RELATIVE_PATH SIDECAR_PC_TO_PREFIX /${CMAKE_INSTALL_LIBDIR}/pkgconfig /)
configure_file(cmake/sidecar.pc.in ${PROJECT_BINARY_DIR}/sidecar.pc @ONLY)
configure_file(cmake/sidecar-static.pc.in ${PROJECT_BINARY_DIR}/sidecar-static.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/sidecar.pc ${PROJECT_BINARY_DIR}/sidecar-static.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT library)
