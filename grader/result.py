"""Typed results: one frozen ``CheckResult`` per check, a ``Report`` per graded lab.

Both render as HTML in a notebook, as text in a terminal and as JSON; a report
also renders as JUnit XML for CI systems.
"""

from __future__ import annotations

import dataclasses
import html
import json
import time
from typing import Any, Mapping
from xml.etree import ElementTree as ET

PASSED, FAILED, ERROR = "passed", "failed", "error"
HIDDEN_TITLE = "hidden check"


@dataclasses.dataclass(frozen=True)
class CheckResult:
    id: str
    title: str
    points: float
    max_points: float
    passed: bool
    message: str
    hint: str | None = None
    evidence: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    duration: float = 0.0
    task: str | None = None
    hidden: bool = False
    status: str = PASSED  # passed | failed | error (the check itself could not run)
    reason: str | None = None  # machine-readable cause of a failure, e.g. "missing", "wrong_value"

    @property
    def mark(self) -> str:
        return "✓" if self.passed else ("!" if self.status == ERROR else "✗")

    @property
    def spoken(self) -> str:
        """The mark's name, for a screen reader: the mark is a symbol, never a colour alone."""
        return "passed" if self.passed else ("could not run" if self.status == ERROR else "failed")

    def shown(self, *, reveal_hidden: bool = True) -> "CheckResult":
        """This result as a student may see it: a hidden check only as hidden, pass or fail, with its
        points and mark but not what it looked at (its title, message, hint, evidence). The one place
        hidden checks are redacted; the teacher's evidence file keeps them whole."""
        if not self.hidden or reveal_hidden:
            return self
        return dataclasses.replace(self, title=HIDDEN_TITLE, message="", hint=None, evidence={}, reason=None)

    def to_dict(self, *, reveal_hidden: bool = True) -> dict:
        r = self.shown(reveal_hidden=reveal_hidden)
        d = dataclasses.asdict(r)
        d["evidence"] = _jsonable(r.evidence)
        return d

    def __str__(self) -> str:
        line = f"{self.mark} {self.title} [{_pts(self.points)}/{_pts(self.max_points)}]"
        if self.message:
            line += f" {self.message}"
        if self.hint and not self.passed:
            line += f"\n    hint: {self.hint}"
        return line

    def _repr_html_(self) -> str:
        return Report(lab="", title=self.title, results=(self,))._repr_html_()


@dataclasses.dataclass(frozen=True)
class Report:
    lab: str
    title: str
    results: tuple[CheckResult, ...]
    submission: str | None = None
    started: float = dataclasses.field(default_factory=time.time)
    duration: float = 0.0
    tasks: tuple[tuple[str, str], ...] = ()  # (task id, task title) in spec order

    @property
    def score(self) -> float:
        return round(sum(r.points for r in self.results), 3)

    @property
    def total(self) -> float:
        return round(sum(r.max_points for r in self.results), 3)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    def by_task(self) -> dict[str, list[CheckResult]]:
        out: dict[str, list[CheckResult]] = {tid: [] for tid, _ in self.tasks}
        for r in self.results:
            out.setdefault(r.task or "", []).append(r)
        return out

    def task_scores(self) -> dict[str, tuple[float, float]]:
        return {t: (sum(r.points for r in rs), sum(r.max_points for r in rs)) for t, rs in self.by_task().items()}

    def to_dict(self, *, reveal_hidden: bool = True) -> dict:
        return {
            "lab": self.lab, "title": self.title, "submission": self.submission, "score": self.score,
            "total": self.total, "started": self.started, "duration": round(self.duration, 3),
            "tasks": [{"id": t, "title": title, "score": self.task_scores().get(t, (0, 0))[0],
                       "total": self.task_scores().get(t, (0, 0))[1]} for t, title in self.tasks],
            "results": [r.to_dict(reveal_hidden=reveal_hidden) for r in self.results],
        }

    def to_json(self, **kw) -> str:
        return json.dumps(self.to_dict(**kw), indent=2)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Report":
        """The report :meth:`to_dict` wrote (e.g. sent by :mod:`grader.service`)."""
        names = {f.name for f in dataclasses.fields(CheckResult)}
        results = tuple(CheckResult(**{k: v for k, v in r.items() if k in names}) for r in d.get("results", ()))
        return cls(lab=d.get("lab", ""), title=d.get("title", ""), results=results, submission=d.get("submission"),
                   started=float(d.get("started") or 0), duration=float(d.get("duration") or 0),
                   tasks=tuple((t["id"], t["title"]) for t in d.get("tasks", ())))

    def to_junit_xml(self) -> str:
        suite = ET.Element("testsuite", name=self.lab or "dockyard", tests=str(len(self.results)),
                           failures=str(sum(r.status == FAILED for r in self.results)),
                           errors=str(sum(r.status == ERROR for r in self.results)),
                           time=f"{self.duration:.3f}")
        for r in self.results:
            case = ET.SubElement(suite, "testcase", classname=f"{self.lab}.{r.task or 'lab'}", name=r.id,
                                 time=f"{r.duration:.3f}")
            ET.SubElement(case, "properties").extend([
                ET.Element("property", name="points", value=_pts(r.points)),
                ET.Element("property", name="max_points", value=_pts(r.max_points)),
            ])
            if r.status == FAILED:
                ET.SubElement(case, "failure", message=r.message).text = r.hint or ""
            elif r.status == ERROR:
                ET.SubElement(case, "error", message=r.message).text = r.hint or ""
        return ET.tostring(suite, encoding="unicode")

    def table(self, *, reveal_hidden: bool = True) -> str:
        titles = dict(self.tasks)
        lines = [f"{self.title or self.lab}: {_pts(self.score)}/{_pts(self.total)} points"]
        for task, results in self.by_task().items():
            if not results:
                continue
            lines.append(f"\n{titles.get(task, task) or 'checks'}")
            for r in (r.shown(reveal_hidden=reveal_hidden) for r in results):
                lines.append(f"  {r.mark} {r.title} [{_pts(r.points)}/{_pts(r.max_points)}]"
                             + (f": {r.message}" if r.message else ""))
                if r.hint and not r.passed:
                    lines.append(f"      hint: {r.hint}")
        return "\n".join(lines)

    __str__ = table

    def _repr_html_(self) -> str:
        return self.html()

    def html(self, *, reveal_hidden: bool = True) -> str:
        rows = []
        titles = dict(self.tasks)
        for task, results in self.by_task().items():
            if task and results:
                rows.append(f"<tr><th colspan=4 style='text-align:left'>{html.escape(titles.get(task, task))}</th></tr>")
            for r in (r.shown(reveal_hidden=reveal_hidden) for r in results):
                color = "#1a7f37" if r.passed else "#cf222e"
                hint = (f"<details><summary>hint</summary>{html.escape(r.hint)}</details>"
                        if r.hint and not r.passed else "")
                rows.append(
                    f"<tr><td style='color:{color};font-weight:bold'><span role='img' aria-label='{r.spoken}'>"
                    f"{r.mark}</span></td>"
                    f"<td style='text-align:left'>{html.escape(r.title)}</td>"
                    f"<td>{_pts(r.points)}/{_pts(r.max_points)}</td>"
                    f"<td style='text-align:left'>{html.escape(r.message)}{hint}</td></tr>")
        head = (f"<p><b>{html.escape(self.title or self.lab)}</b>: {_pts(self.score)} / {_pts(self.total)} points</p>"
                if self.lab else "")
        return f"{head}<table>{''.join(rows)}</table>"


def _pts(x: float) -> str:
    return f"{x:g}"


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except TypeError:
        if isinstance(value, Mapping):
            return {str(k): _jsonable(v) for k, v in value.items()}
        if isinstance(value, (list, tuple, set)):
            return [_jsonable(v) for v in value]
        return str(value)
