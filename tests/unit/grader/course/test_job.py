"""The Kubernetes Job's entrypoint without a daemon: index → hand-in, pending results, the one-writer merge.

``grading.GradingRun`` is replaced by a fake whose ``grade_one`` leaves what a real worker leaves (an
autograded notebook, feedback, a private gradebook with the hand-in's grades); the real one is
exercised by tests/integration/grader/test_k8s_job.py.
"""

import json
import shutil

import pytest

from dockyard.errors import DockyardError
from grader.course import gradebook, grading, job, landing
from grader.course.grading import Outcome
from grader.course.layout import Course

from .test_grading import LAB, course, fake_private_grades, hand_in, released_course  # noqa: F401 (fixtures)

GRADES = {"ann": (1.0, 2.0), "bob": (0.0, 2.0), "cy": (1.0, 0.0)}


@pytest.fixture
def fake_run(monkeypatch, tmp_path):
    """grading.GradingRun, minus sandboxes and nbgrader: grade_one leaves a worker's files in a temporary folder."""
    made = []

    class FakeRun:
        status = "ok"

        def __init__(self, course, lab, limits, stop, jobs):
            self.course, self.lab = course, lab
            made.append(self)

        def grade_one(self, student, fp):
            work = tmp_path / "work" / student
            priv = Course(work / "course")
            nb = priv.autograded(student, self.lab)
            nb.mkdir(parents=True)
            (nb / f"{self.lab}.ipynb").write_text("{}")
            (nb / "dockyard-evidence.json").write_text(json.dumps({"student": student}))
            fb = priv.feedback(student, self.lab)
            fb.mkdir(parents=True)
            (fb / f"{self.lab}.html").write_text("<html>feedback</html>")
            fake_private_grades(self.course, work, student, *GRADES[student])
            shutil.move(work / f"{student}.db", priv.db)
            if FakeRun.status != "ok":
                return Outcome(student, self.lab, FakeRun.status, "nbgrader failed before any cell ran",
                               fingerprint=fp, workdir=work)
            return Outcome(student, self.lab, "ok", "graded", merged=True, fingerprint=fp, workdir=work)

        def close(self):
            self.closed = True

    monkeypatch.setattr(grading, "GradingRun", FakeRun)
    monkeypatch.setattr(landing, "remove_work", lambda work: shutil.rmtree(work, ignore_errors=True))
    FakeRun.made = made
    return FakeRun


@pytest.fixture
def klass(course):
    for s in GRADES:
        hand_in(course, s)
    return course


def test_index_i_grades_the_ith_sorted_student_and_leaves_the_gradebook_alone(klass, fake_run):
    before = gradebook.scores(klass.db, LAB)
    out, code = job.grade_index(klass, LAB, 1, expected=3)
    assert (out.student, out.status, code) == ("bob", "ok", 0)
    pending = job.pending_dir(klass, LAB) / "bob"
    assert json.loads((pending / job.OUTCOME).read_text())["student"] == "bob"
    assert (Course(pending / "course").autograded("bob", LAB) / "dockyard-evidence.json").exists()
    assert gradebook.scores(klass.db, LAB) == before  # the merge is the only writer
    assert not (klass.root / "grading" / LAB / "bob.json").exists()
    assert fake_run.made[0].closed  # its warm workers and reaper are always closed
    assert not (fake_run.made[0].course.root.parent / "work" / "bob").exists()  # the worker's folder went


def test_merge_lands_every_result_once_with_status_files(klass, fake_run):
    for i in range(3):
        job.grade_index(klass, LAB, i)
    landed = job.merge(klass, LAB)
    assert [(o.student, o.status, o.score) for o in landed] == [("ann", "ok", 3.0), ("bob", "ok", 2.0),
                                                                 ("cy", "ok", 1.0)]
    assert {s: v["score"] for s, v in gradebook.scores(klass.db, LAB).items()} == {"ann": 3.0, "bob": 2.0, "cy": 1.0}
    assert (klass.feedback("ann", LAB) / f"{LAB}.html").exists()
    assert json.loads(klass.status_file(LAB, "cy").read_text())["merged"] is True
    assert not any(job.pending_dir(klass, LAB).iterdir())  # consumed
    assert job.merge(klass, LAB) == []  # nothing twice


def test_a_graded_unchanged_hand_in_is_skipped_and_a_changed_one_graded_again(klass, fake_run):
    job.grade_index(klass, LAB, 0)
    job.merge(klass, LAB)
    assert job.grade_index(klass, LAB, 0) == (None, 0)
    (klass.submitted(LAB, "ann") / "extra.txt").write_text("changed")
    out, _ = job.grade_index(klass, LAB, 0)
    assert out.student == "ann"


def test_the_class_must_be_the_one_the_job_was_written_for(klass, fake_run):
    with pytest.raises(DockyardError, match="3 hand-ins now, 4 when the Job was written"):
        job.grade_index(klass, LAB, 0, expected=4)
    with pytest.raises(DockyardError, match="JOB_COMPLETION_INDEX 3 is out of range"):
        job.grade_index(klass, LAB, 3)


def test_a_hand_in_whose_code_never_ran_asks_for_a_fresh_pod_then_is_recorded(klass, fake_run):
    fake_run.status = "failed"
    out, code = job.grade_index(klass, LAB, 0, retries_left=1)
    assert code == job.RETRY_EXIT and not (job.pending_dir(klass, LAB) / "ann").exists()
    out, code = job.grade_index(klass, LAB, 0, retries_left=0)  # the last attempt: its failure is its result
    assert code == 0 and (job.pending_dir(klass, LAB) / "ann" / job.OUTCOME).exists()
    [landed] = job.merge(klass, LAB)
    assert (landed.status, landed.merged) == ("failed", False)
    assert "ann" not in gradebook.scores(klass.db, LAB)  # no silent zero


def test_the_merge_waits_for_results_and_records_those_that_never_came(klass, fake_run):
    job.grade_index(klass, LAB, 0)
    assert job.waiting_for(klass, LAB) == ["bob", "cy"]
    landed = {o.student: o for o in job.merge(klass, LAB, wait=0.2, poll=0.05)}
    assert landed["ann"].status == "ok"
    assert landed["bob"].status == "failed" and "no result from its grading pod" in landed["bob"].message
    assert json.loads(klass.status_file(LAB, "cy").read_text())["status"] == "failed"


def test_main_reads_the_index_from_the_environment(klass, fake_run, monkeypatch, capsys):
    monkeypatch.setenv("JOB_COMPLETION_INDEX", "2")
    monkeypatch.setenv("DOCKYARD_HANDINS", "3")
    assert job.main(["grade", LAB, "--course", str(klass.root)]) == 0
    assert json.loads(capsys.readouterr().out)["student"] == "cy"
    assert job.main(["merge", LAB, "--course", str(klass.root)]) == 0
    assert "cy" in capsys.readouterr().out
    monkeypatch.delenv("JOB_COMPLETION_INDEX")
    assert job.main(["grade", LAB, "--course", str(klass.root)]) == 2
    assert "JOB_COMPLETION_INDEX is not set" in capsys.readouterr().err


def test_retries_left_come_from_the_job_controllers_failure_count(klass, fake_run, monkeypatch):
    fake_run.status = "failed"
    monkeypatch.setenv("JOB_COMPLETION_INDEX", "0")
    monkeypatch.setenv("DOCKYARD_BACKOFF_PER_INDEX", "1")
    monkeypatch.setenv("DOCKYARD_INDEX_FAILURES", "0")
    assert job.main(["grade", LAB, "--course", str(klass.root)]) == job.RETRY_EXIT
    monkeypatch.setenv("DOCKYARD_INDEX_FAILURES", "1")
    assert job.main(["grade", LAB, "--course", str(klass.root)]) == 0
