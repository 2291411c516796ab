"""Every lesson fits in 45 minutes (the estimate of dockyard.lessonform), states its objectives up front and its
key points at the end, and ends each section that runs code with a self-checked try-it whose task exists."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from dockyard.lessonform import LIMIT_MINUTES, LessonForm, Section, measure

ROOT = Path(__file__).resolve().parents[2]
LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))
TAUGHT = [p for p in LESSONS if not p.name.startswith("00-")]


@pytest.mark.parametrize("path", LESSONS, ids=[p.stem for p in LESSONS])
def test_lesson_fits_the_time_and_has_its_shape(path):
    form = measure(path)
    if path in TAUGHT:
        assert form.problems() == []
    else:
        assert form.minutes <= LIMIT_MINUTES


@pytest.mark.parametrize("path", TAUGHT, ids=[p.stem for p in TAUGHT])
def test_every_try_it_names_a_task_of_the_lessons_checks(path):
    spec = yaml.safe_load((ROOT / "notebooks" / "checks" / f"{path.stem}.yaml").read_text())
    tasks = {t["id"] for t in spec["tasks"]}
    form = measure(path)
    assert form.checks, f"{path.stem} has no self-checked try-it"
    for lesson, task in form.checks:
        assert lesson == path.stem and task in tasks, f"grader.check({lesson!r}, task={task!r}) names no task"


def _notebook(tmp_path, cells):
    nb = {"cells": [{"cell_type": t, "source": s, "metadata": {}, **({"outputs": [], "execution_count": None}
                                                                    if t == "code" else {})} for t, s in cells],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    p = tmp_path / "99-x.ipynb"
    p.write_text(json.dumps(nb))
    return p


def test_a_section_with_code_and_no_try_it_is_reported(tmp_path):
    p = _notebook(tmp_path, [("markdown", "# 99\n\n**You will:** learn"), ("markdown", "## Setting up"),
                             ("code", "x = 1"), ("markdown", "## Ports"), ("code", "sh('docker ps')"),
                             ("markdown", "## Volumes"), ("code", "sh('docker volume ls')"),
                             ("code", 'grader.check("99-x", task="vol")'), ("markdown", "## Key points\n- one")])
    form = measure(p)
    assert form.problems() == ["99-x: section 'Ports' runs code but has no self-checked try-it"]
    assert form.checks == [("99-x", "vol")]


def test_the_estimate_adds_reading_code_cells_and_try_its(tmp_path):
    words = " ".join(["word"] * 300)
    p = _notebook(tmp_path, [("markdown", words), ("code", "a\n\nb\n"), ("code", 'grader.check("99-x", task="t")')])
    form = measure(p)
    assert (form.words, form.code_lines, form.code_cells) == (300, 3, 2)
    assert form.minutes == pytest.approx(300 / 150 + 3 / 10 + 2 * 15 / 60 + 3)
    assert not form.objectives and not form.key_points


def test_an_overlong_lesson_is_reported_with_its_figures():
    form = LessonForm("99-x", words=9000, code_lines=0, code_cells=0, checks=[], sections=[Section("a")],
                      objectives=True, key_points=True)
    assert form.problems() == [f"99-x: about 60 min (words 9000, code lines 0, cells 0, try-its 0); the limit is "
                               f"{LIMIT_MINUTES}"]
