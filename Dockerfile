# syntax=docker/dockerfile:1
# Production image of the MIA API. TypeScript runs through tsx, so there is no
# build step: one stage installs production dependencies, the other runs them
# as the unprivileged `node` user. Point DATABASE_URL at a real server and set
# MIA_ADMIN_TOKEN and MIA_MINER_ENROLMENT_TOKEN (NODE_ENV=production refuses to start without them;
# MIA_MINER_REGISTRATION=open or closed needs no enrolment token).
FROM node:24.22-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:24.22-bookworm-slim AS api
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8000
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json openapi.yaml ./
COPY api ./api
COPY sql ./sql
COPY migrations ./migrations
USER node
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8000) + '/health').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM drains: parked long-polls get 204, in-flight requests finish, pools close.
STOPSIGNAL SIGTERM
CMD ["node", "--import", "tsx", "api/main.ts"]
