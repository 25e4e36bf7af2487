# syntax=docker/dockerfile:1
# gearkv-server image: a CUDA devel image supplies nvcc, Debian 12 (the platform CI builds and
# tests on, with the same scripts/install-deps.sh) builds, and a slim Debian 12 runs.
#
#   docker build -t gearkv .
#   docker run --gpus all -p 50051:50051 -p 9464:9464 gearkv
#
# The binary links the CUDA runtime statically: the runtime image carries no CUDA libraries; the
# NVIDIA Container Toolkit mounts the driver (libcuda) when a GPU is granted, and without one the
# server falls back to its CPU backend.

ARG CUDA_VERSION=13.0
ARG CUDA_IMAGE=nvidia/cuda:13.0.1-devel-ubuntu24.04

# ---- CUDA toolkit (nvcc, static cudart) from NVIDIA's devel image.
FROM ${CUDA_IMAGE} AS cuda

# ---- Build on Debian 12 with the distribution's gRPC, protobuf, abseil, prometheus-cpp.
FROM debian:12 AS build
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ARG CUDA_VERSION
# nvcc is built for old glibc releases and runs on Debian 12 with its g++ 12 as host compiler.
COPY --from=cuda /usr/local/cuda-${CUDA_VERSION} /usr/local/cuda
ENV PATH=/usr/local/cuda/bin:${PATH}
COPY scripts/install-deps.sh /src/scripts/install-deps.sh
RUN /src/scripts/install-deps.sh --build \
    && rm -rf /var/lib/apt/lists/*
COPY . /src
WORKDIR /src
# 80 = A100, 90 = H100/H200. x86-64-v3 (AVX2/FMA/F16C) is the CPU baseline (see README).
ARG GEARKV_CUDA_ARCHITECTURES="80;90"
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DGEARKV_CUDA=AUTO "-DGEARKV_CUDA_ARCHITECTURES=${GEARKV_CUDA_ARCHITECTURES}" \
    && cmake --build /build --target gearkv-server gearkv \
    && install -D -m 0755 "$(find /build -type f -name gearkv-server -perm -u+x | head -n 1)" /out/gearkv-server \
    && install -D -m 0755 "$(find /build -type f -name gearkv -perm -u+x | head -n 1)" /out/gearkv

# ---- Runtime: shared libraries only, non-root.
FROM debian:12-slim AS runtime
COPY scripts/install-deps.sh /tmp/install-deps.sh
RUN /tmp/install-deps.sh --runtime \
    && rm -rf /var/lib/apt/lists/* /tmp/install-deps.sh \
    && groupadd --system --gid 10001 gearkv \
    && useradd --system --uid 10001 --gid gearkv --home-dir /var/lib/gearkv \
         --shell /usr/sbin/nologin gearkv \
    && mkdir -p /var/lib/gearkv/disk \
    && chown -R 10001:10001 /var/lib/gearkv
COPY --from=build /out/gearkv-server /out/gearkv /usr/local/bin/
# Let the NVIDIA Container Toolkit expose the GPU and driver to the server.
ENV NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility
# The gearkv user (numeric, so that runtimes that check for non-root can see it).
USER 10001:10001
WORKDIR /var/lib/gearkv
VOLUME ["/var/lib/gearkv"]
# 50051: gRPC (KVCache, grpc.health.v1, reflection); 9464: Prometheus /metrics.
EXPOSE 50051 9464
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["gearkv", "health", "--target=localhost:50051", "--deadline_seconds=3"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["gearkv-server"]
CMD ["--listen=0.0.0.0:50051", "--metrics_port=9464", "--disk_dir=/var/lib/gearkv/disk"]
