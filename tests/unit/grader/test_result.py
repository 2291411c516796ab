"""Results render for a notebook (HTML), a terminal (text), JSON and JUnit."""

from __future__ import annotations

import json
from xml.etree import ElementTree as ET

from grader.result import ERROR, FAILED, CheckResult, Report


def make_report():
    ok = CheckResult("a", "It builds", 3, 3, True, "built in 1.2 s", task="build")
    bad = CheckResult("b", "Runs as non-root", 0, 2, False, "runs as root; expected a non-root user",
                      hint="add USER app", task="security", status=FAILED, reason="root", evidence={"User": ""})
    hidden = CheckResult("c", "No secrets", 0, 1, False, "/app/secrets.env exists; expected absent",
                         hint="add it to .dockerignore", task="security", hidden=True, status=FAILED)
    crashed = CheckResult("d", "Serves", 0, 1, False, "the check itself crashed", task="build", status=ERROR)
    return Report(lab="05-dockerfile", title="Lab 05", results=(ok, bad, hidden, crashed),
                  tasks=(("build", "The image builds"), ("security", "Security")))


def test_score_and_task_scores():
    r = make_report()
    assert (r.score, r.total) == (3, 7)
    assert r.task_scores() == {"build": (3, 4), "security": (0, 3)}
    assert not r.passed


def test_text_table_quotes_messages_and_hints_but_hides_hidden_details():
    text = make_report().table(reveal_hidden=False)
    assert "Lab 05: 3/7 points" in text
    assert "✗ Runs as non-root [0/2]: runs as root; expected a non-root user" in text
    assert "hint: add USER app" in text
    assert "secrets.env" not in text and "hidden check" in text
    assert "secrets.env" in make_report().table(reveal_hidden=True)


def test_json_round_trip_and_hidden_redaction():
    data = json.loads(make_report().to_json(reveal_hidden=False))
    assert data["score"] == 3 and data["total"] == 7
    hidden = [r for r in data["results"] if r["id"] == "c"][0]
    assert (hidden["title"], hidden["message"], hidden["hint"], hidden["evidence"]) == ("hidden check", "", None, {})
    assert (hidden["points"], hidden["max_points"], hidden["passed"]) == (0, 1, False)
    shown = [r for r in data["results"] if r["id"] == "b"][0]
    assert shown["evidence"] == {"User": ""} and shown["reason"] == "root"


def test_junit_has_failures_errors_and_points():
    root = ET.fromstring(make_report().to_junit_xml())
    assert root.get("tests") == "4" and root.get("failures") == "2" and root.get("errors") == "1"
    case = root.find("testcase[@name='b']")
    assert case.find("failure").get("message").startswith("runs as root")
    props = {p.get("name"): p.get("value") for p in case.find("properties")}
    assert props == {"points": "0", "max_points": "2"}


def test_html_marks_passes_and_failures():
    html = make_report()._repr_html_()
    assert "3 / 7 points" in html and "✓" in html and "✗" in html and "<details>" in html


def test_evidence_that_is_not_json_is_stringified():
    r = CheckResult("x", "t", 1, 1, True, "m", evidence={"path": object(), "n": {1, 2}})
    assert json.dumps(r.to_dict())


def test_html_can_hide_hidden_checks():
    assert "secrets.env" in make_report().html()
    assert "secrets.env" not in make_report().html(reveal_hidden=False)


def test_notebook_view_carries_html_and_text_besides_the_widget():
    from grader.widget import report_widget

    bundle = report_widget(make_report())._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert "3 / 7 points" in bundle["text/html"] and "secrets.env" not in bundle["text/html"]
    assert bundle["text/plain"].startswith("Lab 05: 3/7 points")


def test_a_passing_hidden_check_is_shown_only_as_hidden_too():
    passed = CheckResult("c", "No secrets", 1, 1, True, "/app/secrets.env is not in the image", hidden=True,
                         evidence={"path": "/app/secrets.env"})
    report = Report(lab="05-dockerfile", title="Lab 05", results=(passed,))
    for text in (report.table(reveal_hidden=False), report.html(reveal_hidden=False),
                 report.to_json(reveal_hidden=False), str(passed.shown(reveal_hidden=False))):
        assert "secrets.env" not in text and "No secrets" not in text and "hidden check" in text
    assert str(passed.shown(reveal_hidden=False)) == "✓ hidden check [1/1]"
    assert passed.shown(reveal_hidden=True) is passed


def test_html_marks_have_spoken_names():
    html = make_report().html()
    assert "aria-label='passed'>✓" in html and "aria-label='failed'>✗" in html and "aria-label='could not run'>!" in html
