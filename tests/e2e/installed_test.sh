# The embedding library as a user installs it: `cmake --install` into a fresh prefix, then a C++
# program built with find_package(Sidecar), a C program built with pkg-config and a Python program
# with ctypes, each against that prefix alone (not the build tree). Each calls a native function
# from Lua, runs an agent whose events arrive as it runs, and cancels a long agent from another
# thread; the Host finds the installed sidecar binary beside the library. The Python one also runs
# a preset with parameters. The C++ and C programs are built once more against the static library
# (Sidecar::sidecar_static, sidecar-static.pc), which find the binary on PATH.
#   bash installed_test.sh path/to/build/sidecar
source "$(dirname "$0")/lib.sh"
build=$(dirname "$S")
prefix="$work/prefix"
unset SIDECAR_STDLIB_DIR
expect_run "install into a fresh prefix" 0 "" "" -- cmake --install "$build" --prefix "$prefix"
lib=$(ls -d "$prefix"/lib*/libsidecar.so.0 2>/dev/null | head -1)
expect_run "installed: the library, its headers, the binary (and sidecar-sandbox-init), a CMake package, a pkg-config file" 0 "" "" -- \
  test -n "$lib" -a -f "$prefix/include/sidecar/sidecar.hpp" -a -f "$prefix/include/sidecar/sidecar.h" \
  -a -x "$prefix/bin/sidecar" -a -x "$prefix/bin/sidecar-sandbox-init" -a -f "$(dirname "$lib")/cmake/Sidecar/SidecarConfig.cmake" \
  -a -f "$(dirname "$lib")/pkgconfig/sidecar.pc" -a -f "$(dirname "$lib")/libsidecar.a" \
  -a -f "$(dirname "$lib")/pkgconfig/sidecar-static.pc"
git init -q "$work/repo"
git init -q "$work/repo-py" # the Python program adds a preset and a runner of its own
export LD_LIBRARY_PATH="$(dirname "$lib")"
# The binary must come from beside the library: none on PATH.
path_without_sidecar=/usr/bin:/bin
# A sanitizer build's library (scripts/test --sanitize) needs its runtime loaded first.
asan=$(ldd "$lib" | awk '/libasan/ {print $3}')
run_env=(env PATH="$path_without_sidecar")
if [ -n "$asan" ]; then
  run_env+=(LD_PRELOAD="$asan" ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0")
fi

expect_run "C++: find_package(Sidecar) configures" 0 "" "" -- \
  cmake -S "$root/examples/installed" -B "$work/cpp" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release
expect_run "C++: builds" 0 "" "" -- cmake --build "$work/cpp"
expect_run "C++: the installed binary, native function, agent events, cancel" 0 \
  "^binary \"$(cd "$prefix" && pwd -P)/bin/sidecar\"\nok native function\nevent run.started\n.*event run.finished\nok agent output\n.*ok cancelled\n" "" -- \
  "${run_env[@]}" "$work/cpp/embed_cpp" "$work/repo"

export PKG_CONFIG_PATH="$(dirname "$lib")/pkgconfig"
expect_run "C: pkg-config builds it" 0 "" "" -- \
  sh -c 'cc -std=c99 -Wall -o "$1/embed_c" "$2/examples/installed/embed.c" $(pkg-config --cflags --libs sidecar) -lpthread' \
  sh "$work" "$root"
expect_run "C: native function, agent events, cancel" 0 \
  "ok native function\nevent run.started\n.*event run.finished\nok agent output\n.*ok cancelled\n" "" -- \
  "${run_env[@]}" "$work/embed_c" "$work/repo"

# A program that exits as soon as its Host is freed, right after a call that starts libgit2's
# loading on a thread of Sidecar's: the free joins it (it crashed or hung at exit, 1 time in 5).
cat >"$work/quick_exit.c" <<'C'
#include <stdio.h>
#include <sidecar/sidecar.h>
int main(int argc, char **argv) {
  char options[4096];
  snprintf(options, sizeof options, "{\"root\":\"%s\"}", argc > 1 ? argv[1] : ".");
  sidecar_host *h = sidecar_host_new(options, NULL);
  if (!h) return 2;
  char *r = sidecar_eval(h, "local _, err, code = require('sidecar.agent.run').execute{ runner = 'nosuch', "
                            "prompt = 'hi' } return code");
  puts(r);
  sidecar_free(r);
  sidecar_host_free(h);
  return 0;
}
C
expect_run "C: a program exiting right after freeing its Host" 0 "" "" -- \
  sh -c 'cc -std=c99 -Wall -o "$1/quick_exit" "$1/quick_exit.c" $(pkg-config --cflags --libs sidecar)' sh "$work"
exits=$(for _ in 1 2 3 4 5 6 7 8 9 10 11 12; do timeout 60 "${run_env[@]}" "$work/quick_exit" "$work/repo" >/dev/null 2>&1; echo $?; done |
  sort | uniq -c | awk '{ print $2 "x" $1 }' | tr '\n' ' ')
eq "C: twelve programs exiting right after the free all exit 0 (no crash, no hang in exit's handlers)" "0x12 " "$exits"

expect_run "Python (ctypes): native function, agent events, cancel, a preset with parameters" 0 \
  "ok native function\nevent run.started\n.*event run.finished\nok agent output\n.*ok cancelled\n.*ok preset with parameters\n" \
  "" -- "${run_env[@]}" python3 "$root/examples/installed/embed.py" "$lib" "$work/repo-py"

# Statically linked: no libsidecar.so at run time (LD_LIBRARY_PATH gone), the binary from PATH.
# Not in a sanitizer build, whose archive needs the sanitizer's flags to link.
if [ -z "$asan" ]; then
  unset LD_LIBRARY_PATH
  static_env=(env PATH="$prefix/bin:$path_without_sidecar")
  expect_run "C++ static: links Sidecar::sidecar_static, without libsidecar.so" 1 "" "" -- \
    sh -c 'ldd "$1" | grep -q libsidecar' sh "$work/cpp/embed_cpp_static"
  expect_run "C++ static: the binary from PATH, native function, agent events, cancel" 0 \
    "^binary \"$(cd "$prefix" && pwd -P)/bin/sidecar\"\nok native function\nevent run.started\n.*event run.finished\nok agent output\n.*ok cancelled\n" "" -- \
    "${static_env[@]}" "$work/cpp/embed_cpp_static" "$work/repo"
  expect_run "C static: pkg-config sidecar-static builds it" 0 "" "" -- \
    sh -c 'cc -std=c99 -Wall -o "$1/embed_c_static" "$2/examples/installed/embed.c" $(pkg-config --cflags --libs sidecar-static)' \
    sh "$work" "$root"
  expect_run "C static: native function, agent events, cancel" 0 \
    "ok native function\nevent run.started\n.*event run.finished\nok agent output\n.*ok cancelled\n" "" -- \
    "${static_env[@]}" "$work/embed_c_static" "$work/repo"
fi
finish
