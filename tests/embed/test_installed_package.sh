#!/usr/bin/env bash
# Installs this build into a temporary prefix, builds examples/embed against it with
# find_package(sluice), and runs the example (which checks its own results).
set -euo pipefail
build_dir="$1"
source_dir="$2"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cmake --install "$build_dir" --prefix "$work/prefix" >/dev/null
cmake -S "$source_dir/examples/embed" -B "$work/example" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/example" >/dev/null
"$work/example/embed_example"
echo "installed package: find_package(sluice) + sluice::pipeline build and run"
