# syntax=docker/dockerfile:1
# The cuslice image: libcuslice.so, the cuslice command and node-install.sh,
# put in place by the same `meson install` (prefix /usr) as a source install
# and the .deb. The Kubernetes node agent runs
# /usr/libexec/cuslice/node-install.sh from it to copy the library onto a GPU
# node and prepare the ring folder (docs/install.md).
#
#   docker build -t cuslice .
#
# CUDA_IMAGE only supplies cuda.h to the build (NVIDIA's toolkit headers are
# not in Debian main); nothing of it reaches the image. The library is built
# on Debian 12 (glibc 2.36; it needs glibc >= 2.34 where it is preloaded).
# tests/install/check-dockerfile.py checks this file in CI, where no base
# image can be pulled: every COPY source exists, the build stage's packages
# cover debian/control's Build-Depends, the final stage's cover the .deb's
# Depends, and the RUN lines between "install: begin" and "install: end",
# run on the build context, install the same files as the .deb.
ARG CUDA_IMAGE=nvidia/cuda:13.0.1-devel-ubuntu24.04
ARG DEBIAN_IMAGE=debian:bookworm-slim

FROM ${CUDA_IMAGE} AS cuda

FROM ${DEBIAN_IMAGE} AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      gcc libc6-dev meson ninja-build pkgconf uthash-dev libncurses-dev libmicrohttpd-dev \
 && rm -rf /var/lib/apt/lists/*
COPY --from=cuda /usr/local/cuda/include/ /usr/local/cuda/include/
COPY . /src
# install: begin (SRC, BUILD and STAGE are folders of this stage)
ARG SRC=/src
ARG BUILD=/build
ARG STAGE=/stage
RUN meson setup "$BUILD" "$SRC" --prefix=/usr --buildtype=release -Dtests=disabled \
      -Dtop=enabled -Dhttp=enabled -Dman=enabled -Dcuda-include=/usr/local/cuda/include \
 && meson install -C "$BUILD" --destdir "$STAGE"
# install: end

FROM ${DEBIAN_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libncursesw6 libmicrohttpd12 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /stage/ /
COPY LICENSE /usr/share/doc/cuslice/copyright
ENTRYPOINT ["/usr/bin/cuslice"]
CMD ["--help"]
