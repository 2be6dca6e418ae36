# syntax=docker/dockerfile:1
# luckygas-sync: one image for the worker, the scheduler, the monitor, the migrations and
# the operator CLI. `docker run IMAGE <subcommand>`: the ENTRYPOINT is the CLI.

ARG NODE_IMAGE=node:20-bookworm-slim

# ───────────────────────────── build ─────────────────────────────
FROM ${NODE_IMAGE} AS build
# better-sqlite3 compiles its native binding from source when no prebuilt one can be fetched.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false \
    CHECKPOINT_DISABLE=1

# Dependencies first: this layer is reused until package-lock.json changes.
COPY package.json package-lock.json ./
RUN npm ci --loglevel=error

# The sources (.dockerignore leaves out node_modules, dist, .data, src/generated, …).
COPY . .
# The generator reads DATABASE_URL from the schema but never connects.
RUN DATABASE_URL=postgresql://localhost/unused npx --no prisma generate \
 && npx --no tsc -p tsconfig.json \
 && npm prune --omit=dev
# After the prune: prisma stays, it is a runtime dependency (the migrate service runs
# `prisma migrate deploy` from this image); typescript, jest and the test kit are gone.

# ──────────────────────────── runtime ────────────────────────────
FROM ${NODE_IMAGE} AS runtime
# MALLOC_ARENA_MAX: glibc gives each thread that allocates its own malloc arena, and a load's
# page threads hand their buffers to the main thread, which frees them in another arena: two
# arenas keep a worker ~20 MB smaller during a first load (bench/worker.ts runs workers the same way).
# NODE_OPTIONS, HEAP_GROWING_PERCENT: V8 marks the whole heap again whenever what the heap may
# still grow is less than its young generation. The main thread's young generation at 8 MB a
# semi-space instead of 16 (only a flag at node's start sets it) and the heap's growth before a full
# collection at 100 % instead of 25: a first load's full collections on the main thread ~55 → ~22,
# the load ~5-10 % faster for a few MB more at the peak (README, Performance).
ENV NODE_ENV=production \
    MALLOC_ARENA_MAX=2 \
    NODE_OPTIONS=--max-semi-space-size=8 \
    HEAP_GROWING_PERCENT=100 \
    NPM_CONFIG_UPDATE_NOTIFIER=false \
    CHECKPOINT_DISABLE=1 \
    PRISMA_HIDE_UPDATE_MESSAGE=1 \
    MONITOR_PORT=9090
WORKDIR /app

# Owned by root, read-only for the process: the code cannot be changed by what it runs.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
COPY --from=build /app/config ./config
COPY --from=build /app/prisma ./prisma
COPY --from=build /app/prisma.config.ts ./prisma.config.ts
# prisma.config.ts imports ./src/db/migrationAdapter (loaded as TypeScript by the prisma CLI),
# so `prisma migrate deploy` needs the sources it imports: src/ is small, copy it whole.
COPY --from=build /app/src ./src

# The image's `node` user (uid 1000, home /home/node, which npx needs for its cache).
# The worker's legacy folder must be writable by this uid (compose: `user:` to change it).
USER node

EXPOSE 9090
ENTRYPOINT ["node", "bin/luckygas-sync.js"]
CMD ["worker"]
