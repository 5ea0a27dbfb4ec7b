# syntax=docker/dockerfile:1
# The app comes from one of two build stages, chosen with --build-arg VALORI_BUILD:
#  - source (default): Rust + Node on Debian bookworm (glibc 2.36) compile the native core from
#    this checkout and the TypeScript, then drop dev dependencies. Works for any platform Docker
#    can build, from an unpublished checkout too.
#  - prebuilt: no Rust at all. valori-node@VALORI_VERSION comes from the npm registry, and npm
#    picks the prebuilt binary package for the image's platform (valori-node-linux-x64-gnu or
#    valori-node-linux-arm64-gnu) from its optional dependencies. Needs that version published.
# Both architectures (docs/platforms.md):
#   docker buildx build --platform linux/amd64,linux/arm64 --build-arg VALORI_BUILD=prebuilt .
# Node comes from the official node image (same Debian release), so nothing is fetched outside
# the image and package registries.
ARG VALORI_BUILD=source

FROM node:20-bookworm AS node
FROM rust:1.95-bookworm AS build-source
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/node_modules /usr/local/lib/node_modules
RUN ln -s /usr/local/lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s /usr/local/lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx
WORKDIR /app
COPY package.json package-lock.json ./
COPY Cargo.toml Cargo.lock tsconfig.json ./
COPY native ./native
COPY npm ./npm
COPY src ./src
COPY scripts ./scripts
COPY packages/client ./packages/client
# The runtime stage takes native/ whole: only the loader, its types and the addon stay in it.
RUN npm ci --no-audit --no-fund \
 && npm prune --omit=dev \
 && rm -rf native/kernel native/binding native/cluster

FROM node:20-bookworm AS build-prebuilt
ARG VALORI_VERSION=0.1.0
WORKDIR /app
# The published package unpacked as the app directory (package.json, dist/, native/index.js),
# then its runtime dependencies. Its workspace and build script serve a checkout, not an install.
RUN npm pack --silent "valori-node@${VALORI_VERSION}" \
 && tar -xzf "valori-node-${VALORI_VERSION}.tgz" --strip-components=1 \
 && rm "valori-node-${VALORI_VERSION}.tgz" \
 && npm pkg delete workspaces scripts.prepare \
 && npm install --omit=dev --no-audit --no-fund \
 && node -e "require('./native/index.js')"

# A stage of this file picked by the build argument, not an image, so it has no tag.
# hadolint ignore=DL3006
FROM build-${VALORI_BUILD} AS build

# Runtime stage: slim Node on the same Debian release (same glibc).
FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    UV_THREADPOOL_SIZE=8 \
    VALORI_BIND=0.0.0.0:3000
# curl is for the HEALTHCHECK (and the compose file's). Versions follow the Debian release.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends curl \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /data && chown 1000:1000 /data
WORKDIR /app
COPY --from=build --chown=1000:1000 /app/package.json ./
COPY --from=build --chown=1000:1000 /app/node_modules ./node_modules
COPY --from=build --chown=1000:1000 /app/dist ./dist
COPY --from=build --chown=1000:1000 /app/native ./native
# The image's `node` user (uid/gid 1000), by number so any host can resolve it.
USER 1000:1000
VOLUME ["/data"]
EXPOSE 3000
# Liveness: /livez answers 200 whenever the process serves. Not /health, which answers 503 when a
# pool is full: an orchestrator acting on it would restart a full node in a loop.
HEALTHCHECK --interval=10s --timeout=5s --retries=3 CMD ["curl", "-sf", "http://127.0.0.1:3000/livez"]
CMD ["node", "dist/main.js"]
