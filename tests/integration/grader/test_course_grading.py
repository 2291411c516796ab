"""dockyard grade for real: every lab's reference and variants, hostile hand-ins, resuming, formgrader.

Each hand-in gets its own fresh sandbox (``g`` + 8 hex digits) that is torn down after it;
the tests assert that none is left, nor any kernel cgroup.
"""

from __future__ import annotations

import html
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from dockyard import cgroups
from dockyard.sandbox import list_sandboxes
from grader.course import gradebook, labnb
from grader.course.grading import Limits, grade_class
from grader.course.layout import Course
from grader.course.release import release
from tests.integration.conftest import _require_host

REPO = Path(__file__).resolve().parents[3]
LABS = REPO / "labs"
FIXTURES = REPO / "tests" / "data" / "labs"
GRADED = sorted(d.name for d in LABS.iterdir() if (d / "lab.yaml").exists() and (d / f"{d.name}.ipynb").exists())


def leftovers() -> list[str]:
    left = [f"sandbox {s.name}" for s in list_sandboxes() if s.name.startswith("g") and s.cfg.dir.exists()]
    h = cgroups.detect()
    roots = [h.root] if h.version == 2 else [h.root / c for c in h.controllers]
    left += [f"cgroup {d}" for r in roots if r.is_dir() for d in r.iterdir() if d.name.startswith("dockyard-g")]
    return left


def class_of(course: Course, lab_dir: Path) -> dict[str, float]:
    """One hand-in per expected result: the solution, every alternative, every broken variant."""
    release(course, [lab_dir.name], progress=lambda _m: None)
    want = labnb.expected_scores(lab_dir)
    for name in want:
        labnb.write_submission(lab_dir, course.release(lab_dir.name), course.submitted(lab_dir.name, name),
                               None if name == "solution" else name)
    return want


@pytest.mark.parametrize("lab", GRADED)
def test_every_hand_in_gets_its_expected_score(lab, tmp_path, monkeypatch):
    _require_host()
    monkeypatch.setenv("DOCKYARD_LABS", str(LABS))
    course = Course.at(tmp_path / "course")
    want = class_of(course, LABS / lab)
    outcomes = grade_class(course, lab, jobs=2)
    got = {o.student: (o.status, o.score) for o in outcomes}
    assert got == {name: ("ok", score) for name, score in want.items()}, \
        {o.student: o.message for o in outcomes if o.status != "ok" or o.score != want[o.student]}
    # the course gradebook, what formgrader shows, agrees
    assert {s: v["score"] for s, v in gradebook.scores(course.db, lab).items()} == want
    # every graded hand-in has its evidence and its feedback, and the feedback hides hidden tests' code
    for name in want:
        ev = json.loads((course.autograded(name, lab) / "dockyard-evidence.json").read_text())
        assert ev["student"] == name and ev["checks"], name
        assert ev["inspected"] or name != "solution", "the docker inspect data the checks looked at"
        page = (course.feedback(name, lab) / f"{lab}.html").read_text()
        assert "BEGIN HIDDEN TESTS" not in page
        shown = [c for c in ev["checks"] if not c["hidden"]]
        assert any(html.escape(c["title"], quote=False) in page for c in shown), name  # each check's message is there
        hidden = [c["id"] for c in ev["checks"] if c["hidden"]]
        assert not any(f'"{h}"' in page or f"&quot;{h}&quot;" in page for h in hidden), name
    assert leftovers() == []


def test_hostile_hand_ins_get_clear_statuses_and_spare_the_class(tmp_path, monkeypatch):
    _require_host()
    monkeypatch.setenv("DOCKYARD_LABS", str(FIXTURES))
    course = Course.at(tmp_path / "course")
    class_of(course, FIXTURES / "90-fixture")
    limits = Limits(cell_timeout=10, notebook_timeout=120, memory="256m", pids=64)
    t0 = time.monotonic()
    outcomes = {o.student: o for o in grade_class(course, "90-fixture", jobs=3, limits=limits)}
    took = time.monotonic() - t0
    print(f"7 hand-ins, 4 of them hostile, graded in {took:.1f} s")
    assert (outcomes["solution"].status, outcomes["solution"].score) == ("ok", 3)
    assert (outcomes["no-note"].status, outcomes["no-note"].score) == ("ok", 1)
    assert (outcomes["nothing"].status, outcomes["nothing"].score) == ("ok", 0)
    # removing "every container" removes only its own: others graded at the same time keep theirs
    assert (outcomes["vandal"].status, outcomes["vandal"].score) == ("ok", 1)
    hangs = outcomes["hangs"]
    assert (hangs.status, hangs.score) == ("cell-timeout", 1)  # the cells that did run still count
    assert hangs.message == "timed out after 10 s in cell 5"
    hungry = outcomes["hungry"]
    assert hungry.status == "out-of-memory" and hungry.score is None and not hungry.merged
    assert hungry.message.startswith("killed: out of memory (the notebook went over 256m)")
    forks = outcomes["forks"]
    assert forks.status in ("process-cap", "out-of-memory"), forks.message
    assert "cap of 64 processes" in forks.message or "out of memory" in forks.message
    # no silent zeros: the hand-ins without grades have none in the gradebook, and a status that says why
    scores = gradebook.scores(course.db, "90-fixture")
    assert "hungry" not in scores
    status = json.loads(course.status_file("90-fixture", "hungry").read_text())
    assert status["status"] == "out-of-memory" and status["merged"] is False
    assert leftovers() == []


def test_ctrl_c_loses_no_finished_grade_and_a_rerun_grades_only_the_rest(tmp_path, monkeypatch):
    _require_host()
    monkeypatch.setenv("DOCKYARD_LABS", str(FIXTURES))
    course = Course.at(tmp_path / "course")
    release(course, ["90-fixture"], progress=lambda _m: None)
    lab_dir = FIXTURES / "90-fixture"
    for i in range(4):
        labnb.write_submission(lab_dir, course.release("90-fixture"), course.submitted("90-fixture", f"s{i}"))
    env = {**os.environ, "DOCKYARD_LABS": str(FIXTURES), "PYTHONUNBUFFERED": "1"}
    cmd = [str(Path(sys.executable).parent / "dockyard"), "grade", "90-fixture", "--course", str(course.root),
           "--jobs", "1"]
    # Ctrl-C as a terminal sends it: SIGINT at its default, whatever this test runs under (a job started in the
    # background of a shell ignores SIGINT, and Python then never turns it into KeyboardInterrupt)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 180
        statuses = course.root / "grading" / "90-fixture"
        while time.monotonic() < deadline and not list(statuses.glob("*.json")) and proc.poll() is None:
            time.sleep(0.2)
        assert list(statuses.glob("*.json")), "no hand-in finished within 180 s"
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, out
    done = sorted(p.stem for p in statuses.glob("*.json"))
    assert 1 <= len(done) < 4, out
    assert leftovers() == []
    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    for s in done:
        assert f"{s} " in rerun.stdout and "skipped (already graded)" in rerun.stdout.split(s, 1)[1].splitlines()[0]
    assert sorted(gradebook.scores(course.db, "90-fixture")) == ["s0", "s1", "s2", "s3"]
    assert leftovers() == []
    # formgrader (nbgrader's own web UI) shows these grades
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "jupyter", "server", "--allow-root", "--no-browser",
                               "--ip=127.0.0.1", f"--port={port}", "--IdentityProvider.token=t0ken"],
                              cwd=course.root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        subs = _get_json(f"http://127.0.0.1:{port}/formgrader/api/submissions/90-fixture", "t0ken", 60)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert {s["student"]: s["score"] for s in subs} == {f"s{i}": 3.0 for i in range(4)}
    assert all(s["autograded"] for s in subs)


def _free_port() -> int:
    from dockyard.network import free_port

    return free_port()


def _get_json(url: str, token: str, timeout: float):
    deadline = time.monotonic() + timeout
    while True:
        try:
            req = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
            with urllib.request.urlopen(req, timeout=5) as resp:
                return json.loads(resp.read())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_hand_ins_that_want_the_same_host_port_are_both_graded_fully(tmp_path, monkeypatch):
    _require_host()
    monkeypatch.setenv("DOCKYARD_LABS", str(FIXTURES))
    course = Course.at(tmp_path / "course")
    release(course, ["90-fixture"], progress=lambda _m: None)
    for s in ("ann", "bob"):
        labnb.write_submission(FIXTURES / "90-fixture", course.release("90-fixture"),
                               course.submitted("90-fixture", s), "fixed-port")
    outcomes = grade_class(course, "90-fixture", jobs=2)
    assert [(o.student, o.status, o.score) for o in outcomes] == [("ann", "ok", 3), ("bob", "ok", 3)]
    again = [o.student for o in outcomes if "graded again alone" in o.message]
    print("graded again alone:", again)  # usually one of them: both asked for 127.0.0.1:28999 at once
    assert leftovers() == []
