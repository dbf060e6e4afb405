#!/usr/bin/env bash
# Set up and run the main job on this machine: a local three-agency devnet.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec .venv/bin/calpe demo --dir "${CALPE_DEVNET_DIR:-.devnet}" "$@"
