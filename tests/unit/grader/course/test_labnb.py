"""Lab source notebooks: parsing awards, validation against lab.yaml, answering, hand-ins."""

import shutil
from pathlib import Path

import nbformat
import pytest
import yaml

from grader.course import authoring, labnb

REPO = Path(__file__).resolve().parents[4]
FIXTURE = REPO / "tests" / "data" / "labs" / "90-fixture"


@pytest.fixture
def lab(tmp_path, monkeypatch) -> Path:
    """A writable copy of the fixture lab."""
    d = tmp_path / "labs" / "90-fixture"
    shutil.copytree(FIXTURE, d)
    monkeypatch.setenv("DOCKYARD_LABS", str(d.parent))
    return d


def edit(lab: Path, fn) -> None:
    nb = labnb.read(lab)
    fn(nb)
    nbformat.write(nb, labnb.notebook_path(lab))


def problems_after_rewriting(lab: Path, grade_id: str, change) -> list[str]:
    """What validation says once the test cell ``grade_id`` holds ``change(its source)``."""
    def rewrite(nb):
        cell = next(c for c in nb.cells if labnb.meta(c).get("grade_id") == grade_id)
        cell.source = change(cell.source)
    edit(lab, rewrite)
    return labnb.validate(lab)


def test_awards_in_finds_calls_and_hidden_regions():
    src = 'award("05-dockerfile", "build")\n### BEGIN HIDDEN TESTS\naward("05-dockerfile", "a", "b")\n### END HIDDEN TESTS'
    got = list(labnb.awards_in(src))
    assert sorted(got, key=lambda a: a.ids) == [labnb.Award("05-dockerfile", ("a", "b"), True),
                                                labnb.Award("05-dockerfile", ("build",), False)]


def test_fixture_and_shipped_labs_are_consistent(lab):
    assert labnb.validate(lab) == []


def test_points_that_do_not_add_up_are_named(lab):
    edit(lab, lambda nb: nb.cells[3].metadata.nbgrader.update(points=5))
    assert any("test-web" in p and "worth 5 points but its checks add up to 1" in p for p in labnb.validate(lab))


def test_a_hidden_check_awarded_in_the_open_is_refused(lab):
    problems = problems_after_rewriting(lab, "test-data", lambda _: 'award("90-fixture", "data")')
    assert any("hidden check 'note-kept' outside" in p for p in problems)
    assert any("no hidden tests" in p for p in problems)


def test_a_check_nobody_awards_and_an_unknown_task_are_named(lab):
    problems = problems_after_rewriting(lab, "test-web", lambda _: 'award("90-fixture", "webb")')
    assert any("'webb'" in p for p in problems)
    assert any("check 'web-running' is in lab.yaml but no test cell awards it" in p for p in problems)


def test_two_awards_in_one_cell_are_refused(lab):
    problems = problems_after_rewriting(lab, "test-web", lambda source: source + '\naward("90-fixture", "web")')
    assert any("exactly once, not 2 times" in p for p in problems)


def test_stored_outputs_and_a_variant_pointing_nowhere_are_named(lab):
    edit(lab, lambda nb: nb.cells[1].update(outputs=[nbformat.v4.new_output("stream", text="x")]))
    (lab / "broken" / "bad").mkdir()
    (lab / "broken" / "bad" / "expected.yaml").write_text(yaml.safe_dump(
        {"failing": ["nope"], "answers": {"answer-none": "x"}}))
    problems = labnb.validate(lab)
    assert "cell 1 has stored outputs" in problems
    assert "broken/bad: failing check 'nope' is not in lab.yaml" in problems
    assert "broken/bad: answer for 'answer-none', which is not a solution cell" in problems


def test_an_alternative_that_fails_something_is_refused(lab):
    (lab / "alternatives" / "other").mkdir(parents=True)
    (lab / "alternatives" / "other" / "expected.yaml").write_text("failing: [web-running]\n")
    assert "alternatives/other: another correct path must fail nothing" in labnb.validate(lab)


def test_reference_answer_and_replacing_the_solution_region():
    src = "setup = 1\n### BEGIN SOLUTION\nx = 2\n### END SOLUTION\nprint(x)"
    assert labnb.reference_answer(src) == "setup = 1\nx = 2\nprint(x)"
    assert labnb.replace_solution(src, "x = 3") == "setup = 1\nx = 3\nprint(x)"
    assert labnb.replace_solution(src, None) == f"setup = 1\n{labnb.STUB}\nprint(x)"


def test_expected_score_subtracts_the_failing_checks(lab):
    from grader.spec import load

    spec = load(lab / "lab.yaml")
    assert labnb.expected_score(spec, []) == 3
    assert labnb.expected_score(spec, ["note-kept"]) == 1


def released(tmp_path, lab) -> Path:
    """The student version as nbgrader would make it: solution regions → stub, hidden tests gone."""
    nb = labnb.read(lab)
    for c in nb.cells:
        if labnb.meta(c).get("solution"):
            c.source = labnb.replace_solution(c.source, None)
        if labnb.meta(c).get("grade") and labnb.BEGIN_HIDDEN in c.source:
            c.source = ""
    rel = tmp_path / "release"
    shutil.copytree(lab / "starter", rel)
    nbformat.write(nb, rel / labnb.notebook_path(lab).name)
    return rel


def test_write_submission_answers_with_the_reference_or_the_variant(tmp_path, lab):
    rel = released(tmp_path, lab)
    ref = labnb.write_submission(lab, rel, tmp_path / "a")
    cells = {labnb.meta(c).get("grade_id"): c.source for c in labnb.read(lab).cells}
    got = {labnb.meta(c).get("grade_id"): c.source
           for c in nbformat.read(ref / "90-fixture.ipynb", as_version=4).cells}
    assert got["answer-web"] == labnb.reference_answer(cells["answer-web"])
    assert got["test-data"] == ""  # hidden tests stay hidden in a hand-in
    assert (ref / "README.md").read_text() == (lab / "solution" / "README.md").read_text()  # solution/ on top
    bad = labnb.write_submission(lab, rel, tmp_path / "b", "nothing")
    got = {labnb.meta(c).get("grade_id"): c.source for c in nbformat.read(bad / "90-fixture.ipynb", as_version=4).cells}
    assert labnb.STUB in got["answer-web"] and labnb.STUB in got["answer-data"]


def test_a_variant_that_replaces_the_solution_files_leaves_them_out(tmp_path, lab):
    rel = released(tmp_path, lab)
    (lab / "solution" / "Dockerfile").write_text("FROM busybox\n")
    v = lab / "broken" / "no-note"
    data = yaml.safe_load((v / "expected.yaml").read_text())
    (v / "expected.yaml").write_text(yaml.safe_dump({**data, "replaces_solution": True}))
    (v / "extra.txt").write_text("mine\n")
    sub = labnb.write_submission(lab, rel, tmp_path / "s", "no-note")
    assert (sub / "extra.txt").exists() and not (sub / "Dockerfile").exists()
    assert not (sub / "expected.yaml").exists()
    with pytest.raises(KeyError, match="no broken variant 'nope'"):
        labnb.write_submission(lab, rel, tmp_path / "t", "nope")


def test_sample_class_cycles_through_solution_and_variants(tmp_path, lab):
    rel = released(tmp_path, lab)
    made = labnb.sample_class(lab, rel, tmp_path / "submitted", 7)
    names = ["solution"] + [v.name for v in labnb.variants(lab, "alternatives")] + [v.name for v in labnb.variants(lab)]
    assert list(made.values()) == [names[i % len(names)] for i in range(7)]
    assert (tmp_path / "submitted" / "student-007" / "90-fixture" / "90-fixture.ipynb").exists()


def test_authoring_test_cell_has_one_award_and_hides_when_asked():
    cell = authoring.test("test-x", 2, "05-dockerfile", "a", "b", hidden=True)
    assert cell.metadata.nbgrader == {"grade": True, "grade_id": "test-x", "locked": True, "points": 2,
                                      "schema_version": 3, "solution": False}
    assert list(labnb.awards_in(cell.source)) == [labnb.Award("05-dockerfile", ("a", "b"), True)]
    ans = authoring.answer("answer-x", "x = 1", before="# before")
    assert ans.source == "# before\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION"
    assert ans.metadata.nbgrader["solution"] and not ans.metadata.nbgrader["locked"]
