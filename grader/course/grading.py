"""``dockyard grade <lab>``: every hand-in in its own fresh sandbox, several at once, resumable.

For each student with a hand-in under ``submitted/<student>/<lab>/`` a worker
thread:

1. copies the hand-in, the lab's source folder and a snapshot of the gradebook
   into a private nbgrader course in a temporary folder;
2. starts a fresh sandbox named after the hand-in (``g`` + 8 hex digits), its
   base images hard-linked from a template (:mod:`dockyard.template`), so no
   student's cells can see or delete another's containers;
3. has its warm nbgrader worker (:mod:`.worker`, one per slot) run autograde
   and feedback there, with DOCKER_HOST pointing at that sandbox, nbgrader's
   per-cell timeout, our whole-notebook timeout, and the kernel fenced in a
   cgroup with memory and pids caps (:mod:`.isolation`, :mod:`.fence`);
4. hands the sandbox to a reaper thread that tears it down.

The main thread then, one hand-in at a time, copies the autograded notebook,
the evidence and the feedback into the course, merges the grades into the
course gradebook (the only writer) and writes ``grading/<lab>/<student>.json``.
A hand-in with such a status file and unchanged files is not graded again
unless ``force``; Ctrl-C or a crash loses only the hand-ins in flight. A
hand-in that lost a host port to another graded at the same time is graded
again at the end, alone.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import hashlib
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable

from dockyard.config import parse_size
from dockyard.errors import DockyardError
from dockyard.sandbox import stop_shared_if_idle

from . import gradebook
from .diagnosis import EVIDENCE, OK, diagnose, last_lines, port_clash, write_evidence
from .config import CELL_TIMEOUT, write_config
from .isolation import KernelFence, Worker
from .layout import Course, labs_root
from .release import tool_env
from .worker import kernelspec



@dataclasses.dataclass
class Limits:
    cell_timeout: int = CELL_TIMEOUT
    notebook_timeout: int = 900
    memory: str = "1g"  # the notebook kernel and everything it starts
    pids: int = 512


@dataclasses.dataclass
class Outcome:
    student: str
    lab: str
    status: str  # ok | cell-timeout | grader-error | process-cap | notebook-timeout | out-of-memory | kernel-died | failed | interrupted
    message: str
    merged: bool = False  # its grades are in the course gradebook
    score: float | None = None
    max_score: float | None = None
    cells: dict = dataclasses.field(default_factory=dict)
    seconds: float = 0.0
    sandbox: str = ""
    fingerprint: str = ""
    timings: dict = dataclasses.field(default_factory=dict)  # seconds per phase: up, autograde, feedback, down
    port_clash: bool = False  # a host port it asked for was taken (by a hand-in graded at the same time?)
    skipped: bool = False
    workdir: Path | None = dataclasses.field(default=None, repr=False)

    def to_json(self) -> dict:
        d = dataclasses.asdict(self)
        d.pop("workdir")
        d.pop("skipped")
        d.pop("port_clash")
        return d


def fingerprint(folder: Path) -> str:
    """A hash of every file of a hand-in: a changed hand-in is graded again."""
    h = hashlib.sha256()
    for f in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(str(f.relative_to(folder)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def sandbox_name(course: Course, lab: str, student: str) -> str:
    return "g" + hashlib.sha256(f"{course.root}\0{lab}\0{student}".encode()).hexdigest()[:8]


def previous(course: Course, lab: str, student: str) -> dict | None:
    try:
        return json.loads(course.status_file(lab, student).read_text())
    except (OSError, ValueError):
        return None


def grade_class(course: Course, lab: str, *, jobs: int = 2, force: bool = False, students: list[str] | None = None,
                limits: Limits | None = None, progress: Callable[[Outcome], None] | None = None) -> list[Outcome]:
    """Grade every hand-in of ``lab`` (or only ``students``); return one outcome each, in student order."""
    limits = limits or Limits()
    if not (course.release(lab) / f"{lab}.ipynb").exists():
        raise DockyardError(f"{lab} has not been released in {course.root}",
                            f"run: dockyard course release {lab} --course {course.root}")
    everyone = course.students(lab)
    if students:
        missing = sorted(set(students) - set(everyone))
        if missing:
            raise DockyardError(f"no hand-in of {lab} from {', '.join(missing)}",
                                f"hand-ins go in {course.submitted(lab)}/<student>/{lab}/")
        everyone = [s for s in everyone if s in students]
    outcomes: dict[str, Outcome] = {}
    todo = []
    for student in everyone:
        fp = fingerprint(course.submitted(lab, student))
        prev = previous(course, lab, student)
        if prev and prev.get("merged") and prev.get("fingerprint") == fp and not force:
            outcomes[student] = Outcome(**{k: v for k, v in prev.items() if k in Outcome.__annotations__},
                                        skipped=True)
            if progress:
                progress(outcomes[student])
        else:
            todo.append((student, fp))
    if not todo:
        return [outcomes[s] for s in everyone]
    stop = threading.Event()
    run = _Run(course, lab, limits, stop, jobs=max(1, jobs))
    pool = cf.ThreadPoolExecutor(max_workers=run.jobs, thread_name_prefix="grade")
    futures = [pool.submit(run.grade_one, s, fp) for s, fp in todo]
    landed: set[int] = set()
    alone: list[tuple[str, str]] = []  # hand-ins whose host ports collided with another's: graded again, alone

    def land(fut) -> None:
        landed.add(id(fut))
        outcome = fut.result()
        if outcome.port_clash and run.jobs > 1:
            _discard(outcome)
            alone.append((outcome.student, outcome.fingerprint))
            return
        _land(course, outcome)
        outcomes[outcome.student] = outcome
        if progress:
            progress(outcome)

    try:
        for fut in cf.as_completed(futures):
            land(fut)
        # Every sandbox publishes ports on the same 127.0.0.1: two hand-ins that both ask for
        # host port 8080 cannot run at once. Whoever lost that race is graded again with
        # nothing else running, so a grade never depends on who was graded beside whom.
        if alone:
            run.wait_for_teardowns()  # the ports of sandboxes still coming down are not free yet
        for student, fp in alone:
            if stop.is_set():
                break
            outcome = run.grade_one(student, fp)
            outcome.message += " (graded again alone: its host ports collided with another hand-in's)"
            outcome.port_clash = False
            _land(course, outcome)
            outcomes[student] = outcome
            if progress:
                progress(outcome)
    except BaseException:
        # Ctrl-C or a crash here: cancel what has not started, stop what runs, and still
        # save every hand-in that finished meanwhile
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
        for fut in futures:
            if id(fut) not in landed and fut.done() and not fut.cancelled() and fut.exception() is None:
                land(fut)
        raise
    finally:
        pool.shutdown(wait=True)
        run.close()
    return [outcomes[s] for s in everyone if s in outcomes]


class _Run:
    """What the worker threads of one ``grade_class`` call share: warm workers, a reaper, the template."""

    def __init__(self, course: Course, lab: str, limits: Limits, stop: threading.Event, jobs: int):
        from dockyard import template

        self.course, self.lab, self.limits, self.stop, self.jobs = course, lab, limits, stop, jobs
        self.tmp = Path(tempfile.mkdtemp(prefix="dockyard-grade-"))
        self.local = threading.local()
        self.workers: list[Worker] = []
        self.lock = threading.Lock()
        # tearing a sandbox down takes a second or two: done beside the grading, not in its slot
        self.reaper = cf.ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="reap")
        self.reaped: list[cf.Future] = []
        try:
            self.template = template.ensure(progress=lambda _m: None,
                                            images=template.images_in(labs_root() / lab))
        except DockyardError:
            self.template = None  # without overlay2 each sandbox pulls its own base images
        jupyter = kernelspec(self.tmp / "jupyter")
        self.worker_env = tool_env({**os.environ, "JUPYTER_PATH": str(jupyter), "PYTHONDONTWRITEBYTECODE": "1",
                                    "DOCKYARD_LABS": str(labs_root())})

    def worker(self) -> Worker:
        w = getattr(self.local, "worker", None)
        if w is None:
            with self.lock:
                w = Worker(self.tmp / f"worker-{len(self.workers)}", self.worker_env)
                self.workers.append(w)
            self.local.worker = w
        return w

    def wait_for_teardowns(self) -> None:
        for f in list(self.reaped):
            f.exception()  # waits; a failure is reported by close()

    def close(self) -> None:
        for w in self.workers:
            w.close()
        self.reaper.shutdown(wait=True)
        for f in self.reaped:
            if f.exception() is not None:
                print(f"warning: a grading sandbox did not come down cleanly: {f.exception()}", file=sys.stderr)
        stop_shared_if_idle()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def grade_one(self, student: str, fp: str) -> Outcome:
        from dockyard.sandbox import Sandbox

        course, lab, limits = self.course, self.lab, self.limits
        t0 = time.monotonic()
        name = sandbox_name(course, lab, student)
        work = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self.tmp))
        out = Outcome(student, lab, "failed", "", sandbox=name, fingerprint=fp, workdir=work)
        if self.stop.is_set():
            out.status, out.message = "interrupted", "grading was interrupted before this hand-in started"
            return out
        priv = Course(work / "course")
        sb = fence = None
        try:
            write_config(priv.root)
            shutil.copytree(course.source(lab), priv.source(lab))
            shutil.copytree(course.submitted(lab, student), priv.submitted(lab, student), symlinks=True)
            gradebook.snapshot(course.db, priv.db)
            sb = Sandbox(name=name)
            t = time.monotonic()
            sb.up(progress=lambda _m: None, template=self.template)
            out.timings["up"] = round(time.monotonic() - t, 2)
            fence = KernelFence(f"dockyard-{name}-nb", parse_size(limits.memory), limits.pids)
            evidence = work / "evidence.jsonl"
            env = {**sb.env(), "DOCKYARD_EVIDENCE": str(evidence)}
            if fence.name:
                env["DOCKYARD_FENCE_CGROUP"] = fence.name
            answer = self.worker().ask({"course": str(priv.root), "lab": lab, "student": student, "env": env,
                                        "cell_timeout": limits.cell_timeout},
                                       timeout=limits.notebook_timeout, fence=fence, stop=self.stop)
            res = answer.result or {}
            out.timings["autograde"] = res.get("autograde_seconds", answer.seconds)
            if "feedback_seconds" in res:
                out.timings["feedback"] = res["feedback_seconds"]
            nb_path = priv.autograded(student, lab) / f"{lab}.ipynb"
            out.status, out.message = diagnose(answer, fence.oom_kills(), nb_path, limits, fence.pids_max_hits())
            out.port_clash = port_clash(nb_path)
            if nb_path.exists() and out.status not in ("interrupted", "notebook-timeout"):
                write_evidence(nb_path.parent / EVIDENCE, evidence, out, answer.seconds)
                fb = res.get("feedback") or {}
                if not fb.get("success") and out.status == OK:
                    out.status, out.message = "failed", ("grades saved, but nbgrader generate_feedback failed: "
                                                         + last_lines(fb.get("error") or fb.get("log") or ""))
                out.merged = True  # the main thread merges it
        except DockyardError as exc:
            out.status, out.message = "failed", f"{exc.problem} ({exc.fix})"
        except Exception as exc:  # one broken hand-in never stops the class
            out.status, out.message = "failed", f"{exc.__class__.__name__}: {exc}"
        finally:
            if fence is not None:
                fence.close()
            if sb is not None:
                self.reaped.append(self.reaper.submit(sb.down, purge=True, keep_shared=True))
            out.seconds = round(time.monotonic() - t0, 2)
        return out


def _discard(out: Outcome) -> None:
    if out.workdir is not None:
        shutil.rmtree(out.workdir, ignore_errors=True)


def _land(course: Course, out: Outcome) -> None:
    """Main thread only: copy the worker's files into the course, merge grades, write the status file."""
    work = out.workdir
    try:
        if out.merged and work is not None:
            priv = Course(work / "course")
            src = priv.autograded(out.student, out.lab)
            dest = course.autograded(out.student, out.lab)
            _replace_tree(src, dest)
            fb = priv.feedback(out.student, out.lab)
            if fb.is_dir():
                _replace_tree(fb, course.feedback(out.student, out.lab))
            out.cells = gradebook.merge(priv.db, course.db, out.lab, out.student)
            out.score = round(sum(s or 0 for s, _m in out.cells.values()), 3)
            out.max_score = round(sum(m for _s, m in out.cells.values()), 3)
    except Exception as exc:
        out.merged = False
        out.status, out.message = "failed", f"could not save the grades: {exc.__class__.__name__}: {exc}"
    finally:
        if out.status != "interrupted":
            target = course.status_file(out.lab, out.student)
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(".tmp")
            tmp.write_text(json.dumps(out.to_json(), indent=1, default=str))
            tmp.replace(target)  # atomic: a crash leaves the old status or the new, never half
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)


def _replace_tree(src: Path, dest: Path) -> None:
    if dest.exists():
        for p in [dest, *dest.rglob("*")]:  # nbgrader makes autograded files read-only
            os.chmod(p, 0o755 if p.is_dir() else 0o644)
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(src, dest)
