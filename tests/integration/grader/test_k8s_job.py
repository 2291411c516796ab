"""The grading Job's entrypoint, run here as its pods would run it: index 0 and 1 of a 2-hand-in class, then the merge.

The command and environment come from the generated Indexed Job itself (``grader.k8s.jobs``);
only what a cluster provides is put in by hand: ``JOB_COMPLETION_INDEX``, the downward API's
failure count, the course volume's path, and the machine's Dockyard home (where the base images
are seeded) instead of the pod's ``/var/lib/docker/dockyard``. Each index starts its own sandbox
(``g`` + 8 hex digits), which must be gone afterwards (only this test's own are looked for, by
name: the machine-wide check of test_course_grading fails while another grading run is going on). The grades must be those ``dockyard grade``
gives the same hand-ins.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from grader.k8s import jobs
from grader.k8s.cluster import COURSE_MOUNT, Cluster
from grader.course import gradebook, labnb
from grader.course.grading import Limits, grade_class
from grader.course.layout import Course
from grader.course.release import release
from tests.integration.conftest import _require_host
from dockyard.sandbox import list_sandboxes
from grader.course.grading import sandbox_name

REPO = Path(__file__).resolve().parents[3]
LAB = "05-dockerfile"
CLASS = {"student-a": None, "student-b": "runs-as-root"}  # the solution, and a broken variant


def leftovers(*courses: Course) -> list[str]:
    """This test's grading sandboxes still there (only its own: another grading run may be going on)."""
    ours = {sandbox_name(c, LAB, s) for c in courses for s in CLASS}
    return [s.name for s in list_sandboxes() if s.name in ours and s.cfg.dir.exists()]


def pod_command(job: dict, course: Path, index: int) -> tuple[list[str], dict]:
    """What the kubelet would run for ``index``: the container's command and env, on this machine."""
    [c] = job["spec"]["template"]["spec"]["containers"]
    cmd = [sys.executable if a == "python3" else a.replace(COURSE_MOUNT, str(course)) for a in c["command"]]
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKYARD_HOME", "DOCKER_HOST")}
    for e in c["env"]:
        if e["name"] == "DOCKYARD_HOME":
            continue  # the pod's own; here, the machine's, where the base images are seeded
        env[e["name"]] = e["value"] if "value" in e else "0"  # the downward API's failure count, first attempt
    env["JOB_COMPLETION_INDEX"] = str(index)
    return cmd, env


def test_indexed_job_pods_and_merge_give_the_grades_dockyard_grade_gives(tmp_path, monkeypatch):
    _require_host()
    monkeypatch.setenv("DOCKYARD_LABS", str(REPO / "labs"))
    lab_dir = REPO / "labs" / LAB
    course = Course.at(tmp_path / "course")
    release(course, [LAB], progress=lambda _m: None)
    for student, variant in CLASS.items():
        labnb.write_submission(lab_dir, course.release(LAB), course.submitted(LAB, student), variant)
    twin = Course.at(tmp_path / "twin")  # the same class, for dockyard grade
    shutil.copytree(course.root, twin.root)

    job = jobs.grading_job(Cluster(), LAB, len(CLASS), parallelism=2, limits=Limits(notebook_timeout=300, disk=None))
    t0 = time.monotonic()
    for index in range(len(CLASS)):
        cmd, env = pod_command(job, course.root, index)
        res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=360)
        assert res.returncode == 0, res.stdout + res.stderr
        said = json.loads(res.stdout.strip().splitlines()[-1])
        assert (said["index"], said["student"], said["status"]) == (index, sorted(CLASS)[index], "ok"), said
        assert leftovers(course) == []  # the pod's sandbox went with it
    assert gradebook.scores(course.db, LAB) == {}  # no pod writes the gradebook
    assert sorted(p.name for p in (course.root / "grading" / LAB / "pending").iterdir()) == sorted(CLASS)
    graded = time.monotonic() - t0

    merge = jobs.merge_job(Cluster(), LAB, len(CLASS))["spec"]["template"]["spec"]["containers"][0]["command"]
    merge = [sys.executable if a == "python3" else a.replace(COURSE_MOUNT, str(course.root)) for a in merge]
    res = subprocess.run(merge, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "2 result(s) merged" in res.stdout

    want = labnb.expected_scores(lab_dir)
    by_job = {s: v["score"] for s, v in gradebook.scores(course.db, LAB).items()}
    assert by_job == {"student-a": want["solution"], "student-b": want["runs-as-root"]}
    assert by_job["student-a"] == gradebook.scores(course.db, LAB)["student-a"]["max_score"]  # full marks
    for student in CLASS:
        assert (course.autograded(student, LAB) / "dockyard-evidence.json").exists()
        assert (course.feedback(student, LAB) / f"{LAB}.html").exists()
        assert json.loads(course.status_file(LAB, student).read_text())["merged"] is True

    t1 = time.monotonic()
    outcomes = grade_class(twin, LAB, jobs=2)
    print(f"2 hand-ins: Job pods one after the other {graded:.1f} s, dockyard grade --jobs 2 "
          f"{time.monotonic() - t1:.1f} s")
    assert {o.student: o.score for o in outcomes} == by_job
    assert {s: v["cells"] for s, v in gradebook.scores(twin.db, LAB).items()} == \
        {s: v["cells"] for s, v in gradebook.scores(course.db, LAB).items()}
    # and a re-run of dockyard grade on the Job's course finds everything graded
    assert all(o.skipped for o in grade_class(course, LAB, jobs=1))
    assert leftovers(course, twin) == []
