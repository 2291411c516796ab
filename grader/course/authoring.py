"""Small builders for lab source notebooks, so every lab's nbgrader metadata is the same shape.

    from grader.course.authoring import md, setup, answer, test, write
    write("labs/01-namespaces/01-namespaces.ipynb", [md("# Lab 01"), setup("01-namespaces"), ...])
"""

from __future__ import annotations

from pathlib import Path

import nbformat

from .labnb import BEGIN_HIDDEN, BEGIN_SOLUTION, END_HIDDEN, END_SOLUTION

SCHEMA = 3


def _nbg(grade_id: str, *, grade: bool, solution: bool, locked: bool, points: float | None = None) -> dict:
    m = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": SCHEMA, "solution": solution}
    if points is not None:
        m["points"] = points
    return {"nbgrader": m}


def md(text: str, grade_id: str | None = None):
    cell = nbformat.v4.new_markdown_cell(text.strip("\n"))
    if grade_id:  # a locked instruction cell: students cannot change the task they were given
        cell.metadata.update(_nbg(grade_id, grade=False, solution=False, locked=True))
    return cell


def setup(lab: str, extra: str = ""):
    code = ("# Run this cell first. It connects this notebook to your sandbox.\n"
            "from dockyard.notebook import sh\n"
            "from grader.autograde import award\n" + (extra.strip("\n") + "\n" if extra else ""))
    cell = nbformat.v4.new_code_cell(code.rstrip("\n"))
    cell.metadata.update(_nbg("setup", grade=False, solution=False, locked=True))
    return cell


def answer(grade_id: str, solution: str, before: str = "", after: str = ""):
    """A cell the student fills in; ``solution`` is the reference, between nbgrader's markers."""
    parts = [before.strip("\n")] if before else []
    parts += [BEGIN_SOLUTION, solution.strip("\n"), END_SOLUTION]
    if after:
        parts.append(after.strip("\n"))
    cell = nbformat.v4.new_code_cell("\n".join(parts))
    cell.metadata.update(_nbg(grade_id, grade=False, solution=True, locked=False))
    return cell


def test(grade_id: str, points: float, lab: str, *ids: str, hidden: bool = False):
    """A locked autograded cell worth ``points``: ``award(lab, *ids)``, hidden from students if asked.

    One award per cell: its return value is the cell's partial credit for nbgrader.
    """
    call = f'award("{lab}", {", ".join(chr(34) + i + chr(34) for i in ids)})'
    code = "\n".join([BEGIN_HIDDEN, call, END_HIDDEN]) if hidden else call
    cell = nbformat.v4.new_code_cell(code)
    cell.metadata.update(_nbg(grade_id, grade=True, solution=False, locked=True, points=points))
    return cell


def write(path: str | Path, cells: list) -> Path:
    nb = nbformat.v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {"name": "python"}})
    path = Path(path)
    nbformat.validate(nb)
    nbformat.write(nb, path)
    return path
