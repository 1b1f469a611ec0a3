# syntax=docker/dockerfile:1
# cofre's image: built in Rust's image, run by an unprivileged user in Debian's slim one.
#   docker build -t cofre .        (or podman build --format docker -t cofre .)
# tests/api/container_image.rs checks that every file the build reads is copied in, and builds
# and runs this file's runtime stage with podman.

FROM docker.io/library/rust:1-bookworm AS build
WORKDIR /src
# Everything the build reads: the manifest, build.rs, the sources, the migrations
# (sqlx::migrate!), the example configuration (include_str!), and the browser terminal's and
# Swagger UI's files (include_bytes!).
COPY Cargo.toml Cargo.lock build.rs ./
COPY src ./src
COPY migrations ./migrations
COPY config ./config
COPY assets ./assets
# The crate registry and the target directory stay in the builder's cache between builds, so a
# rebuild compiles only what changed; the binary is copied out of the cache in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin cofre \
    && install -m 0755 target/release/cofre /usr/local/bin/cofre

FROM docker.io/library/debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 cofre \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /data --shell /usr/sbin/nologin cofre \
    && mkdir -p /data /etc/cofre && chown cofre:cofre /data
COPY --from=build /usr/local/bin/cofre /usr/local/bin/cofre
COPY config/cofre.toml /etc/cofre/cofre.toml
# Inside the container every listener takes all addresses: which of them reach the outside is
# what `-p` publishes. Session links name the vault (public_url) and the web proxy (proxy_url) as
# browsers reach them; unset, they name localhost, which suits a browser on the container's host
# only: elsewhere set COFRE_PUBLIC_URL and COFRE_PROXY_URL (README.md, "Container").
ENV COFRE_CONFIG=/etc/cofre/cofre.toml \
    COFRE_DATA_DIR=/data \
    COFRE_LISTEN=0.0.0.0:8443 \
    COFRE_PROXY_LISTEN=0.0.0.0:8444
USER 10001:10001
VOLUME ["/data"]
EXPOSE 8443 8444
# Healthy while /ready answers 200: the process serves and its store takes a write.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 CMD ["/usr/local/bin/cofre", "ready"]
ENTRYPOINT ["/usr/local/bin/cofre"]
CMD ["serve"]
