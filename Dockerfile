# A small prodready image for audits run in a cluster (deploy/fleet-job.yaml, docs/fleet.md):
# prodready, git and CA certificates on Debian slim, as a non-root user.
# Base images are pinned by digest (the tag is for people): a tag can be pushed again, a
# digest cannot. `docker buildx imagetools inspect rust:1.88-slim-bookworm` prints the current
# one; update both when you update the toolchain.
FROM rust:1.88-slim-bookworm@sha256:38bc5a86d998772d4aec2348656ed21438d20fcdce2795b56ca434cf21430d89 AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY src src
COPY rules rules
RUN cargo build --release --locked && strip target/release/prodready

FROM debian:bookworm-slim@sha256:7b140f374b289a7c2befc338f42ebe6441b7ea838a042bbd5acbfca6ec875818
RUN apt-get update \
 && apt-get install -y --no-install-recommends git ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 10001 --create-home prodready
COPY --from=build /src/target/release/prodready /usr/local/bin/prodready
USER 10001
ENTRYPOINT ["prodready"]
