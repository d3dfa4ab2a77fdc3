"""Execute every notebook in notebooks/ top to bottom; each is one test.

A notebook fails when any cell raises, including its last cell, which asserts the
notebook's claims. Cells run with cwd = notebooks/ and the repository root on
``PYTHONPATH`` (so ``import autograd`` works without an install). Skipped when the
notebook extras (nbclient, nbformat, ipykernel) are not installed.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
CELL_TIMEOUT = 300


@pytest.fixture(scope="module")
def kernel_env(monkeypatch_module: pytest.MonkeyPatch) -> None:
    """Let the kernel import the repository's packages without an install."""
    path = os.environ.get("PYTHONPATH", "")
    monkeypatch_module.setenv("PYTHONPATH", str(ROOT) + (os.pathsep + path if path else ""))


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path: Path, kernel_env: None) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
    )
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as exc:
        pytest.fail(f"{path.name}: a cell failed\n{exc}", pytrace=False)
