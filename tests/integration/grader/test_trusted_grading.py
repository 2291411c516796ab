"""No hand-in can set its own score: hostile notebooks get exactly what the honest ones they came from get.

``dockyard grade`` scores every test cell in the grader's own process (grader/course/trusted.py);
the student's kernel never runs a test cell, so rebinding ``award``, patching the grader's
modules, forging outputs in the notebook's JSON or editing a test cell's metadata earns nothing.
All hand-ins are graded in one ``grade_class`` call.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_output

from grader.course import labnb
from grader.course.grading import grade_class, sandbox_name
from grader.course.layout import Course
from grader.course.release import release
from tests.integration.conftest import _require_host
from tests.integration.grader.test_course_grading import leftovers

FIXTURES = Path(__file__).resolve().parents[2] / "data" / "labs"
LAB = "90-fixture"

# run in the kernel, in a cell of their own: each tries to make the test cells report full marks
# (a value that is not a number is full credit to nbgrader; one above the maximum fails the notebook)
REBIND = '''
import builtins, sys
import grader.autograde as a
a.award = lambda *args, **kw: "full marks"
builtins.award = a.award
award = a.award
sys.modules["grader.autograde"].points = lambda results: "full marks"
import grader.session as s
s.GradingSession.run = lambda self, ids, progress=None: []
import grader.runner as r
r.run_check = lambda *args, **kw: None
get_ipython().input_transformers_post.append(lambda lines: ["'full marks'\\n"])
'''
FORGE_EVIDENCE = '''
import json, os
# where class grading kept the evidence file before: the hand-in's work folder, and DOCKYARD_EVIDENCE
for path in [os.path.join(os.getcwd(), "../../../../evidence.jsonl"), os.environ.get("DOCKYARD_EVIDENCE") or "/dev/null"]:
    try:
        with open(path, "a") as fh:
            fh.write(json.dumps({"lab": "90-fixture", "id": "note-kept", "passed": True, "points": 2}) + "\\n")
    except OSError:
        pass
'''


def _cell(nb, grade_id):
    return next(c for c in nb.cells if labnb.meta(c).get("grade_id") == grade_id)


def _forge(cell, points):
    cell.execution_count = 7
    cell.outputs = [new_output("stream", name="stdout", text=f"✓ forged [{points}/{points}]\n"),
                    new_output("execute_result", data={"text/plain": repr(float(points))}, execution_count=7)]


def rebind(nb):
    """Tricks in cells added at the top and before the last test cell."""
    nb.cells.insert(2, new_code_cell(REBIND))
    nb.cells.insert(len(nb.cells) - 1, new_code_cell("award = lambda *a: 'full marks'\n" + FORGE_EVIDENCE))


def forged_outputs(nb):
    """The notebook JSON carries full-mark outputs for every test cell."""
    _forge(_cell(nb, "test-web"), 1)
    _forge(_cell(nb, "test-data"), 2)


def edited_metadata(nb):
    """test-web becomes markdown worth 100; a second cell claims test-data's grade_id, worth 50."""
    web = _cell(nb, "test-web")
    i = nb.cells.index(web)
    md = new_markdown_cell(web.source, metadata=json.loads(json.dumps(web.metadata)))
    md.metadata["nbgrader"]["points"] = 100
    nb.cells[i] = md
    data = _cell(nb, "test-data")
    data.metadata["nbgrader"]["points"] = 50
    fake = new_code_cell("2.0", metadata=json.loads(json.dumps(data.metadata)))
    fake.metadata["nbgrader"].update(points=50, locked=False)
    _forge(fake, 50)
    nb.cells.append(fake)  # the last of two cells with one grade_id is the one nbgrader keeps


def tree_hash(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(folder)).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def test_hostile_hand_ins_score_exactly_what_their_honest_originals_score(tmp_path, monkeypatch):
    _require_host()
    monkeypatch.setenv("DOCKYARD_LABS", str(FIXTURES))
    lab_dir = FIXTURES / LAB
    before = tree_hash(lab_dir)
    course = Course.at(tmp_path / "course")
    release(course, [LAB], progress=lambda _m: None)
    source_before = tree_hash(course.source(LAB))
    honest = {"nothing": "nothing", "no-note": "no-note"}
    hostile = {"rebind": ("nothing", rebind), "forged": ("no-note", forged_outputs),
               "meta": ("no-note", edited_metadata)}
    for student, variant in honest.items():
        labnb.write_submission(lab_dir, course.release(LAB), course.submitted(LAB, student), variant)
    for student, (variant, spoil) in hostile.items():
        dest = labnb.write_submission(lab_dir, course.release(LAB), course.submitted(LAB, student), variant)
        path = dest / f"{LAB}.ipynb"
        nb = nbformat.read(path, as_version=4)
        spoil(nb)
        nbformat.write(nb, path)

    outcomes = {o.student: o for o in grade_class(course, LAB, jobs=2)}

    got = {s: (o.status, o.score) for s, o in outcomes.items()}
    assert got["nothing"] == ("ok", 0) and got["no-note"] == ("ok", 1), got  # the honest hand-ins
    for student, (variant, _spoil) in hostile.items():
        assert got[student] == got[variant], (student, outcomes[student].message)
        assert outcomes[student].cells == outcomes[variant].cells, student
        # the evidence is the grader's own: the same checks, passed or not, as the honest hand-in's
        ev = json.loads((course.autograded(student, LAB) / "dockyard-evidence.json").read_text())
        honest_ev = json.loads((course.autograded(variant, LAB) / "dockyard-evidence.json").read_text())
        assert [(c["id"], c["passed"], c["points"]) for c in ev["checks"]] == \
            [(c["id"], c["passed"], c["points"]) for c in honest_ev["checks"]], student
    # what the test cells show is what the grader found, not what the kernel or the JSON said
    nb = nbformat.read(course.autograded("forged", LAB) / f"{LAB}.ipynb", as_version=4)
    shown = "".join(o.get("text", "") for o in _cell(nb, "test-data").outputs)
    assert "forged" not in shown and "[0/2]" in shown, shown
    assert [o.data["text/plain"] for o in _cell(nb, "test-web").outputs if o.output_type == "execute_result"] \
        == ["1.0"]
    assert tree_hash(lab_dir) == before and tree_hash(course.source(LAB)) == source_before
    # none of these hand-ins' sandboxes or kernel cgroups is left (others' may be running meanwhile)
    mine = {sandbox_name(course, LAB, s) for s in outcomes}
    assert [x for x in leftovers() if any(n in x for n in mine)] == []
