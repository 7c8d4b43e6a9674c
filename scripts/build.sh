#!/usr/bin/env bash
# Configures and builds sluice. Usage: build.sh [BUILD_DIR [extra cmake -D options...]]
# Options given for an existing build directory are applied to it too: its cache would otherwise
# keep the values it was first configured with.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build_dir="${1:-$root/build}"
shift || true
if [ ! -f "$build_dir/build.ninja" ]; then
  cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
elif [ $# -gt 0 ]; then
  cmake "$build_dir" "$@" >/dev/null
fi
cmake --build "$build_dir" -j "${SLUICE_JOBS:-2}"
