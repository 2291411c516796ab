"""The runner turns outcomes, missing objects and crashes into results, and always cleans up."""

from __future__ import annotations

import os
import tempfile

import pytest

from dockyard.errors import ContainerNotFound, DaemonError, ImageNotFound
from dockyard.safefs import TreeTooLarge
from grader import runner
from grader.checks import base
from grader.spec import CheckSpec, Lab, Task


class FakeCtx:
    cleaned = 0

    def cleanup(self):
        FakeCtx.cleaned += 1


@pytest.fixture
def register(monkeypatch):
    base.load_all()

    def add(name, func):
        monkeypatch.setitem(base.REGISTRY, name, base.CheckType(name, func, {}, name))
    return add


def spec(name, hints=None, points=2):
    return CheckSpec(id=name, type=name, title=name, points=points, params={}, hints=hints or {})


def test_pass_earns_the_points(register):
    register("t.ok", lambda ctx: base.ok("fine"))
    r = runner.run_check(FakeCtx(), spec("t.ok"))
    assert r.passed and r.points == 2 and r.status == "passed" and r.hint is None


def test_hint_is_chosen_by_reason_then_check_then_default(register):
    register("t.root", lambda ctx: base.fail("runs as root", reason="root", hint="generic"))
    r = runner.run_check(FakeCtx(), spec("t.root", hints={"root": "lab says: USER app", "default": "d"}))
    assert (r.points, r.hint, r.reason, r.status) == (0, "lab says: USER app", "root", "failed")
    assert runner.run_check(FakeCtx(), spec("t.root", hints={"other": "x"})).hint == "generic"
    register("t.nohint", lambda ctx: base.fail("nope", reason="x"))
    assert runner.run_check(FakeCtx(), spec("t.nohint", hints={"default": "d"})).hint == "d"


def test_failed_raised_from_a_helper(register):
    def f(ctx):
        raise base.Failed(base.fail("image was not built", reason="not_built"))
    register("t.raise", f)
    r = runner.run_check(FakeCtx(), spec("t.raise"))
    assert r.reason == "not_built" and not r.passed


@pytest.mark.parametrize("exc,hint_word", [
    (ImageNotFound("inspecting image app: No such image: app"), "docker build"),
    (ContainerNotFound("inspecting container web: No such container: web"), "docker run --name"),
])
def test_missing_objects_are_failures_with_their_own_hints(register, exc, hint_word):
    def f(ctx):
        raise exc
    register("t.missing", f)
    r = runner.run_check(FakeCtx(), spec("t.missing"))
    assert r.status == "failed" and r.reason == "missing" and hint_word in r.hint and "No such" in r.message


def test_a_crashing_check_is_an_error_not_a_pass(register):
    register("t.crash", lambda ctx: 1 / 0)
    r = runner.run_check(FakeCtx(), spec("t.crash"))
    assert r.status == "error" and not r.passed and r.points == 0 and "ZeroDivisionError" in r.message


def test_a_dead_daemon_is_an_error_with_the_fix(register):
    def f(ctx):
        raise DaemonError("the daemon does not answer", "dockyard up")
    register("t.dead", f)
    r = runner.run_check(FakeCtx(), spec("t.dead"))
    assert r.status == "error" and r.hint == "dockyard up"


def test_grade_cleans_up_even_on_ctrl_c(register, monkeypatch, tmp_path):
    def interrupt(ctx):
        raise KeyboardInterrupt
    register("t.ok", lambda ctx: base.ok("fine"))
    register("t.int", interrupt)
    cleaned = []
    monkeypatch.setattr(runner.Context, "cleanup", lambda self: cleaned.append(True))
    lab = Lab(id="l", title="L", path=tmp_path, tasks=(Task("a", "A", (spec("t.ok"), spec("t.int"))),))
    with pytest.raises(KeyboardInterrupt):
        runner.grade(lab, client=object())
    assert cleaned == [True]


def test_merged_submission_puts_student_files_over_the_starter(tmp_path):
    starter, student = tmp_path / "starter", tmp_path / "student"
    starter.mkdir(), student.mkdir()
    (starter / "app.py").write_text("starter")
    (starter / "Dockerfile").write_text("FROM starter")
    (student / "Dockerfile").write_text("FROM student")
    with runner.merged_submission(starter, student) as merged:
        assert (merged / "app.py").read_text() == "starter"
        assert (merged / "Dockerfile").read_text() == "FROM student"
    assert not merged.exists()


def test_merged_submission_over_a_cap_fails_with_the_cap_and_leaves_no_copy(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setitem(runner.HAND_IN_CAPS, "max_files", 3)
    student = tmp_path / "student"
    student.mkdir()
    for i in range(5):
        (student / f"data{i}.csv").write_text("1,2\n")
    with pytest.raises(TreeTooLarge, match="more than 3 files") as caught:
        with runner.merged_submission(None, student):
            pass
    assert caught.value.fix.endswith("the cap is 3")
    assert list((tmp_path / "tmp").iterdir()) == []


def test_merged_submission_leaves_out_links_out_and_fifos(tmp_path):
    student = tmp_path / "student"
    student.mkdir()
    (student / "Dockerfile").write_text("FROM student")
    os.symlink("/etc/passwd", student / "passwd")
    os.symlink("Dockerfile", student / "Containerfile")
    os.mkfifo(student / "pipe")
    with runner.merged_submission(None, student) as merged:
        assert sorted(p.name for p in merged.iterdir()) == ["Containerfile", "Dockerfile"]
        assert (merged / "Containerfile").is_symlink()
