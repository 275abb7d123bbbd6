#!/usr/bin/env bash
# Installs what `npm start` and `npm test` need on a fresh checkout, and nothing that is already there:
# node modules, the generated Prisma client, and the Temporal CLI (from PATH, else built once with Go).
set -euo pipefail
cd "$(dirname "$0")/.."

lock_stamp=node_modules/.package-lock.sha256
lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$lock_stamp" ] || [ "$(cat "$lock_stamp")" != "$lock_sum" ]; then
  echo "smsrouter: installing node modules (npm ci)..."
  npm ci --no-audit --no-fund --loglevel=error
  lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
  echo "$lock_sum" > "$lock_stamp"
fi

bash scripts/prisma-generate.sh

if [ -n "${TEMPORAL_CLI:-}" ] && [ -x "$TEMPORAL_CLI" ]; then
  exit 0
fi
if command -v temporal >/dev/null 2>&1; then
  exit 0
fi
if [ ! -x .tools/bin/temporal ]; then
  if ! command -v go >/dev/null 2>&1; then
    echo "smsrouter: the Temporal CLI is not on PATH and Go is not installed to build it; install one of them." >&2
    exit 1
  fi
  echo "smsrouter: building the Temporal CLI v1.5.1 with Go into .tools/bin (a few minutes, once)..."
  GOBIN="$PWD/.tools/bin" go install github.com/temporalio/cli/cmd/temporal@v1.5.1
fi
