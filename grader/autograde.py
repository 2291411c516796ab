"""``award()`` in a lab's test cells, and the lab lookup that class grading shares.

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

``award`` runs in a learner's own kernel (self-study: the score is theirs to see).
During class grading no kernel's answer counts: nbgrader's Execute step
(:mod:`grader.course.trusted`) runs every test cell's checks in the grader's own
process, with the same :class:`~grader.session.GradingSession`, and writes the
cell's outputs as ``award`` would have printed and returned them.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import json
import os
import sys
from pathlib import Path

from dockyard.errors import DockyardError

from .catalog import spec_path
from .result import ERROR, CheckResult
from .spec import Lab, SpecError, load

_sessions: dict = {}  # lab id -> GradingSession for this kernel's folder
_labs: dict[str, Lab] = {}


class GraderError(Exception):
    """The checks could not run; the traceback shows the reason, never the test cell's code."""

    def _render_traceback_(self):
        return [f"GraderError: {self}"]


def _lab(name: str) -> Lab:
    if name not in _labs:
        _labs[name] = load_lab(name)
    return _labs[name]


def load_lab(name: str) -> Lab:
    """The lab's spec from the course's labs folder only: never a lesson's self-checks of the
    same name, never a lab.yaml in the student's folder (the current directory)."""
    path = spec_path(name)
    if not path.exists():
        raise GraderError(f"lab {name!r} cannot be loaded: no {path}")
    try:
        return load(path)
    except SpecError as exc:
        raise GraderError(f"lab {name!r} cannot be loaded: {exc}") from None


def _session(lab: Lab):
    """One grading session per lab and kernel, so a later cell reuses an earlier cell's build;
    it looks at the hand-in's files (the current folder) at each call and builds again when they
    changed (an edited Dockerfile is built again)."""
    from .session import GradingSession

    cwd = Path.cwd()
    session = _sessions.get(lab.id)
    if session is not None and session.submission == cwd.resolve():
        return session
    if session is not None:
        _sessions.pop(lab.id)
        with contextlib.suppress(Exception):
            session.close()
    from dockyard.notebook import sandbox

    try:
        sb = sandbox()
        client = sb.client
    except DockyardError as exc:
        raise GraderError(f"no sandbox to grade against: {exc.problem} ({exc.fix})") from None
    session = GradingSession(lab, client=client, sandbox=sb, submission=cwd, track_files=True)
    _sessions[lab.id] = session
    return session


@atexit.register
def _cleanup() -> None:
    for session in list(_sessions.values()):
        with contextlib.suppress(Exception):
            session.close()
    _sessions.clear()


def select(lab: Lab, ids: tuple[str, ...]):
    """The (task, check) pairs that ``ids`` (task ids or check ids) name, in spec order."""
    from .session import select as select_checks

    try:
        return select_checks(lab, ids)
    except ValueError as exc:
        raise GraderError(str(exc)) from None


def award(lab: str, *ids: str) -> float:
    """Run the checks ``ids`` names (task or check ids) and return the points earned.

    In a learner's kernel under `dockyard lab`, the grader's own process runs them (:mod:`grader.service`):
    the kernel cannot read the lab's spec. Class grading never trusts this value (:mod:`grader.course.trusted`)."""
    from . import service

    if service.available():
        from .errors import GraderError as Refused

        try:
            answer = service.award(lab, list(ids))
        except Refused as exc:
            raise GraderError(str(exc)) from None
        for line in answer["lines"]:
            print(line)
        if answer["errors"]:
            raise GraderError("; ".join(answer["errors"]))
        return answer["points"]
    spec = _lab(lab)
    select(spec, ids)  # unknown ids are a GraderError before anything runs
    session = _session(spec)
    with contextlib.redirect_stderr(io.StringIO()):  # stderr in a test cell means zero points to nbgrader
        try:
            results = session.run(ids, progress=print)
        except DockyardError as exc:  # the hand-in could not be copied (too large, say): its reason, no traceback
            raise GraderError(f"{exc.problem} ({exc.fix})") from None
    _record(session)
    return points(results)


def points(results: list[CheckResult]) -> float:
    """The points of a test cell's results; GraderError when a check could not run."""
    errors = [r for r in results if r.status == ERROR]
    if errors:
        raise GraderError("; ".join(f"{r.id}: {r.message}" for r in errors))
    return round(sum(r.points for r in results), 3)


def max_points(lab: Lab, ids: tuple[str, ...]) -> float:
    return round(sum(c.points for _t, c in select(lab, ids)), 3)


def _record(session) -> None:
    """Append what the last call found to ``DOCKYARD_EVIDENCE`` (a learner's own record; class grading
    keeps its evidence in the grader's process instead, see grader.course.trusted)."""
    target = os.environ.get("DOCKYARD_EVIDENCE")
    results, inspected = session.new_records()
    if not target:
        return
    try:
        with open(target, "a", encoding="utf-8") as fh:
            for r in results:
                fh.write(json.dumps(r, default=str) + "\n")
            for what, data in inspected.items():
                fh.write(json.dumps({"inspected": what, "data": data}, default=str) + "\n")
    except OSError as exc:  # evidence is for the teacher; never cost the student a point
        print(f"(evidence not saved: {exc})", file=sys.stdout)
