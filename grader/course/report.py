"""The class report of one lab: a CSV for the LMS and an HTML page with a per-task failure chart.

Scores come from the gradebook (so a teacher's manual changes in formgrader
count); statuses come from ``grading/<lab>/<student>.json``. A hand-in that
could not be graded has an empty score and its status says why: never a silent 0.
"""

from __future__ import annotations

import csv
import dataclasses
import html
import json
import os
import statistics
from pathlib import Path

from ..spec import load
from . import gradebook, labnb
from ..catalog import labs_root
from .layout import Course


@dataclasses.dataclass(frozen=True)
class Row:
    student: str
    score: float | None
    max_score: float | None
    status: str
    message: str
    cells: dict  # grade cell id -> (score, max)


@dataclasses.dataclass(frozen=True)
class Task:
    cell: str  # the test cell's grade_id
    title: str
    points: float


def tasks(lab: str) -> list[Task]:
    """The lab's test cells, titled by the tasks whose checks they award."""
    lab_dir = labs_root() / lab
    spec = load(lab_dir / "lab.yaml")
    titles = {t.id: t.title for t in spec.tasks}
    check_task = {c.id: t.id for t, c in spec.checks()}
    out = []
    for cell in labnb.test_cells(labnb.read(lab_dir)):
        ids = cell.awards[0].ids if cell.awards else ()
        names = dict.fromkeys(titles.get(i) or titles.get(check_task.get(i, ""), i) for i in ids)
        title = " · ".join(n for n in names if n)
        if cell.awards and cell.awards[0].hidden:
            title += " (hidden test)"
        out.append(Task(cell.grade_id, title, cell.points))
    return out


def rows(course: Course, lab: str) -> list[Row]:
    scores = gradebook.scores(course.db, lab) if course.db.exists() else {}
    out = []
    for student in course.students(lab):
        try:
            st = json.loads(course.status_file(lab, student).read_text())
        except (OSError, ValueError):
            st = {"status": "not graded", "message": "no grading run has finished for this hand-in yet"}
        got = scores.get(student) if st.get("merged") else None
        out.append(Row(student, got["score"] if got else None, got["max_score"] if got else None,
                       st.get("status", "?"), st.get("message", ""), got["cells"] if got else {}))
    return out


def write(course: Course, lab: str) -> tuple[Path, Path]:
    """Write reports/<lab>.csv and reports/<lab>.html; return their paths."""
    all_rows = rows(course, lab)
    task_list = tasks(lab)
    course.reports().mkdir(parents=True, exist_ok=True)
    csv_path = course.reports() / f"{lab}.csv"
    with open(csv_path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["student", "score", "max_score", "percent", "status", "message", *[t.cell for t in task_list]])
        for r in all_rows:
            pct = f"{100 * r.score / r.max_score:.1f}" if r.score is not None and r.max_score else ""
            w.writerow([r.student, _num(r.score), _num(r.max_score), pct, r.status, r.message,
                        *[_num(r.cells.get(t.cell, (None, None))[0]) for t in task_list]])
    html_path = course.reports() / f"{lab}.html"
    html_path.write_text(render_html(course, lab, all_rows, task_list))
    return csv_path, html_path


def failure_rates(all_rows: list[Row], task_list: list[Task]) -> list[tuple[Task, int, int]]:
    """(task, students who lost points on it, students graded), most-failed first."""
    graded = [r for r in all_rows if r.score is not None]
    out = []
    for t in task_list:
        lost = sum(1 for r in graded if (r.cells.get(t.cell) or (0, 0))[0] is None
                   or (r.cells.get(t.cell) or (0, 0))[0] < t.points)
        out.append((t, lost, len(graded)))
    return sorted(out, key=lambda x: (-x[1], x[0].cell))


def render_html(course: Course, lab: str, all_rows: list[Row], task_list: list[Task]) -> str:
    graded = [r for r in all_rows if r.score is not None]
    problems = [r for r in all_rows if r.status != "ok"]
    total = task_list and sum(t.points for t in task_list) or 0
    pcts = [100 * r.score / r.max_score for r in graded if r.max_score]
    summary = (f"{len(all_rows)} hand-ins · {len(graded)} graded · {len(problems)} need a look"
               + (f" · median {statistics.median(pcts):.0f}% · mean {statistics.mean(pcts):.0f}%" if pcts else ""))
    rates = failure_rates(all_rows, task_list)
    bar_h, width, left = 26, 480, 430
    svg = [f'<svg width="{width + left + 60}" height="{bar_h * len(rates) + 10}" role="img" '
           f'aria-label="share of students who lost points, per task">']
    for i, (t, lost, n) in enumerate(rates):
        frac = lost / n if n else 0
        y = i * bar_h + 4
        svg.append(f'<text x="0" y="{y + 16}" font-size="13"><title>{html.escape(t.cell)}</title>'
                   f'{html.escape(t.title[:60])}</text>'
                   f'<rect x="{left}" y="{y}" width="{width}" height="{bar_h - 8}" fill="#eee"/>'
                   f'<rect x="{left}" y="{y}" width="{frac * width:.1f}" height="{bar_h - 8}" fill="#c0392b"/>'
                   f'<text x="{left + 6 + frac * width:.1f}" y="{y + 14}" font-size="12">{lost}/{n}</text>')
    svg.append("</svg>")
    # the score distribution: ten bins of 10 %
    bins = [0] * 10
    for p in pcts:
        bins[min(9, int(p // 10))] += 1
    top = max(bins) or 1
    hist = ['<svg width="520" height="160" role="img" aria-label="score distribution">']
    for i, count in enumerate(bins):
        h = 100 * count / top
        hist.append(f'<rect x="{10 + i * 50}" y="{130 - h:.1f}" width="44" height="{h:.1f}" fill="#2c7fb8"/>'
                    f'<text x="{14 + i * 50}" y="{125 - h:.1f}" font-size="12">{count or ""}</text>'
                    f'<text x="{10 + i * 50}" y="148" font-size="11">{i * 10}–{i * 10 + 10}%</text>')
    hist.append("</svg>")
    body = []
    for r in all_rows:
        fb = course.feedback(r.student, lab) / f"{lab}.html"
        rel = os.path.relpath(fb, course.reports())  # links keep working when the course folder moves
        link = f'<a href="{html.escape(rel)}">feedback</a>' if fb.exists() else ""
        score = f"{_num(r.score)}/{_num(r.max_score)}" if r.score is not None else "—"
        cls = "ok" if r.status == "ok" else "bad"
        body.append(f'<tr class="{cls}"><td>{html.escape(r.student)}</td><td>{score}</td>'
                    f'<td>{html.escape(r.status)}</td><td>{html.escape(r.message)}</td><td>{link}</td></tr>')
    return f"""<!doctype html><meta charset="utf-8"><title>{html.escape(lab)} · class report</title>
<style>body{{font-family:sans-serif;margin:2em}} td,th{{padding:.2em .6em;text-align:left}}
tr.bad td{{background:#fdecea}} table{{border-collapse:collapse}} tr{{border-bottom:1px solid #ddd}}</style>
<h1>{html.escape(lab)} · class report</h1>
<p>{html.escape(summary)} · {total:g} points</p>
<h2>Which tasks trip students</h2>
<p>Share of graded students who lost points on each task, most-missed first.</p>
{''.join(svg)}
<h2>Scores</h2>
{''.join(hist)}
<h2>Hand-ins</h2>
<table><tr><th>student</th><th>score</th><th>status</th><th>why</th><th></th></tr>
{''.join(body)}</table>
"""


def _num(x) -> str:
    return "" if x is None else f"{x:g}"
