"""Class grading as a Kubernetes Indexed Job: one pod per hand-in, then one merge with one writer.

``dockyard grade`` grades a class on one machine: worker threads grade hand-ins into private
gradebook copies, the main thread merges them one at a time (:mod:`.grading`). On Kubernetes the
same two halves run as two programs, so that each hand-in gets a fresh pod:

``python -m grader.course.job grade LAB --course /srv/course``
    what pod *i* of the Indexed Job runs. ``JOB_COMPLETION_INDEX`` (set by Kubernetes) picks the
    i-th hand-in of the sorted students; it is graded exactly as ``dockyard grade`` grades one
    (its own fresh sandbox, the kernel fenced and unprivileged, trusted scoring), into
    ``<course>/grading/<lab>/pending/<student>/``: the autograded notebook and evidence, the
    feedback, the private gradebook copy and ``outcome.json``. The course gradebook is not touched.

``python -m grader.course.job merge LAB --course /srv/course``
    the only writer of ``gradebook.db``: lands every pending result in the course, one student at
    a time, as ``dockyard grade``'s main thread does, and writes the status files. With ``--wait``
    it first waits for every hand-in's result, so both Jobs can be applied at once.

Run by hand with ``JOB_COMPLETION_INDEX`` set, ``grade`` grades one hand-in exactly as a pod would.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import threading
import time
from pathlib import Path

from dockyard.errors import DockyardError

from . import grading, landing
from .grading import Limits, Outcome, fingerprint, previous
from .kernel_user import copy_untrusted
from .layout import Course, lab_dir

OUTCOME = "outcome.json"
# exit code of a pod whose hand-in should be graded again in a fresh pod (its code never ran):
# the Job's podFailurePolicy counts it against backoffLimitPerIndex, not as the hand-in's grade
RETRY_EXIT = 3


def pending_dir(course: Course, lab: str) -> Path:
    return course.root / "grading" / lab / "pending"


def student_at(course: Course, lab: str, index: int, expected: int | None = None) -> str:
    """The hand-in that index ``index`` grades: the i-th of the sorted students."""
    students = course.students(lab)
    if expected is not None and len(students) != expected:
        raise DockyardError(f"{lab} has {len(students)} hand-ins now, {expected} when the Job was written",
                            f"write the Job again (dockyard k8s grading-job {lab}) so that index i is hand-in i")
    if not 0 <= index < len(students):
        raise DockyardError(f"JOB_COMPLETION_INDEX {index} is out of range: {lab} has {len(students)} hand-ins",
                            f"hand-ins go in {course.submitted(lab)}/<student>/{lab}/")
    return students[index]


def is_current(course: Course, lab: str, student: str) -> bool:
    """Graded, merged and unchanged since: a re-run leaves it alone (as ``dockyard grade`` does)."""
    prev = previous(course, lab, student)
    return bool(prev and prev.get("merged")
                and prev.get("fingerprint") == fingerprint(course.submitted(lab, student)))


def grade_index(course: Course, lab: str, index: int, *, limits: Limits | None = None, force: bool = False,
                expected: int | None = None, retries_left: int = 0) -> tuple[Outcome | None, int]:
    """Grade hand-in ``index`` into its pending folder; return (outcome or None when skipped, exit code)."""
    limits = limits or Limits()
    if not (course.release(lab) / f"{lab}.ipynb").exists():
        raise DockyardError(f"{lab} has not been released in {course.root}",
                            f"run: dockyard course release {lab} --course {course.root}")
    student = student_at(course, lab, index, expected)
    if not force and is_current(course, lab, student):
        return None, 0
    fp = fingerprint(course.submitted(lab, student))
    run = grading.GradingRun(course, lab, limits, threading.Event(), jobs=1)
    try:
        out = run.grade_one(student, fp)
        if out.status == "failed" and not out.cells and not out.merged and retries_left > 0:
            # nbgrader stopped before a single cell ran: not the hand-in's doing; Kubernetes
            # gives this index a fresh pod (dockyard grade grades it again alone)
            landing.discard(out)
            return out, RETRY_EXIT
        _keep(course, out)
        return out, 0
    finally:
        run.close()


def _keep(course: Course, out: Outcome) -> None:
    """The worker's files, from its temporary folder to the course volume, where the merge finds them."""
    work = out.workdir
    pending = pending_dir(course, out.lab)
    pending.mkdir(parents=True, exist_ok=True)
    tmp = pending / f".{out.student}.{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        if out.merged and work is not None:
            priv, dest = Course(work / "course"), Course(tmp / "course")
            dest.root.mkdir(parents=True)
            # what the kernel wrote: regular files only, no link followed, nothing huge
            copy_untrusted(priv.autograded(out.student, out.lab), dest.autograded(out.student, out.lab),
                           max_file=landing.KEPT_FILE_MAX)
            fb = priv.feedback(out.student, out.lab)
            if fb.is_dir():  # nbgrader copies the hand-in's files beside the HTML: no link followed there either
                copy_untrusted(fb, dest.feedback(out.student, out.lab), max_file=landing.KEPT_FILE_MAX)
            shutil.copy2(priv.db, dest.db)
        else:
            tmp.mkdir()
        doc = out.to_json()
        doc["port_clash"] = out.port_clash
        (tmp / OUTCOME).write_text(json.dumps(doc, indent=1, default=str))
        final = pending / out.student
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)  # the merge sees a whole result or none
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if work is not None:
            landing.remove_work(work)


def load_pending(path: Path) -> Outcome:
    doc = json.loads((path / OUTCOME).read_text())
    fields = {k: v for k, v in doc.items() if k in Outcome.__annotations__ and k != "workdir"}
    return Outcome(**fields, workdir=path)


def waiting_for(course: Course, lab: str) -> list[str]:
    """Students with neither a pending result nor a current status: what the merge still waits for."""
    pending = pending_dir(course, lab)
    return [s for s in course.students(lab)
            if not (pending / s / OUTCOME).exists() and not is_current(course, lab, s)]


def merge(course: Course, lab: str, *, wait: float = 0, poll: float = 5.0) -> list[Outcome]:
    """Land every pending result of ``lab`` in the course, one student at a time (the gradebook's only writer).

    ``wait``: seconds to wait first for every hand-in's result; whoever has none by then is
    recorded as failed (its pod never finished: evicted, or past the Job's deadline)."""
    deadline = time.monotonic() + wait
    while wait and waiting_for(course, lab) and time.monotonic() < deadline:
        time.sleep(poll)
    pending = pending_dir(course, lab)
    landed = []
    for path in sorted(p for p in pending.iterdir() if (p / OUTCOME).exists()) if pending.is_dir() else ():
        out = load_pending(path)
        landing.land(course, out)  # copies, merges the grades, writes the status file, removes ``path``
        landed.append(out)
    if wait:
        for student in waiting_for(course, lab):
            out = Outcome(student, lab, "failed", f"no result from its grading pod within {wait:g} s of the merge",
                          fingerprint=fingerprint(course.submitted(lab, student)))
            landing.land(course, out)
            landed.append(out)
    return landed


def _limits(args) -> Limits:
    disk = None if str(args.disk).strip() in ("0", "none", "") else args.disk
    return Limits(args.cell_timeout, args.notebook_timeout, args.memory, args.pids, disk)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m grader.course.job", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("grade", help="grade hand-in $JOB_COMPLETION_INDEX into <course>/grading/<lab>/pending/")
    g.add_argument("lab")
    g.add_argument("--course", default=None, help="the course folder (default: $DOCKYARD_COURSE)")
    g.add_argument("--index", type=int, default=None, help="default: $JOB_COMPLETION_INDEX")
    g.add_argument("--expect", type=int, default=None,
                   help="the number of hand-ins the Job was written for (default: $DOCKYARD_HANDINS)")
    g.add_argument("--force", action="store_true", help="grade it even when graded and unchanged")
    g.add_argument("--retries", type=int, default=None,
                   help="fresh pods this index may still get (default: backoffLimitPerIndex less "
                        "$DOCKYARD_INDEX_FAILURES); with none left a failure is recorded")
    g.add_argument("--cell-timeout", type=int, default=Limits.cell_timeout)
    g.add_argument("--notebook-timeout", type=int, default=Limits.notebook_timeout)
    g.add_argument("--memory", default=Limits.memory)
    g.add_argument("--pids", type=int, default=Limits.pids)
    g.add_argument("--disk", default=Limits.disk, help="0: no disk of its own (the pod's ephemeral-storage limit)")
    m = sub.add_parser("merge", help="land every pending result in the course gradebook, one at a time")
    m.add_argument("lab")
    m.add_argument("--course", default=None)
    m.add_argument("--wait", type=float, default=0, help="seconds to wait for every hand-in's result first")
    args = p.parse_args(argv)
    course = Course.at(args.course)
    try:
        lab = lab_dir(args.lab).name if not course.source(args.lab).is_dir() else args.lab
        if args.cmd == "grade":
            index = args.index if args.index is not None else _env_int("JOB_COMPLETION_INDEX")
            if index is None:
                raise DockyardError("no hand-in index: JOB_COMPLETION_INDEX is not set",
                                    "Kubernetes sets it in an Indexed Job; by hand, set it or pass --index")
            expected = args.expect if args.expect is not None else _env_int("DOCKYARD_HANDINS")
            retries = args.retries
            if retries is None:
                retries = max(0, (_env_int("DOCKYARD_BACKOFF_PER_INDEX") or 0) - (_env_int("DOCKYARD_INDEX_FAILURES") or 0))
            out, code = grade_index(course, lab, index, limits=_limits(args), force=args.force, expected=expected,
                                    retries_left=retries)
            if out is None:
                print(f"index {index}: {student_at(course, lab, index)} is graded and unchanged; nothing to do")
            else:
                what = "to be graded again in a fresh pod" if code == RETRY_EXIT else "pending merge"
                print(json.dumps({"index": index, **out.to_json(), "result": what}, default=str))
            return code
        landed = merge(course, lab, wait=args.wait)
        for o in landed:
            score = f"{o.score:g}/{o.max_score:g}" if o.score is not None else "—"
            print(f"{o.student:24} {score:>11}  {o.status}" + (f": {o.message}" if o.status != "ok" else ""))
        bad = sum(o.status != "ok" for o in landed)
        # the merge did its job even when some hand-ins need a look: a non-zero exit would have
        # Kubernetes run it again, for nothing
        print(f"{len(landed)} result(s) merged into {course.db}, {bad} need a look")
        return 0
    except DockyardError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _env_int(name: str) -> int | None:
    text = os.environ.get(name, "").strip()
    return int(text) if text.lstrip("-").isdigit() else None


if __name__ == "__main__":
    sys.exit(main())
