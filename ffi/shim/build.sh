#!/usr/bin/env bash
# Builds .build/libdpif_shim.so from ffi/shim/dpif_shim.c against the
# installed DPDK (pkg-config libdpdk). Idempotent: does nothing when the
# library is newer than its source and this script. Exit status non-zero
# (with a message) when DPDK's headers or gcc are missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
src=ffi/shim/dpif_shim.c
out=.build/libdpif_shim.so
if [ -f "$out" ] && [ "$out" -nt "$src" ] && [ "$out" -nt ffi/shim/build.sh ]; then exit 0; fi
command -v gcc >/dev/null 2>&1 || { echo "ffi/shim/build.sh: gcc not found" >&2; exit 1; }
pkg-config --exists libdpdk 2>/dev/null || { echo "ffi/shim/build.sh: libdpdk (pkg-config) not found: install libdpdk-dev" >&2; exit 1; }
mkdir -p .build
# Build into a temporary file and rename, so a concurrent reader never sees half a library.
tmp=$(mktemp .build/libdpif_shim.XXXXXX)
trap 'rm -f "$tmp"' EXIT
# shellcheck disable=SC2046 # pkg-config output is a list of flags
gcc -O2 -shared -fPIC -Wall -Wextra -o "$tmp" "$src" $(pkg-config --cflags --libs libdpdk)
chmod 644 "$tmp"
mv -f "$tmp" "$out"
trap - EXIT
echo "ffi/shim/build.sh: built $out" >&2
