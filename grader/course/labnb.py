"""A lab's nbgrader source notebook: read it, check it against lab.yaml, answer it.

Conventions (one place, so authors, tests and the benchmark agree):

- ``labs/NN-topic/NN-topic.ipynb`` is the source (instructor) notebook. Solutions
  sit between ``### BEGIN SOLUTION`` / ``### END SOLUTION`` in cells marked as
  nbgrader solution cells; ``nbgrader generate_assignment`` writes the student
  version, so a solution is written once.
- Each autograded test cell calls ``award("NN-topic", <task or check ids>)``
  and is worth exactly the points of the checks it names. Checks marked
  ``hidden: true`` in lab.yaml are awarded only between
  ``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS``.
- ``solution/`` holds the files of the reference hand-in (a Dockerfile, say);
  ``broken/<variant>/`` is a wrong hand-in: its files go on top of
  ``solution/``'s (or replace them all with ``replaces_solution: true``), and its
  ``expected.yaml`` lists the check ids that must fail and, under ``answers:``,
  what the student typed into solution cells instead of the reference (keyed by
  the cell's grade_id; ``null`` leaves the stub). ``alternatives/<variant>/`` is
  the same shape for another correct path: it must fail nothing.
"""

from __future__ import annotations

import ast
import dataclasses
import re
import shutil
from pathlib import Path
from typing import Iterable

import nbformat
import yaml

from ..spec import Lab, load

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
NOT_HANDED_IN = {"expected.yaml"}


@dataclasses.dataclass(frozen=True)
class Award:
    lab: str
    ids: tuple[str, ...]
    hidden: bool


@dataclasses.dataclass(frozen=True)
class TestCell:
    index: int
    grade_id: str
    points: float
    awards: tuple[Award, ...]


@dataclasses.dataclass(frozen=True)
class Variant:
    name: str
    path: Path
    failing: tuple[str, ...]
    answers: dict
    note: str = ""
    replaces_solution: bool = False  # True: the variant's files are the whole hand-in, solution/'s are left out


def notebook_path(lab_dir: Path) -> Path:
    return Path(lab_dir) / f"{Path(lab_dir).name}.ipynb"


def read(lab_dir: Path) -> nbformat.NotebookNode:
    return nbformat.read(notebook_path(lab_dir), as_version=4)


def meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def is_test_cell(cell) -> bool:
    """An autograded test cell: code that nbgrader scores from its outputs."""
    m = meta(cell)
    return cell.cell_type == "code" and bool(m.get("grade")) and not m.get("solution")


def test_cells(nb) -> list[TestCell]:
    out = []
    for i, cell in enumerate(nb.cells):
        m = meta(cell)
        if is_test_cell(cell):
            out.append(TestCell(i, m.get("grade_id", ""), float(m.get("points", 0)), tuple(awards_in(cell.source))))
    return out


def solution_cells(nb) -> dict[str, int]:
    return {meta(c)["grade_id"]: i for i, c in enumerate(nb.cells) if meta(c).get("solution")}


def awards_in(source: str) -> Iterable[Award]:
    """Every ``award("lab", "id", ...)`` call in ``source``, and whether it sits in hidden tests."""
    hidden_lines: set[int] = set()
    inside = False
    for n, line in enumerate(source.splitlines(), 1):
        if BEGIN_HIDDEN in line:
            inside = True
        elif END_HIDDEN in line:
            inside = False
        elif inside:
            hidden_lines.add(n)
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "award":
            args = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
            if args:
                yield Award(args[0], tuple(args[1:]), node.lineno in hidden_lines)


def variants(lab_dir: Path, kind: str = "broken") -> list[Variant]:
    """``broken/`` hand-ins (each must lose points) or ``alternatives/`` (other correct paths: full marks)."""
    out = []
    for d in sorted((Path(lab_dir) / kind).glob("*/")):
        data = yaml.safe_load((d / "expected.yaml").read_text()) or {}
        out.append(Variant(d.name, d, tuple(data.get("failing") or ()), dict(data.get("answers") or {}),
                           str(data.get("note") or ""), bool(data.get("replaces_solution", False))))
    return out


def all_variants(lab_dir: Path) -> list[Variant]:
    """The alternatives (full marks), then the broken variants."""
    return variants(lab_dir, "alternatives") + variants(lab_dir)


def expected_scores(lab_dir: Path) -> dict[str, float]:
    """Hand-in name → the score it must get: "solution" (the reference) first, then every variant."""
    lab = load(Path(lab_dir) / "lab.yaml")
    return {"solution": lab.total, **{v.name: expected_score(lab, v.failing) for v in all_variants(lab_dir)}}


def expected_score(lab: Lab, failing: Iterable[str]) -> float:
    failing = set(failing)
    return round(sum(c.points for _t, c in lab.checks() if c.id not in failing), 3)


def _test_cell_problems(lab: Lab, nb, awarded: dict[str, str]) -> list[str]:
    """Each test cell calls award() once, for this lab, on checks no other cell awards, hidden ones only inside
    the hidden markers, and is worth what its checks add up to; ``awarded`` learns which cell awards what."""
    from ..autograde import select

    problems = []
    for cell in test_cells(nb):
        where = f"test cell {cell.grade_id!r} (cell {cell.index})"
        if len(cell.awards) != 1:
            # the value of the cell's one award() call is its partial credit for nbgrader
            problems.append(f"{where} must call award(...) exactly once, not {len(cell.awards)} times")
            continue
        a, total = cell.awards[0], 0.0
        if a.lab != lab.id:
            problems.append(f"{where} awards lab {a.lab!r}, not {lab.id!r}")
            continue
        try:
            chosen = select(lab, a.ids)
        except Exception as exc:
            problems.append(f"{where}: {exc}")
            continue
        for _t, c in chosen:
            if c.id in awarded:
                problems.append(f"check {c.id!r} is awarded twice ({awarded[c.id]} and {where})")
            awarded[c.id] = where
            if c.hidden and not a.hidden:
                problems.append(f"{where} awards hidden check {c.id!r} outside {BEGIN_HIDDEN} markers")
            total += c.points
        if round(total, 3) != round(cell.points, 3):
            problems.append(f"{where} is worth {cell.points:g} points but its checks add up to {total:g}")
    return problems


def _duplicate_grade_ids(nb) -> list[str]:
    grade_ids = [meta(c).get("grade_id") for c in nb.cells if meta(c)]
    return [f"grade_id {gid!r} is used by more than one cell" for gid in {g for g in grade_ids if grade_ids.count(g) > 1}]


def _cell_problems(nb) -> list[str]:
    """Solution cells without a solution region, stored outputs."""
    problems = []
    for i, cell in enumerate(nb.cells):
        m = meta(cell)
        if m.get("solution") and cell.cell_type == "code" and BEGIN_SOLUTION not in cell.source:
            problems.append(f"solution cell {m.get('grade_id')!r} (cell {i}) has no {BEGIN_SOLUTION} region")
        if cell.get("outputs"):
            problems.append(f"cell {i} has stored outputs")
    return problems


def _variant_problems(lab_dir: Path, lab: Lab, nb) -> list[str]:
    """Each variant names real checks and real solution cells; broken ones fail something, alternatives nothing."""
    problems = []
    ids = {c.id for _t, c in lab.checks()}
    answers = solution_cells(nb)
    for v in all_variants(lab_dir):
        for f in v.failing:
            if f not in ids:
                problems.append(f"broken/{v.name}: failing check {f!r} is not in lab.yaml")
        for gid in v.answers:
            if gid not in answers:
                problems.append(f"broken/{v.name}: answer for {gid!r}, which is not a solution cell")
    for v in variants(lab_dir):
        if not v.failing:
            problems.append(f"broken/{v.name}: expected.yaml lists no failing checks")
    for v in variants(lab_dir, "alternatives"):
        if v.failing:
            problems.append(f"alternatives/{v.name}: another correct path must fail nothing")
    if not (lab_dir / "solution").is_dir() and not answers:
        problems.append("no solution/ folder and no solution cells")
    return problems


def validate(lab_dir: Path) -> list[str]:
    """Everything wrong between a lab's notebook, lab.yaml and broken variants; [] when consistent."""
    lab_dir = Path(lab_dir)
    problems: list[str] = []
    lab = load(lab_dir / "lab.yaml")
    if lab.id != lab_dir.name:
        problems.append(f"lab.yaml id {lab.id!r} differs from the folder name {lab_dir.name!r}")
    if not notebook_path(lab_dir).exists():
        return problems + [f"no source notebook {notebook_path(lab_dir).name}"]
    nb = read(lab_dir)
    awarded: dict[str, str] = {}
    problems += _duplicate_grade_ids(nb)
    problems += _test_cell_problems(lab, nb, awarded)
    problems += [f"check {c.id!r} is in lab.yaml but no test cell awards it" for _t, c in lab.checks()
                 if c.id not in awarded]
    if any(c.hidden for _t, c in lab.checks()) and not any(a.hidden for cell in test_cells(nb) for a in cell.awards):
        problems.append("lab.yaml has hidden checks but the notebook has no hidden tests")
    return problems + _cell_problems(nb) + _variant_problems(lab_dir, lab, nb)


# --- answering the student version ---------------------------------------------------
def reference_answer(source: str) -> str:
    """A source cell as its author solved it: the solution markers dropped, the code kept."""
    return "\n".join(line for line in source.splitlines()
                     if line.strip() not in (BEGIN_SOLUTION, END_SOLUTION))


def replace_solution(source: str, answer: str | None) -> str:
    """``source`` with the region between the solution markers replaced by ``answer`` (None: the stub)."""
    pattern = re.compile(rf"^[ \t]*{re.escape(BEGIN_SOLUTION)}.*?^[ \t]*{re.escape(END_SOLUTION)}[^\n]*", re.S | re.M)
    return pattern.sub(lambda _m: (STUB if answer is None else answer.rstrip("\n")), source, count=1)


def answered(student_nb, source_nb, answers: dict | None = None):
    """The student notebook with every solution cell filled in: the reference, or ``answers``."""
    answers = answers or {}
    src = {meta(c).get("grade_id"): c for c in source_nb.cells if meta(c).get("solution")}
    nb = nbformat.from_dict(student_nb)
    for cell in nb.cells:
        gid = meta(cell).get("grade_id")
        if not meta(cell).get("solution") or gid not in src:
            continue
        if gid in answers:
            cell.source = replace_solution(src[gid].source, answers[gid])
        else:
            cell.source = reference_answer(src[gid].source)
    return nb


def student_version(source_nb):
    """What nbgrader's release makes of the teacher's notebook, for a self-paced learner's copy: each
    solution replaced by its stub, hidden tests left out, outputs cleared."""
    nb = nbformat.from_dict(source_nb)
    hidden = re.compile(rf"^[ \t]*{re.escape(BEGIN_HIDDEN)}.*?^[ \t]*{re.escape(END_HIDDEN)}[^\n]*\n?", re.S | re.M)
    for cell in nb.cells:
        if meta(cell).get("solution"):
            cell.source = replace_solution(cell.source, None)
        if is_test_cell(cell):
            cell.source = hidden.sub("", cell.source).rstrip("\n")
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


def write_submission(lab_dir: Path, release_dir: Path, dest: Path, variant: str | None = None) -> Path:
    """A hand-in as a student would make it: the released files, answered, with the hand-in files.

    ``variant`` None is the reference solution; otherwise ``broken/<variant>`` or ``alternatives/<variant>``.
    """
    lab_dir, release_dir, dest = Path(lab_dir), Path(release_dir), Path(dest)
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(release_dir, dest)
    answers: dict = {}
    layers = [lab_dir / "solution"]
    if variant is not None:
        v = next((v for v in all_variants(lab_dir) if v.name == variant), None)
        if v is None:
            raise KeyError(f"{lab_dir.name} has no broken variant {variant!r}")
        answers = v.answers
        layers = [v.path] if v.replaces_solution else [lab_dir / "solution", v.path]
    for files in layers:
        for f in sorted(files.rglob("*")) if files.is_dir() else ():
            if f.is_file() and f.name not in NOT_HANDED_IN:
                target = dest / f.relative_to(files)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(f, target)
    name = notebook_path(lab_dir).name
    nb = answered(nbformat.read(release_dir / name, as_version=4), read(lab_dir), answers)
    nbformat.write(nb, dest / name)
    return dest


def sample_class(lab_dir: Path, release_dir: Path, submitted_root: Path, n: int) -> dict[str, str]:
    """``n`` hand-ins for trying a grading run: the solution, every alternative and broken variant, in turn.

    Returns {student: variant}; the variant "solution" is the reference.
    """
    kinds = list(expected_scores(lab_dir))
    out = {}
    for i in range(n):
        student = f"student-{i + 1:03d}"
        variant = kinds[i % len(kinds)]
        write_submission(lab_dir, release_dir, submitted_root / student / Path(lab_dir).name,
                         None if variant == "solution" else variant)
        out[student] = variant
    return out
