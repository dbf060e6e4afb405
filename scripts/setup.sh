#!/usr/bin/env bash
# Create ./.venv and install Calpe into it (idempotent). Usage: scripts/setup.sh [--dev]
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "error: Calpe needs Python >= 3.11 (found: $("$PYTHON" --version 2>&1)); set PYTHON=..." >&2
    exit 2
fi
if [ ! -x .venv/bin/python ]; then
    echo "==> creating .venv"
    "$PYTHON" -m venv .venv
fi
extras=""
if [ "${1:-}" = "--dev" ]; then extras="[dev]"; fi
echo "==> installing calpe${extras} into .venv"
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".${extras}"
if [ "${1:-}" = "--dev" ] && [ -f package.json ]; then
    if ! command -v npm >/dev/null; then
        echo "error: the test suite needs Node.js 20+ and npm (for solc and anvil)" >&2
        exit 2
    fi
    echo "==> installing the contract toolchain (npm ci)"
    npm ci --silent --no-audit --no-fund
fi
