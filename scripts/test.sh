#!/usr/bin/env bash
# Set up and run the whole test suite: lint, format, types, import contracts, then pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh --dev
export PATH="$PWD/.venv/bin:$PATH"

echo "==> ruff check";      ruff check .
echo "==> ruff format";     ruff format --check .
echo "==> mypy --strict";   mypy
echo "==> import contracts"; lint-imports
echo "==> pytest"
set +e
python -m pytest -q -p no:cacheprovider "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then echo "error: pytest collected no tests" >&2; fi
exit "$status"
