# The Puente image: the statically linked release binary, the built web app and the
# migrations, FROM scratch, running as an unprivileged user (uid 10001).
#
#   docker build -t puente/puente:0.1.0 .
#
# Needs the two base images below from a registry. Without one, scripts/build-image makes the
# same image from this machine's toolchain (`docker import`, no base image).
ARG RUST_IMAGE=rust:1-bookworm
ARG NODE_IMAGE=node:22-bookworm-slim

FROM ${NODE_IMAGE} AS web
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/ ./
RUN npm run build

FROM ${RUST_IMAGE} AS build
WORKDIR /src
COPY . .
# Queries are checked against the committed .sqlx/ data (SQLX_OFFLINE in .cargo/config.toml).
RUN RUSTFLAGS="-C target-feature=+crt-static" CARGO_PROFILE_RELEASE_STRIP=true \
      cargo build --release --locked --target x86_64-unknown-linux-gnu --bin puente \
 && mkdir -p /rootfs/usr/local/bin /rootfs/app /rootfs/etc /rootfs/tmp /data/puente/files \
 && install -m 0755 target/x86_64-unknown-linux-gnu/release/puente /rootfs/usr/local/bin/puente \
 && cp -r migrations /rootfs/app/migrations \
 && chmod 1777 /rootfs/tmp \
 && printf 'root:x:0:0:root:/:/sbin/nologin\npuente:x:10001:10001:puente:/var/lib/puente:/sbin/nologin\n' >/rootfs/etc/passwd \
 && printf 'root:x:0:\npuente:x:10001:\n' >/rootfs/etc/group \
 && printf 'hosts: files dns\n' >/rootfs/etc/nsswitch.conf

FROM scratch
COPY --from=build /rootfs/ /
COPY --from=web /web/dist /app/web
# The file store belongs to the image's user, so a named volume mounted here is writable.
COPY --from=build --chown=10001:10001 /data/ /var/lib/
ENV PATH=/usr/local/bin \
    PUENTE_BIND=0.0.0.0:8080 \
    PUENTE_WEB_DIR=/app/web \
    PUENTE_DATA_DIR=/var/lib/puente/files \
    PUENTE_LOG_FORMAT=json
WORKDIR /var/lib/puente
USER 10001:10001
EXPOSE 8080 8081
VOLUME ["/var/lib/puente/files"]
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=6 CMD ["puente", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/puente"]
CMD ["serve"]
