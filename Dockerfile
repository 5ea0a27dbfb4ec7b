# syntax=docker/dockerfile:1
# Build stage: Rust + Node on Debian bookworm (glibc 2.36), builds the native
# core from source and the TypeScript, then drops dev dependencies. Node comes
# from the official node image (same Debian release), so nothing is fetched
# outside the image and package registries.
FROM node:20-bookworm AS node
FROM rust:1.95-bookworm AS build
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
RUN npm ci --no-audit --no-fund \
 && npm prune --omit=dev

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
COPY --from=build --chown=1000:1000 /app/native/index.js /app/native/index.d.ts ./native/
COPY --from=build --chown=1000:1000 /app/native/*.node ./native/
# The image's `node` user (uid/gid 1000), by number so any host can resolve it.
USER 1000:1000
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=5s --retries=3 CMD ["curl", "-sf", "http://127.0.0.1:3000/health"]
CMD ["node", "dist/main.js"]
