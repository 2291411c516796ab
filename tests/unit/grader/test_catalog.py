"""One lab catalog: every front resolves a lab's name to the same lab.yaml, DOCKYARD_LABS included."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.errors import DockyardError
from grader import catalog
from grader.course import layout
from grader.errors import SpecError
from grader.spec import find_lab

REPO = Path(__file__).resolve().parents[3]


def make_lab(root: Path, name: str, graded: bool = True) -> Path:
    d = root / name
    d.mkdir(parents=True)
    (d / "lab.yaml").write_text("schema_version: 1\n")
    if graded:
        (d / f"{name}.ipynb").write_text("{}")
    return d


def test_every_front_reads_the_same_labs_folder_from_dockyard_labs(tmp_path, monkeypatch):
    lab = make_lab(tmp_path / "labs", "05-dockerfile")
    monkeypatch.setenv("DOCKYARD_LABS", str(tmp_path / "labs"))
    # dockyard check / grader.check, class grading and award() in a graded cell
    assert find_lab("05", prefer="lab") == lab
    assert layout.lab_dir("dockerfile") == lab
    assert catalog.spec_path("05-dockerfile") == lab / "lab.yaml"


def test_without_dockyard_labs_it_is_this_checkouts_labs_never_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("DOCKYARD_LABS", raising=False)
    make_lab(tmp_path / "labs", "05-dockerfile")  # a student's folder with a lab.yaml of their own
    monkeypatch.chdir(tmp_path)
    assert find_lab("05-dockerfile", prefer="lab") == REPO / "labs" / "05-dockerfile"


def test_a_name_is_the_folder_its_number_or_its_topic():
    lab = Path("/x/07-volumes")
    assert all(catalog.answers_to(lab, n) for n in ("07-volumes", "07", "volumes"))
    assert not catalog.answers_to(lab, "volume") and not catalog.answers_to(lab, "7")


def test_a_lessons_checks_and_a_lab_of_the_same_name_are_told_apart_by_prefer(tmp_path):
    labs = tmp_path / "labs"
    lab = make_lab(labs, "01-namespaces")
    checks = tmp_path / "notebooks" / "checks"
    checks.mkdir(parents=True)
    (checks / "01-namespaces.yaml").write_text("schema_version: 1\n")
    assert catalog.find("01-namespaces", labs) == checks / "01-namespaces.yaml"
    assert catalog.find("01-namespaces", labs, prefer="lab") == lab


def test_only_labs_with_a_source_notebook_are_graded(tmp_path):
    make_lab(tmp_path, "01-a")
    make_lab(tmp_path, "02-b", graded=False)
    assert [d.name for d in catalog.labs(tmp_path)] == ["01-a", "02-b"]
    assert [d.name for d in catalog.graded_labs(tmp_path)] == ["01-a"]
    with pytest.raises(DockyardError, match="no graded lab called 'b'") as err:
        layout.lab_dir("b", tmp_path)
    assert "01-a" in err.value.fix


def test_an_unknown_name_lists_the_labs_there(tmp_path):
    make_lab(tmp_path, "01-a")
    with pytest.raises(SpecError, match="01-a"):
        find_lab("nope", tmp_path)
