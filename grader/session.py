"""One hand-in's grading, start to end: the lab, the files, one context, the results, the cleanup.

Every front grades the same way through :class:`GradingSession`:
``runner.grade`` (``dockyard check``), ``award()`` in a learner's own kernel, the
pytest plugin, and nbgrader's Execute step during class grading
(:mod:`grader.course.trusted`). A session owns

- the lab spec (loaded once, before any of the hand-in's code can run again);
- the hand-in's files: the lab's starter base with the submission on top, copied to a
  temporary folder (symlinks that leave it and special files are left out);
- one :class:`~grader.context.Context`, reused across calls so an image is built once,
  made again when the hand-in's files change (``track_files``), its image cache
  cleared at every call (a rebuilt or retagged image must be inspected again);
- every result with its evidence and the inspect data the checks looked at;
- the cleanup of all the checks created (``close``, or ``with``).
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from pathlib import Path
from typing import Callable, Iterable

from .context import Context
from .result import CheckResult, Report
from .spec import CheckSpec, Lab, Task, load


class GradingSession:
    def __init__(self, lab: Lab | str | Path, *, client=None, sandbox=None, submission: str | Path | None = None,
                 track_files: bool = False, copy: bool = False, context: Context | None = None):
        """``context``: one made elsewhere (a test's fake, say), used as it is and never made again.
        ``track_files``: look at the submission's files at every call and start again when they
        changed (a kernel may rewrite the Dockerfile between cells). ``copy``: grade a copy of the
        submission even when the lab has no starter base (an untrusted hand-in's folder is never
        read in place)."""
        self.lab = lab if isinstance(lab, Lab) else load(lab)
        if client is None and sandbox is not None:
            client = sandbox.client
        self.client, self.sandbox = client, sandbox
        self.submission = Path(submission).resolve() if submission is not None else None
        self.track_files, self.copy = track_files, copy
        self.results: list[CheckResult] = []
        self.inspected: dict[str, dict] = {}  # latest inspect answer per object, for the whole session
        self._new_inspected: dict[str, dict] = {}
        self.started, self._t0 = time.time(), time.monotonic()
        self._ctx: Context | None = context
        self._stack: contextlib.ExitStack | None = None
        self._fixed = context is not None
        self._state: str | None = None
        self._recorded = 0  # results already handed out by new_records()

    # --- the context --------------------------------------------------------------------
    def context(self) -> Context:
        """The grading context, made on first use and again when the hand-in's files changed."""
        if self._fixed:
            return self._ctx
        state = files_state(self.submission) if self.track_files and self.submission is not None else None
        if self._ctx is not None and state == self._state:
            return self._ctx
        self._close_context()
        from .runner import context_for, merged_submission

        if self.client is None:
            raise RuntimeError("a grading session needs a Docker client or a sandbox")
        stack = contextlib.ExitStack()
        try:
            folder = self.submission
            if folder is not None and (self.lab.submission_base or self.copy):
                folder = stack.enter_context(merged_submission(self.lab.submission_base, folder))
            ctx = context_for(self.lab, self.client, sandbox=self.sandbox, submission=folder)
            stack.callback(ctx.cleanup)
        except BaseException:
            stack.close()
            raise
        self._ctx, self._stack, self._state = ctx, stack, state
        return ctx

    def _close_context(self) -> None:
        if self._fixed:  # not ours to clean up
            return
        ctx, stack = self._ctx, self._stack
        self._ctx = self._stack = None
        if ctx is not None:
            self._collect(ctx)
        if stack is not None:
            stack.close()

    def _collect(self, ctx: Context) -> None:
        seen = ctx.inspected
        if seen:
            self.inspected.update(seen)
            self._new_inspected.update(seen)
            seen.clear()

    # --- running checks -----------------------------------------------------------------
    def select(self, ids: Iterable[str]) -> list[tuple[Task, CheckSpec]]:
        return select(self.lab, ids)

    def check(self, task: Task | str | None, spec: CheckSpec) -> CheckResult:
        """Run one check in the current context and keep its result."""
        from .runner import run_check

        ctx = self.context()
        result = run_check(ctx, spec, task.id if isinstance(task, Task) else task)
        self.results.append(result)
        self._collect(ctx)
        return result

    def run(self, ids: Iterable[str], progress: Callable[[CheckResult], None] | None = None) -> list[CheckResult]:
        """Run the checks ``ids`` names (task or check ids), in spec order."""
        return self._run(self.select(ids), progress)

    def run_all(self, *, include_hidden: bool = True, only_tasks: list[str] | None = None,
                progress: Callable[[CheckResult], None] | None = None) -> list[CheckResult]:
        chosen = [(t, c) for t, c in self.lab.checks()
                  if (include_hidden or not c.hidden) and (not only_tasks or t.id in only_tasks)]
        return self._run(chosen, progress)

    def _run(self, chosen, progress) -> list[CheckResult]:
        self.context()  # it inspects afresh at every call: a rebuilt or retagged image is seen as it is now
        out = []
        for task, spec in chosen:
            result = self.check(task, spec)
            out.append(result)
            if progress:
                progress(result)
        return out

    # --- what it found ------------------------------------------------------------------
    def report(self) -> Report:
        return Report(lab=self.lab.id, title=self.lab.title, results=tuple(self.results),
                      submission=str(self.submission) if self.submission else None, started=self.started,
                      duration=time.monotonic() - self._t0, tasks=tuple((t.id, t.title) for t in self.lab.tasks))

    def evidence(self) -> dict:
        """Every result with its evidence, and the inspect data the checks looked at (JSON-ready)."""
        return {"checks": [{"lab": self.lab.id, **r.to_dict()} for r in self.results],
                "inspected": dict(self.inspected)}

    def new_records(self) -> tuple[list[dict], dict]:
        """The results and inspect data since the last call (for appending to an evidence file)."""
        new = [{"lab": self.lab.id, **r.to_dict()} for r in self.results[self._recorded:]]
        self._recorded = len(self.results)
        inspected, self._new_inspected = self._new_inspected, {}
        return new, inspected

    # --- the end ------------------------------------------------------------------------
    def close(self) -> None:
        """Remove everything the checks created and the temporary copy of the files."""
        self._close_context()

    def __enter__(self) -> "GradingSession":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def select(lab: Lab, ids: Iterable[str]) -> list[tuple[Task, CheckSpec]]:
    """The (task, check) pairs that ``ids`` (task ids or check ids) name, in spec order;
    ValueError names the unknown ones."""
    ids = tuple(ids)
    tasks = {t.id for t in lab.tasks}
    checks = {c.id for _t, c in lab.checks()}
    unknown = [i for i in ids if i not in tasks and i not in checks]
    if unknown or not ids:
        raise ValueError(f"{lab.id} has no task or check {', '.join(map(repr, unknown)) or '(none given)'}; "
                         f"tasks: {', '.join(sorted(tasks))}")
    return [(t, c) for t, c in lab.checks() if t.id in ids or c.id in ids]


def files_state(folder: Path) -> str:
    """Names, sizes and times of the hand-in's files (not notebooks): a change means the checks must
    look again."""
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if ".ipynb_checkpoints" in p.parts or p.suffix == ".ipynb":
            continue
        try:
            st = p.lstat()
        except OSError:
            continue
        if not p.is_dir() or p.is_symlink():
            h.update(f"{p.relative_to(folder)}\0{st.st_mode}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
    return h.hexdigest()
