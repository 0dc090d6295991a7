#!/usr/bin/env bash
# Set up (scripts/bootstrap.sh) and run every check: lint, types, the engine import rule, and the test suite.
# This is exactly what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
echo "== ruff"
.venv/bin/ruff check engine screens tui cli sandbox tests benchmarks
.venv/bin/ruff format --check engine screens tui cli sandbox tests benchmarks
echo "== mypy"
.venv/bin/mypy
echo "== pytest"
exec .venv/bin/python -m pytest -q -n "${PYTEST_WORKERS:-2}" --dist loadgroup --durations=15 "$@"
