# The kaspi-notify image: web, worker and migrate all run the compiled dist/ with plain node
# (docker-compose.yml picks the entry point). Build context is filtered by .dockerignore: no .env,
# .data (app secret, embedded database), .git, node_modules or a host-built dist/ get in.

# Build stage: every dependency (TypeScript, the workflow bundler), then `npm run build`:
# tsc into dist/ plus the prebuilt workflow bundle (lib/runtime/production-build.ts).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build

# Runtime stage: production dependencies and dist/ only; no sources, no compiler, no dev tools.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
USER node
EXPOSE 3000
CMD ["node", "dist/bin/web.js"]
