"""Each lesson's self-check spec loads, and the lesson's check cells ask for exactly its tasks."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

import grader

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
SPECS = sorted((NOTEBOOKS / "checks").glob("*.yaml"))


def check_cell_tasks(lesson: str) -> list[str]:
    nb = nbformat.read(NOTEBOOKS / f"{lesson}.ipynb", as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    return re.findall(rf'grader\.check\("{re.escape(lesson)}", task="([^"]+)"', code)


def test_every_lesson_with_exercises_has_a_spec():
    lessons = {p.stem for p in NOTEBOOKS.glob("[0-9][0-9]-*.ipynb")} - {"00-welcome"}
    assert lessons == {p.stem for p in SPECS}


@pytest.mark.parametrize("spec", SPECS, ids=[p.stem for p in SPECS])
def test_spec_tasks_are_exactly_the_lessons_check_cells(spec):
    lab = grader.load(spec)
    assert lab.id == spec.stem
    asked = check_cell_tasks(spec.stem)
    assert asked, f"{spec.stem} has no grader.check cell"
    assert set(asked) == {t.id for t in lab.tasks}
    assert grader.find_lab(spec.stem) == spec
