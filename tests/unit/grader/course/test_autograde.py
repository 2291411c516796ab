"""award(): the test cells' entry point, run against recorded inspect data (no daemon)."""

import json
from pathlib import Path

import pytest

from grader import autograde, catalog
from tests.unit.grader.fakes import FakeContext, load_data

FIXTURES = Path(__file__).resolve().parents[3] / "data" / "labs"


@pytest.fixture(autouse=True)
def fixture_labs(monkeypatch):
    monkeypatch.setenv("DOCKYARD_LABS", str(FIXTURES))
    autograde._labs.clear()
    autograde._sessions.clear()
    yield
    autograde._labs.clear()
    autograde._sessions.clear()


def use(monkeypatch, ctx):
    from grader.session import GradingSession

    monkeypatch.setattr(autograde, "_session", lambda lab: GradingSession(lab, context=ctx))


def test_award_returns_the_points_and_prints_message_and_hint(monkeypatch, capsys):
    web = load_data("container_exited3")
    use(monkeypatch, FakeContext(containers={"web": web}))
    assert autograde.award("90-fixture", "web") == 0
    out = capsys.readouterr()
    assert "[0/1]" in out.out and "expected running" in out.out
    assert out.err == ""  # nbgrader scores a test cell that wrote to stderr as 0


def test_award_full_points_for_a_running_container(monkeypatch, capsys):
    use(monkeypatch, FakeContext(containers={"web": load_data("container_web")}))
    assert autograde.award("90-fixture", "web-running") == 1
    assert "[1/1]" in capsys.readouterr().out


def test_award_writes_evidence_when_asked(monkeypatch, tmp_path):
    target = tmp_path / "ev.jsonl"
    monkeypatch.setenv("DOCKYARD_EVIDENCE", str(target))
    use(monkeypatch, FakeContext(containers={"web": load_data("container_web")}))
    autograde.award("90-fixture", "web")
    rec = [json.loads(line) for line in target.read_text().splitlines()]
    assert rec[0]["lab"] == "90-fixture" and rec[0]["id"] == "web-running" and rec[0]["passed"]
    assert rec[0]["evidence"], "the teacher sees what the check looked at"


def test_unknown_ids_and_labs_raise_grader_error_without_code(monkeypatch):
    use(monkeypatch, FakeContext())
    with pytest.raises(autograde.GraderError, match="has no task or check 'nope'") as exc:
        autograde.award("90-fixture", "nope")
    assert exc.value._render_traceback_() == [f"GraderError: {exc.value}"]
    with pytest.raises(autograde.GraderError, match="cannot be loaded"):
        autograde.award("99-missing", "x")


def test_a_check_that_cannot_run_is_a_grader_error_not_a_zero(monkeypatch):
    from dockyard.errors import NotRunning

    class Down(FakeContext):
        def container(self, name):
            raise NotRunning("g1234")

    use(monkeypatch, Down())
    with pytest.raises(autograde.GraderError, match="web-running"):
        autograde.award("90-fixture", "web")


def test_the_lab_comes_from_the_course_not_the_students_folder(monkeypatch, tmp_path):
    fake = tmp_path / "labs" / "90-fixture"
    fake.mkdir(parents=True)
    (fake / "lab.yaml").write_text("schema_version: 1\nid: 90-fixture\ntitle: easy\ntasks: []\n")
    monkeypatch.chdir(tmp_path)
    assert catalog.labs_root() == FIXTURES
    assert autograde._lab("90-fixture").title != "easy"
