#!/usr/bin/env bash
# Writes a new migration from the change of prisma/schema.prisma since the last commit:
#   scripts/new-migration.sh add_something
# The diff runs between the two datamodels (no shadow database); the schema engine still
# wants a connection: the local stack (luckygas-sync stack up) or DATABASE_URL.
# Hand-written SQL (triggers, functions) goes into its migration.sql the same way.
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:?usage: scripts/new-migration.sh NAME}
dir="prisma/migrations/$(date -u +%Y%m%d%H%M%S)_${name}"
old=$(mktemp --suffix=.prisma)
git show HEAD:prisma/schema.prisma > "$old"
mkdir -p "$dir"
DATABASE_URL="${DATABASE_URL:-$(node -p "require('./.data/stack.json').DATABASE_URL")}" npx prisma migrate diff \
  --from-schema-datamodel "$old" --to-schema-datamodel prisma/schema.prisma --script > "$dir/migration.sql"
rm -f "$old"
echo "$dir/migration.sql"
