"""Class grading without a daemon: release, gradebook merge, statuses, resumability, reports."""

import json
import shutil
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from grader.course import diagnosis, gradebook, grading, labnb, report
from grader.course.isolation import Answer
from grader.course.layout import Course
from grader.course.release import release

FIXTURES = Path(__file__).resolve().parents[3] / "data" / "labs"
LAB = "90-fixture"


@pytest.fixture(scope="module")
def released_course(tmp_path_factory):
    """One released course (nbgrader generate_assignment is a few seconds), copied per test."""
    import os

    old = os.environ.get("DOCKYARD_LABS")
    os.environ["DOCKYARD_LABS"] = str(FIXTURES)
    try:
        course = Course.at(tmp_path_factory.mktemp("course") / "c")
        release(course, [LAB], progress=lambda _m: None)
    finally:
        if old is None:
            os.environ.pop("DOCKYARD_LABS", None)
        else:
            os.environ["DOCKYARD_LABS"] = old
    return course


@pytest.fixture
def course(released_course, tmp_path, monkeypatch) -> Course:
    monkeypatch.setenv("DOCKYARD_LABS", str(FIXTURES))
    dest = tmp_path / "course"
    shutil.copytree(released_course.root, dest)
    return Course.at(dest)


def test_release_stages_only_what_students_may_see(course):
    src = course.source(LAB)
    assert sorted(p.name for p in src.iterdir()) == ["90-fixture.ipynb", "README.md"]
    nb = nbformat.read(course.release(LAB) / "90-fixture.ipynb", as_version=4)
    text = "\n".join(c.source for c in nb.cells)
    assert "BEGIN SOLUTION" not in text and "docker run -d --name web" not in text
    assert "note-kept" not in text and "BEGIN HIDDEN" not in text
    assert (course.root / "nbgrader_config.py").exists()
    with Gradebook(gradebook.url(course.db)) as gb:
        assert gb.find_assignment(LAB).max_score == 3


def test_an_inconsistent_lab_is_not_released(course, tmp_path, monkeypatch):
    from dockyard.errors import DockyardError

    labs = tmp_path / "labs"
    shutil.copytree(FIXTURES, labs)
    nb = labnb.read(labs / LAB)
    nb.cells[3].metadata.nbgrader.points = 9
    nbformat.write(nb, labnb.notebook_path(labs / LAB))
    monkeypatch.setenv("DOCKYARD_LABS", str(labs))
    with pytest.raises(DockyardError, match="worth 9 points"):
        release(course, [LAB], progress=lambda _m: None)


def fake_private_grades(course: Course, tmp_path: Path, student: str, web: float, data: float) -> Path:
    """A worker's private gradebook as nbgrader autograde would leave it."""
    priv = tmp_path / f"{student}.db"
    gradebook.snapshot(course.db, priv)
    with Gradebook(gradebook.url(priv)) as gb:
        gb.update_or_create_student(student)
        gb.update_or_create_submission(LAB, student)
        gb.find_grade("test-web", LAB, LAB, student).auto_score = web
        gb.find_grade("test-data", LAB, LAB, student).auto_score = data
        gb.db.commit()
    return priv


def test_merge_brings_one_students_grades_into_the_course(course, tmp_path):
    priv = fake_private_grades(course, tmp_path, "ann", 1.0, 0.0)
    cells = gradebook.merge(priv, course.db, LAB, "ann")
    assert cells == {"test-web": (1.0, 1.0), "test-data": (0.0, 2.0)}
    got = gradebook.scores(course.db, LAB)
    assert got["ann"]["score"] == 1.0 and got["ann"]["max_score"] == 3.0
    # grading again replaces the auto scores, and a teacher's manual score is kept and flagged
    with Gradebook(gradebook.url(course.db)) as gb:
        gb.find_grade("test-data", LAB, LAB, "ann").manual_score = 1.5
        gb.db.commit()
    (tmp_path / "again").mkdir()
    gradebook.merge(fake_private_grades(course, tmp_path / "again", "ann", 0.0, 2.0), course.db, LAB, "ann")
    with Gradebook(gradebook.url(course.db)) as gb:
        g = gb.find_grade("test-data", LAB, LAB, "ann")
        assert (g.auto_score, g.manual_score, g.needs_manual_grade) == (2.0, 1.5, True)
        assert gb.find_grade("test-web", LAB, LAB, "ann").auto_score == 0.0


def nb_with_error(tmp_path, ename, evalue="", index=2) -> Path:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x") for _ in range(4)])
    nb.cells[index].outputs = [nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[])]
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.mark.parametrize("ename,status,words", [
    ("CellTimeoutError", "cell-timeout", "timed out after 7 s in cell 3"),
    ("GraderError", "grader-error", "the checks could not run in cell 3: no sandbox"),
])
def test_diagnose_names_the_cell(tmp_path, ename, status, words):
    limits = grading.Limits(cell_timeout=7)
    got = diagnosis.diagnose(Answer({}, 1.0), 0, nb_with_error(tmp_path, ename, "no sandbox"), limits)
    assert got == (status, words)


def test_diagnose_timeouts_memory_forks_and_crashes(tmp_path):
    limits = grading.Limits(notebook_timeout=30, memory="256m", pids=64)
    missing = tmp_path / "none.ipynb"
    assert diagnosis.diagnose(Answer(None, 30, timed_out=True), 0, missing, limits)[1].startswith(
        "timed out after 30 s for the whole notebook")
    status, msg = diagnosis.diagnose(Answer({}, 3), 1, missing, limits)
    assert status == "out-of-memory" and msg.startswith("killed: out of memory (the notebook went over 256m)")
    status, msg = diagnosis.diagnose(Answer({}, 3), 0, missing, limits, pids_hits=12)
    assert status == "process-cap" and "cap of 64 processes 12 times" in msg
    dead = {"autograde": {"success": False, "error": "nbclient.exceptions.DeadKernelError: Kernel died"}}
    assert diagnosis.diagnose(Answer(dead, 3), 0, missing, limits)[0] == "kernel-died"
    assert diagnosis.diagnose(Answer(None, 1, interrupted=True), 0, missing, limits)[0] == "interrupted"
    ok = tmp_path / "ok.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), ok)
    assert diagnosis.diagnose(Answer({}, 1), 0, ok, limits) == ("ok", "graded")


def hand_in(course: Course, student: str, variant=None) -> Path:
    return labnb.write_submission(FIXTURES / LAB, course.release(LAB), course.submitted(LAB, student), variant)


def test_graded_unchanged_hand_ins_are_skipped_without_starting_anything(course, monkeypatch):
    hand_in(course, "ann")
    fp = grading.fingerprint(course.submitted(LAB, "ann"))
    status = course.status_file(LAB, "ann")
    status.parent.mkdir(parents=True)
    status.write_text(json.dumps({"student": "ann", "lab": LAB, "status": "ok", "message": "graded", "merged": True,
                                  "score": 3, "max_score": 3, "fingerprint": fp}))

    def no_run(*_a, **_kw):
        raise AssertionError("nothing should be graded")

    monkeypatch.setattr(grading, "GradingRun", no_run)
    seen = []
    got = grading.grade_class(course, LAB, progress=seen.append)
    assert [(o.student, o.skipped, o.score) for o in got] == [("ann", True, 3)]
    assert seen == got
    (course.submitted(LAB, "ann") / "README.md").write_text("changed\n")  # a resubmission is graded again
    with pytest.raises(AssertionError, match="nothing should be graded"):
        grading.grade_class(course, LAB)


def test_grading_needs_a_release_and_known_students(course, tmp_path):
    from dockyard.errors import DockyardError

    with pytest.raises(DockyardError, match="has not been released"):
        grading.grade_class(Course.at(tmp_path / "empty"), LAB)
    hand_in(course, "ann")
    with pytest.raises(DockyardError, match="no hand-in of 90-fixture from zed"):
        grading.grade_class(course, LAB, students=["zed"])


def test_sandbox_names_are_short_stable_and_distinct(course):
    a, b = grading.sandbox_name(course, LAB, "ann"), grading.sandbox_name(course, LAB, "bob")
    assert a != b and a == grading.sandbox_name(course, LAB, "ann") and len(a) <= 12


def test_report_csv_and_failure_chart(course, tmp_path):
    for student, web, data in (("ann", 1.0, 2.0), ("bob", 1.0, 0.0), ("cy", 0.0, 0.0)):
        hand_in(course, student)
        gradebook.merge(fake_private_grades(course, tmp_path, student, web, data), course.db, LAB, student)
        course.status_file(LAB, student).parent.mkdir(parents=True, exist_ok=True)
        course.status_file(LAB, student).write_text(json.dumps({"status": "ok", "message": "graded", "merged": True}))
    hand_in(course, "dee")
    course.status_file(LAB, "dee").write_text(json.dumps(
        {"status": "notebook-timeout", "message": "timed out after 900 s for the whole notebook", "merged": False}))
    csv_path, html_path = report.write(course, LAB)
    lines = csv_path.read_text().splitlines()
    assert lines[0] == "student,score,max_score,percent,status,message,test-web,test-data"
    assert lines[1] == "ann,3,3,100.0,ok,graded,1,2"
    assert lines[4] == "dee,,,,notebook-timeout,timed out after 900 s for the whole notebook,,"  # never a silent 0
    rates = report.failure_rates(report.rows(course, LAB), report.tasks(LAB))
    assert [(t.cell, lost, n) for t, lost, n in rates] == [("test-data", 2, 3), ("test-web", 1, 3)]
    page = html_path.read_text()
    assert "the volume holds the note (hidden test)" in page and "2/3" in page and "1 need a look" in page


@pytest.mark.parametrize("output,clash", [
    (nbformat.v4.new_output("stream", text="docker: Error response from daemon: driver failed programming external "
                                            "connectivity on endpoint web: Bind for 127.0.0.1:8080 failed: port is "
                                            "already allocated.\n"), True),
    (nbformat.v4.new_output("error", ename="OSError", evalue="[Errno 98] Address already in use", traceback=[]), True),
    (nbformat.v4.new_output("stream", text="web is running on 127.0.0.1:8080\n"), False),
])
def test_port_clash_is_recognised_in_any_output(tmp_path, output, clash):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x")])
    nb.cells[0].outputs = [output]
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    assert diagnosis.port_clash(path) is clash
    assert diagnosis.port_clash(tmp_path / "missing.ipynb") is False


def test_a_hand_in_whose_nbgrader_failed_before_any_cell_is_graded_again_alone(tmp_path, monkeypatch):
    """An infrastructure failure beside another hand-in (its code never ran) must not become its grade."""
    from grader.course import grading

    course = Course.at(tmp_path / "course")
    (course.release("90-x") / "90-x.ipynb").parent.mkdir(parents=True)
    (course.release("90-x") / "90-x.ipynb").write_text("{}")
    for s in ("ann", "bob"):
        course.submitted("90-x", s).mkdir(parents=True)
        (course.submitted("90-x", s) / "90-x.ipynb").write_text("{}")
    calls = []

    def grade_one(student, fp):
        calls.append(student)
        if student == "bob" and calls.count("bob") == 1:
            return grading.Outcome(student, "90-x", "failed", "nbgrader autograde failed; no grades were saved",
                                   fingerprint=fp)
        return grading.Outcome(student, "90-x", "ok", "", fingerprint=fp, score=1.0, max_score=1.0,
                               cells={"c": (1.0, 1.0)}, merged=True)

    fake_run(monkeypatch, grade_one)
    got = {o.student: o for o in grading.grade_class(course, "90-x", jobs=2)}
    assert calls.count("bob") == 2 and calls.count("ann") == 1
    assert got["bob"].status == "ok" and "graded again alone: the first attempt failed before any cell ran" in got["bob"].message
    assert got["ann"].message == ""


def test_plan_comes_once_before_any_progress_and_after_the_template(tmp_path, monkeypatch):
    """A bar learns N and how many will be graded first; a first run's template build is not in its clock."""
    from grader.course import grading

    course = Course.at(tmp_path / "course")
    (course.release("90-x") / "90-x.ipynb").parent.mkdir(parents=True)
    (course.release("90-x") / "90-x.ipynb").write_text("{}")
    for s in ("ann", "bob", "cy"):
        course.submitted("90-x", s).mkdir(parents=True)
        (course.submitted("90-x", s) / "90-x.ipynb").write_text("{}")
    status = course.status_file("90-x", "ann")
    status.parent.mkdir(parents=True)
    status.write_text(json.dumps({"student": "ann", "lab": "90-x", "status": "ok", "message": "graded", "merged": True,
                                  "fingerprint": grading.fingerprint(course.submitted("90-x", "ann"))}))
    events = []

    fake_run(monkeypatch, lambda student, fp: grading.Outcome(student, "90-x", "ok", "", fingerprint=fp, seconds=1.0),
             on_start=lambda: events.append("template"))
    grading.grade_class(course, "90-x", jobs=2, plan=lambda total, todo: events.append(("plan", total, todo)),
                        progress=lambda o: events.append((o.student, o.skipped)))
    assert events[:3] == ["template", ("plan", 3, 2), ("ann", True)]
    assert sorted(events[3:]) == [("bob", False), ("cy", False)]


def fake_run(monkeypatch, grade_one, on_start=lambda: None):
    """grading.GradingRun without sandboxes: ``grade_one(student, fingerprint)`` says what each hand-in gets;
    nothing is landed in the course."""
    from grader.course import grading

    class FakeRun:
        def __init__(self, course, lab, limits, stop, jobs):
            self.jobs = jobs
            on_start()

        def grade_one(self, student, fp):
            return grade_one(student, fp)

        def wait_for_teardowns(self):
            pass

        def close(self):
            pass

    monkeypatch.setattr(grading, "GradingRun", FakeRun)
    monkeypatch.setattr(grading, "land", lambda course, outcome: None)


# --- grade_class's and grade_one's steps, each on its own -------------------------------------------

def outcome(student="ann", status="ok", **kw) -> grading.Outcome:
    return grading.Outcome(student, "90-x", status, kw.pop("message", "graded"), **kw)


def test_chosen_students_keeps_the_course_order(tmp_path):
    course = Course.at(tmp_path / "course")
    for s in ("cy", "ann", "bob"):
        course.submitted("90-x", s).mkdir(parents=True)
    assert grading.chosen_students(course, "90-x", None) == ["ann", "bob", "cy"]
    assert grading.chosen_students(course, "90-x", ["cy", "ann"]) == ["ann", "cy"]


def test_a_skipped_hand_in_is_its_last_status_and_only_unchanged_merged_ones_are_skipped():
    prev = {"student": "ann", "lab": "90-x", "status": "ok", "message": "graded", "merged": True, "score": 2.0,
            "fingerprint": "f1", "written_by": "an older Dockyard"}
    assert grading.is_unchanged(prev, "f1")
    assert not grading.is_unchanged(prev, "f2") and not grading.is_unchanged({**prev, "merged": False}, "f1")
    got = grading.skipped(prev)
    assert (got.student, got.status, got.score, got.merged, got.skipped) == ("ann", "ok", 2.0, True, True)


def test_announce_gives_the_plan_then_every_skipped_hand_in():
    events = []
    grading.announce(lambda total, todo: events.append((total, todo)), events.append, 3, 1,
                     [outcome("ann"), outcome("bob")])
    assert [e if isinstance(e, tuple) else e.student for e in events] == [(3, 1), "ann", "bob"]
    grading.announce(None, None, 3, 1, [outcome("ann")])  # nobody listening: nothing to call


def test_retry_alone_only_beside_others_and_only_for_what_the_hand_in_did_not_do():
    clash = outcome(port_clash=True, cells={"c": (1, 1)})
    never_ran = outcome(status="failed", message="nbgrader autograde failed")
    assert grading.retry_alone_because(clash, 2) == "its host ports collided with another hand-in's"
    assert grading.retry_alone_because(never_ran, 2) == \
        "the first attempt failed before any cell ran: nbgrader autograde failed"
    assert grading.retry_alone_because(clash, 1) is None and grading.retry_alone_because(never_ran, 1) is None
    assert grading.retry_alone_because(outcome(status="failed", cells={"c": (0, 1)}), 2) is None
    assert grading.retry_alone_because(outcome(), 2) is None
    again = grading.graded_alone(outcome(message="graded", port_clash=True), "its host ports collided")
    assert (again.message, again.port_clash) == ("graded (graded again alone: its host ports collided)", False)


def test_finished_unlanded_are_the_futures_with_an_outcome_not_taken_yet():
    import concurrent.futures as cf

    done, taken, failed, cancelled, running = (cf.Future() for _ in range(5))
    done.set_result(outcome("ann"))
    taken.set_result(outcome("bob"))
    failed.set_exception(RuntimeError("boom"))
    cancelled.cancel()
    futures = [done, taken, failed, cancelled, running]
    assert grading.finished_unlanded(futures, {id(taken)}) == [done]


def test_a_crash_mid_class_still_lands_the_hand_in_that_finished_meanwhile(tmp_path, monkeypatch):
    """bob's grading raises (as Ctrl-C does) while ann's runs: ann's is stopped, finishes, and is landed."""
    import threading

    stop, landed, seen = threading.Event(), [], []

    class Run:
        jobs = 2

        def grade_one(self, student, fp):
            if student == "bob":
                raise KeyboardInterrupt
            stop.wait(60)  # still running when bob's crash comes; the crash path sets stop
            return outcome(student, status="interrupted" if stop.is_set() else "ok", fingerprint=fp)

    monkeypatch.setattr(grading, "land", lambda course, out: landed.append(out.student))
    outcomes = {}
    with pytest.raises(KeyboardInterrupt):
        grading.ClassGrading(Course.at(tmp_path), Run(), stop, outcomes, seen.append).grade([("ann", "f1"),
                                                                                               ("bob", "f2")])
    assert stop.is_set() and landed == ["ann"] and [o.student for o in seen] == ["ann"]
    assert outcomes["ann"].status == "interrupted" and "bob" not in outcomes


def test_record_timings_takes_the_workers_own_count_and_feedback_when_it_ran():
    from grader.course.isolation import Answer

    out = outcome()
    grading.record_timings(out, Answer({"autograde_seconds": 4.5, "feedback_seconds": 1.25}, 7.0))
    assert out.timings == {"autograde": 4.5, "feedback": 1.25}
    out = outcome()
    grading.record_timings(out, Answer(None, 7.0, timed_out=True))
    assert out.timings == {"autograde": 7.0}


def test_a_failed_feedback_makes_an_ok_hand_in_failed_with_nbgraders_words():
    out = outcome()
    grading.note_feedback(out, {"success": False, "error": "Traceback ...\nValueError: no template"})
    assert out.status == "failed" and out.message.startswith("grades saved, but nbgrader generate_feedback failed: ")
    assert "ValueError: no template" in out.message
    for fb, status in (({"success": True}, "ok"), ({}, "cell-timeout")):
        out = outcome(status=status, message="as it was")
        grading.note_feedback(out, fb if status == "ok" else {})
        assert (out.status, out.message) == (status, "as it was")


def test_failure_message_gives_our_fix_or_the_exceptions_type():
    from dockyard.errors import DockyardError

    assert grading.failure_message(DockyardError("dockerd did not start", "see its log")) == \
        "dockerd did not start (see its log)"
    assert grading.failure_message(OSError("disk gone")) == "OSError: disk gone"
