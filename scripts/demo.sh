#!/usr/bin/env bash
# Set up (scripts/bootstrap.sh) and start the wizard against the built-in sandbox lab.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/ocp-airgap demo "$@"
