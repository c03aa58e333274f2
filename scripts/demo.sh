#!/usr/bin/env bash
# The main job on the embedded default: sets everything up (apt + pinned DuckDB, build), then
# plays an incident and its recovery on a demo warehouse in ./demo/warehouse.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
cmake --preset release >/dev/null
cmake --build build -j "$(nproc)" --target backfill
exec bash scripts/incident.sh
