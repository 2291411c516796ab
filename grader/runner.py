"""Run a lab's checks against a sandbox and collect a :class:`~grader.result.Report`.

Everything the checks create is removed in ``finally``: after a crash in a
check, on Ctrl-C, always.
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import tempfile
import time
from pathlib import Path
from typing import Callable

from dockyard.errors import ContainerNotFound, DockyardError, ImageNotFound
from dockyard.safefs import copy_tree

from .checks import base
from .context import Context, OutsideSubmission
from .inspector import HAND_IN_CAPS
from .result import ERROR, FAILED, PASSED, CheckResult, Report
from .spec import CheckSpec, Lab, load

MISSING_HINTS = {
    ImageNotFound: "build or pull it first (docker build -t NAME . / docker pull NAME), then check again",
    ContainerNotFound: "start it with docker run --name NAME ..., then check again (docker ps -a lists what exists)",
}



def run_check(ctx: Context, spec: CheckSpec, task: str | None = None) -> CheckResult:
    ctype = base.get(spec.type)
    t0 = time.monotonic()
    status = PASSED
    try:
        outcome = ctype.func(ctx, **spec.params)
    except base.Failed as exc:
        outcome = exc.outcome
    except (ImageNotFound, ContainerNotFound) as exc:
        outcome = base.fail(exc.problem, reason="missing", hint=MISSING_HINTS[type(exc)])
    except OutsideSubmission as exc:
        outcome = base.fail(exc.problem, reason="outside", hint=exc.fix)
    except DockyardError as exc:
        outcome = base.fail(f"could not check: {exc.problem}", reason="error", hint=exc.fix)
        status = ERROR
    except Exception as exc:  # a crashing check must not stop the lab, nor pass
        outcome = base.fail(f"the check itself crashed ({exc.__class__.__name__}: {exc})", reason="crash",
                            hint="this is a bug in the grader, not in your work: tell your teacher")
        status = ERROR
    if not outcome.passed and status == PASSED:
        status = FAILED
    hint = None
    if not outcome.passed:
        hint = spec.hints.get(outcome.reason) or outcome.hint or spec.hints.get("default")
    return CheckResult(
        id=spec.id, title=spec.title, points=spec.points if outcome.passed else 0.0, max_points=spec.points,
        passed=outcome.passed, message=outcome.message, hint=hint, evidence=outcome.evidence,
        duration=round(time.monotonic() - t0, 3), task=task, hidden=spec.hidden, status=status,
        reason=None if outcome.passed else outcome.reason)


def grade(lab: Lab | str | Path, *, client=None, sandbox=None, submission: str | Path | None = None,
          include_hidden: bool = True, only_tasks: list[str] | None = None,
          progress: Callable[[CheckResult], None] | None = None) -> Report:
    """Grade ``submission`` (a directory of files, for Dockerfile labs) and the sandbox's state."""
    from .session import GradingSession

    if not isinstance(lab, Lab):
        lab = load(lab)
    if client is None:
        if sandbox is None:
            from dockyard import get

            sandbox = get()
        client = sandbox.client
    with GradingSession(lab, client=client, sandbox=sandbox, submission=submission) as session:
        session.run_all(include_hidden=include_hidden, only_tasks=only_tasks, progress=progress)
    report = session.report()
    return dataclasses.replace(report, submission=str(submission) if submission else None)


def context_for(lab: Lab, client, *, sandbox=None, submission: str | Path | None = None) -> Context:
    """A grading context with the caps and timeouts the lab's settings ask for."""
    s = lab.settings
    return Context(client, submission=Path(submission) if submission else None, lab_dir=lab.path, sandbox=sandbox,
                   build_timeout=float(s.get("build_timeout", 120)), memory=str(s.get("memory", "512m")),
                   cpus=float(s.get("cpus", 1.0)), pids=int(s.get("pids", 256)))


@contextlib.contextmanager
def merged_submission(base: Path | None, submission: Path):
    """The starter files (if any) with the submission's files on top, in a temporary directory.

    Only regular files, folders and symlinks that stay inside the copy are taken, never through a
    link, within HAND_IN_CAPS (:func:`dockyard.safefs.copy_tree`): the grader may run with more
    rights than whoever wrote the hand-in, and the hand-in's kernel may still be changing it."""
    if not submission.is_dir():
        raise DockyardError(f"submission {submission} is not a directory",
                            "pass the folder that holds the student's Dockerfile")
    tmp = Path(tempfile.mkdtemp(prefix="dockyard-submission-"))
    try:
        for tree in (base, submission):
            if tree is not None:
                copy_tree(tree, tmp, **HAND_IN_CAPS)
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
