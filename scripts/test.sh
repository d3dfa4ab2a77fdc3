#!/usr/bin/env bash
# The project's test command: sets up .venv, installs test and notebook extras and
# Graphviz where possible, then runs ruff and the whole pytest suite.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
CHAINGRAD_EXTRAS="test,notebooks" source scripts/env.sh
bash scripts/graphviz.sh
python -m ruff check .
python -m pytest "$@"
