#!/bin/sh
# Generates the Python stubs of podcache.v1 into ./gen (needs protoc and grpc_python_plugin).
set -e
cd "$(dirname "$0")"
mkdir -p gen
protoc --proto_path=../../proto --python_out=gen --grpc_python_out=gen \
  --plugin=protoc-gen-grpc_python="$(command -v grpc_python_plugin)" \
  podcache/v1/cache.proto podcache/v1/loader.proto
