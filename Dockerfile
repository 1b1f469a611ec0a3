# syntax=docker/dockerfile:1
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock rustfmt.toml ./
COPY src ./src
COPY migrations ./migrations
COPY config ./config
COPY tests ./tests
RUN cargo build --release --locked --bin cofre

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin cofre \
    && mkdir -p /data /etc/cofre && chown cofre:cofre /data
COPY --from=build /src/target/release/cofre /usr/local/bin/cofre
COPY config/cofre.toml /etc/cofre/cofre.toml
ENV COFRE_CONFIG=/etc/cofre/cofre.toml \
    COFRE_DATA_DIR=/data \
    COFRE_LISTEN=0.0.0.0:8443
USER cofre
VOLUME ["/data"]
EXPOSE 8443
ENTRYPOINT ["/usr/local/bin/cofre"]
CMD ["serve"]
