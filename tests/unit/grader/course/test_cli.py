"""dockyard course ... and dockyard grade: examples in help, clear errors, a report from a course."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli import main
from grader.course.cli import course

FIXTURES = Path(__file__).resolve().parents[3] / "data" / "labs"


def run(*args):
    return CliRunner().invoke(main, list(args))


@pytest.mark.parametrize("command", sorted(course.commands))
def test_every_course_command_has_an_example(command):
    result = run("course", command, "--help")
    assert result.exit_code == 0
    assert "dockyard " in result.output.split("Example", 1)[1]


def test_grading_an_unreleased_lab_says_how_to_release_it(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKYARD_LABS", str(FIXTURES))
    result = run("grade", "90-fixture", "--course", str(tmp_path / "c"))
    assert result.exit_code == 1
    assert "error: 90-fixture has not been released" in result.stderr
    assert f"dockyard course release 90-fixture --course {tmp_path / 'c'}" in result.stderr


def test_an_unknown_lab_lists_the_graded_ones(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKYARD_LABS", str(FIXTURES))
    result = run("grade", "99", "--course", str(tmp_path))
    assert result.exit_code == 1 and "no graded lab called '99'" in result.stderr and "90-fixture" in result.stderr


def test_repository_nbgrader_config_applies_dockyard_settings(tmp_path, monkeypatch):
    from traitlets.config import Config

    monkeypatch.setenv("DOCKYARD_COURSE", str(tmp_path / "course"))
    c = Config()
    src = (Path(__file__).resolve().parents[4] / "nbgrader_config.py").read_text()
    exec(compile(src, "nbgrader_config.py", "exec"), {"get_config": lambda: c, "__file__": "nbgrader_config.py"})
    assert c.CourseDirectory.root == str(tmp_path / "course")
    assert c.Execute.timeout == 120
    assert "ClearHiddenTests" in [p.__name__ for p in c.GenerateFeedback.preprocessors]
