#!/usr/bin/env bash
# Set up and run the main job on this machine: a local three-agency devnet, anchored to an
# embedded chain, with the console attached to the first agency. Quit the console (q) to stop it.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec .venv/bin/calpe devnet --dir "${CALPE_DEVNET_DIR:-.devnet}" "$@"
