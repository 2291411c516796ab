"""Every lesson runs end to end against a fresh sandbox, with a per-cell timeout, as a learner runs it.

The kernel starts as under `dockyard lab` run by root: through the launcher, as an unprivileged
uid in a private view of the host, on the learner's own copy of the lessons, with its checks
graded by the check service in this process (:mod:`grader.learner`)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from grader.learner import LearnerSession
from grader.course import worker

from .conftest import make_sandbox

LESSONS = Path(__file__).resolve().parents[2] / "notebooks"
NOTEBOOKS = sorted(LESSONS.glob("[0-9][0-9]-*.ipynb"))
CELL_TIMEOUT = int(os.environ.get("DOCKYARD_CELL_TIMEOUT", "180"))


def test_lessons_exist():
    assert NOTEBOOKS, "no lesson notebooks found"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_end_to_end(path, monkeypatch, tmp_path):
    nb = nbformat.read(path, as_version=4)
    work = tmp_path / "work"
    with make_sandbox(workspace=(str(work),)) as box, LearnerSession(box, LESSONS, work=work) as learner:
        # the sandbox's variables, TMPDIR in its scratch folder (bindable), the plan, the check service
        for key, value in learner.env(dict(os.environ)).items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("JUPYTER_PATH", str(worker.kernelspec(tmp_path / "kernelspec")))
        t0 = time.monotonic()
        NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name=worker.KERNEL,
                       resources={"metadata": {"path": str(work)}}).execute()
        print(f"{path.name}: {time.monotonic() - t0:.1f} s as uid {learner.uid}")


def test_notebooks_are_stored_without_outputs():
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        for i, cell in enumerate(nb.cells):
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, f"{path.name} cell {i} has stored output"
