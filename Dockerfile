# syntax=docker/dockerfile:1
# The podcache image: /usr/local/bin/podcache (the sidecar, the entrypoint) and podcachectl.
#   docker build -t REGISTRY/podcache:0.1.0 .
# No Docker engine runs on the project's machines, so CI does not build this file; the test
# helm/image_runtime_libraries checks RUNTIME_LIBRARIES against ldd of the built binaries and
# BUILD_PACKAGES against scripts/install-deps.sh.

# ---- build: Debian 12 with the build packages of scripts/install-deps.sh ----
FROM debian:12 AS build
ARG BUILD_PACKAGES="build-essential cmake ninja-build pkg-config doctest-dev libxxhash-dev \
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc grpc-proto \
  libcpprest-dev libyaml-cpp-dev libcli11-dev nlohmann-json3-dev libssl-dev libc-ares-dev libnats-dev"
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${BUILD_PACKAGES} \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DPODCACHE_BENCH=OFF \
 && cmake --build /build --target podcache podcachectl \
 && strip /build/sidecar/podcache /build/sidecar/podcachectl

# ---- runtime: Debian 12 slim with only the shared libraries the two binaries load ----
FROM debian:12-slim
# The Debian packages of every library `ldd` lists for podcache and podcachectl.
ARG RUNTIME_LIBRARIES="libabsl20220623 libbrotli1 libc-ares2 libc6 libcpprest2.10 libgcc-s1 \
  libgrpc++1.51 libgrpc29 libnats3.4 libprotobuf-c1 libprotobuf32 libre2-9 libssl3 libstdc++6 \
  libxxhash0 libyaml-cpp0.7 zlib1g"
# CA roots for https loaders and NATS over TLS.
ARG RUNTIME_EXTRA="ca-certificates"
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${RUNTIME_LIBRARIES} ${RUNTIME_EXTRA} \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 podcache \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin podcache
COPY --from=build /build/sidecar/podcache /build/sidecar/podcachectl /usr/local/bin/
# Numeric, so that Kubernetes' runAsNonRoot can verify it (the chart runs it as 10001:10001).
USER 10001:10001
# 7070 is the app API on 127.0.0.1 only; peers and HTTP listen on all addresses.
EXPOSE 7071 7072
ENTRYPOINT ["/usr/local/bin/podcache"]
