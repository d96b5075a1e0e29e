# syntax=docker/dockerfile:1
# One image for every Rampart service: docker-compose.yml picks the entry point per service
# (`node dist/gateway/src/main.js`, `node dist/subgraphs/<name>/src/main.js`, `node dist/scripts/migrate.js`).
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
# npm 11 honours package.json "allowScripts": only the listed packages run install scripts.
# (node:20 images ship npm 10, which would ignore the list.)
RUN npm install -g npm@11
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
RUN npm run build \
  && npm prune --omit=dev

FROM ${NODE_IMAGE} AS runtime
ENV RAMPART_ENV=production \
    NODE_ENV=production
WORKDIR /app
# Files stay owned by root: the service user can read them but not change them.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/gateway/supergraph.graphql ./gateway/supergraph.graphql
# Data the subgraphs load before serving (posture's benchmark, the SIEM's rule templates): found from the
# repository root (the directory of package.json), and a start without it fails.
COPY --from=build /app/subgraphs/posture/data ./subgraphs/posture/data
COPY --from=build /app/subgraphs/siem/data ./subgraphs/siem/data
USER node
