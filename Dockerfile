# Tessera in a container: built in a Rust image, run from a small Debian image as uid 10001.
#   docker build -t tessera .
#   docker run -p 8080:8080 -v tessera-data:/var/lib/tessera \
#     -e TESSERA_ISSUER=https://id.example.com tessera

FROM rust:1.95-slim-bookworm AS build
# libssl-dev and pkg-config: the bundled libpq (PostgreSQL client) links OpenSSL.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libssl-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin tessera \
    && strip target/release/tessera

FROM debian:bookworm-slim
# libssl3: OpenSSL for libpq's TLS; curl: the health check; ca-certificates: TLS to PostgreSQL.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl libssl3 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 tessera \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/tessera --no-create-home tessera \
    && install -d -o 10001 -g 10001 -m 0700 /var/lib/tessera
COPY --from=build /src/target/release/tessera /usr/local/bin/tessera

ENV TESSERA_BIND=0.0.0.0:8080 \
    TESSERA_DATABASE_URL=/var/lib/tessera/tessera.db \
    TESSERA_KEYS_DIR=/var/lib/tessera/keys \
    TESSERA_LOG_FORMAT=json
USER 10001:10001
WORKDIR /var/lib/tessera
VOLUME ["/var/lib/tessera"]
EXPOSE 8080
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["/usr/local/bin/tessera"]
CMD ["serve"]
