# syntax=docker/dockerfile:1
# calsync: multi-stage build. The runtime image holds one static-ish binary (SQLite and rustls
# are compiled in), runs as a non-root user (numeric, so `runAsNonRoot` policies can verify it),
# and checks its own /healthz. `.dockerignore` keeps the context to what is copied here.
# The commit is not in the context (no .git): pass it with --build-arg CALSYNC_GIT_SHA=$(git rev-parse --short HEAD).

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
ARG CALSYNC_GIT_SHA=unknown
ENV CALSYNC_GIT_SHA=$CALSYNC_GIT_SHA
# Build dependencies first so source edits do not rebuild them.
COPY Cargo.toml Cargo.lock build.rs ./
RUN mkdir src && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src
COPY src ./src
# `[profile.release]` strips the binary.
RUN touch src/main.rs src/lib.rs && cargo build --release --locked \
    && mkdir -p /data

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/calsync /usr/local/bin/calsync
# distroless has no shell: create the data directory in the build stage, owned by nonroot.
COPY --from=build --chown=65532:65532 /data /data
COPY config/calsync.example.toml /etc/calsync/calsync.example.toml
# The embedded store lives on a volume; override with CALSYNC__STORE__URL for PostgreSQL.
ENV CALSYNC__STORE__URL=sqlite:///data/calsync.db \
    CALSYNC__SERVER__LISTEN=0.0.0.0:3000
VOLUME ["/data"]
EXPOSE 3000
# distroless "nonroot"
USER 65532:65532
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/calsync", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/calsync"]
CMD ["serve"]
