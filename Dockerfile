# syntax=docker/dockerfile:1
# One image for every service; SERVICE picks which one runs:
#   docker build --build-arg SERVICE=api -t telemetry-api .
FROM oven/bun:1.4.5-slim

ARG SERVICE=api
ENV NODE_ENV=production \
    SERVICE=${SERVICE}
WORKDIR /app

# Manifests first: the dependency layer is rebuilt only when they change.
COPY package.json bun.lock bunfig.toml tsconfig.base.json ./
COPY core/package.json core/package.json
COPY producer/package.json producer/package.json
COPY api/package.json api/package.json
COPY consumer-store/package.json consumer-store/package.json
COPY consumer-alert/package.json consumer-alert/package.json
COPY analysis/package.json analysis/package.json
COPY bench/package.json bench/package.json
RUN bun install --frozen-lockfile --production --ignore-scripts

COPY core core
COPY ${SERVICE} ${SERVICE}

# Runs as the image's unprivileged user; the API's SQLite lives in /app/data (a volume).
RUN mkdir -p /app/data && chown bun:bun /app/data
USER bun
STOPSIGNAL SIGTERM
CMD ["sh", "-c", "exec bun \"$SERVICE/src/index.ts\""]
