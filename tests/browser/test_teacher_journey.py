"""A teacher's journey, in Chromium: release lab 05, sample three hand-ins, `dockyard grade`, then look at it
all in `dockyard course formgrader` (nbgrader's formgrader in the teacher's JupyterLab), asserted on the page."""

from __future__ import annotations

import html
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest
from playwright.sync_api import Page, expect

from dockyard import network
from grader.course import gradebook
from grader.course.layout import Course

from .conftest import ROOT, _end_with_us

LAB = "05-dockerfile"
STUDENTS = {"student-001": "solution", "student-002": "bloated", "student-003": "listens-on-localhost"}


def dockyard(*args: str, timeout: float) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "DOCKYARD_BACKEND")}
    proc = subprocess.run([sys.executable, "-m", "grader.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, f"dockyard {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


class Formgrader:
    """A running `dockyard course formgrader`, its URL and token read from what it prints."""

    def __init__(self, course: Course):
        self.course, self.port, self.token, self.output = course, network.free_port(), None, []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "grader.cli", "course", "formgrader", "--course", str(course.root),
             "--port", str(self.port), "--no-browser"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, start_new_session=True, preexec_fn=_end_with_us)
        self._up = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.output.append(line)
            m = re.search(r"token=([0-9a-f]+)", line)
            if m and self.token is None:
                self.token = m.group(1)
            if "is running at" in line or "Jupyter Server" in line and "running" in line:
                self._up.set()
        self._up.set()

    def wait(self, timeout: float = 90) -> None:
        if not self._up.wait(timeout) or self.token is None or self.proc.poll() is not None:
            raise AssertionError("dockyard course formgrader did not start:\n" + "".join(self.output[-40:]))

    def visit(self, page: Page, path: str) -> None:
        """Log in with the URL the command printed (it lands on formgrader), then open ``path``. formgrader's
        own pages take no token: their API calls need the login cookie that first visit sets."""
        if not page.context.cookies(f"http://127.0.0.1:{self.port}/"):
            page.goto(f"http://127.0.0.1:{self.port}/?token={self.token}")
            expect(page).to_have_url(re.compile(r"/formgrader/manage_assignments"), timeout=60_000)
            expect(page.locator("body")).to_contain_text(LAB, timeout=30_000)
        page.goto(f"http://127.0.0.1:{self.port}/{path}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """A course with lab 05 released, three sample hand-ins graded, and formgrader serving it."""
    if os.geteuid() != 0:
        pytest.fail("the teacher's journey grades in private sandboxes: run it as root", pytrace=False)
    course = Course.at(tmp_path_factory.mktemp("teacher") / "course")
    t0 = time.monotonic()
    dockyard("course", "release", LAB, "--course", str(course.root), timeout=300)
    made = dockyard("course", "sample", LAB, "-n", "3", "--course", str(course.root), timeout=120)
    assert {s: v for s, v in re.findall(r"^(\S+): (\S+)$", made, re.M)} == STUDENTS, made
    graded = dockyard("grade", LAB, "--course", str(course.root), "--jobs", "2", timeout=600)
    print(f"released, sampled and graded 3 hand-ins in {time.monotonic() - t0:.1f} s")
    assert "3 hand-ins, 0 need a look" in graded, graded
    server = Formgrader(course)
    try:
        server.wait()
        yield server
    finally:
        server.stop()


def evidence(course: Course, student: str) -> list[dict]:
    return json.loads((course.autograded(student, LAB) / "dockyard-evidence.json").read_text())["checks"]


def test_formgrader_lists_the_hand_ins_with_their_scores(page: Page, graded, shot):
    graded.visit(page, f"formgrader/manage_submissions/{LAB}")
    rows = page.locator("#main-table tr")
    expect(rows).to_have_count(3, timeout=60_000)
    expect(rows.first.locator(".score")).not_to_be_empty(timeout=30_000)
    shot(page, "submissions")
    seen = {}
    for i in range(3):
        row = rows.nth(i)
        seen[row.locator(".student-id").inner_text().strip()] = row.locator(".score").inner_text().strip()
    want = {s: f"{v['score']:g} / {v['max_score']:g}" for s, v in gradebook.scores(graded.course.db, LAB).items()}
    assert seen == want and len(want) == 3
    assert seen["student-001"] == "18.5 / 18.5" and seen["student-003"] != "18.5 / 18.5"


def test_formgraders_autograde_button_names_dockyard_grade_and_keeps_the_grades(page: Page, graded, shot):
    before = (graded.course.autograded("student-002", LAB) / f"{LAB}.ipynb").read_bytes()
    graded.visit(page, f"formgrader/manage_submissions/{LAB}")
    row = page.locator("#main-table tr", has=page.locator(".student-id", has_text="student-002"))
    expect(row).to_have_count(1, timeout=60_000)
    row.locator(".autograde a").click()
    modal = page.locator("#error-modal")
    expect(modal).to_be_visible(timeout=30_000)
    expect(modal).to_contain_text(f"dockyard grade {LAB} --student student-002 --force")
    expect(page.locator(".modal.in")).to_have_css("opacity", "1")  # faded in, for the screenshot
    shot(page, "autograde-refused")
    assert (graded.course.autograded("student-002", LAB) / f"{LAB}.ipynb").read_bytes() == before
    assert gradebook.scores(graded.course.db, LAB)["student-002"]["score"] == 17.5


def test_feedback_shows_each_visible_check_and_hidden_ones_only_as_hidden(page: Page, graded, shot):
    student = "student-003"  # serves on 127.0.0.1 inside the container: a failed check with a hint
    graded.visit(page, f"dockyard/course/reports/{LAB}.html")  # the class report links each hand-in's feedback
    page.locator("table tr", has_text=student).get_by_role("link", name="feedback").click()
    expect(page).to_have_url(re.compile(f"/dockyard/course/feedback/{student}/{LAB}/{LAB}.html$"), timeout=30_000)
    expect(page.locator("body")).to_contain_text(f"{LAB} (Score:", timeout=30_000)
    text = page.locator("body").inner_text()
    shot(page, "feedback")
    checks = evidence(graded.course, student)
    visible, hidden = [c for c in checks if not c["hidden"]], [c for c in checks if c["hidden"]]
    assert visible and hidden
    squash = " ".join(text.split())
    for c in visible:
        assert " ".join(c["message"].split()) in squash, f"{c['id']}: {c['message']!r} is not on the page"
    failed = [c for c in visible if not c["passed"]]
    assert failed and all(" ".join(c["hint"].split()) in squash for c in failed if c.get("hint"))
    assert squash.count("hidden check [") == len(hidden)
    for c in hidden:  # neither what it looked at nor its code
        assert c["message"] and " ".join(c["message"].split()) not in squash, c["id"]
        assert c["title"] not in squash or any(c["title"] == v["title"] for v in visible), c["id"]
    assert "BEGIN HIDDEN TESTS" not in text and f'award("{LAB}", "{hidden[0]["id"]}"' not in html.unescape(text)


def test_class_report_shows_the_per_task_chart(page: Page, graded, shot):
    graded.visit(page, f"dockyard/course/reports/{LAB}.html")
    chart = page.locator("svg[aria-label='share of students who lost points, per task']")
    expect(chart).to_be_visible(timeout=30_000)
    shot(page, "report")
    from grader.course.report import failure_rates, rows, tasks

    rates = failure_rates(rows(graded.course, LAB), tasks(LAB))
    assert chart.locator("rect").count() == 2 * len(rates)  # a track and a bar per task
    labels = chart.locator("text").evaluate_all("ts => ts.map(t => t.textContent)")  # SVG text has no innerText
    for t, lost, n in rates:
        assert any(label.endswith(t.title[:60]) for label in labels) and f"{lost}/{n}" in labels, (t, labels)
    assert any(lost for _t, lost, _n in rates), "two of the three sample hand-ins lose points somewhere"
    # the bar of the most-missed task is drawn at its share of the width
    widths = [float(w) for w in chart.locator("rect[fill='#c0392b']").evaluate_all("rs => rs.map(r => r.getAttribute('width'))")]
    assert widths[0] == pytest.approx(480 * rates[0][1] / rates[0][2], abs=0.1)
    expect(page.locator("table tr", has_text="student-001")).to_contain_text("18.5/18.5")
