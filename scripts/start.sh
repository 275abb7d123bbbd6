#!/usr/bin/env bash
# `npm start [-- --temporal=server]`: installs what is missing for that shape, then runs the supervisor
# in this process (exec), so that Ctrl-C reaches it and it stops the parts in order.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-tools.sh "$@"
exec node --import tsx scripts/start.ts "$@"
