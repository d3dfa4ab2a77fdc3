#!/usr/bin/env bash
# Create (once) the project's virtual environment in .venv and install chaingrad into it
# with the extras named in $CHAINGRAD_EXTRAS. Sourced by the run and test scripts.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
py="${PYTHON:-python3}"
extras="${CHAINGRAD_EXTRAS:-}"
stamp="$venv/.installed-${extras:-base}"
if [ ! -x "$venv/bin/python" ]; then
    "$py" -m venv "$venv"
fi
if [ ! -f "$stamp" ] || [ "$root/pyproject.toml" -nt "$stamp" ]; then
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    spec="$root"
    [ -n "$extras" ] && spec="$root[$extras]"
    "$venv/bin/python" -m pip install --quiet -e "$spec"
    touch "$stamp"
fi
export PATH="$venv/bin:$PATH"
# One BLAS/OpenMP thread unless asked otherwise: the engine's matrices are small, and on a
# busy 2-core machine two BLAS threads can make a matmul tens of times slower.
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
export MKL_NUM_THREADS="${MKL_NUM_THREADS:-1}"
