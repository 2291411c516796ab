"""Dockyard's grader: state-based checks of what a learner built.

    import grader
    grader.check("05-dockerfile", submission=".")   # in a notebook: ✓/✗ per task, hints
    report = grader.grade("labs/05-dockerfile", submission="path/")  # a Report
"""

from __future__ import annotations

from .result import CheckResult, Report
from .runner import grade
from .spec import find_lab, load


def grade_and_record(lab, *, sandbox, submission=None, only_tasks=None, progress=None) -> Report:
    """Grade a learner's own sandbox and keep the best result per task in its state directory."""
    from . import progress as store

    report = grade(lab, sandbox=sandbox, submission=submission, only_tasks=only_tasks, progress=progress)
    store.record(store.progress_file(sandbox), report)
    return report


def check(lab: str, submission: str | None = None, sandbox=None, *, task: str | list[str] | None = None,
          widget: bool = True, record: bool = True):
    """Grade the current sandbox (and ``submission``), remember the best result (unless ``record`` is
    false: a lesson's demonstration), show it.

    ``lab`` is a graded lab (``05-dockerfile``) or a lesson's self-checks (``01-namespaces``,
    from notebooks/checks/); ``task`` limits it to one exercise.
    """
    from dockyard import get

    from . import service
    from .widget import report_widget

    only = [task] if isinstance(task, str) else task
    if sandbox is None and service.available():  # a learner's kernel: the grader's own process checks
        report = service.request(lab, submission=submission, tasks=only, record=record)
    elif record:
        report = grade_and_record(find_lab(lab), sandbox=sandbox or get(), submission=submission, only_tasks=only)
    else:
        report = grade(find_lab(lab), sandbox=sandbox or get(), submission=submission, only_tasks=only)
    return report_widget(report) if widget else report


__all__ = ["CheckResult", "Report", "check", "find_lab", "grade", "grade_and_record", "load"]
