// Build-time tool: compiles one Lua file to bytecode with the very Lua library Sidecar links, so
// the embedded stdlib is loaded without parsing it at every start (for `sidecar prepare`, parsing
// its modules took about 0.6 ms of every run). Debug information is kept: tracebacks still name
// stdlib/x.lua and its lines.
//
//   lua_compile INPUT CHUNKNAME OUTPUT     (CHUNKNAME: the path tracebacks show, stdlib/x.lua)
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

#include <lua.hpp>

namespace {

int write_chunk(lua_State*, const void* data, size_t size, void* out) {
  static_cast<std::string*>(out)->append(static_cast<const char*>(data), size);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: lua_compile INPUT CHUNKNAME OUTPUT\n");
    return 2;
  }
  std::ifstream in(argv[1], std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "lua_compile: cannot read %s\n", argv[1]);
    return 1;
  }
  const std::string source((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string chunk_name = std::string("@") + argv[2];
  lua_State* L = luaL_newstate();
  // Text only, as the loader accepted before: a stdlib file is never bytecode itself.
  if (luaL_loadbufferx(L, source.data(), source.size(), chunk_name.c_str(), "t") != LUA_OK) {
    std::fprintf(stderr, "lua_compile: %s\n", lua_tostring(L, -1));
    lua_close(L);
    return 1;
  }
  std::string chunk;
  lua_dump(L, write_chunk, &chunk, 0);  // 0: keep line numbers and local names
  lua_close(L);
  std::ofstream out(argv[3], std::ios::binary | std::ios::trunc);
  out.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
  if (!out.flush()) {
    std::fprintf(stderr, "lua_compile: cannot write %s\n", argv[3]);
    return 1;
  }
  return 0;
}
