#!/usr/bin/env bash
# End-to-end: the Debian package (cmake/package.cmake). CPack builds it from this build tree; the
# package holds the binary (stripped), the bash and fish completions and the docs, depends on
# libc6 and on the package that ships libgit2's SONAME, and its binary runs where it is unpacked.
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
expect_run "the packaged bash completion is the binary's own" 0 '' '' \
  -- sh -c 'root/usr/bin/sidecar completion bash | cmp - root/usr/share/bash-completion/completions/sidecar'
finish
