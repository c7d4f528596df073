#!/usr/bin/env bash
# End-to-end: the Debian packages (cmake/package.cmake). CPack builds them from this build tree; the
# binary's package holds the binary (stripped), the bash and fish completions and the docs, depends
# on libc6 and on the package that ships libgit2's SONAME, and its binary runs where it is unpacked;
# the library's (libsidecar-dev) holds the shared library, its headers, the CMake package and
# sidecar.pc, and depends on the binary's.
# bash package_test.sh path/to/sidecar path/to/CPackConfig.cmake
set -u
. "$(dirname "$0")/lib.sh"
config=$2
cd "$work"
if ! command -v dpkg-deb >/dev/null || ! command -v cpack >/dev/null; then
  echo "SKIP: dpkg-deb or cpack is missing"
  exit 0
fi
mkdir -p "$work/pkg"
expect_run "cpack makes the .deb" 0 'package: .*/sidecar_[0-9.]+_[a-z0-9]+\.deb generated' '' \
  -- cpack --config "$config" -B "$work/pkg"
deb=$(ls "$work"/pkg/sidecar_*.deb 2>/dev/null | head -1)
version=$("$S" --version | awk '{print $2}')
eq "the package's name" "sidecar" "$(dpkg-deb -f "$deb" Package)"
eq "the package's version is the binary's" "$version" "$(dpkg-deb -f "$deb" Version)"
expect_run "it depends on libc6 and libgit2's package" 0 'libgit2-[0-9.]+.*libc6 \(>= [0-9.]+\)' '' \
  -- dpkg-deb -f "$deb" Depends
expect_run "its files: the binary, bash and fish completions, the docs" 0 \
  '\./usr/bin/sidecar\n.*bash-completion/completions/sidecar\n.*doc/sidecar/README\.md.*fish/vendor_completions\.d/sidecar\.fish' '' \
  -- sh -c "dpkg-deb -c '$deb' | awk '{print \$6}' | sort"
dpkg-deb -x "$deb" root
expect_run "the unpacked binary runs" 0 "^sidecar $version " '^$' -- root/usr/bin/sidecar --version
expect_run "... with its stdlib and presets compiled in" 0 'precommit-classifier' '' \
  -- root/usr/bin/sidecar preset list
expect_run "... stripped (no debug sections)" 1 '' '' -- sh -c "readelf -S root/usr/bin/sidecar | grep -q debug_info"
expect_run "the first process of its sandboxes beside it" 0 '' '' -- test -x root/usr/bin/sidecar-sandbox-init
expect_run "... stripped too" 1 '' '' -- sh -c "readelf -S root/usr/bin/sidecar-sandbox-init | grep -q debug_info"
expect_run "the packaged bash completion is the binary's own" 0 '' '' \
  -- sh -c 'root/usr/bin/sidecar completion bash | cmp - root/usr/share/bash-completion/completions/sidecar'
expect_run "... and no file of the library" 1 '' '' -- sh -c "dpkg-deb -c '$deb' | grep -E 'libsidecar|include/|pkgconfig'"

lib_deb=$(ls "$work"/pkg/libsidecar-dev_*.deb 2>/dev/null | head -1)
eq "the library's package is made beside it" "libsidecar-dev" "$(dpkg-deb -f "$lib_deb" Package 2>&1)"
eq "... with the binary's version" "$version" "$(dpkg-deb -f "$lib_deb" Version)"
expect_run "... depending on the binary's package, libgit2's and the libraries it links" 0 \
  "sidecar \\(= $version\\).*libgit2-[0-9.]+.*libc6" '' -- dpkg-deb -f "$lib_deb" Depends
expect_run "... holding the library, its headers, its CMake package and sidecar.pc" 0 \
  '/usr/include/sidecar/sidecar\.h\n.*/usr/include/sidecar/sidecar\.hpp\n.*cmake/Sidecar/SidecarConfig\.cmake\n.*/libsidecar\.so\n.*/libsidecar\.so\.0\n.*pkgconfig/sidecar\.pc' '' \
  -- sh -c "dpkg-deb -c '$lib_deb' | awk '{print \$6}' | sort"
dpkg-deb -x "$lib_deb" libroot
level=$(awk '/^#define SIDECAR_API_LEVEL/ {print $3}' "$root/include/sidecar/sidecar.h")
expect_run "... whose library answers the header's API level" 0 "^$level\n$" '' \
  -- python3 -c "import ctypes, glob; print(ctypes.CDLL(glob.glob('libroot/usr/lib/**/libsidecar.so.0', recursive=True)[0]).sidecar_api_level())"
finish
