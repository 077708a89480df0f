# fastify-pubsub in a container (docs/deployment.md). Linted in the tests
# (test/deploy/dockerfile.test.ts), not built there: CI has no Docker.

# Build: dev dependencies and tsc, then dist/.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would build before the sources are here.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json tsconfig.browser.json ./
COPY src ./src
RUN npm run build

# Runtime: production dependencies, dist/ and the console's static files only.
FROM node:20-bookworm-slim
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8080
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY public ./public
COPY --from=build /app/dist ./dist
# The image's unprivileged user; the files stay root's, read-only to it.
USER node
EXPOSE 8080
# No curl in the slim image: node's fetch. GET /health answers 200 while the
# process serves; it sits under PREFIX when one is set, and speaks HTTPS with
# TLS_CERT. The probe asks loopback, which a certificate for the public name
# does not cover: it checks that the process serves, not the certificate.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "--no-warnings", "-e", "const tls = process.env.TLS_CERT !== undefined; if (tls) process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0'; fetch(`http${tls ? 's' : ''}://127.0.0.1:${process.env.PORT}${process.env.PREFIX ?? ''}/health`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Exec form: node is PID 1 and gets `docker stop`'s SIGTERM itself, which
# drains (1001 to every client) within CLOSE_TIMEOUT (15s): give `docker stop`
# more than that (-t 20, or stop_grace_period: 20s in compose).
STOPSIGNAL SIGTERM
CMD ["node", "dist/server/cli.js"]
