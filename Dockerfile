# syntax=docker/dockerfile:1
# One slim image per service; SERVICE picks which one:
#   docker build --build-arg SERVICE=api -t telemetry-api .
# Each image holds only that workspace's production dependencies (and core's), not every
# workspace's. BUN_IMAGE is the base; pin it by digest for reproducible builds:
#   docker buildx imagetools inspect oven/bun:1.4.5-slim   (prints the digest)
#   docker build --build-arg BUN_IMAGE=oven/bun:1.4.5-slim@sha256:<digest> ...
ARG BUN_IMAGE=oven/bun:1.4.5-slim

FROM ${BUN_IMAGE} AS dependencies
ARG SERVICE=api
WORKDIR /app
# Every workspace's manifest, or the frozen install refuses the lockfile; only SERVICE's and
# core's dependencies are installed (--filter).
COPY package.json bun.lock bunfig.toml ./
COPY core/package.json core/package.json
COPY producer/package.json producer/package.json
COPY api/package.json api/package.json
COPY consumer-store/package.json consumer-store/package.json
COPY consumer-alert/package.json consumer-alert/package.json
COPY ingest-mqtt/package.json ingest-mqtt/package.json
COPY analysis/package.json analysis/package.json
COPY bench/package.json bench/package.json
RUN bun install --frozen-lockfile --production --ignore-scripts --filter "${SERVICE}" --filter core

FROM ${BUN_IMAGE}
ARG SERVICE=api
ARG BUN_IMAGE
# Where the source lives and which commit is the build's to say: --build-arg SOURCE_URL=... REVISION=...
ARG SOURCE_URL=""
ARG REVISION=""
LABEL org.opencontainers.image.title="telemetry-${SERVICE}" \
      org.opencontainers.image.description="Device-telemetry pipeline: the ${SERVICE} service" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="${BUN_IMAGE}"
ENV NODE_ENV=production \
    SERVICE=${SERVICE} \
    HEARTBEAT_FILE=/tmp/heartbeat
WORKDIR /app

# The isolated install keeps packages in node_modules/.bun and links them from each workspace.
COPY --from=dependencies /app/node_modules node_modules
COPY --from=dependencies /app/core/node_modules core/node_modules
COPY --from=dependencies /app/${SERVICE}/node_modules ${SERVICE}/node_modules
COPY package.json tsconfig.base.json ./
COPY core core
COPY ${SERVICE} ${SERVICE}

# Runs as the image's unprivileged user; the API's SQLite lives in /app/data (a volume).
RUN mkdir -p /app/data && chown bun:bun /app/data
USER bun
# The API: /health answers other than 503. A worker: its heartbeat reached Redis lately.
HEALTHCHECK --interval=10s --timeout=5s --start-period=15s --retries=3 \
  CMD ["bun", "core/src/container-health.ts"]
STOPSIGNAL SIGTERM
CMD ["sh", "-c", "exec bun \"$SERVICE/src/index.ts\""]
