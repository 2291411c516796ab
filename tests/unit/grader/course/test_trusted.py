"""TrustedExecute: which cells the grader scores itself, and the outputs it writes (no daemon, no kernel)."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_output
from nbgrader import utils
from nbgrader.preprocessors import Execute

from grader.course import labnb, trusted
from grader.session import GradingSession
from tests.unit.grader.fakes import FakeContext, load_data

FIXTURES = Path(__file__).resolve().parents[3] / "data" / "labs"
LAB = FIXTURES / "90-fixture"


@pytest.fixture(autouse=True)
def fixture_labs(monkeypatch):
    monkeypatch.setenv("DOCKYARD_LABS", str(FIXTURES))


def grade_meta(grade_id, points, **kw):
    return {"nbgrader": {"grade": True, "grade_id": grade_id, "locked": True, "points": points,
                         "schema_version": 3, "solution": False, **kw}}


def score(cell):
    return utils.determine_grade(cell)[0]


class Step(trusted.TrustedExecute):
    """TrustedExecute without a kernel: what it hands to the kernel is recorded, the checks run on fakes."""

    def __init__(self, ctx, tmp_path):
        super().__init__()
        self._plan = trusted.plan(labnb.read(LAB))
        self._labs = {"90-fixture": self._load_lab("90-fixture")}
        self._folder = tmp_path
        self._sessions = {"90-fixture": GradingSession(self._labs["90-fixture"], context=ctx)}
        self._sandbox = None
        self.kernel: list[str] = []

    def run(self, cell):
        return self.preprocess_cell(cell, {}, 0)[0]


@pytest.fixture
def kernel(monkeypatch):
    ran = []

    def execute(self, cell, resources, index):
        ran.append(cell.source)
        cell.outputs = [new_output("execute_result", data={"text/plain": "99.0"}, execution_count=1)]
        return cell, resources
    monkeypatch.setattr(Execute, "preprocess_cell", execute)
    return ran


def running_web():
    return FakeContext(containers={"web": load_data("container_web")})


def test_the_plan_is_the_teachers_test_cells_by_grade_id():
    p = trusted.plan(labnb.read(LAB))
    assert p == {"test-web": (labnb.Award("90-fixture", ("web",), False),),
                 "test-data": (labnb.Award("90-fixture", ("data",), True),)}


def test_outputs_give_nbgrader_partial_credit_and_an_error_scores_zero():
    cell = new_code_cell("x", metadata=grade_meta("t", 3))
    cell.outputs = trusted.outputs(["✓ a [1/1] fine", "✗ b [0/2] no"], 1.0, None)
    assert [o.output_type for o in cell.outputs] == ["stream", "execute_result"]
    assert cell.outputs[0].name == "stdout" and cell.outputs[0].text == "✓ a [1/1] fine\n✗ b [0/2] no\n"
    assert score(cell) == 1.0
    cell.outputs = trusted.outputs(["! a [0/1] could not check"], None, "a: could not check")
    assert cell.outputs[-1].ename == "GraderError" and score(cell) == 0
    nbformat.validate(nbformat.v4.new_notebook(cells=[cell]))


def test_a_test_cell_is_scored_by_the_grader_not_the_kernel(tmp_path, kernel):
    step = Step(running_web(), tmp_path)
    cell = new_code_cell('award("90-fixture", "web")', metadata=grade_meta("test-web", 1))
    cell.outputs = [new_output("execute_result", data={"text/plain": "1.0"}, execution_count=3)]  # forged
    out = step.run(cell)
    assert kernel == []
    assert "[1/1]" in out.outputs[0].text and out.outputs[-1].data["text/plain"] == "1.0"
    assert score(out) == 1.0
    # the student's copy of the source does not matter: the teacher's award() is what runs
    cell = new_code_cell("99.0", metadata=grade_meta("test-web", 1))
    assert score(step.run(cell)) == 1.0 and kernel == []


def test_a_failing_check_earns_what_it_earns_whatever_the_kernel_would_say(tmp_path, kernel):
    step = Step(FakeContext(containers={"web": load_data("container_exited3")}), tmp_path)
    out = step.run(new_code_cell("", metadata=grade_meta("test-web", 1)))
    assert kernel == [] and score(out) == 0 and "[0/1]" in out.outputs[0].text


def test_other_cells_run_in_the_kernel(tmp_path, kernel):
    step = Step(running_web(), tmp_path)
    step.run(new_code_cell("print('hi')"))
    step.run(new_code_cell("x = 1", metadata={"nbgrader": {"grade": False, "grade_id": "answer-web",
                                                           "solution": True, "locked": False,
                                                           "schema_version": 3}}))
    assert kernel == ["print('hi')", "x = 1"]


def test_a_cell_claiming_to_be_an_autograded_cell_it_is_not_earns_nothing(tmp_path, kernel):
    step = Step(running_web(), tmp_path)
    # e.g. a teacher's manually graded answer cell whose "solution" flag the student turned off
    out = step.run(new_code_cell("99.0", metadata=grade_meta("answer-web", 5)))
    assert kernel == [] and out.outputs[-1].ename == "GraderError" and score(out) == 0
    out = step.run(new_code_cell("99.0", metadata=grade_meta(None, 5)))
    assert kernel == [] and score(out) == 0


def test_a_test_cell_turned_into_markdown_runs_nowhere(tmp_path, kernel):
    step = Step(running_web(), tmp_path)
    cell = new_markdown_cell("99", metadata=grade_meta("test-web", 1))
    out = step.run(cell)
    assert kernel == [] and "outputs" not in out and utils.determine_grade(out)[0] is None  # never full marks


def test_checks_that_cannot_run_are_a_grader_error(tmp_path, kernel):
    from dockyard.errors import NotRunning

    class Down(FakeContext):
        def container(self, name):
            raise NotRunning("g1234")

    out = Step(Down(), tmp_path).run(new_code_cell("", metadata=grade_meta("test-web", 1)))
    assert out.outputs[-1].ename == "GraderError" and "web-running" in out.outputs[-1].evalue and score(out) == 0


def test_a_lab_that_cannot_load_is_a_grader_error(tmp_path, kernel, monkeypatch):
    step = Step(running_web(), tmp_path)
    monkeypatch.setenv("DOCKYARD_LABS", str(tmp_path))
    step._labs = {"90-fixture": step._load_lab("90-fixture")}
    step._sessions = {}
    out = step.run(new_code_cell("", metadata=grade_meta("test-web", 1)))
    assert out.outputs[-1].ename == "GraderError" and "cannot be loaded" in out.outputs[-1].evalue


def test_the_evidence_is_written_by_the_grader_and_replaces_what_was_there(tmp_path, kernel):
    target = tmp_path / "evidence.jsonl"
    target.write_text(json.dumps({"id": "note-kept", "passed": True}) + "\n")  # what a kernel might have put
    step = Step(running_web(), tmp_path)
    step.evidence_file = str(target)
    step.run(new_code_cell("", metadata=grade_meta("test-web", 1)))
    step._finish()
    recs = [json.loads(line) for line in target.read_text().splitlines()]
    assert [(r["id"], r["passed"]) for r in recs if "id" in r] == [("web-running", True)]
    assert recs[0]["lab"] == "90-fixture" and recs[0]["evidence"]


def test_the_source_notebook_comes_from_the_course_not_the_hand_in(tmp_path):
    from traitlets.config import Config

    c = Config()
    c.CourseDirectory.root = str(tmp_path)
    (tmp_path / "source" / "90-fixture").mkdir(parents=True)
    nbformat.write(labnb.read(LAB), tmp_path / "source" / "90-fixture" / "90-fixture.ipynb")
    step = trusted.TrustedExecute(config=c)
    nb = step._source_notebook({"nbgrader": {"assignment": "90-fixture", "notebook": "90-fixture"}})
    assert set(trusted.plan(nb)) == {"test-web", "test-data"}
    with pytest.raises(FileNotFoundError):
        step._source_notebook({"nbgrader": {"assignment": "05-dockerfile", "notebook": "05-dockerfile"}})


def test_the_course_config_puts_trusted_execute_in_autograde(tmp_path):
    from nbgrader.converters import Autograde
    from traitlets.config import Config

    from grader.course.config import apply

    c = Config()
    apply(c, tmp_path)
    steps = c.Autograde.autograde_preprocessors
    assert trusted.TrustedExecute in steps and Execute not in steps
    # one more: ReclaimFolder right after it (grader/course/reclaim.py)
    assert len(steps) == len(Autograde.class_traits()["autograde_preprocessors"].default()) + 1


def test_a_duplicated_grade_id_keeps_the_last_cell_and_the_notebook_still_validates():
    from nbgrader.nbgraderformat import MetadataValidator

    nb = nbformat.v4.new_notebook(cells=[new_code_cell("award(...)", metadata=grade_meta("test-web", 1)),
                                         new_code_cell("1.0", metadata=grade_meta("test-web", 50))])
    nb, _ = trusted.KeepLastOfDuplicateIds().preprocess(nb, {})
    assert "nbgrader" not in nb.cells[0].metadata and nb.cells[1].metadata.nbgrader["grade_id"] == "test-web"
    MetadataValidator().validate_nb(nb)  # nbgrader's own DeduplicateIds leaves {} here, which fails this


def test_nbgraders_own_autograde_is_refused_outside_dockyard_grade(tmp_path):
    """formgrader's autograde button and `nbgrader autograde` start a plain kernel: the hand-in would run as
    whoever clicked; TrustedExecute refuses before reading anything and names the sealed way."""
    from traitlets.config import Config

    from grader.course.config import apply

    c = Config()
    apply(c, tmp_path)
    step = trusted.TrustedExecute(config=c)
    with pytest.raises(trusted.UnsealedAutograde, match="dockyard grade"):
        step.preprocess(labnb.read(LAB), {})
    c.Execute.kernel_name = "python3"
    with pytest.raises(trusted.UnsealedAutograde, match="'python3'"):
        trusted.TrustedExecute(config=c).preprocess(labnb.read(LAB), {})


def test_a_hand_in_over_a_cap_is_a_failed_cell_with_the_cap_not_a_traceback(tmp_path, kernel, monkeypatch):
    from grader import runner

    monkeypatch.setitem(runner.HAND_IN_CAPS, "max_files", 2)
    for i in range(3):
        (tmp_path / f"build{i}.o").write_text("")
    step = Step(running_web(), tmp_path)
    # a real session: the hand-in is copied before the checks run, and the copy stops at the cap
    step._sessions = {"90-fixture": GradingSession(step._labs["90-fixture"], client=object(), submission=tmp_path,
                                                   copy=True)}
    out = step.run(new_code_cell("", metadata=grade_meta("test-web", 1)))
    assert kernel == [] and score(out) == 0
    error = out.outputs[-1]
    assert error.ename == "GraderError" and error.traceback == [f"GraderError: {error.evalue}"]
    assert "more than 2 files" in error.evalue and "the cap is 2" in error.evalue
