#!/usr/bin/env bash
# Generates the Prisma client when the schema changed since the last generation.
# `prisma generate` checks for the schema engine although the client needs none; where Prisma's
# engines cannot be downloaded, any existing file satisfies the check.
set -euo pipefail
cd "$(dirname "$0")/.."

stamp=src/generated/prisma/.schema.sha256
sum=$(sha256sum prisma/schema.prisma | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ]; then
  exit 0
fi
if [ -z "${PRISMA_SCHEMA_ENGINE_BINARY:-}" ] && ! ls node_modules/@prisma/engines/schema-engine-* >/dev/null 2>&1; then
  export PRISMA_SCHEMA_ENGINE_BINARY="$PWD/package.json"
fi
if ! out=$(node_modules/.bin/prisma generate --no-hints 2>&1); then echo "$out" >&2; exit 1; fi
echo "$sum" > "$stamp"
