#!/usr/bin/env bash
# Installs what `npm start` and `npm test` need on a fresh checkout, and nothing that is already there:
# node modules, the generated Prisma client, and the Temporal CLI (from PATH, else built once with Go).
# With --temporal=server also the full Temporal server, its sql tool and the Temporal UI server
# (from TEMPORAL_SERVER_BIN / TEMPORAL_SQL_TOOL / TEMPORAL_UI_SERVER, else PATH, else built into .tools/).
set -euo pipefail
cd "$(dirname "$0")/.."

temporal_shape=dev
for arg in "$@"; do
  case "$arg" in
    --temporal=server) temporal_shape=server ;;
    --temporal=dev) temporal_shape=dev ;;
    *) echo "smsrouter: ensure-tools: unknown argument $arg (expected --temporal=dev|server)" >&2; exit 2 ;;
  esac
done

lock_stamp=node_modules/.package-lock.sha256
lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$lock_stamp" ] || [ "$(cat "$lock_stamp")" != "$lock_sum" ]; then
  echo "smsrouter: installing node modules (npm ci)..."
  npm ci --no-audit --no-fund --loglevel=error
  lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
  echo "$lock_sum" > "$lock_stamp"
fi

bash scripts/prisma-generate.sh

require_go() {
  if ! command -v go >/dev/null 2>&1; then
    echo "smsrouter: $1 is not installed and Go is not installed to build it; install one of them." >&2
    exit 1
  fi
}

# go_tool <what> <env override> <name on PATH> <.tools folder> <module@version>: the binary is
# always named after its package (`server`, `sql`), hence one folder per module.
go_tool() {
  local what=$1 override=$2 on_path=$3 folder=$4 module=$5
  if [ -n "${!override:-}" ] && [ -x "${!override}" ]; then return; fi
  if command -v "$on_path" >/dev/null 2>&1; then return; fi
  local binary="$folder/bin/$(basename "${module%@*}")"
  if [ -x "$binary" ]; then return; fi
  require_go "$what"
  echo "smsrouter: building $what with Go into $folder/bin (a few minutes, once)..."
  GOBIN="$PWD/$folder/bin" go install "$module"
}

if [ -z "${TEMPORAL_CLI:-}" ] || [ ! -x "$TEMPORAL_CLI" ]; then
  if ! command -v temporal >/dev/null 2>&1 && [ ! -x .tools/bin/temporal ]; then
    require_go "the Temporal CLI"
    echo "smsrouter: building the Temporal CLI v1.5.1 with Go into .tools/bin (a few minutes, once)..."
    GOBIN="$PWD/.tools/bin" go install github.com/temporalio/cli/cmd/temporal@v1.5.1
  fi
fi

if [ "$temporal_shape" = server ]; then
  go_tool "the Temporal server v1.29.1" TEMPORAL_SERVER_BIN temporal-server .tools/temporal-server go.temporal.io/server/cmd/server@v1.29.1
  go_tool "the Temporal sql tool v1.29.1" TEMPORAL_SQL_TOOL temporal-sql-tool .tools/temporal-server go.temporal.io/server/cmd/tools/sql@v1.29.1
  go_tool "the Temporal UI server v2.42.1" TEMPORAL_UI_SERVER temporal-ui-server .tools/temporal-ui github.com/temporalio/ui-server/v2/cmd/server@v2.42.1
fi
