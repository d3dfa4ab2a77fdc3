#!/usr/bin/env bash
# The project's main job: sets up .venv and trains an MLP on the embedded MNIST digits.
# Extra arguments go to `python -m nn train` (see `--help`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
CHAINGRAD_EXTRAS="plot" source scripts/env.sh
python -m nn train "$@"
