// Lua sources compiled into the binary (generated at build time by cmake/embed_lua.cmake).
#pragma once
#include <cstddef>

namespace sidecar {

struct EmbeddedFile {
  const char* module;  // require() name: "json", "foo.bar"
  const char* path;    // source path relative to the repository: "stdlib/sidecar/core/json.lua"
  const char* source;  // its bytecode (compiled at build time, debug information kept), or the source
  std::size_t size;
};

struct EmbeddedFiles {
  const EmbeddedFile* begin;
  const EmbeddedFile* end;
};

// The stdlib modules, in module-name order (as strcmp orders them), so they can be found by
// binary search.
EmbeddedFiles embedded_stdlib() noexcept;

// The built-in presets (presets/*.lua), as modules "sidecar.presets.<name>", in the same order.
EmbeddedFiles embedded_presets() noexcept;

}  // namespace sidecar
