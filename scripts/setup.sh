#!/usr/bin/env bash
# Create ./.venv and install Calpe into it (idempotent). Usage: scripts/setup.sh [--dev]
# Installs calpe[all] (node, TUI and verifier); --dev adds the test and lint tools (calpe[dev]).
# A verifier-only machine needs just `pip install calpe` (`calpe verify`).
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
extras="[all]"
if [ "${1:-}" = "--dev" ]; then extras="[all,dev]"; fi
# Skip pip when this exact pyproject.toml was already installed with these extras.
stamp=".venv/.calpe-installed${extras}"
wanted="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
    echo "==> installing calpe${extras} into .venv"
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e ".${extras}"
    echo "$wanted" > "$stamp"
fi
if [ "${1:-}" = "--dev" ] && [ -f package.json ]; then
    if ! command -v npm >/dev/null; then
        echo "error: the test suite needs Node.js 20+ and npm (for solc and anvil)" >&2
        exit 2
    fi
    echo "==> installing the contract toolchain (npm ci)"
    npm ci --silent --no-audit --no-fund
fi
if [ "${1:-}" = "--dev" ] && ! command -v tmux >/dev/null; then
    # The console's terminal test drives `calpe tui` in tmux.
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "==> installing tmux (apt)"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tmux >/dev/null
    else
        echo "note: tmux is not installed; the terminal test of the console will be skipped" >&2
    fi
fi
