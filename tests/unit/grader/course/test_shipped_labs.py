"""Every graded lab in labs/ is consistent: notebook ↔ lab.yaml ↔ broken/ and alternatives/."""

from pathlib import Path

import pytest

from grader.course import labnb
from grader.spec import load

LABS = Path(__file__).resolve().parents[4] / "labs"
GRADED = sorted(d for d in LABS.iterdir() if (d / "lab.yaml").exists())


@pytest.mark.parametrize("lab", GRADED, ids=lambda d: d.name)
def test_lab_is_consistent(lab, monkeypatch):
    monkeypatch.setenv("DOCKYARD_LABS", str(LABS))
    assert labnb.validate(lab) == []


@pytest.mark.parametrize("lab", GRADED, ids=lambda d: d.name)
def test_lab_has_what_a_teacher_needs(lab):
    spec = load(lab / "lab.yaml")
    assert (lab / "starter").is_dir(), "starter/ is what students get beside the notebook"
    assert (lab / "solution").is_dir()
    assert len(labnb.variants(lab)) >= 3, "at least three realistic wrong hand-ins"
    assert any(c.hidden for _t, c in spec.checks()), "at least one hidden check"
    for v in labnb.variants(lab):
        text = (v.path / "expected.yaml").read_text()
        assert text.startswith("#"), f"broken/{v.name}/expected.yaml should start with a comment saying what is wrong"
        assert labnb.expected_score(spec, v.failing) < spec.total


def test_every_lesson_topic_has_a_lab():
    names = {d.name.split("-", 1)[0] for d in GRADED}
    assert {"01", "02", "03", "04", "05", "06", "07", "08"} <= names
