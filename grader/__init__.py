"""Dockyard's grader: state-based checks of what a learner built.

    import grader
    grader.check("05-dockerfile", submission=".")   # in a notebook: ✓/✗ per task, hints
    report = grader.grade("labs/05-dockerfile", submission="path/")  # a Report
"""

from __future__ import annotations

from .result import CheckResult, Report
from .runner import grade
from .spec import find_lab, load


def check(lab: str, submission: str | None = None, sandbox=None, *, task: str | list[str] | None = None,
          widget: bool = True):
    """Grade the current sandbox (and ``submission``), remember the best result, show it.

    ``lab`` is a graded lab (``05-dockerfile``) or a lesson's self-checks (``01-namespaces``,
    from notebooks/checks/); ``task`` limits it to one exercise.
    """
    from dockyard import get

    from . import progress
    from .widget import report_widget

    box = sandbox or get()
    only = [task] if isinstance(task, str) else task
    report = grade(find_lab(lab), sandbox=box, submission=submission, only_tasks=only)
    progress.record(progress.progress_file(box), report)
    return report_widget(report) if widget else report


__all__ = ["CheckResult", "Report", "check", "find_lab", "grade", "load"]
