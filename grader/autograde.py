"""The kernel side of nbgrader autograding: ``award()`` in a lab's test cells.

A lab's source notebook has one locked test cell per task (or per group of
checks), worth exactly the points of the checks it names::

    from grader.autograde import award
    award("05-dockerfile", "build")        # a task id, or check ids

``award`` runs those checks of the lab against the sandbox this kernel talks to
(``DOCKYARD_SANDBOX``/``DOCKER_HOST``) and with the notebook's folder as the
submission. It prints one line per check (message and, on failure, the hint)
and returns the points earned as a float: nbgrader reads that number as the
cell's partial credit. It never writes to stderr, which nbgrader would read as
a failed cell.

The lab spec is read from the course's own labs (``DOCKYARD_LABS``, else this
package's ``labs/``), never from the student's folder: a student cannot hand in
an easier lab.yaml. When ``DOCKYARD_EVIDENCE`` names a file, every result with
its evidence (inspect data, build-log tail, lint output) is appended to it as
JSON lines, so a teacher can later see why a point was lost.

If the checks themselves cannot run (no daemon, a broken spec), ``award`` raises
:class:`GraderError`: the cell fails visibly and ``dockyard grade`` reports a
grader error instead of a silent zero.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import io
import json
import os
import sys
from pathlib import Path

from dockyard.errors import DockyardError

from .result import ERROR, CheckResult
from .spec import Lab, SpecError, load

_contexts: dict[str, tuple] = {}  # lab id -> (Context, ExitStack, state of the hand-in's files)
_labs: dict[str, Lab] = {}


class GraderError(Exception):
    """The checks could not run; the traceback shows the reason, never the test cell's code."""

    def _render_traceback_(self):
        return [f"GraderError: {self}"]


def labs_root() -> Path:
    env = os.environ.get("DOCKYARD_LABS")
    return Path(env) if env else Path(__file__).resolve().parent.parent / "labs"


def _lab(name: str) -> Lab:
    """The lab's spec from the course's labs folder only: never a lesson's self-checks of the
    same name, never a lab.yaml in the student's folder (the current directory)."""
    if name not in _labs:
        path = labs_root() / name / "lab.yaml"
        if not path.exists():
            raise GraderError(f"lab {name!r} cannot be loaded: no {path}")
        try:
            _labs[name] = load(path)
        except SpecError as exc:
            raise GraderError(f"lab {name!r} cannot be loaded: {exc}") from None
    return _labs[name]


def _files_state(folder: Path) -> str:
    """Names, sizes and times of the hand-in's files: a change means the checks must look again."""
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file() and ".ipynb_checkpoints" not in p.parts and p.suffix != ".ipynb":
            st = p.stat()
            h.update(f"{p.relative_to(folder)}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
    return h.hexdigest()


def _context(lab: Lab):
    """One grading context per lab and kernel, so a later cell reuses an earlier cell's build;
    made again when the hand-in's files changed (an edited Dockerfile is built again)."""
    state = _files_state(Path.cwd())
    if lab.id in _contexts:
        ctx, stack, seen = _contexts[lab.id]
        if seen == state:
            ctx._image_cache.clear()  # a rebuilt or retagged image must be inspected again
            return ctx
        _contexts.pop(lab.id)
        with contextlib.suppress(Exception):
            stack.close()
    from dockyard.notebook import sandbox

    from .runner import context_for, merged_submission

    try:
        sb = sandbox()
        client = sb.client
    except DockyardError as exc:
        raise GraderError(f"no sandbox to grade against: {exc.problem} ({exc.fix})") from None
    stack = contextlib.ExitStack()
    submission = Path.cwd()
    if lab.submission_base:
        submission = stack.enter_context(merged_submission(lab.submission_base, submission))
    ctx = context_for(lab, client, sandbox=sb, submission=submission)
    stack.callback(ctx.cleanup)
    _contexts[lab.id] = (ctx, stack, state)
    return ctx


@atexit.register
def _cleanup() -> None:
    for _ctx, stack, _state in list(_contexts.values()):
        with contextlib.suppress(Exception):
            stack.close()
    _contexts.clear()


def select(lab: Lab, ids: tuple[str, ...]):
    """The (task, check) pairs that ``ids`` (task ids or check ids) name, in spec order."""
    tasks = {t.id for t in lab.tasks}
    checks = {c.id for _t, c in lab.checks()}
    unknown = [i for i in ids if i not in tasks and i not in checks]
    if unknown or not ids:
        raise GraderError(f"{lab.id} has no task or check {', '.join(map(repr, unknown)) or '(none given)'}; "
                          f"tasks: {', '.join(sorted(tasks))}")
    return [(t, c) for t, c in lab.checks() if t.id in ids or c.id in ids]


def award(lab: str, *ids: str) -> float:
    """Run the checks ``ids`` names (task or check ids) and return the points earned."""
    from .runner import run_check

    spec = _lab(lab)
    chosen = select(spec, ids)
    ctx = _context(spec)
    results: list[CheckResult] = []
    for task, check in chosen:
        with contextlib.redirect_stderr(io.StringIO()):  # stderr in a test cell means zero points to nbgrader
            result = run_check(ctx, check, task.id)
        results.append(result)
        print(result)
    _record(spec, results, getattr(ctx, "inspected", {}))
    errors = [r for r in results if r.status == ERROR]
    if errors:
        raise GraderError("; ".join(f"{r.id}: {r.message}" for r in errors))
    return round(sum(r.points for r in results), 3)


def max_points(lab: Lab, ids: tuple[str, ...]) -> float:
    return round(sum(c.points for _t, c in select(lab, ids)), 3)


def _record(lab: Lab, results: list[CheckResult], inspected: dict) -> None:
    target = os.environ.get("DOCKYARD_EVIDENCE")
    if not target:
        return
    try:
        with open(target, "a", encoding="utf-8") as fh:
            for r in results:
                fh.write(json.dumps({"lab": lab.id, **r.to_dict()}, default=str) + "\n")
            for what, data in inspected.items():
                fh.write(json.dumps({"inspected": what, "data": data}, default=str) + "\n")
    except OSError as exc:  # evidence is for the teacher; never cost the student a point
        print(f"(evidence not saved: {exc})", file=sys.stdout)
    inspected.clear()
