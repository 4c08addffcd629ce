#!/usr/bin/env bash
# Installs every Debian package podcache's build, tests and benchmarks need.
# Idempotent: when everything is present it only asks dpkg and returns.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  doctest-dev libxxhash-dev
  # sidecar: gRPC + protobuf, cpprestsdk (HTTP port, Kubernetes API; its Boost headers give the
  # HTTP loader Boost.Asio), YAML, CLI, JSON, TLS
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc grpc-proto
  libcpprest-dev libyaml-cpp-dev libcli11-dev nlohmann-json3-dev libssl-dev
  # discovery: c-ares (DNS-SD) and nats.c; the tests run a real dnsmasq and nats-server
  libc-ares-dev libnats-dev dnsmasq nats-server
  # tests and examples: Python gRPC clients, curl; benchmarks: memcached and redis
  python3 python3-grpcio python3-protobuf curl
  memcached redis-server redis-tools procps
  # the Helm chart tests (tests/helm) read rendered manifests in Python
  python3-yaml
  # the fault suite (tests/faults): network namespaces, veth pairs and packet drops
  iproute2 nftables
)
# Not the build or the image: the fuzz suite (make fuzz; libFuzzer comes with clang's runtime),
# the lock-annotation build and the format check (make lint), and the metrics check (promtool,
# from Debian's prometheus package).
PACKAGES+=(clang-16 libclang-rt-16-dev clang-format-16 prometheus)
# Node.js for the Node example client: Debian's nodejs + npm unless a node is already installed.
command -v node >/dev/null 2>&1 || PACKAGES+=(nodejs npm)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$pkg")
  fi
done
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# The Node example's packages (@grpc/grpc-js, @grpc/proto-loader) from the npm registry.
install_node_modules() {
  if [ ! -d "$ROOT/examples/node/node_modules/@grpc/grpc-js" ]; then
    echo "install-deps: npm ci in examples/node"
    npm ci --prefix "$ROOT/examples/node" --no-audit --no-fund --loglevel=error
  fi
}
if [ ${#missing[@]} -eq 0 ]; then
  install_node_modules
  "$ROOT/scripts/install-helm.sh"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages (${missing[*]}); run as root to install them" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
echo "install-deps: installing ${missing[*]}"
# A fresh machine may have empty package lists: update only when the first attempt fails.
if ! apt-get install -y --no-install-recommends "${missing[@]}"; then
  apt-get update
  apt-get install -y --no-install-recommends "${missing[@]}"
fi
install_node_modules
"$ROOT/scripts/install-helm.sh"
