# syntax=docker/dockerfile:1
# One image for every Patron binary: the five services and the `patron`
# command (migrations and retraining run from it too). Build with
# `make images`; Kubernetes picks the binary with `command:`.
#
# Stages: `skeleton` reduces the workspace to what decides its dependencies
# (manifests, lock file, build scripts, protos, the patched crates under
# third_party/ whole; every other .rs emptied), so
# `dependencies` is rebuilt only when those change; `build` compiles Patron
# itself; `runtime` is distroless (glibc, CA certificates, no shell, no
# package manager) running as a non-root user. Health needs no extra binary:
# Kubernetes probes gRPC health natively.

ARG RUST_VERSION=1.95
ARG PACKAGES="-p patron-cli -p patron-gateway -p patron-profile -p patron-segmentation -p patron-forecast -p patron-churn"

FROM rust:${RUST_VERSION}-slim-bookworm AS skeleton
WORKDIR /src
COPY . .
RUN find . -path ./third_party -prune -o -name '*.rs' ! -name build.rs -exec sh -c 'for file; do echo "fn main() { }" > "$file"; done' _ {} + \
 && find . -type f ! -path './third_party/*' ! -name '*.rs' ! -name 'Cargo.toml' ! -name 'Cargo.lock' ! -name '*.proto' ! -path './.cargo/config.toml' -delete

FROM rust:${RUST_VERSION}-slim-bookworm AS dependencies
ARG PACKAGES
WORKDIR /src
COPY --from=skeleton /src ./
RUN cargo build --release --locked ${PACKAGES}

FROM dependencies AS build
ARG PACKAGES
COPY . .
# The copied sources may be older than the skeleton's artifacts: make cargo see them.
RUN find proto services tests -name '*.rs' -exec touch {} + \
 && cargo build --release --locked ${PACKAGES} \
 && mkdir -p /out \
 && cp target/release/patron target/release/patron-gateway target/release/patron-profile \
       target/release/patron-segmentation target/release/patron-forecast target/release/patron-churn /out/

FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
COPY --from=build /out/ /usr/local/bin/
# distroless' nonroot user; the manifests require it (runAsNonRoot, uid 65532).
USER 65532:65532
# The ports the manifests use (PATRON_SERVER__LISTEN_ADDR, PATRON_SERVER__METRICS_ADDR).
ENV PATRON_TELEMETRY__LOG_FORMAT=json
EXPOSE 50051 50061 50062 50063 50064 9090
CMD ["/usr/local/bin/patron", "--help"]
