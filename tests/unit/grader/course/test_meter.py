"""What `dockyard grade` shows while it grades: [k/N] lines and time left in a log, a live bar on a terminal."""

import io
import json
from pathlib import Path

from click.testing import CliRunner

from grader.cli import main
from grader.course import grading
from grader.course.grading import Outcome
from grader.course.meter import ClassMeter

FIXTURES = Path(__file__).resolve().parents[3] / "data" / "labs"


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class Tty(io.StringIO):
    def isatty(self):
        return True


def outcome(student, status="ok", seconds=40.0, skipped=False, message=""):
    return Outcome(student, "05", status, message, score=3, max_score=3, seconds=seconds, skipped=skipped)


def test_in_a_log_each_line_has_k_of_n_and_the_time_left():
    out, err, clock = io.StringIO(), io.StringIO(), Clock()
    meter = ClassMeter("05", jobs=1, out=out, err=err, tty=False, clock=clock)
    meter.plan(3, 2)
    meter.landed(outcome("ann", skipped=True), "ann  skipped (already graded)")
    clock.now += 40
    meter.landed(outcome("bob", seconds=40), "bob  ok  40.0 s")
    clock.now += 35
    meter.landed(outcome("cy", "failed", message="boom"), "cy  failed  40.0 s\n    boom")
    meter.close()
    assert err.getvalue() == "grading 2 of 3 hand-ins of 05, 1 at a time (1 already graded)\n"
    lines = out.getvalue().splitlines()
    assert lines[0] == "[1/3] ann  skipped (already graded)"  # no estimate from a hand-in that took no time
    assert lines[1] == "[2/3] bob  ok  40.0 s  (ETA 00:40)"  # one left at bob's 40 s, not at (0 + 40) / 2
    assert lines[2] == "[3/3] cy  failed  40.0 s  (done in 01:15)"
    assert lines[3] == "    boom"  # the message stays under its hand-in, unprefixed


def test_with_json_stdout_stays_json_lines_and_the_count_goes_to_stderr():
    out, err, clock = io.StringIO(), io.StringIO(), Clock()
    meter = ClassMeter("05", jobs=2, out=out, err=err, tty=False, json_lines=True, clock=clock)
    meter.plan(2, 2)
    for o in (outcome("ann"), outcome("bob", "failed")):
        clock.now += 40
        meter.landed(o, json.dumps(o.to_json()))
    meter.close()
    assert [json.loads(line)["student"] for line in out.getvalue().splitlines()] == ["ann", "bob"]
    assert err.getvalue().splitlines()[0] == "[1/2] ann ok  (ETA 00:40)"  # bob, graded beside ann, alone now
    assert err.getvalue().splitlines()[1].startswith("[2/2] bob failed  (done in ")


def test_on_a_terminal_a_bar_on_stderr_counts_and_the_lines_stay_above_it():
    out, err = Tty(), Tty()
    meter = ClassMeter("05", jobs=2, out=out, err=err)
    meter.plan(3, 3)
    meter.landed(outcome("ann"), "ann  ok")
    meter.landed(outcome("bob", "failed"), "bob  failed")
    assert "2/3" in err.getvalue() and "1 need a look" in err.getvalue() and "grading 05:" in err.getvalue()
    assert "67%" in err.getvalue()
    meter.landed(outcome("cy"), "cy  ok")
    meter.close()
    assert out.getvalue().splitlines() == ["ann  ok", "bob  failed", "cy  ok"]  # no [k/N]: the bar counts
    assert "3/3" in err.getvalue() and "100%" in err.getvalue()


def test_a_bars_postfix_gives_elapsed_left_and_who_needs_a_look():
    clock = Clock()
    meter = ClassMeter("05", jobs=1, out=io.StringIO(), err=io.StringIO(), tty=False, clock=clock)
    meter.plan(4, 4)
    assert meter.postfix() == "00:00<?, 0 need a look"
    clock.now += 30
    meter.landed(outcome("ann", "failed", seconds=30), "x")
    assert meter.postfix() == "00:30<01:30, 1 need a look"
    clock.now += 10
    assert meter.postfix() == "00:40<01:20, 1 need a look"  # a live bar counts down between hand-ins


def test_dockyard_grade_prefixes_each_hand_in_and_keeps_json_pure(tmp_path, monkeypatch):
    def fake_grade_class(course, lab, *, progress, plan, **kw):
        plan(2, 1)
        done = [outcome("ann", skipped=True), outcome("bob", "failed", message="cell 3 timed out")]
        for o in done:
            progress(o)
        return done

    monkeypatch.setattr(grading, "grade_class", fake_grade_class)
    monkeypatch.setattr("grader.course.report.write", lambda course, lab: ("a.csv", "a.html"))
    monkeypatch.setenv("DOCKYARD_LABS", str(FIXTURES))
    result = CliRunner().invoke(main, ["grade", "90-fixture", "--course", str(tmp_path)])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith("[1/2] ann ") and lines[0].endswith("skipped (already graded)")
    assert lines[1].startswith("[2/2] bob ") and "failed  40.0 s  (done in " in lines[1]
    assert lines[2] == "    cell 3 timed out"
    assert "grading 1 of 2 hand-ins of 90-fixture, 2 at a time (1 already graded)" in result.stderr

    result = CliRunner().invoke(main, ["grade", "90-fixture", "--course", str(tmp_path), "--json"])
    assert [json.loads(line)["student"] for line in result.stdout.splitlines()] == ["ann", "bob"]
    assert "[2/2] bob failed" in result.stderr


def test_stdout_to_a_file_with_the_bar_on_the_terminal_still_gets_the_count():
    out, err = io.StringIO(), Tty()
    meter = ClassMeter("05", jobs=1, out=out, err=err)
    meter.plan(1, 1)
    meter.landed(outcome("ann"), "ann  \x1b[32mok\x1b[0m")
    meter.close()
    assert out.getvalue().startswith("[1/1] ann  ok  (done in ")  # and no colour codes in the file
    assert "1/1" in err.getvalue()
