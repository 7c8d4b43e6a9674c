#!/usr/bin/env bash
# Installs the Debian packages sluice needs, only those missing (fast when all are there).
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libtbb-dev libfmt-dev libyaml-cpp-dev libgtest-dev libbenchmark-dev
  libcli11-dev libspdlog-dev nlohmann-json3-dev libre2-dev libsimdjson-dev zlib1g-dev prometheus-cpp-dev
  libssl-dev   # token digests and TLS file checks in the gateway (gRPC itself links OpenSSL)
  openssl      # tests/gateway/security_test.cpp makes its throwaway certificates with the CLI
  # tests/python: /usr/bin/python3 with these, protoc (protobuf-compiler) and
  # /usr/bin/grpc_python_plugin (protobuf-compiler-grpc)
  python3 python3-grpcio python3-protobuf
  miller gnuplot-nox
  clang libclang-rt-14-dev   # scripts/fuzz: libFuzzer
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
