"""Every lesson runs end to end against a fresh sandbox, with a per-cell timeout."""

from __future__ import annotations

import os
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from .conftest import make_sandbox

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("[0-9][0-9]-*.ipynb"))
CELL_TIMEOUT = int(os.environ.get("DOCKYARD_CELL_TIMEOUT", "180"))


def test_lessons_exist():
    assert NOTEBOOKS, "no lesson notebooks found"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_end_to_end(path, monkeypatch, tmp_path):
    nb = nbformat.read(path, as_version=4)
    with make_sandbox(workspace=(str(tmp_path),)) as box:
        for key, value in box.lesson_env().items():  # TMPDIR too: the lessons' temporary folders may be bound
            monkeypatch.setenv(key, value)
        t0 = time.monotonic()
        NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                       resources={"metadata": {"path": str(tmp_path)}}).execute()
        print(f"{path.name}: {time.monotonic() - t0:.1f} s")


def test_notebooks_are_stored_without_outputs():
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        for i, cell in enumerate(nb.cells):
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, f"{path.name} cell {i} has stored output"
